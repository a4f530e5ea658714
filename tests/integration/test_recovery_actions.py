"""Approving plans the case's recovery actions in its transaction; each runs exactly once."""

import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from rq import SimpleWorker

import jobs.recovery
from extensions import db
from tests.conftest import TEST_REDIS_URL
from tests.recovery import actions_of, approve, events_of, link_count, reset_emails, token_in
from workflow import service
from workflow.models import Account, RecoveryAction, RecoveryCase, utcnow


@pytest.fixture
def lead(make_agent):
    agent, _ = make_agent("security_lead")
    return agent


def account(email="anna@example.test", **fields) -> Account:
    return db.session.scalar(sa.select(Account).where(Account.email == email))


class TestPlanning:
    """With VERIFICATION_EXECUTOR "off" the planned actions wait for the sweep."""

    def test_approval_plans_the_issue_types_steps_with_keys_of_their_own(self, make_account,
                                                                        make_case, lead):
        make_account(two_factor_enabled=True)
        case, _ = make_case("selfie_check", issue_type="lost_2fa")
        approve(case, lead)
        planned = actions_of(case.id)
        assert [(a.position, a.kind, a.adapter, a.status, a.attempts) for a in planned] == [
            (1, "remove_second_factor", "local", "pending", 0),
            (2, "reset_link", "local", "pending", 0)]
        assert len({a.idempotency_key for a in planned}) == 2
        assert events_of(case.id) == []  # the record gets each step's outcome
        assert account().two_factor_enabled  # nothing performed yet

    def test_a_refused_approval_plans_nothing(self, make_account, make_case, lead):
        make_account()
        case, _ = make_case("selfie_check", issue_type="forgot_password")
        with pytest.raises(service.StaleCase):
            service.fire_event(case.id, "approve", agent=lead, expected_version=case.version - 1)
        assert actions_of(case.id) == []
        assert events_of(case.id) == []

    def test_other_resolutions_and_issue_type_other_plan_nothing(self, make_account, make_case,
                                                                 lead):
        make_account()
        declined, _ = make_case("resolved", issue_type="forgot_password")
        other, _ = make_case("selfie_check", issue_type="other")
        approve(other, lead)
        assert actions_of(declined.id) == [] and actions_of(other.id) == []

    def test_the_sweep_runs_them_and_a_second_sweep_does_nothing(self, app, make_account,
                                                                 make_case, lead):
        make_account(two_factor_enabled=True)
        case, _ = make_case("selfie_check", issue_type="lost_2fa")
        approve(case, lead)
        assert jobs.recovery.sweep_actions(app) == [case.id]
        assert [a.status for a in actions_of(case.id)] == ["done", "done"]
        assert jobs.recovery.sweep_actions(app) == []
        assert [service.run_recovery_action(a.id) for a in actions_of(case.id)] == [None, None]
        assert link_count() == 1 and len(reset_emails(case.id)) == 1
        assert [a.attempts for a in actions_of(case.id)] == [1, 1]

    def test_a_step_waits_for_the_one_before_it(self, make_account, make_case, lead):
        make_account(frozen=True)
        case, _ = make_case("selfie_check", issue_type="suspicious_activity")
        approve(case, lead)
        first, second = actions_of(case.id)
        assert service.run_recovery_action(second.id) is None
        assert link_count() == 0
        assert service.run_recovery_action(first.id) == "done"
        assert service.run_recovery_action(second.id) == "done"
        assert not account().frozen and link_count() == 1

    def test_a_runner_that_died_leaves_the_step_to_the_sweep(self, app, make_account,
                                                             make_case, lead):
        make_account(locked=True)
        case, _ = make_case("selfie_check", issue_type="account_locked")
        approve(case, lead)
        (action,) = actions_of(case.id)
        # Claimed by a runner that died before it performed anything.
        row = db.session.get(RecoveryAction, action.id)
        row.status, row.attempts = "running", 1
        row.next_attempt_at = utcnow() + timedelta(minutes=5)
        db.session.commit()
        assert jobs.recovery.sweep_actions(app) == []  # its claim still holds
        row = db.session.get(RecoveryAction, action.id)
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert jobs.recovery.sweep_actions(app) == [case.id]
        (action,) = actions_of(case.id)
        assert (action.status, action.attempts) == ("done", 2)
        assert not account().locked

    def test_two_runners_at_once_perform_a_step_once(self, app, make_account, make_case, lead):
        make_account()
        case, _ = make_case("selfie_check", issue_type="forgot_password")
        approve(case, lead)
        (action,) = actions_of(case.id)
        action_id, case_id = action.id, case.id
        db.session.remove()
        start = threading.Barrier(2)
        outcomes, errors = [], []

        def run():
            with app.app_context():
                start.wait()
                try:
                    outcomes.append(service.run_recovery_action(action_id))
                except Exception as err:  # noqa: BLE001 (reported below)
                    errors.append(err)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert sorted(outcomes, key=str) == [None, "done"]
        assert link_count() == 1 and len(reset_emails(case_id)) == 1
        assert [e.event for e in events_of(case_id)] == ["recovery_action_done"]


