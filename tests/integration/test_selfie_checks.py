"""The selfie stage and the risk assessment end to end, on real photographs.

Each request goes through the real intake gate and the real job (document, then selfie, then
risk), inline after the commit, so every assertion sees the outcome.
"""

from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

import jobs.executors
import jobs.schedule
import jobs.tasks
from extensions import db
from tests.conftest import FACES, document_photo, selfie_photo
from verification import faces
from verification.documents import find_portrait
from verification.faces import encode_face, face_distance, find_faces
from verification.specimen import SpecimenPerson
from workflow import service
from workflow.models import AccountChange, CaseEvent, SelfieReading, VerificationCheck, utcnow
from workflow.service.findings import stored_encoding

ANNA = SpecimenPerson(expiry_date=date(date.today().year + 4, 4, 15))
BRUNO = SpecimenPerson(surname="KOVAC", given_names="BRUNO", date_of_birth=date(1981, 3, 2),
                       sex="M", document_number="X1234567Z",
                       expiry_date=date(date.today().year + 3, 1, 9))


@pytest.fixture
def app_config():
    return {"QUALITY_GATE": True, "VERIFICATION_EXECUTOR": "inline"}


def submit(*, person=ANNA, email="anna@example.test", portrait="obama_1.jpg",
           selfie="obama_2.jpg", selfie_bytes=None, client_ip=None):
    full_name = f"{person.given_names.title()} {person.surname.title()}"
    sub = service.Submission(email=email, full_name=full_name,
                             date_of_birth=person.date_of_birth, issue_type="forgot_password",
                             description="", consent=True, client_ip=client_ip)
    files = {"id_document": document_photo(person, portrait=portrait),
             "selfie": selfie_bytes or selfie_photo(selfie)}
    return service.get_case(service.submit_request(sub, files).case.id)


def checks_of(case) -> dict[str, VerificationCheck]:
    return {row.check: row for row in case.checks if row.check.startswith(("selfie.", "risk."))}


def events_of(case) -> list[str]:
    return [e.event for e in case.events]


def test_the_same_person_ends_at_the_selfie_check_with_low_risk(app, make_account):
    make_account()
    case = submit()
    assert case.state == "selfie_check"
    found = checks_of(case)
    assert found["selfie.match.document"].result == "clear"
    assert found["selfie.match.document"].threshold == app.config["FACE_MATCH_THRESHOLD"]
    assert 0 < found["selfie.match.document"].score < 0.55
    assert found["selfie.known_faces"].result == "clear"
    assert found["risk.assessment"].details == {"level": "low", "reasons": []}
    reading = case.current_selfie_reading()
    assert reading.faces == 1 and reading.outcome == "clear" and len(reading.encoding) == 1024
    assert reading.document_distance == pytest.approx(found["selfie.match.document"].score,
                                                      abs=1e-3)
    assert events_of(case).count("selfie_checked") == 1


def test_a_match_near_the_threshold_is_measured_again_on_the_stored_id_photo(
        app, make_account, monkeypatch):
    # Every distance counts as near the threshold: the job encodes the ID photo's portrait
    # again, steadily, from the evidence it stored.
    monkeypatch.setattr(faces, "STEADY_MARGIN", 1.0)
    make_account()
    case = submit()
    match = checks_of(case)["selfie.match.document"]
    assert match.details["measured"] == "steady"
    document = case.current_reading()
    stored = stored_encoding(document.portrait_encoding)
    front = next(e for e in case.current_evidence() if e.kind == "id_document")
    selfie = next(e for e in case.current_evidence() if e.kind == "selfie")
    selfie_image = service.open_image(selfie.data)
    steady_selfie = encode_face(selfie_image, find_faces(selfie_image)[0], steady=True)
    steady_portrait = find_portrait(service.open_image(front.data), steady=True).encoding
    assert match.details["first_distance"] == pytest.approx(
        face_distance(stored_encoding(case.current_selfie_reading().encoding), stored), abs=1e-4)
    assert match.score == pytest.approx(face_distance(steady_selfie, steady_portrait), abs=1e-4)
    assert case.current_selfie_reading().document_distance == pytest.approx(match.score,
                                                                            abs=1e-4)
    assert match.result == "clear" and case.state == "selfie_check"


