"""The language a request was filed in: stored on the case, and its emails written in it."""

import io
import re

import pytest
import sqlalchemy as sa

import jobs.recovery
from extensions import db
from notify import outbox
from tests.conftest import image_bytes
from tests.integration import test_outbox
from tests.integration.test_outbox import text
from tests.recovery import approve, outbox_of
from workflow.models import RecoveryCase

# The real SMTP server (aiosmtpd) and the mail settings of the outbox's tests.
smtp_port = test_outbox.smtp_port
app_config = test_outbox.app_config
smtp_server = test_outbox.smtp_server

SPANISH_DATE = r"\d{1,2} de [a-z]+ de \d{4}, \d{1,2}:\d{2} UTC"


def fields(**extra) -> dict:
    return {"email": "anna@example.test", "full_name": "Anna Maria Eriksson",
            "date_of_birth": "1974-08-12", "issue_type": "forgot_password", "description": "",
            "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
            "selfie": (io.BytesIO(image_bytes()), "me.jpg"), **extra}


def the_case() -> RecoveryCase:
    db.session.expire_all()
    return db.session.scalars(sa.select(RecoveryCase)).one()


@pytest.mark.parametrize(("query", "headers", "language"), [
    ("?lang=es", {}, "es"),
    ("", {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}, "es"),
    ("", {"Accept-Language": "de, en;q=0.5"}, "en"),
], ids=["switcher", "browser", "default"])
def test_the_form_stores_the_language_of_the_page(client, query, headers, language):
    response = client.post(f"/recover{query}", content_type="multipart/form-data",
                           data=fields(consent="y"), headers=headers)
    assert response.status_code == 303
    assert the_case().language == language


def test_the_case_records_the_consent_in_the_words_shown(app, client):
    from flask_babel import force_locale, gettext

    from workflow import service
    from workflow.states import CONSENT_TEXTS, CONSENT_VERSION, consent_digest

    page = client.get("/recover?lang=es").get_data(as_text=True)
    with app.test_request_context(), force_locale("es"):
        spanish = gettext(CONSENT_TEXTS[CONSENT_VERSION])
    assert spanish != CONSENT_TEXTS[CONSENT_VERSION] and spanish in page
    client.post("/recover?lang=es", content_type="multipart/form-data",
                data=fields(consent="y"))
    case = the_case()
    assert case.consent_sha256 == consent_digest(spanish)
    with app.test_request_context():
        assert service.consent_text(case) == spanish


@pytest.mark.parametrize(("sent", "language"), [({"language": "es"}, "es"), ({}, "en")])
def test_the_api_takes_an_optional_language(client, sent, language):
    response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           data=fields(consent="true", **sent),
                           headers={"Accept-Language": "es"})
    assert response.status_code == 201, response.get_json()
    assert the_case().language == language  # the API's default is the desk's, not the header


