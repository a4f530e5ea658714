"""Data-subject requests from the command line, and the consent stored with each case."""

import hashlib
import html
import io
import json
import re
import stat

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import image_bytes, sign_in
from tests.functional.test_public_pages import form_data
from workflow import service
from workflow.models import (
    DocumentReading,
    Evidence,
    OutboxEmail,
    RecoveryCase,
    SelfieReading,
    VerificationCheck,
)
from workflow.states import CONSENT_TEXTS, CONSENT_VERSION

ANNA = "anna@example.test"


@pytest.fixture
def lead(make_agent):
    agent, _ = make_agent("security_lead", email="lead@example.test")
    return agent


def findings(case_id: int) -> None:
    db.session.add_all([
        DocumentReading(case_id=case_id, attempt=1, mrz_found=True, surname="ERIKSSON",
                        given_names="ANNA", document_number="X1234567", portrait_faces=1,
                        portrait_encoding=b"\x00" * 1024, outcome="clear"),
        SelfieReading(case_id=case_id, attempt=1, faces=1, encoding=b"\x01" * 1024,
                      outcome="clear"),
        VerificationCheck(case_id=case_id, attempt=1, check="document.data.typed",
                          result="clear", engine="documents", engine_version="1",
                          details={"typed_name": "Anna Eriksson", "name_score": 100.0}),
    ])
    db.session.commit()


@pytest.fixture
def people(app, lead, make_account, make_case):
    """Anna: two closed cases and a message; Bob: one case of his own."""
    make_account()
    first, _ = make_case("resolved", issue_type="forgot_password")
    second, token = make_case("awaiting_user", issue_type="other")
    service.user_reply(token, "It is the phone I lost in Lisbon.")
    service.fire_event(second.id, "decline", agent=lead, expected_version=None,
                       reason="No answer to our question.")
    bob, _ = make_case("resolved", email="bob@example.test", full_name="Bob Builder")
    for case in (first, second, bob):
        findings(case.id)
    return {"first": first.id, "second": second.id, "bob": bob.id, "token": token}


def test_export_writes_everything_held_about_one_person(runner, people, tmp_path):
    out = tmp_path / "anna"
    result = runner.invoke(args=["export-subject", "ANNA@example.test", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert (f"Exported 2 case(s), 4 photo(s), 2 email(s) and the account of record for {ANNA} "
            f"to {out}/ (subject.json).") in result.output
    document = json.loads((out / "subject.json").read_text())
    assert [c["id"] for c in document["cases"]] == [people["first"], people["second"]]
    second = document["cases"][1]
    assert second["submitted"]["full_name"] == "Anna Maria Eriksson"
    assert "It is the phone I lost in Lisbon." in [m["text"] for m in second["messages"]]
    assert [e["event"] for e in second["timeline"]][-1] == "decline"
    assert second["document_readings"][0]["document_number"] == "X1234567"
    assert len(second["selfie_readings"][0]["face_encoding"]) == 128
    assert second["checks"][-1]["details"]["typed_name"] == "Anna Eriksson"
    assert second["consent"]["version"] == CONSENT_VERSION
    assert document["account_of_record"]["full_name"] == "Anna Maria Eriksson"
    assert {e["subject"] for e in document["emails"]} and "Bob" not in json.dumps(document)
    for case in document["cases"]:
        for photo in case["evidence"]:
            data = (out / photo["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == photo["sha256"]
            assert stat.S_IMODE((out / photo["file"]).stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700

    again = runner.invoke(args=["export-subject", ANNA, "--output", str(out)])
    assert again.exit_code == 1 and "is not empty" in again.output


def test_erasure_is_refused_while_a_case_is_open_and_changes_nothing(runner, people,
                                                                     make_case):
    case, _ = make_case("id_check", issue_type="other")
    result = runner.invoke(args=["erase-subject", ANNA])
    assert result.exit_code == 1
    assert f"{ANNA} has open case(s) #{case.id}. Close them first, or erase anyway with " \
           "--force" in result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase).where(
        RecoveryCase.email == ANNA)) == 3


def test_erasure_removes_the_person_and_keeps_the_record(app, client, runner, people, lead):
    db.session.expire_all()
    sla_before = [tuple(r) for r in db.session.execute(sa.text(
        "SELECT * FROM case_sla ORDER BY case_id"))]
    events_before = db.session.scalar(sa.text("SELECT count(*) FROM case_event"))
    result = runner.invoke(args=["erase-subject", ANNA])
    assert result.exit_code == 0, result.output
    first, second = people["first"], people["second"]
    assert (f"Erased {ANNA} from 2 case(s) (#{first}, #{second}): 4 photo(s), 4 reading(s), "
            "4 message text(s); 2 email(s) deleted.") in result.output
    db.session.expire_all()
    for case_id in (first, second):
        case = db.session.get(RecoveryCase, case_id)
        assert (case.email, case.full_name, case.description, case.client_ip) == (
            f"erased-{case_id}@invalid", "erased", "", None)
        assert case.erased_at is not None and case.purged_at is not None
        assert (case.state, case.resolution) == ("resolved", "declined")
        assert all(m.body == "[erased]" for m in case.messages)
        assert case.events[-1].event == "subject_erased"
        assert not case.evidence and not case.readings and not case.selfie_readings
        assert all("typed_name" not in c.details for c in case.checks)
    # Reports stay right: the SLA rows are as they were; one event more per case.
    assert [tuple(r) for r in db.session.execute(sa.text(
        "SELECT * FROM case_sla ORDER BY case_id"))] == sla_before
    assert db.session.scalar(sa.text("SELECT count(*) FROM case_event")) == events_before + 2
    raw = str([tuple(r) for r in db.session.execute(sa.text(
        "SELECT email, full_name, description FROM recovery_case"))])
    assert ANNA not in raw and "Anna" not in raw and "Bob Builder" in raw
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail).where(
        OutboxEmail.to_address == ANNA)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Evidence).where(
        Evidence.case_id == people["bob"])) == 2
    # The tracking link leads nowhere any more; the console says what happened.
    assert client.get(f"/status/{people['token']}").status_code == 404
    assert sign_in(client, lead.email).status_code == 302
    page = client.get(f"/agent/cases/{second}").get_data(as_text=True)
    assert "Personal data erased on" in page and "Lisbon" not in page

    again = runner.invoke(args=["erase-subject", ANNA])
    assert again.exit_code == 0 and "nothing erased" in again.output


