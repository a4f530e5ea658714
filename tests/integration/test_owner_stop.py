"""The owner of record is told on filing and on approval, and can stop the recovery.

With the shipped cooling-off period (config.Config.RECOVERY_HOLD): a lost-2FA or frozen
account's recovery waits a day after its approval, and the "this wasn't me" link in the
emails to the address of record stops it. The link is read from the emails the desk wrote
(and, in one test, delivered to a real SMTP server).
"""

import re
import time
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from babel.dates import format_date, format_time
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

import jobs.recovery
from config import Config
from extensions import db
from notify import outbox
from tests.integration import test_account_service_http
from tests.integration.test_outbox import BASE_URL, Inbox, free_port, text
from tests.recovery import actions_of, approve, events_of, outbox_of, token_in
from workflow import service
from workflow.models import (
    Account,
    Agent,
    CaseEvent,
    RecoveryCase,
    ResetLink,
    utcnow,
)
from workflow.service import hooks
from workflow.service.owner import SALT

NOT_ME = re.compile(r"/not-me/([A-Za-z0-9_\-.]{20,})")
HOLD = timedelta(hours=24)

# The service's time, moved by hand.
clock = test_account_service_http.clock


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def app_config(smtp_port):
    return {"RECOVERY_HOLD": Config.RECOVERY_HOLD, "PUBLIC_BASE_URL": BASE_URL,
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_USE_TLS": False,
            "MAIL_FROM": "Recovery Desk <desk@desk.example.test>", "MAIL_TIMEOUT_SECONDS": 5}


@pytest.fixture
def lead(make_agent):
    agent, _ = make_agent("security_lead", email="lead@example.test")
    return agent


def account() -> Account:
    db.session.expire_all()
    return db.session.scalar(sa.select(Account).where(Account.email == "anna@example.test"))


def not_me_token(body: str) -> str:
    found = NOT_ME.search(body)
    assert found, body
    return found.group(1)


def case_of(case_id: int) -> RecoveryCase:
    db.session.expire_all()
    return db.session.get(RecoveryCase, case_id)


def timeline(case_id: int) -> list[tuple[str, str]]:
    return [(e.event, e.actor_type) for e in db.session.scalars(
        sa.select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))]


def approved_lost_2fa(make_account, make_case, lead):
    make_account(two_factor_enabled=True, password_hash=PasswordHasher().hash("old password"))
    case, _ = make_case("selfie_check", issue_type="lost_2fa")
    approve(case, lead)
    return case_of(case.id)


class TestCoolingOff:
    def test_a_second_factor_is_removed_only_after_the_hold(self, app, clock, make_account,
                                                            make_case, lead):
        case = approved_lost_2fa(make_account, make_case, lead)
        planned = actions_of(case.id)
        assert [(a.kind, a.status, a.due_at) for a in planned] == [
            ("remove_second_factor", "pending", case.resolved_at + HOLD),
            ("reset_link", "pending", case.resolved_at + HOLD)]
        assert service.run_case_actions(case.id) == [None]  # not due: not run
        assert jobs.recovery.sweep_actions(app) == []
        clock.now += HOLD - timedelta(seconds=1)
        assert jobs.recovery.sweep_actions(app) == []
        assert account().two_factor_enabled
        clock.now += timedelta(seconds=2)
        assert jobs.recovery.sweep_actions(app) == [case.id]
        assert [a.status for a in actions_of(case.id)] == ["done", "done"]
        assert not account().two_factor_enabled
        assert len(outbox_of("reset_link", case.id)) == 1

    def test_a_reset_link_alone_goes_at_once(self, app, make_account, make_case, lead):
        make_account()
        case, _ = make_case("selfie_check", issue_type="forgot_password")
        approve(case, lead)
        case = case_of(case.id)
        [action] = actions_of(case.id)
        assert action.due_at - case.resolved_at < timedelta(seconds=1)
        assert jobs.recovery.sweep_actions(app) == [case.id]
        [approval] = outbox_of("recovery_approved", case.id)
        assert "This happens now" in approval.body

    def test_the_hold_is_per_issue_type_and_a_bad_setting_refuses_to_start(self, tmp_path):
        from app import create_app
        from tests.conftest import make_config
        url = f"sqlite:///{tmp_path / 'hold.sqlite'}"
        for bad, says in [({"lost_2fa": "a day"}, "24h"), ({"lost-2fa": "24h"}, "unknown"),
                          ({"lost_2fa": -5}, "24h"), (["24h"], "maps issue types")]:
            with pytest.raises(RuntimeError, match=says):
                create_app(make_config(url, RECOVERY_HOLD=bad))
        app = create_app(make_config(url, RECOVERY_HOLD={"forgot_password": "30m",
                                                         "lost_2fa": 0}))
        with app.app_context():
            assert service.recovery_holds(app.config) == {
                "forgot_password": timedelta(minutes=30), "lost_2fa": timedelta(0)}


