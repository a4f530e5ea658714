"""The service layer against a real database: transactions, audit events, versions."""

from datetime import date

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import image_bytes, photos
from workflow import service
from workflow.models import CaseEvent, Evidence, Message, RecoveryCase, token_hash
from workflow.service import intake


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def submission(**overrides) -> service.Submission:
    fields = {"email": "Anna@Example.test", "full_name": "Anna Eriksson",
              "date_of_birth": date(1974, 8, 12), "issue_type": "forgot_password",
              "description": "", "consent": True, **overrides}
    return service.Submission(**fields)


def test_submission_stores_case_evidence_and_first_event(app, make_account):
    account = make_account(email="anna@example.test")
    result = service.submit_request(submission(), photos())
    case = service.get_case(result.case.id)
    assert case.account_id == account.id
    assert case.email == "anna@example.test"
    assert case.state == "submitted" and case.version == 1
    assert sorted(e.kind for e in case.evidence) == ["id_document", "selfie"]
    assert [(e.event, e.to_state, e.actor_type) for e in case.events] == [
        ("submitted", "submitted", "user")]
    assert case.tracking_token_hash != result.tracking_token
    assert service.case_for_token(result.tracking_token).id == case.id


def test_email_without_account_still_files_a_case(app):
    result = service.submit_request(submission(email="nobody@example.test"), photos())
    assert result.case.account_id is None


def test_bad_upload_creates_nothing(app):
    with pytest.raises(service.EvidenceRejected) as caught:
        service.submit_request(submission(), photos(selfie=b"%PDF-1.7 not an image"))
    assert caught.value.field == "selfie"
    assert count(RecoveryCase) == count(Evidence) == count(CaseEvent) == 0


def test_missing_selfie_creates_nothing(app):
    with pytest.raises(service.MissingEvidence):
        service.submit_request(submission(), photos(selfie=None))
    assert count(RecoveryCase) == 0


def test_failure_inside_the_transaction_leaves_no_case(app, monkeypatch):
    original = intake.record_event

    def explode(*args, **kwargs):
        original(*args, **kwargs)
        db.session.flush()  # the case and its evidence reach the database first...
        raise RuntimeError("disk on fire")  # ...then the transaction dies

    monkeypatch.setattr(intake, "record_event", explode)
    with pytest.raises(RuntimeError):
        service.submit_request(submission(), photos())
    assert count(RecoveryCase) == count(Evidence) == 0


def test_event_commits_with_its_audit_record(app, make_case, make_agent):
    case, _ = make_case("id_check")
    agent, _ = make_agent("agent")
    before = len(case.events)
    updated = service.fire_event(case.id, "confirm_document", agent=agent,
                                 expected_version=case.version)
    assert updated.state == "selfie_check"
    last = service.get_case(case.id).events[-1]
    assert len(service.get_case(case.id).events) == before + 1
    assert (last.event, last.from_state, last.to_state, last.actor_agent_id) == (
        "confirm_document", "id_check", "selfie_check", agent.id)


def test_stale_version_is_refused_and_changes_nothing(app, make_case, make_agent):
    case, _ = make_case("id_check")
    agent, _ = make_agent()
    seen = case.version
    service.fire_event(case.id, "confirm_document", agent=agent, expected_version=seen)
    with pytest.raises(service.StaleCase):
        service.fire_event(case.id, "decline", agent=agent, expected_version=seen, reason="x")
    assert service.get_case(case.id).state == "selfie_check"


def test_refused_transition_rolls_back(app, make_case, make_agent):
    case, _ = make_case("submitted")
    agent, _ = make_agent()
    events = len(case.events)
    with pytest.raises(service.TransitionNotAllowed):
        service.fire_event(case.id, "approve", agent=agent, expected_version=case.version)
    db.session.expire_all()
    fresh = service.get_case(case.id)
    assert fresh.state == "submitted" and len(fresh.events) == events and fresh.version == 1


def test_decline_resolves_with_user_visible_reason(app, make_case, make_agent):
    case, token = make_case("selfie_check")
    agent, _ = make_agent()
    service.fire_event(case.id, "decline", agent=agent, expected_version=case.version,
                       reason="The selfie does not match the document.")
    case = service.case_for_token(token)
    assert (case.state, case.resolution) == ("resolved", "declined")
    assert case.resolved_at is not None
    assert [m.body for m in case.messages if not m.internal] == [
        "The selfie does not match the document."]


def test_user_reply_returns_case_to_its_stage(app, make_case):
    case, token = make_case("awaiting_user")
    service.user_reply(token, "It was my old iPhone.")
    case = service.case_for_token(token)
    assert case.state == "id_check"
    assert case.messages[-1].author_type == "user"