@pytest.mark.parametrize("app_config", [{"RECOVERY_ACTION_EXECUTOR": "inline"}])
class TestRunAfterTheCommit:
    """Inline: the steps run right after the approval's commit."""

    def test_forgotten_password_sends_one_reset_link_to_the_address_of_record(
            self, make_account, make_case, lead):
        make_account()
        case, _ = make_case("selfie_check", issue_type="forgot_password")
        approve(case, lead)
        (action,) = actions_of(case.id)
        assert (action.status, action.attempts, action.last_error) == ("done", 1, None)
        assert "expires_at" in action.result and "/reset/" not in str(action.result)
        (email,) = reset_emails(case.id)
        assert email.to_address == "anna@example.test"
        token = token_in(email.body)
        assert token not in str(action.result)
        (done,) = [e for e in events_of(case.id) if e.event == "recovery_action_done"]
        assert done.reason.startswith("Password-reset link sent to the address of record "
                                      "(local): a one-time link emailed")
        assert done.actor_type == "system" and token not in done.reason

    def test_lost_2fa_removes_the_second_factor_then_sends_a_link(self, make_account,
                                                                   make_case, lead):
        make_account(two_factor_enabled=True, password_hash=PasswordHasher().hash("phished pw 1"))
        case, _ = make_case("selfie_check", issue_type="lost_2fa")
        approve(case, lead)
        assert [a.status for a in actions_of(case.id)] == ["done", "done"]
        # The password a taker-over may hold stops working with the second factor.
        assert not account().two_factor_enabled and account().password_hash is None
        (email,) = reset_emails(case.id)
        assert "second factor" in email.body
        assert service.reset_link_info(token_in(email.body)).second_factor_removed

    @pytest.mark.parametrize(("issue_type", "flags", "links", "password_kept"), [
        ("account_locked", {"locked": True}, 0, True),
        ("suspicious_activity", {"frozen": True}, 1, False),
    ])
    def test_locks_and_freezes_are_lifted(self, make_account, make_case, lead, issue_type,
                                          flags, links, password_kept):
        make_account(**flags, password_hash=PasswordHasher().hash("the old password"))
        case, _ = make_case("selfie_check", issue_type=issue_type)
        approve(case, lead)
        assert {a.status for a in actions_of(case.id)} == {"done"}
        found = account()
        assert not found.locked and not found.frozen
        # Unfreezing ends the password that got the account frozen; unlocking keeps it.
        assert (found.password_hash is not None) is password_kept
        assert link_count() == links

    def test_no_account_of_record_fails_visibly_and_an_agent_can_retry(
            self, app, client, make_account, make_case, make_agent, lead):
        # Approval needs an account of record; the directory closes it before the action runs.
        make_account(email="nobody@example.test")
        case, _ = make_case("selfie_check", issue_type="forgot_password",
                            email="nobody@example.test")
        app.config["RECOVERY_ACTION_EXECUTOR"] = "off"
        approve(case, lead)
        db.session.execute(sa.update(RecoveryCase).where(RecoveryCase.id == case.id)
                           .values(account_id=None))
        db.session.commit()
        app.config["RECOVERY_ACTION_EXECUTOR"] = "inline"
        service.run_case_actions(case.id)
        (action,) = actions_of(case.id)
        assert action.status == "failed" and action.next_attempt_at is None
        assert action.last_error == "there is no account of record for this case"
        (failed,) = [e for e in events_of(case.id) if e.event == "recovery_action_failed"]
        assert "waiting for an agent to retry it" in failed.reason

        agent, token = make_agent("agent")
        detail = client.get(f"/api/v1/cases/{case.id}",
                            headers={"Authorization": f"Bearer {token}"}).get_json()
        assert [(a["kind"], a["status"], a["last_error"], a["attempts"])
                for a in detail["recovery_actions"]] == [
            ("reset_link", "failed", "there is no account of record for this case", 1)]

        from tests.conftest import sign_in
        sign_in(client, agent.email)
        page = client.get(f"/agent/cases/{case.id}").get_data(as_text=True)
        assert "there is no account of record for this case" in page
        assert f'id="retry-recovery-action-{action.id}"' in page
        answer = client.post(f"/agent/cases/{case.id}/recovery-actions/{action.id}/retry")
        assert answer.status_code == 302
        (action,) = actions_of(case.id)
        assert (action.status, action.attempts) == ("failed", 2)
        assert [e.event for e in events_of(case.id)] == [
            "recovery_action_failed", "recovery_action_retried", "recovery_action_failed"]
        # Only a failed action can be retried.
        done = db.session.get(RecoveryAction, action.id)
        done.status = "done"
        db.session.commit()
        again = client.post(f"/agent/cases/{case.id}/recovery-actions/{action.id}/retry")
        assert again.status_code == 422
        assert "Only a failed recovery action can be retried" in again.get_data(as_text=True)

    def test_the_new_password_works_once(self, make_account, make_case, lead):
        make_account()
        case, _ = make_case("selfie_check", issue_type="forgot_password")
        approve(case, lead)
        token = token_in(reset_emails(case.id)[0].body)
        service.redeem_reset_link(token, "a brand new passphrase")
        assert PasswordHasher().verify(account().password_hash, "a brand new passphrase")
        with pytest.raises(service.ResetLinkInvalid):
            service.redeem_reset_link(token, "another new passphrase")
        assert PasswordHasher().verify(account().password_hash, "a brand new passphrase")
        assert [e.event for e in events_of(case.id, "reset")] == ["reset_link_used"]