class TestApprovalEmail:
    def test_the_owner_is_told_what_happens_when_with_the_link_that_stops_it(
            self, app, clock, make_account, make_case, lead):
        case = approved_lost_2fa(make_account, make_case, lead)
        [email] = outbox_of("recovery_approved", case.id)
        assert email.to_address == "anna@example.test"
        assert email.subject == f"Your account recovery request #{case.id} was approved"
        due = case.resolved_at + HOLD
        when = (f"{format_date(due, 'long', locale='en')}, "
                f"{format_time(due, 'short', tzinfo=UTC, locale='en')} UTC")
        assert f"This happens on {when}, not before" in email.body
        assert "  - Second factor removed\n" in email.body
        assert f"{BASE_URL}/not-me/" in email.body
        # The filing email has one too (signed when it was written), for the same request.
        [filed] = outbox_of("request_received", case.id)
        assert service.owner_view(not_me_token(filed.body)).case_id == case.id
        assert service.owner_view(not_me_token(email.body)).case_id == case.id

    def test_an_approval_refused_writes_no_email(self, make_account, make_case, lead):
        make_account()
        case, _ = make_case("selfie_check", issue_type="forgot_password")
        with pytest.raises(service.StaleCase):
            service.fire_event(case.id, "approve", agent=lead,
                               expected_version=case.version - 1)
        assert outbox_of("recovery_approved") == []

    def test_delivered_to_a_real_smtp_server_and_the_link_works(
            self, app, client, clock, smtp_port, make_account, make_case, lead):
        inbox = Inbox()
        from aiosmtpd.controller import Controller
        controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        try:
            case = approved_lost_2fa(make_account, make_case, lead)
            report = outbox.send_outbox()
        finally:
            controller.stop()
        assert report.failed == 0 and report.sent >= 2
        [(_, message)] = [(to, m) for to, m in inbox.messages
                          if m["Subject"].endswith("was approved")]
        body = text(message)
        assert message["To"] == "anna@example.test"
        link = re.search(rf"{re.escape(BASE_URL)}(/not-me/\S+)", body).group(1)
        page = client.get(link)
        assert page.status_code == 200
        assert "This wasn't me: stop this request" in page.get_data(as_text=True)
        assert client.post(link).status_code == 303
        assert case_of(case.id).state == "escalated"


