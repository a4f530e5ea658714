"""A real browser on the request form: the device and browser filled in from the browser,
the fixes offered for the issue type, and the same form without JavaScript."""

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import image_bytes
from tests.functional.browser import BROWSER, PHONE
from workflow.models import Evidence, RecoveryCase

pytestmark = BROWSER

PIXEL = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Mobile Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")


def visible_fixes(page) -> set[str]:
    return set(page.eval_on_selector_all(
        "#tried-fixes input", "boxes => boxes.filter(b => !b.closest('li').hidden)"
        ".map(b => b.value)"))


@pytest.mark.parametrize(("agent", "device", "browser_label"), [
    (PIXEL, "Android 14", "Chrome 120 on Android 14"),
    (IPHONE, "iPhone, iOS 17.4", "Safari 17.4 on iOS 17.4"),
])
def test_the_browser_fills_in_the_device_and_offers_the_fixes_of_the_issue(
        new_page, live_server, agent, device, browser_label):
    page = new_page(PHONE, user_agent=agent)
    page.goto(f"{live_server}/recover")
    # The phone's model may come from the browser's client hints: it is added in front.
    assert page.input_value("#device").endswith(device)
    assert page.input_value("#app_version") == browser_label
    assert page.is_visible("#details-prefilled")
    page.select_option("#issue_type", "lost_2fa")
    offered = visible_fixes(page)
    assert {"clock_automatic", "backup_codes", "updated_app"} <= offered
    assert "password_reset_email" not in offered and "waited_for_lock" not in offered
    page.check("#tried-fixes input[value=clock_automatic]")
    page.select_option("#issue_type", "forgot_password")
    offered = visible_fixes(page)
    # A ticked fix stays in view when the issue type changes.
    assert {"password_reset_email", "clock_automatic"} <= offered
    assert "backup_codes" not in offered


def test_without_javascript_the_fields_are_empty_and_every_fix_is_offered(
        app, new_page, live_server, tmp_path):
    page = new_page(PHONE, user_agent=PIXEL, java_script_enabled=False)
    page.goto(f"{live_server}/recover")
    assert page.input_value("#device") == "" and page.input_value("#app_version") == ""
    assert not page.is_visible("#details-prefilled")
    assert page.locator("#tried-fixes input").count() == 9
    assert page.locator("#tried-fixes li[hidden]").count() == 0
    shot = tmp_path / "error.png"
    shot.write_bytes(image_bytes("PNG"))
    id_photo, selfie = tmp_path / "id.jpg", tmp_path / "selfie.png"
    id_photo.write_bytes(image_bytes())
    selfie.write_bytes(image_bytes("PNG"))
    page.fill("#email", "anna@example.test")
    page.fill("#full_name", "Anna Eriksson")
    page.fill("#date_of_birth", "1974-08-12")
    page.select_option("#issue_type", "forgot_password")
    page.fill("#device", "Pixel 7")
    page.fill("#began_on", "2026-11-30")
    page.check("#tried-fixes input[value=checked_spam]")
    page.set_input_files("#screenshots", str(shot))
    # Without JavaScript no verdict is shown before sending: nothing moves under the click.
    page.set_input_files("#id_document", str(id_photo))
    page.set_input_files("#selfie", str(selfie))
    page.check("#consent")
    page.click("button[type=submit]")
    page.wait_for_selector("#tracking-link")
    with app.app_context():
        case = db.session.scalars(sa.select(RecoveryCase)).one()
        assert (case.device, case.tried_fixes) == ("Pixel 7", ["checked_spam"])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Evidence).where(
            Evidence.kind == "screenshot-1")) == 1