def test_someone_else_s_face_is_high_risk_and_goes_to_security(app, make_account):
    make_account()
    case = submit(selfie="biden_1.jpg")
    assert case.state == "escalated"
    assert checks_of(case)["selfie.match.document"].reason_code == "face_mismatch"
    risk = service.current_risk(case)
    assert risk.details["level"] == "high"
    assert [r["code"] for r in risk.details["reasons"]] == ["face_mismatch"]
    escalation = next(e for e in case.events if e.event == "escalate")
    assert escalation.actor_type == "system"
    assert "does not match the document portrait" in escalation.reason


@pytest.mark.parametrize("selfie", ["document", "obama_1.jpg"])
def test_the_id_sent_as_selfie_is_refused_at_the_door(app, make_account, selfie):
    make_account()
    document = document_photo(ANNA, portrait="obama_1.jpg")
    sent = {"selfie_bytes": document} if selfie == "document" else {"selfie": selfie}
    with pytest.raises(service.EvidenceRejected) as caught:
        submit(**sent)
    assert (caught.value.field, caught.value.error.code) == ("selfie", "selfie_is_document")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)) == 0


# Without the upload gate the job still finds the ID sent as the selfie.
@pytest.mark.parametrize("app_config", [{"QUALITY_GATE": False,
                                         "VERIFICATION_EXECUTOR": "inline"}])
def test_the_id_sent_as_selfie_is_caught_and_the_user_asked_for_a_selfie(app, make_account):
    make_account()
    document = document_photo(ANNA, portrait="obama_1.jpg")
    case = submit(selfie_bytes=document)
    assert checks_of(case)["selfie.id_as_selfie"].reason_code == "selfie_is_document"
    assert case.state == "awaiting_user" and case.resubmission_requested
    assert "shows your ID rather than you" in case.messages[-1].body
    assert service.current_risk(case).details["level"] == "medium"


@pytest.mark.parametrize("app_config", [{"QUALITY_GATE": False,
                                         "VERIFICATION_EXECUTOR": "inline"}])
def test_the_photo_printed_on_the_id_is_caught_as_the_selfie(app, make_account):
    make_account()
    case = submit(selfie="obama_1.jpg")
    assert checks_of(case)["selfie.id_as_selfie"].reason_code == "selfie_is_document"
    assert case.state == "awaiting_user"


def test_a_selfie_with_two_faces_is_refused_at_the_door(app, make_account):
    make_account()
    with pytest.raises(service.EvidenceRejected) as caught:
        submit(selfie="multi_face_obama_biden.jpg")
    assert (caught.value.field, caught.value.error.code) == ("selfie", "selfie_several_faces")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)) == 0


# Without the upload gate the job still finds the second person.
@pytest.mark.parametrize("app_config", [{"QUALITY_GATE": False,
                                         "VERIFICATION_EXECUTOR": "inline"}])
def test_a_selfie_with_two_faces_asks_for_a_new_one(app, make_account):
    make_account()
    case = submit(selfie="multi_face_obama_biden.jpg")
    assert checks_of(case)["selfie.face.count"].reason_code == "selfie_several_faces"
    assert case.state == "awaiting_user"
    assert "more than one person" in case.messages[-1].body
    assert case.current_selfie_reading().faces == 2


def test_one_face_filed_for_two_accounts_is_flagged_with_links(app, make_account):
    make_account()
    make_account(email="bruno@example.test", full_name="Bruno Kovac",
                 date_of_birth=BRUNO.date_of_birth)
    first = submit()
    assert first.state == "selfie_check"
    second = submit(person=BRUNO, email="bruno@example.test", portrait="obama_3.jpg",
                    selfie="obama_2.jpg")
    known = checks_of(second)["selfie.known_faces"]
    assert known.result == "consider" and known.reason_code == "face_seen_on_other_account"
    assert known.details["case_ids"] == [first.id]
    assert second.state == "escalated"
    assert "same face was filed for other accounts" in service.current_risk(second).details[
        "reasons"][0]["text"]