def test_resubmission_flow_and_cap(app, make_case, make_agent):
    agent, _ = make_agent()
    case, token = make_case("id_check")
    for attempt in range(2, 2 + app.config["MAX_RESUBMISSIONS"]):
        case = service.get_case(case.id)
        service.fire_event(case.id, "request_resubmission", agent=agent,
                           expected_version=case.version, reason="Photo too dark.")
        case = service.case_for_token(token)
        assert service.user_actions(case) == ["reply", "resubmit", "withdraw"]
        # A plain reply does not answer a request for new photos.
        service.user_reply(token, "Sending them now.")
        assert service.case_for_token(token).state == "awaiting_user"
        service.user_resubmit(token, photos(id_document=image_bytes("PNG")))
        case = service.case_for_token(token)
        assert case.state == "id_check" and case.evidence_attempt == attempt
        assert {e.kind for e in case.current_evidence()} == {"id_document", "selfie"}
    case = service.get_case(case.id)
    service.fire_event(case.id, "request_resubmission", agent=agent,
                       expected_version=case.version, reason="Still too dark.")
    case = service.get_case(case.id)
    assert case.state == "escalated"
    assert case.events[-1].event == "escalate" and "limit" in case.events[-1].reason


def test_resubmit_without_request_is_refused(app, make_case):
    _case, token = make_case("id_check")
    with pytest.raises(service.ActionRefused):
        service.user_resubmit(token, photos())
    assert count(Evidence) == 2


def test_withdraw(app, make_case):
    _case, token = make_case("selfie_check")
    case = service.user_withdraw(token)
    assert (case.state, case.resolution) == ("resolved", "withdrawn")
    with pytest.raises(service.TransitionNotAllowed):
        service.user_withdraw(token)


def test_claim_and_assign(app, make_case, make_agent):
    case, _ = make_case()
    alice, _ = make_agent("agent", name="Alice")
    bob, _ = make_agent("agent", name="Bob")
    lead, _ = make_agent("security_lead")
    case = service.claim_case(case.id, alice, case.version)
    assert case.assignee_id == alice.id
    with pytest.raises(service.CaseClaimed, match="Alice has claimed this case"):
        service.claim_case(case.id, bob, case.version)
    with pytest.raises(service.ActionRefused):
        service.assign_case(case.id, bob, bob.id, case.version)
    case = service.assign_case(case.id, lead, bob.id, case.version)
    assert case.assignee_id == bob.id
    case = service.assign_case(case.id, bob, None, case.version)
    assert case.assignee_id is None
    assert [e.event for e in case.events][-3:] == ["claimed", "assigned", "released"]


def test_internal_note_is_not_user_visible(app, make_case, make_agent):
    case, token = make_case()
    agent, _ = make_agent()
    service.add_staff_message(case.id, agent, "Checked the login history.", internal=True)
    service.add_staff_message(case.id, agent, "Which device did you lose?", internal=False)
    assert [m.internal for m in service.case_for_token(token).messages] == [True, False]
    with pytest.raises(service.ActionRefused):
        service.add_staff_message(case.id, agent, "   ", internal=False)


def test_case_events_are_append_only(app, make_case):
    case, _ = make_case()
    event = case.events[0]
    event.reason = "rewritten history"
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()


def test_agents_and_tokens(app, make_agent):
    agent, token = make_agent("admin", email="Boss@Example.test")
    assert service.authenticate("boss@example.test", "correct horse battery staple").id == agent.id
    assert service.authenticate("boss@example.test", "wrong password!!") is None
    assert service.authenticate("nobody@example.test", "whatever-password") is None
    assert service.agent_for_token(token).id == agent.id
    assert service.agent_for_token(token + "x") is None
    assert [t.token_hash for t in service.tokens_of(agent.id)] == [token_hash(token)]
    with pytest.raises(service.AgentExists):
        service.create_agent("boss@example.test", "Again", "agent", "another long password")
    with pytest.raises(ValueError):
        service.create_agent("x@example.test", "Short", "agent", "short")


def test_idempotent_submission(app):
    first = service.submit_request(submission(), photos(), idempotency_key="k-1")
    again = service.submit_request(submission(), photos(), idempotency_key="k-1")
    assert again.replayed and again.case.id == first.case.id
    assert again.tracking_token == first.tracking_token
    assert count(RecoveryCase) == 1
    with pytest.raises(service.IdempotencyConflict):
        service.submit_request(submission(full_name="Someone Else"), photos(),
                               idempotency_key="k-1")
    assert count(RecoveryCase) == 1
    app.config["SECRET_KEY"] = "rotated"  # a replay can no longer re-derive the token
    with pytest.raises(service.IdempotencyConflict, match="tracking link"):
        service.submit_request(submission(), photos(), idempotency_key="k-1")
    assert count(RecoveryCase) == 1


def test_cursor_pagination_walks_every_case_once(app, make_case):
    ids = [make_case()[0].id for _ in range(7)]
    seen, cursor = [], None
    while True:
        page, cursor = service.list_cases(limit=3, cursor=cursor)
        seen += [c.id for c in page]
        if cursor is None:
            break
    assert seen == ids
    with pytest.raises(service.BadCursor):
        service.list_cases(limit=3, cursor="not-a-cursor")


def test_messages_of_user_are_stored(app, make_case):
    _case, token = make_case("resolved")
    with pytest.raises(service.ActionRefused):
        service.user_reply(token, "hello?")
    assert count(Message) == 1  # only the decline reason