class TestStop:
    def test_looking_changes_nothing_and_the_stop_holds_past_the_hold(
            self, app, client, clock, make_account, make_case, lead):
        case = approved_lost_2fa(make_account, make_case, lead)
        token = not_me_token(outbox_of("recovery_approved", case.id)[0].body)
        before = timeline(case.id)

        page = client.get(f"/not-me/{token}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "Second factor removed" in html and "not-me-pending" in html
        assert timeline(case.id) == before

        answer = client.post(f"/not-me/{token}")
        assert answer.status_code == 303
        assert answer.headers["Location"].endswith(f"/not-me/{token}")
        stopped = case_of(case.id)
        assert (stopped.state, stopped.resolution, stopped.resolved_at) == (
            "escalated", None, None)
        assert [a.status for a in actions_of(case.id)] == ["cancelled", "cancelled"]
        added = timeline(case.id)[len(before):]
        assert ("reported_not_me", "owner") in added and ("stop_recovery", "system") in added
        assert added.count(("recovery_action_cancelled", "system")) == 2
        assert service.current_risk(stopped).details["level"] == "high"
        # Every active lead and admin hears of it (the leads decide escalated cases).
        told = {e.to_address for e in outbox_of("owner_stopped", case.id)}
        leads = set(db.session.scalars(sa.select(Agent.email).where(
            Agent.active, Agent.role.in_(["security_lead", "admin"]))))
        assert "lead@example.test" in told and told == leads

        html = client.get(f"/not-me/{token}").get_data(as_text=True)
        assert "You told us this request is not yours" in html and "not-me-cancelled" in html

        # The day passes: nothing is performed, the account is as it was.
        clock.now += HOLD + timedelta(hours=1)
        assert jobs.recovery.sweep_actions(app) == []
        holder = account()
        assert holder.two_factor_enabled and not holder.frozen
        assert PasswordHasher().verify(holder.password_hash, "old password")
        assert outbox_of("reset_link") == []

        # Confirming again changes nothing more.
        again = timeline(case.id)
        assert client.post(f"/not-me/{token}").status_code == 303
        assert timeline(case.id) == again

    def test_a_stopped_recovery_approved_again_needs_four_eyes_and_waits_again(
            self, app, clock, make_account, make_case, make_agent, lead):
        case = approved_lost_2fa(make_account, make_case, lead)
        token = not_me_token(outbox_of("recovery_approved", case.id)[0].body)
        service.stop_by_owner(token)
        case = case_of(case.id)
        # The proposal the stopped approval followed is withdrawn, on the record.
        assert case.proposal_agent_id is None and case.escalated_from is None
        assert ("proposal_withdrawn", "system") in timeline(case.id)
        with pytest.raises(service.FourEyesRequired):
            service.fire_event(case.id, "approve", agent=lead, expected_version=case.version,
                               reason="Spoke to the owner on the phone")
        colleague, _ = make_agent("security_lead", email="second@example.test")
        case = service.propose_approval(case.id, colleague, case.version,
                                        "Owner called back: it was their partner's phone.")
        clock.now += timedelta(hours=2)
        service.fire_event(case.id, "approve", agent=lead, expected_version=case.version,
                           reason="Confirmed with the owner by phone")
        case = case_of(case.id)
        assert [(a.position, a.status) for a in actions_of(case.id)] == [
            (1, "cancelled"), (2, "cancelled"), (3, "pending"), (4, "pending")]
        assert actions_of(case.id)[2].due_at == case.resolved_at + HOLD
        assert len(outbox_of("recovery_approved", case.id)) == 2
        # The owner's link stops the new approval too.
        outcome, view = service.stop_by_owner(token)
        assert outcome is service.StopOutcome.STOPPED
        assert [a.status for a in actions_of(case.id)] == ["cancelled"] * 4
        assert service.stop_by_owner(token)[0] is service.StopOutcome.ALREADY

    def test_too_late_the_case_is_reopened_and_an_unused_reset_link_stops_working(
            self, app, client, make_account, make_case, lead):
        make_account()
        case, _ = make_case("selfie_check", issue_type="forgot_password")
        approve(case, lead)
        jobs.recovery.sweep_actions(app)
        reset_token = token_in(outbox_of("reset_link", case.id)[0].body)
        assert service.reset_link_info(reset_token)
        outcome, view = service.stop_by_owner(
            not_me_token(outbox_of("recovery_approved", case.id)[0].body))
        assert outcome is service.StopOutcome.TOO_LATE
        assert view.performed and not view.cancelled
        assert case_of(case.id).state == "escalated"
        with pytest.raises(service.ResetLinkInvalid):
            service.reset_link_info(reset_token)
        assert client.get(f"/reset/{reset_token}").status_code == 404

    def test_an_open_request_is_escalated_from_the_filing_email(self, client, make_account,
                                                                make_case):
        make_account()
        case, _ = make_case("id_check", issue_type="forgot_password")
        token = not_me_token(outbox_of("request_received", case.id)[0].body)
        assert "We are still checking it" in client.get(f"/not-me/{token}").get_data(
            as_text=True)
        client.post(f"/not-me/{token}")
        escalated = case_of(case.id)
        assert escalated.state == "escalated" and escalated.escalated_from == "id_check"
        assert service.current_risk(escalated).details["level"] == "high"

    def test_a_request_closed_without_approval_only_records_it(self, make_account, make_case):
        make_account()
        case, _ = make_case("resolved", issue_type="forgot_password")
        resolution = case_of(case.id).resolution
        outcome, view = service.stop_by_owner(
            not_me_token(outbox_of("request_received", case.id)[0].body))
        assert outcome is service.StopOutcome.CLOSED and not view.open
        closed = case_of(case.id)
        assert (closed.state, closed.resolution) == ("resolved", resolution)
        assert ("reported_not_me", "owner") in timeline(case.id)

    def test_no_account_no_link(self, make_case):
        case, _ = make_case("submitted", email="nobody@example.test")
        [filed] = outbox_of("request_received", case.id)
        assert "/not-me/" not in filed.body and "withdraw" in filed.body

    def test_staff_record_a_report_that_stops_the_recovery_too(
            self, app, clock, make_account, make_case, make_agent, lead):
        case = approved_lost_2fa(make_account, make_case, lead)
        agent, _ = make_agent("agent", email="agent@example.test")
        service.report_not_me(case.id, agent, "Holder phoned: not them")
        assert case_of(case.id).state == "escalated"
        assert [a.status for a in actions_of(case.id)] == ["cancelled", "cancelled"]
        declined, _ = make_case("resolved", issue_type="forgot_password")
        with pytest.raises(service.ActionRefused, match="closed"):
            service.report_not_me(declined.id, agent, "Holder phoned")


class TestTheLink:
    def test_altered_foreign_and_expired_links_are_refused_alike(
            self, app, client, make_account, make_case):
        make_account()
        case, _ = make_case("id_check", issue_type="forgot_password")
        other, _ = make_case("id_check", issue_type="forgot_password",
                             email="nobody@example.test")
        token = not_me_token(outbox_of("request_received", case.id)[0].body)
        secret = app.config["SECRET_KEY"]

        class Past(TimestampSigner):
            def get_timestamp(self):
                return int(time.time()) - Config.OWNER_LINK_TTL - 60

        refused = [
            token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
            # Signed by the desk, for another purpose or another case's account.
            URLSafeTimedSerializer(secret, salt="another-purpose").dumps([case.id, 1]),
            URLSafeTimedSerializer(secret, salt=SALT).dumps([other.id, case.account_id]),
            URLSafeTimedSerializer(secret, salt=SALT).dumps([case.id, case.account_id + 1]),
            URLSafeTimedSerializer(secret, salt=SALT).dumps({"case": case.id}),
            URLSafeTimedSerializer(secret, salt=SALT, signer=Past).dumps(
                [case.id, case.account_id]),
            "x" * 500,
        ]
        before = timeline(case.id)
        for bad in refused:
            for answer in (client.get(f"/not-me/{bad}"), client.post(f"/not-me/{bad}")):
                assert answer.status_code == 404, bad
                assert "This link is not valid or has expired" in answer.get_data(
                    as_text=True)
        assert timeline(case.id) == before and case_of(case.id).state == "id_check"


class StoppingService:
    """A remote account service during whose request the owner stops the recovery."""

    in_transaction = False

    def __init__(self):
        self.token = None
        self.performed = []

    def perform(self, order):
        service.stop_by_owner(self.token)
        self.performed.append(order.kind.value)
        return service.ActionDone(f"{order.kind.value} performed")


def test_a_step_performed_while_the_stop_arrived_is_recorded_as_done(
        app, make_account, make_case, lead):
    remote = StoppingService()
    hooks.register(app, account_services={"remote": remote}, default_account_service="remote")
    make_account()
    case, _ = make_case("selfie_check", issue_type="forgot_password")
    remote.token = not_me_token(outbox_of("request_received", case.id)[0].body)
    approve(case, lead)
    assert service.run_case_actions(case.id) == ["done"]
    [action] = actions_of(case.id)
    assert remote.performed == ["reset_link"] and action.status == "done"
    assert "the stop came too late for this step" in action.result["summary"]
    assert case_of(case.id).state == "escalated"
    assert [e.event for e in events_of(case.id)] == ["recovery_action_cancelled",
                                                    "recovery_action_done"]


def test_reset_links_of_other_cases_keep_working(app, make_account, make_case, lead):
    make_account()
    first, _ = make_case("selfie_check", issue_type="forgot_password")
    approve(first, lead)
    jobs.recovery.sweep_actions(app)
    second, _ = make_case("id_check", issue_type="forgot_password")
    service.stop_by_owner(not_me_token(outbox_of("request_received", second.id)[0].body))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ResetLink)
                             .where(ResetLink.expires_at > utcnow())) == 1
