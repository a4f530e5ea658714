"""A real browser: a user files a request, the desk checks the document, an agent resolves it."""

import re
from datetime import date

import pytest

import jobs.executors
from tests.conftest import browser_sign_in, document_photo, selfie_photo
from tests.functional.browser import BROWSER, choose_photo, snap
from verification.specimen import SpecimenPerson

ANNA = SpecimenPerson(expiry_date=date(date.today().year + 4, 4, 15))

pytestmark = BROWSER


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True, "QUALITY_GATE": True,
                                         "VERIFICATION_EXECUTOR": "thread"}])
def test_request_is_checked_then_an_agent_resolves_it(app, page, live_server, make_agent,
                                                       make_account, tmp_path):
    make_agent("agent", email="sam@example.test", name="Sam")
    make_account(full_name="Anna Maria Eriksson")
    id_photo, selfie = tmp_path / "id.jpg", tmp_path / "selfie.jpg"
    id_photo.write_bytes(document_photo(ANNA))
    selfie.write_bytes(selfie_photo())

    page.goto(f"{live_server}/recover")
    page.fill("#email", "anna@example.test")
    page.fill("#full_name", "Anna Eriksson")
    page.fill("#date_of_birth", "1974-08-12")
    # An issue type one agent may approve alone (a lost 2FA device needs four eyes).
    page.select_option("#issue_type", "forgot_password")
    choose_photo(page, "id_document", id_photo)
    choose_photo(page, "selfie", selfie)
    page.check("#consent")
    page.click("button[type=submit]")
    link = page.text_content("#tracking-link").strip()
    assert re.fullmatch(rf"{re.escape(live_server)}/status/[\w-]+", link)
    # The document check runs on the desk's background thread; wait for it to finish.
    assert jobs.executors.wait_for_jobs(app, timeout=180)

    browser_sign_in(page, live_server, app, "sam@example.test")
    page.click("#queue a")
    assert "selfie check" in page.text_content("#state")
    assert ANNA.document_number in page.text_content("#document-fields")
    assert "ERIKSSON, ANNA MARIA" in page.text_content("#doc-name")
    page.check("input[data-event=approve]")
    page.click("#action-submit")
    page.wait_for_selector(".flash.success")
    assert "resolved: approved" in page.text_content("#state")
    snap(page, "phone-case-resolved")

    page.goto(link)
    assert page.text_content("#steps [aria-current=step]").strip().startswith("Done")
    assert "identity is confirmed" in page.text_content("#status-text")


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True,
                                         "RECOVERY_HOLD": {"lost_2fa": "24h"}}])
def test_the_owner_stops_a_recovery_from_the_emailed_link(app, page, live_server, make_agent,
                                                          make_account, make_case):
    from tests.integration.test_owner_stop import not_me_token
    from tests.recovery import approve, outbox_of

    lead, _ = make_agent("security_lead", email="lead@example.test")
    make_account(two_factor_enabled=True)
    case, _ = make_case("selfie_check", issue_type="lost_2fa")
    approve(case, lead)
    [email] = outbox_of("recovery_approved", case.id)

    page.goto(f"{live_server}/not-me/{not_me_token(email.body)}")
    assert "Second factor removed" in page.text_content("#not-me-pending")
    page.click("#not-me-confirm")
    page.wait_for_selector("#not-me-reported")
    assert "Second factor removed" in page.text_content("#not-me-cancelled")
    page.reload()
    assert page.locator("#not-me-confirm").count() == 0


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True,
                                         "CHALLENGE_ISSUE_TYPES": ["lost_2fa"]}])
def test_pages_run_under_their_content_security_policy(app, page, live_server, make_agent,
                                                       make_case):
    make_agent("security_lead", email="lead@example.test")
    case, tracking = make_case("selfie_check", issue_type="forgot_password")
    refused = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: refused.append(str(error)))
    for path in ("/recover", f"/status/{tracking}", "/agent/login"):
        page.goto(f"{live_server}{path}")
    # The request form's own script runs: it shows the challenge code only where needed.
    page.goto(f"{live_server}/recover")
    page.select_option("#issue_type", "forgot_password")
    assert page.locator("#challenge").is_hidden()
    page.select_option("#issue_type", "lost_2fa")
    assert page.locator("#challenge").is_visible()
    # The first sign-in enrols an authenticator: the QR code page, then the recovery codes.
    browser_sign_in(page, live_server, app, "lead@example.test")
    for path in ("/agent/", f"/agent/cases/{case.id}", "/reports/sla", "/agent/security"):
        page.goto(f"{live_server}{path}")
        # The desk's style sheet applies.
        assert page.evaluate("document.styleSheets[0].cssRules.length") > 10, path
    assert refused == []