def test_evidence_cannot_exist_without_its_case(app):
    from sqlalchemy.exc import IntegrityError

    db.session.add(Evidence(case_id=424242, kind="selfie", mime_type="image/jpeg", width=1,
                            height=1, sha256="0" * 64, original_sha256="0" * 64,
                            original_bytes=1, data=b"x"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_database_refuses_to_rewrite_events_even_in_bulk(app, make_case):
    make_case()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.update(CaseEvent).values(reason="rewritten"))
    db.session.rollback()
    assert db.session.scalars(sa.select(CaseEvent.reason)).all() == [None]


def _fire(case_id, trigger, agent, reason="because"):
    case = service.get_case(case_id)
    return service.fire_event(case_id, trigger, agent=agent, expected_version=case.version,
                              reason=reason)


def test_escalating_a_waiting_case_keeps_its_request_for_photos(app, make_case, make_agent):
    agent, _ = make_agent("agent")
    lead, _ = make_agent("security_lead")
    case, token = make_case("id_check")
    _fire(case.id, "request_resubmission", agent)
    _fire(case.id, "escalate", agent)
    assert service.user_actions(service.case_for_token(token)) == ["reply", "withdraw"]
    _fire(case.id, "return_to_stage", lead)
    case = service.case_for_token(token)
    assert case.state == "awaiting_user" and case.resubmission_requested
    assert case.awaiting_from == "id_check"
    service.user_resubmit(token, photos())
    assert service.case_for_token(token).state == "id_check"


def test_photos_asked_for_by_a_lead_go_back_to_the_lead(app, make_case, make_agent):
    lead, _ = make_agent("security_lead")
    case, token = make_case("escalated")
    _fire(case.id, "request_resubmission", lead)
    service.user_resubmit(token, photos())
    case = service.case_for_token(token)
    assert case.state == "escalated"
    agent, _ = make_agent("agent")
    assert service.allowed_events(case, agent.actors) == []


def test_resubmission_cap_on_an_escalated_case_is_explained(app, make_case, make_agent):
    lead, _ = make_agent("security_lead")
    case, _ = make_case("escalated")
    db.session.execute(sa.update(RecoveryCase).values(
        resubmissions=app.config["MAX_RESUBMISSIONS"]))
    db.session.commit()
    case = service.get_case(case.id)
    assert "request_resubmission" not in {r.trigger for r in
                                          service.allowed_events(case, lead.actors)}
    with pytest.raises(service.TransitionNotAllowed, match="decide the case"):
        _fire(case.id, "request_resubmission", lead)
    assert service.get_case(case.id).state == "escalated"


def test_human_decisions_are_recorded_in_the_check_tree(app, make_case, make_agent,
                                                         make_account):
    from workflow.models import VerificationCheck

    agent, _ = make_agent("agent")
    make_account()
    case, token = make_case("id_check", issue_type="forgot_password")
    _fire(case.id, "request_resubmission", agent, "Too dark.")
    service.user_resubmit(token, photos())
    _fire(case.id, "confirm_document", agent)
    service.reassess_risk(case.id)  # the automated checks of the new photos ended
    _fire(case.id, "approve", agent)
    checks = [(c.check, c.result, c.reason_code, c.attempt, c.actor_agent_id)
              for c in service.get_case(case.id).checks]
    assert checks == [
        ("document.review", "consider", "resubmission_requested", 1, agent.id),
        ("document.review", "clear", "agent_confirmed", 2, agent.id),
        ("risk.assessment", "clear", None, 2, None),
        ("selfie.review", "clear", "agent_confirmed", 2, agent.id),
    ]
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.update(VerificationCheck).values(result="rejected"))
    db.session.rollback()


def test_security_decisions_are_recorded(app, make_case, make_agent):
    lead, _ = make_agent("security_lead")
    case, _ = make_case("escalated")
    _fire(case.id, "decline", lead, "Known fraud pattern.")
    # After the risk the system assessed once the checks of the photos ended.
    risk, check = service.get_case(case.id).checks
    assert (risk.check, risk.actor_agent_id) == ("risk.assessment", None)
    assert (check.check, check.result, check.reason_code) == (
        "security.review", "rejected", "security_declined")


def test_lead_can_return_a_case_after_new_photos_came_back(app, make_case, make_agent):
    lead, _ = make_agent("security_lead")
    case, token = make_case("escalated")  # escalated from id_check
    _fire(case.id, "request_resubmission", lead)
    service.user_resubmit(token, photos())
    case = service.case_for_token(token)
    assert case.state == "escalated" and not case.resubmission_requested
    assert service.user_actions(case) == ["reply", "withdraw"]
    _fire(case.id, "return_to_stage", lead)
    assert service.case_for_token(token).state == "id_check"


def test_a_case_is_deleted_with_everything_it_holds(app, make_case, make_agent):
    from workflow.models import VerificationCheck

    agent, _ = make_agent()
    case, _ = make_case("id_check")
    _fire(case.id, "confirm_document", agent)
    service.add_staff_message(case.id, agent, "note", internal=True)
    db.session.delete(service.get_case(case.id))
    db.session.commit()
    assert all(count(m) == 0 for m in (RecoveryCase, Evidence, CaseEvent, Message,
                                       VerificationCheck))