def test_forced_erasure_withdraws_an_open_case_first(runner, people, make_case):
    case, _ = make_case("selfie_check", issue_type="other")
    result = runner.invoke(args=["erase-subject", ANNA, "--force"])
    assert result.exit_code == 0, result.output
    assert f"Withdrawn first: #{case.id}." in result.output
    db.session.expire_all()
    case = db.session.get(RecoveryCase, case.id)
    assert (case.state, case.resolution, case.email) == (
        "resolved", "withdrawn", f"erased-{case.id}@invalid")
    assert [e.event for e in case.events][-2:] == ["withdraw", "subject_erased"]


def consent_label(page: str) -> str:
    found = re.search(r'<label for="consent"[^>]*>(.*?)</label>', page, re.S)
    assert found, page
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def test_the_consent_shown_is_stored_with_the_case(app, client, lead, make_agent):
    page = client.get("/recover").get_data(as_text=True)
    shown = consent_label(page)
    assert shown == CONSENT_TEXTS[CONSENT_VERSION]
    assert "30 days after your request is closed" in page
    assert client.post("/recover", data=form_data()).status_code == 303
    _, token = make_agent("admin")
    api = client.post("/api/v1/recovery-requests", data={
        **form_data(consent="true", email="bob@example.test"),
        "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
        "selfie": (io.BytesIO(image_bytes("PNG")), "me.png")})
    assert api.status_code == 201, api.get_json()
    db.session.expire_all()
    cases = db.session.scalars(sa.select(RecoveryCase).order_by(RecoveryCase.id)).all()
    assert [(c.consent_version, c.consent_sha256) for c in cases] == [
        (CONSENT_VERSION, hashlib.sha256(shown.encode()).hexdigest())] * 2
    assert all(c.consent_at is not None for c in cases)
    detail = client.get(f"/api/v1/cases/{cases[1].id}",
                        headers={"Authorization": f"Bearer {token}"}).get_json()
    assert detail["consent"]["version"] == CONSENT_VERSION
    assert sign_in(client, lead.email).status_code == 302
    case_page = client.get(f"/agent/cases/{cases[0].id}").get_data(as_text=True)
    assert f"Consent: version {CONSENT_VERSION} on" in case_page
    assert shown in html.unescape(case_page)


def test_subject_requests_are_on_the_audit_trail_and_keep_it_verifiable(app, make_case):
    from workflow.models import AuditRecord

    case, _ = make_case("resolved", email="erin@example.test")
    service.export_subject("erin@example.test")
    service.erase_subject("erin@example.test")
    actions = [(r.action, r.case_id) for r in db.session.scalars(
        sa.select(AuditRecord).where(AuditRecord.action.like("subject.%")
                                     | AuditRecord.action.like("case.subject_erased"))
        .order_by(AuditRecord.id))]
    assert ("subject.exported", case.id) in actions and ("subject.erased", None) in actions
    assert service.audit.verify({}).broken is None
    everything = " ".join(str(r.detail) for r in db.session.scalars(sa.select(AuditRecord)))
    assert "erin" not in everything