def test_the_account_s_reference_portrait_is_compared(app, make_account):
    make_account(reference_portrait=(FACES / "biden_2.jpg").read_bytes())
    case = submit()
    assert checks_of(case)["selfie.match.reference"].reason_code == "reference_mismatch"
    assert case.current_selfie_reading().reference_distance > 0.65
    assert case.state == "escalated"


def test_a_matching_reference_portrait_keeps_the_case_low(app, make_account):
    make_account(reference_portrait=(FACES / "obama_3.jpg").read_bytes())
    case = submit()
    assert checks_of(case)["selfie.match.reference"].result == "clear"
    assert case.state == "selfie_check"


def test_recent_account_changes_and_velocity_raise_the_risk(app, make_account):
    account = make_account()
    db.session.add(AccountChange(account_id=account.id, kind="email",
                                 created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    first = submit(client_ip="203.0.113.9")
    assert service.current_risk(first).details["level"] == "medium"
    second = submit(client_ip="203.0.113.9")
    risk = service.current_risk(second).details
    assert risk["level"] == "high"
    assert {r["code"] for r in risk["reasons"]} == {"recent_account_change", "velocity_account"}
    assert second.state == "escalated"


def test_the_job_is_idempotent(app, make_account):
    make_account()
    case = submit()
    assert jobs.tasks.run_verification(case.id, 1) == {"document": "skipped", "selfie": "skipped"}
    job = service.start_selfie_check(case.id, 1)
    assert job is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SelfieReading)) == 1
    assert events_of(service.get_case(case.id)).count("selfie_checked") == 1


def test_a_not_me_report_escalates_with_the_reason(app, make_account, make_agent):
    make_account()
    case = submit()
    agent, _ = make_agent()
    case = service.report_not_me(case.id, agent, "Holder called the support line.")
    assert case.state == "escalated"
    assert service.current_risk(case).details["reasons"][0]["code"] == "not_me_report"
    with pytest.raises(service.ActionRefused):
        service.report_not_me(case.id, agent, "  ")


def on_the_thread(app, case_id: int):
    """The outcome of the case's job on the embedded executor, after every try."""
    executor = jobs.executors.ThreadExecutor(app)
    try:
        return executor.submit(case_id, 1).result(timeout=300)
    finally:
        executor.close()


def test_a_transient_error_is_retried_and_the_job_completes(app, make_account, monkeypatch):
    make_account()
    app.config["VERIFICATION_EXECUTOR"] = "off"
    case = submit()
    real = jobs.tasks.check_selfie
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, ConnectionError("database restarting"))
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs.tasks, "check_selfie", flaky)
    # The document was stored by the first try; the retry does only what is left.
    assert on_the_thread(app, case.id) == {"document": "skipped", "selfie": "clear"}
    assert len(calls) == 2
    db.session.expire_all()
    case = service.get_case(case.id)
    assert case.current_selfie_reading() is not None
    assert "verification_failed" not in events_of(case)


def test_a_permanent_error_waits_for_an_agent_who_can_retry(app, make_account, make_agent,
                                                            monkeypatch):
    make_account()
    app.config["VERIFICATION_EXECUTOR"] = "off"
    case = submit()

    def broken(*args, **kwargs):
        raise RuntimeError("face model file is damaged")

    monkeypatch.setattr(jobs.tasks, "check_selfie", broken)
    assert on_the_thread(app, case.id) is None
    db.session.expire_all()
    case = service.get_case(case.id)
    failure = service.verification_failure(case)
    assert failure is not None and "face model file is damaged" in failure.reason
    assert events_of(case).count("verification_failed") == 1  # not retried: not transient
    # The sweep leaves it to the agent; the agent's retry runs it again.
    assert service.cases_needing_verification(timedelta(0)) == []
    monkeypatch.undo()
    app.config["VERIFICATION_EXECUTOR"] = "inline"
    agent, _ = make_agent()
    service.retry_verification(case.id, agent)
    db.session.expire_all()
    case = service.get_case(case.id)
    assert service.verification_failure(case) is None
    assert case.current_selfie_reading() is not None
    with pytest.raises(service.ActionRefused):
        service.retry_verification(case.id, agent)


