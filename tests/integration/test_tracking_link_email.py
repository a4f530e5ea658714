"""The tracking link by email, written with the case and delivered to a real SMTP server."""

import io
import logging
import re
from dataclasses import replace
from datetime import date

import pytest
import sqlalchemy as sa

import notify
from extensions import db
from notify import outbox
from tests.conftest import image_bytes, photos
from tests.integration import test_outbox
from tests.integration.test_outbox import BASE_URL, text
from workflow import service
from workflow.models import OutboxEmail, RecoveryCase, token_hash

# The real SMTP server (aiosmtpd) and the mail settings of the outbox's tests.
smtp_port = test_outbox.smtp_port
app_config = test_outbox.app_config
smtp_server = test_outbox.smtp_server


def fields(email: str, **extra) -> dict:
    return {"email": email, "full_name": "Anna Maria Eriksson", "date_of_birth": "1974-08-12",
            "issue_type": "forgot_password", "description": "",
            "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
            "selfie": (io.BytesIO(image_bytes()), "me.jpg"), **extra}


def api_file(client, email: str) -> str:
    response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           data=fields(email, consent="true"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["tracking_token"]


def form_file(client, email: str) -> str:
    response = client.post("/recover", content_type="multipart/form-data",
                           data=fields(email, consent="y"))
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    return re.search(r'id="tracking-link">[^<]*/status/([\w-]+)<', html).group(1)


def emails() -> list[OutboxEmail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)))


@pytest.mark.parametrize("file", [api_file, form_file], ids=["api", "form"])
@pytest.mark.parametrize("has_account", [True, False], ids=["account", "no-account"])
def test_the_tracking_link_is_emailed(app, client, make_account, smtp_server, caplog, file,
                                      has_account):
    caplog.set_level(logging.DEBUG)
    if has_account:
        make_account(email="anna@example.test")
    token = file(client, "Anna@Example.test")
    case = db.session.scalars(sa.select(RecoveryCase)).one()

    [row] = emails()
    assert (row.kind, row.case_id, row.to_address) == ("request_received", case.id,
                                                       "anna@example.test")
    assert case.tracking_token_hash == token_hash(token)
    assert token not in str(case.__dict__)

    report = outbox.send_outbox()
    assert (report.sent, report.failed) == (1, 0)
    assert smtp_server.to() == ["anna@example.test"]
    [(_, message)] = smtp_server.messages
    assert message["Subject"] == f"Your account recovery request #{case.id}"
    assert message["From"] == "Recovery Desk <desk@desk.example.test>"
    body = text(message)
    assert f"We received your account recovery request #{case.id}." in body
    assert f"Request:   #{case.id}, I forgot my password" in body
    assert "Filed with the email address anna@example.test." in body
    assert f"\n{BASE_URL}/status/{token}\n" in body
    assert "Keep this link private" in body
    # The link leads to the request.
    assert client.get(f"/status/{token}").status_code == 200
    # The token is in the email only, never in a log line of the desk (the SMTP server's own
    # debug log, "mail.log", shows what it received).
    desk_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.")]
    assert desk_lines and not any(token in line for line in desk_lines)


def test_the_email_goes_to_the_address_of_record(app, client, make_account, smtp_server):
    make_account(email="anna@example.test")
    api_file(client, "anna@example.test")
    [row] = emails()
    case = db.session.get(RecoveryCase, row.case_id)
    assert case.account is not None and row.to_address == case.account.email


def test_a_request_that_is_not_filed_emails_nothing(app, client, smtp_server):
    response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           data=fields("anna@example.test", consent="true",
                                       date_of_birth="1974-13-40"))
    assert response.status_code == 400
    assert emails() == []


def test_an_idempotent_replay_emails_nothing_again(app, client, smtp_server):
    def send():
        return client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           headers={"Idempotency-Key": "k-1"},
                           data=fields("anna@example.test", consent="true"))

    assert send().status_code == 201
    assert send().headers["Idempotent-Replayed"] == "true"
    assert len(emails()) == 1


def test_the_email_is_written_in_the_transaction_of_the_case(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the template broke")

    original = notify.NOTIFICATIONS["request_received"]
    monkeypatch.setitem(notify.NOTIFICATIONS, "request_received", replace(original, body=broken))
    with pytest.raises(RuntimeError):
        service.submit_request(service.Submission(
            email="anna@example.test", full_name="Anna", date_of_birth=date(1974, 8, 12),
            issue_type="other", description="", consent=True), photos())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase)) == 0
    assert emails() == []
