"""The automated document stage end to end: intake gate, job, check tree, workflow moves.

Real generated documents go through the real quality gate, face detector and OCR; the job
runs inline right after each commit so every assertion sees its outcome.
"""

from datetime import date

import pytest
import sqlalchemy as sa
from PIL import Image

import jobs.executors
import jobs.tasks
from extensions import db
from tests.conftest import FACES, document_photo, selfie_photo
from verification.degrade import blur, cut_off_corner, low_light, on_background
from verification.specimen import SpecimenPerson, render_passport, to_jpeg_bytes
from workflow import service
from workflow.models import CaseEvent, DocumentReading, Evidence, RecoveryCase, VerificationCheck

ANNA = SpecimenPerson(expiry_date=date(date.today().year + 4, 4, 15))
EXPIRED = SpecimenPerson(expiry_date=date(date.today().year - 1, 4, 15))


@pytest.fixture
def app_config():
    return {"QUALITY_GATE": True, "VERIFICATION_EXECUTOR": "inline"}


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def submit(email="anna@example.test", full_name="Anna Maria Eriksson",
           date_of_birth=date(1974, 8, 12), document=None, **files):
    sub = service.Submission(email=email, full_name=full_name, date_of_birth=date_of_birth,
                             issue_type="lost_2fa", description="", consent=True)
    photos = {"id_document": document or document_photo(ANNA), "selfie": selfie_photo(),
              **files}
    return service.submit_request(sub, photos)


def checks_of(case_id: int) -> dict[str, VerificationCheck]:
    rows = db.session.scalars(sa.select(VerificationCheck)
                              .where(VerificationCheck.case_id == case_id)).all()
    return {row.check: row for row in rows}


def test_a_clear_document_moves_the_case_to_the_selfie_check(app, make_account):
    make_account()
    result = submit()
    case = service.get_case(result.case.id)
    assert case.state == "selfie_check"
    found = checks_of(case.id)
    assert {row.result for row in found.values()} == {"clear"}
    for name in ("document.quality.sharpness", "document.portrait.face_count",
                 "document.mrz.read", "document.mrz.check_digits", "document.validity.expiry",
                 "document.data.name", "document.data.date_of_birth", "document.data.typed",
                 "document.compromised.document_number", "document.integrity.software"):
        assert name in found, name
    assert found["document.mrz.read"].engine == "rapidocr-onnxruntime"
    reading = case.current_reading()
    assert (reading.surname, reading.given_names, reading.document_number) == (
        "ERIKSSON", "ANNA MARIA", ANNA.document_number)
    assert reading.valid_check_digits and reading.portrait_faces == 1
    assert len(reading.portrait_encoding) == 128 * 8
    # The same job then compares the selfie and assesses the risk.
    assert [e.event for e in case.events] == [
        "submitted", "start_review", "document_checked", "confirm_document", "selfie_checked",
        "risk_assessed"]
    assert all(e.actor_type == "system" for e in case.events[1:])


def test_running_the_job_again_stores_nothing(app, make_account):
    make_account()
    case_id = submit().case.id
    before = (count(VerificationCheck), count(CaseEvent), count(DocumentReading))
    version = service.get_case(case_id).version
    assert jobs.tasks.run_document_job(case_id, 1) == "skipped"
    # Even a job that got past the start (two workers at once) cannot store it twice.
    case = service.get_case(case_id)
    job = service.DocumentJob(case_id=case_id, attempt=1, front=b"", back=None,
                              exif_software=None, account=None, typed=None)
    assert service.record_document_check(job, _report_of(case)) == "duplicate"
    old = service.DocumentJob(case_id=case_id, attempt=0, front=b"", back=None,
                              exif_software=None, account=None, typed=None)
    assert service.record_document_check(old, _report_of(case)) == "stale"
    assert (count(VerificationCheck), count(CaseEvent), count(DocumentReading)) == before
    assert service.get_case(case_id).version == version


def _report_of(case):
    from verification.documents import DocumentReport, Portrait

    return DocumentReport(checks=(), reading=None, mrz_side=None, portrait=Portrait(faces=0),
                          timings_ms={})