def test_a_permanent_selfie_failure_still_escalates_what_the_document_showed(
        app, make_account, monkeypatch):
    make_account()
    make_account(email="bruno@example.test", full_name="Bruno Kovac",
                 date_of_birth=BRUNO.date_of_birth)
    first = submit(person=BRUNO, email="bruno@example.test", portrait="biden_2.jpg",
                   selfie="biden_1.jpg")
    assert first.state == "selfie_check"

    def broken(*args, **kwargs):
        raise RuntimeError("face model file is damaged")

    monkeypatch.setattr(jobs.tasks, "check_selfie", broken)
    # Anna files a passport with Bruno's document number: high risk before any selfie.
    case = submit(person=replace(ANNA, document_number=BRUNO.document_number))
    assert case.current_selfie_reading() is None
    assert service.verification_failure(case) is not None
    risk = service.current_risk(case).details
    assert risk["level"] == "high"
    assert [r["code"] for r in risk["reasons"]] == ["document_used_by_other_account"]
    assert case.state == "escalated"
    escalation = next(e for e in case.events if e.event == "escalate")
    assert escalation.actor_type == "system"
    assert "same document was filed for other accounts" in escalation.reason


def test_a_permanent_failure_of_a_low_risk_case_only_waits_for_an_agent(
        app, make_account, monkeypatch):
    make_account()

    def broken(*args, **kwargs):
        raise RuntimeError("face model file is damaged")

    monkeypatch.setattr(jobs.tasks, "check_selfie", broken)
    case = submit()
    assert service.verification_failure(case) is not None
    assert service.current_risk(case).details == {"level": "low", "reasons": []}
    assert case.state == "selfie_check"
    assert "escalate" not in events_of(case)


def test_the_sweep_picks_up_cases_whose_job_was_lost(app, make_account):
    make_account()
    app.config["VERIFICATION_EXECUTOR"] = "off"  # the job is lost: nothing runs it
    case = submit()
    assert service.cases_needing_verification(timedelta(0)) == [(case.id, 1)]
    # Photos filed a moment ago may still be in a job: a sweep with the default age skips them.
    assert jobs.schedule.sweep(app) == []
    app.config["VERIFICATION_EXECUTOR"] = "inline"
    assert jobs.schedule.sweep(app, older_than=0) == [(case.id, 1)]
    db.session.expire_all()
    case = service.get_case(case.id)
    assert case.current_reading() is not None and case.current_selfie_reading() is not None
    assert service.cases_needing_verification(timedelta(0)) == []
    counted = db.session.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.event == "selfie_checked"))
    assert counted == 1


def test_a_job_waiting_to_retry_does_not_hold_up_the_next(app, make_account, monkeypatch):
    """The embedded executor's thread runs other jobs while one waits for its retry."""
    make_account()
    app.config.update(VERIFICATION_EXECUTOR="off", VERIFICATION_RETRY_DELAYS=[3600])
    first, second = submit(), submit()
    real = jobs.tasks.run_verification

    def down_for_the_first(case_id, attempt):
        if case_id == first.id:
            raise OperationalError("SELECT 1", {}, ConnectionError("database restarting"))
        return real(case_id, attempt)

    monkeypatch.setattr(jobs.tasks, "run_verification", down_for_the_first)
    executor = jobs.executors.ThreadExecutor(app)
    try:
        waiting = executor.submit(first.id, 1)
        assert executor.submit(second.id, 1).result(timeout=300) is not None
        # The first still waits for its retry an hour away, and is not started twice.
        assert not waiting.done() and executor.pending() == [waiting]
        assert executor.submit(first.id, 1) is None
    finally:
        executor.close()
    assert waiting.done()