@pytest.mark.redis
@pytest.mark.parametrize("app_config", [{
    "RECOVERY_ACTION_EXECUTOR": "rq", "REDIS_URL": TEST_REDIS_URL,
    "VERIFICATION_QUEUE": f"test-actions-{uuid.uuid4().hex[:12]}"}])
def test_with_rq_a_worker_performs_the_steps_once(app, redis_queue, make_account, make_case,
                                                  lead):
    make_account(locked=True)
    case, _ = make_case("selfie_check", issue_type="account_locked")
    approve(case, lead)
    assert len(redis_queue.job_ids) == 1
    assert [a.status for a in actions_of(case.id)] == ["pending"]
    # The same job queued again (a sweep, a second worker) performs nothing more.
    jobs.recovery.ACTION_EXECUTORS["rq"](app, case.id)
    SimpleWorker([redis_queue], connection=redis_queue.connection).work(burst=True)
    (action,) = actions_of(case.id)
    assert (action.status, action.attempts) == ("done", 1)
    assert not account().locked
    assert [e.event for e in events_of(case.id)] == ["recovery_action_done"]


@pytest.mark.parametrize("app_config", [{"RECOVERY_ACTION_EXECUTOR": "off"}])
def test_only_the_holder_of_a_claimed_case_retries_its_action(app, make_account, make_case,
                                                               make_agent, lead):
    make_account()
    case, _ = make_case("selfie_check", issue_type="forgot_password")
    approve(case, lead)
    db.session.execute(sa.update(RecoveryCase).where(RecoveryCase.id == case.id)
                       .values(account_id=None))
    db.session.commit()
    service.run_case_actions(case.id)
    (action,) = actions_of(case.id)
    assert action.status == "failed"
    holder, _ = make_agent("agent", email="holder@example.test")
    other, _ = make_agent("agent", email="other@example.test")
    service.claim_case(case.id, holder, service.get_case(case.id).version)
    with pytest.raises(service.CaseClaimed):
        service.retry_recovery_action(case.id, action.id, other)
    assert actions_of(case.id)[0].status == "failed"
    service.retry_recovery_action(case.id, action.id, holder)
    assert actions_of(case.id)[0].status == "pending"