def test_a_second_record_for_the_same_attempt_is_a_duplicate(app, make_account):
    make_account()
    service_case = submit(document=document_photo(ANNA), full_name="Somebody Else").case
    case = service.get_case(service_case.id)
    assert case.state == "id_check"  # the typed name differs: an agent looks
    job = service.DocumentJob(case_id=case.id, attempt=1, front=b"", back=None,
                              exif_software=None, account=None, typed=None)
    before = count(VerificationCheck)
    assert service.record_document_check(job, _report_of(case)) == "duplicate"
    assert count(VerificationCheck) == before


def test_consider_stays_for_an_agent_who_confirms(app, make_account, make_agent):
    make_account(full_name="Anna Maria Eriksson", date_of_birth=date(1974, 8, 13))
    case = service.get_case(submit().case.id)
    assert case.state == "id_check"
    found = checks_of(case.id)
    assert found["document.data.date_of_birth"].result == "consider"
    assert found["document.data.date_of_birth"].reason_code == "date_of_birth_mismatch"
    agent, _ = make_agent()
    version = case.version
    # Overriding what the checks flagged needs a reason, and is recorded as an override.
    with pytest.raises(service.ReasonRequired):
        service.fire_event(case.id, "confirm_document", agent=agent, expected_version=version)
    case = service.fire_event(case.id, "confirm_document", agent=agent, expected_version=version,
                              reason="Birth date typo in our directory; ID checked by phone.")
    assert case.state == "selfie_check"
    review = checks_of(case.id)["document.review"]
    assert (review.result, review.reason_code) == ("clear", "agent_overrode")


def test_a_rejection_with_a_fraud_signal_goes_to_a_person(app, make_account):
    # Expired (the user could fix that) and not the account holder's birth date: new photos
    # would hide the mismatch, so a person decides first. Two independent warning signs make
    # the risk high, so that person is a security lead.
    make_account(date_of_birth=date(1974, 8, 13))
    case = service.get_case(submit(document=document_photo(EXPIRED)).case.id)
    assert case.state == "escalated" and not case.resubmission_requested
    risk = service.current_risk(case).details
    assert risk["level"] == "high"
    assert {r["code"] for r in risk["reasons"]} == {"document_expired", "date_of_birth_mismatch"}
    found = checks_of(case.id)
    assert found["document.validity.expiry"].result == "rejected"
    assert found["document.data.date_of_birth"].reason_code == "date_of_birth_mismatch"


def test_photos_a_lead_asked_for_are_read_for_the_lead(app, make_account, make_agent):
    make_account(date_of_birth=date(1974, 8, 13))
    result = submit()
    lead, _ = make_agent("security_lead")
    case = service.get_case(result.case.id)
    case = service.fire_event(case.id, "escalate", agent=lead, expected_version=case.version,
                              reason="Birth date differs.")
    case = service.fire_event(case.id, "request_resubmission", agent=lead,
                              expected_version=case.version, reason="Send your passport.")
    service.user_resubmit(result.tracking_token, {"id_document": document_photo(ANNA),
                                                  "selfie": selfie_photo()})
    case = service.get_case(result.case.id)
    # Back with the lead, and the new photos' findings are there for the lead to see.
    assert case.state == "escalated" and case.evidence_attempt == 2
    assert case.current_reading() is not None and case.current_reading().mrz_found


def test_run_document_checks_picks_up_what_was_never_checked(app, make_account, runner):
    make_account()
    app.config["VERIFICATION_EXECUTOR"] = "off"  # the job is lost: nothing runs it
    case_id = submit().case.id
    assert service.cases_needing_verification() == [(case_id, 1)]
    result = runner.invoke(args=["run-document-checks"])
    assert result.exit_code == 0, result.output
    assert f"case {case_id} attempt 1: document clear, selfie clear" in result.output
    db.session.expire_all()
    assert service.get_case(case_id).state == "selfie_check"
    assert service.cases_needing_verification() == []
    assert "have been checked" in runner.invoke(args=["run-document-checks"]).output


def test_a_job_that_fails_leaves_a_note_for_the_agent(app, make_account, monkeypatch):
    make_account()
    app.config["VERIFICATION_EXECUTOR"] = "off"
    case_id = submit().case.id

    def broken(*args, **kwargs):
        raise RuntimeError("OCR model file is damaged")

    monkeypatch.setattr(jobs.tasks, "check_document", broken)
    with pytest.raises(RuntimeError):
        jobs.tasks.run_document_job(case_id, 1)  # the step itself raises; the executor records it
    assert jobs.tasks.run_once(app, case_id, 1, final=True) is None
    case = service.get_case(case_id)
    assert case.state == "id_check"
    assert case.events[-1].event == "verification_failed"
    assert "OCR model file is damaged" in case.events[-1].reason