def test_the_api_refuses_a_language_the_desk_does_not_offer(client):
    response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           data=fields(consent="true", language="fr"))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_field", "language")
    assert "en, es" in error["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase)) == 0


def test_the_openapi_document_lists_the_languages(client):
    schema = client.get("/api/v1/openapi.json").get_json()
    form = schema["components"]["schemas"]["RecoveryRequestForm"]
    assert form["properties"]["language"]["enum"] == ["en", "es"]
    assert "language" not in form["required"]


def test_the_tracking_link_email_is_in_spanish(client, make_account, smtp_server):
    make_account(email="anna@example.test")
    response = client.post("/recover?lang=es", content_type="multipart/form-data",
                           data=fields(consent="y"))
    assert response.status_code == 303
    case = the_case()
    assert outbox.send_outbox().sent == 1
    [(_, message)] = smtp_server.messages
    assert message["Subject"] == f"Su solicitud de recuperación de cuenta n.º {case.id}"
    body = text(message)
    assert f"Hemos recibido su solicitud de recuperación de cuenta n.º {case.id}." in body
    assert f"Solicitud:  n.º {case.id}, He olvidado mi contraseña" in body
    assert re.search(r"Presentada: " + SPANISH_DATE, body)
    assert "Nunca le pediremos su contraseña" in body
    assert "Si usted no ha pedido recuperar su cuenta" in body
    assert "We received" not in body and "password" not in body


def test_a_page_in_spanish_does_not_change_an_english_cases_emails(client, make_account,
                                                                   smtp_server):
    make_account(email="anna@example.test")
    client.post("/recover", content_type="multipart/form-data", data=fields(consent="y"))
    # The emails of a case are written in its language, whatever page is open at the time.
    assert the_case().language == "en"
    assert outbox.send_outbox().sent == 1
    [(_, message)] = smtp_server.messages
    assert message["Subject"].startswith("Your account recovery request #")


def test_the_owner_of_record_hears_of_the_approval_in_the_cases_language(
        app, make_account, make_case, make_agent, smtp_server):
    lead, _ = make_agent("security_lead")
    make_account(email="anna@example.test")
    case, _ = make_case("selfie_check", issue_type="forgot_password", language="es")
    approve(case, lead)
    jobs.recovery.sweep_actions(app)
    [approved] = outbox_of("recovery_approved", case.id)
    [reset] = outbox_of("reset_link", case.id)
    assert approved.subject == f"Su solicitud de recuperación de cuenta n.º {case.id} ha sido " \
                               "aprobada"
    assert "Qué ocurrirá con su cuenta:" in approved.body
    assert "  - Enlace para restablecer la contraseña enviado a la dirección registrada" \
        in approved.body
    assert reset.subject == "Recuperación de su cuenta: elija una contraseña nueva"
    assert "Elija una contraseña nueva aquí (el enlace solo funciona una vez):" in reset.body
    assert re.search(r"Caduca el " + SPANISH_DATE + r"\.", reset.body)
    # Delivered as written (the outbox sends after each commit, or now).
    outbox.send_outbox()
    delivered = {m["Subject"] for _, m in smtp_server.messages}
    assert {approved.subject, reset.subject} <= delivered


def test_an_unoffered_language_on_the_case_falls_back_to_the_default(
        app, make_account, make_case, make_agent):
    lead, _ = make_agent("security_lead")
    make_account(email="anna@example.test")
    case, _ = make_case("selfie_check", issue_type="forgot_password", language="es")
    app.config["LANGUAGES"] = ("en",)  # Spanish withdrawn after the case was filed
    approve(case, lead)
    [approved] = outbox_of("recovery_approved", case.id)
    assert approved.subject == f"Your account recovery request #{case.id} was approved"


@pytest.mark.parametrize(("page", "subject", "words", "english"), [
    ("?lang=es", "Su nuevo enlace de seguimiento de la solicitud n.º {id}",
     ["Este es el nuevo enlace de su solicitud de recuperación de cuenta n.º {id}.",
      "Solicitud:  n.º {id}, He olvidado mi contraseña",
      "Este es un enlace nuevo: el que tenía antes ya no funciona."], False),
    ("?lang=en", "Your new tracking link for request #{id}",
     ["Request:   #{id}, I forgot my password"], True),
], ids=["spanish", "english"])
def test_a_new_tracking_link_is_written_in_the_language_it_was_asked_in(
        app, client, make_account, make_case, page, subject, words, english):
    from jobs import schedule

    make_account(email="anna@example.test")
    # Filed in the other language: the page the link was asked on decides.
    case, _ = make_case("id_check", issue_type="forgot_password",
                        language="en" if not english else "es")
    assert client.post(f"/tracking-link{page}",
                       data={"email": "anna@example.test"}).status_code == 303
    schedule.sla_tick(app)
    [email] = outbox_of("tracking_link_reissued", case.id)
    assert email.subject == subject.format(id=case.id)
    for line in words:
        assert line.format(id=case.id) in email.body
    assert ("new link" in email.body) is english