def test_an_expired_document_asks_the_user_for_another(app, make_account):
    make_account()
    result = submit(document=document_photo(EXPIRED))
    case = service.get_case(result.case.id)
    assert case.state == "awaiting_user" and case.resubmission_requested
    assert checks_of(case.id)["document.validity.expiry"].reason_code == "document_expired"
    assert "expired" in case.messages[-1].body
    assert service.user_actions(case) == ["reply", "resubmit", "withdraw"]

    # The new photos are checked as attempt 2; a clear one moves on.
    case = service.user_resubmit(result.tracking_token, {"id_document": document_photo(ANNA),
                                                         "selfie": selfie_photo()})
    case = service.get_case(case.id)
    assert case.evidence_attempt == 2 and case.state == "selfie_check"
    assert [r.attempt for r in case.readings] == [1, 2]


def test_three_rejected_attempts_escalate(app, make_account):
    make_account()
    result = submit(document=document_photo(EXPIRED))
    for attempt in range(2, 5):
        service.user_resubmit(result.tracking_token, {"id_document": document_photo(EXPIRED),
                                                      "selfie": selfie_photo()})
        case = service.get_case(result.case.id)
        assert case.evidence_attempt == attempt
        expected = "awaiting_user" if attempt < 4 else "escalated"
        assert case.state == expected, attempt
    escalation = [e for e in case.events if e.event == "escalate"]
    assert len(escalation) == 1 and "Resubmission limit (3)" in escalation[0].reason


def test_the_same_document_for_another_account_is_flagged(app, make_account):
    make_account()
    make_account(email="mallory@example.test", full_name="Anna Maria Eriksson")
    first = submit().case.id
    second = submit(email="mallory@example.test").case.id
    found = checks_of(second)["document.compromised.document_number"]
    assert (found.result, found.reason_code) == ("consider", "document_used_by_other_account")
    assert found.details["other_cases"] == [first]
    # One document, two accounts: high risk, for the security leads.
    assert service.get_case(second).state == "escalated"
    assert checks_of(first)["document.compromised.document_number"].result == "clear"


def _photo(page: Image.Image) -> bytes:
    return to_jpeg_bytes(page)


def _page(portrait: str | Image.Image = "obama_1.jpg") -> Image.Image:
    face = Image.open(FACES / portrait) if isinstance(portrait, str) else portrait
    return render_passport(ANNA, face, seed=2)


def _two_faces() -> Image.Image:
    page = _page()
    page.paste(Image.open(FACES / "multi_face_obama_biden.jpg").convert("RGB")
               .resize((700, 411)), (500, 100))
    return on_background(page, seed=2)


@pytest.mark.parametrize("make,code", [
    (lambda: cut_off_corner(on_background(_page(), seed=2), 0.3, "bottom_right", table_seed=2),
     "document_cut_off"),
    (lambda: blur(on_background(_page(), seed=2), radius=9), "document_blurry"),
    (lambda: low_light(on_background(_page(), seed=2), factor=0.07, seed=2),
     "document_too_dark"),
    (lambda: on_background(_page(), seed=2).resize((330, 232)), "document_too_small"),
    (lambda: on_background(_page(Image.new("RGB", (320, 410), (200, 200, 205))), seed=2),
     "document_no_face"),
    (_two_faces, "document_several_faces"),
], ids=["cut_off", "blurry", "dark", "small", "no_face", "two_faces"])
def test_the_intake_gate_refuses_and_creates_nothing(app, make, code):
    with pytest.raises(service.EvidenceRejected) as caught:
        submit(document=_photo(make()))
    assert caught.value.field == "id_document"
    assert caught.value.error.status == 422 and caught.value.error.code == code
    assert count(RecoveryCase) == 0 and count(Evidence) == 0


@pytest.mark.parametrize("app_config", [{"QUALITY_GATE": True,
                                         "VERIFICATION_EXECUTOR": "thread"}])
def test_the_background_thread_runs_the_same_job(app, make_account):
    make_account()
    case_id = submit().case.id
    assert jobs.executors.wait_for_jobs(app, timeout=120)
    db.session.expire_all()
    assert service.get_case(case_id).state == "selfie_check"
