"""The case page in a real browser: the compare view zooms and rotates, the action area's
reason box follows the chosen action, and a phone-wide page does not scroll sideways."""

import pytest

from tests.conftest import browser_sign_in
from tests.functional.browser import BROWSER, PHONE

pytestmark = BROWSER


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_compare_view_and_action_area_on_a_desktop_and_a_phone(app, desktop_page, new_page,
                                                              live_server, make_agent,
                                                              make_case, make_account):
    make_agent("agent", email="sam@example.test", name="Sam")
    make_account()  # an account to recover: approving is on offer
    case, _ = make_case("selfie_check", issue_type="forgot_password")
    page = desktop_page
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    browser_sign_in(page, live_server, app, "sam@example.test")
    page.goto(f"{live_server}/agent/cases/{case.id}")

    # Side by side on a desktop, each about half the width.
    document, selfie = page.locator("#viewer-id_document"), page.locator("#viewer-selfie")
    left, right = document.bounding_box(), selfie.bounding_box()
    assert right["x"] >= left["x"] + left["width"] - 1 and left["width"] > 400

    frame = document.locator(".viewer-frame")
    image = frame.locator("img")
    width = image.bounding_box()["width"]
    assert document.locator(".viewer-tools").is_visible()  # the script showed the controls
    document.locator("[data-viewer=zoom-in]").click()
    document.locator("[data-viewer=zoom-in]").click()
    assert frame.get_attribute("data-zoom") == "3"
    assert image.evaluate("img => img.getBoundingClientRect().width") > width * 1.5
    assert "200%" in document.locator(".viewer-status").text_content()
    document.locator("[data-viewer=rotate]").click()
    assert image.evaluate("img => getComputedStyle(img).transform") != "none"
    assert "turned 90°" in document.locator(".viewer-status").text_content()
    # The keyboard alone: the frame takes the focus and answers - and 0.
    frame.focus()
    page.keyboard.press("-")
    assert frame.get_attribute("data-zoom") == "2"
    page.keyboard.press("0")
    assert (frame.get_attribute("data-zoom"), frame.get_attribute("data-rotate")) == ("1", "0")

    # The one reason box follows the chosen action.
    reason = page.locator("#action-reason")
    page.check("#action-decline")
    assert reason.evaluate("box => box.required") is True
    assert "required" in page.text_content("#action-reason-label")
    assert "Decline" in page.text_content("#action-submit")
    page.check("#action-approve")
    assert reason.evaluate("box => box.required") is False
    assert "optional" in page.text_content("#action-reason-label")
    # Declining without a reason: the browser stops it, nothing is sent.
    page.check("#action-decline")
    page.click("#action-submit")
    assert reason.evaluate("box => box.validity.valueMissing") is True
    page.fill("#action-reason", "Not the same person.")
    page.click("#action-submit")
    page.wait_for_selector(".flash.success")
    assert f"Case #{case.id} declined" in page.text_content(".flash.success")
    assert errors == []

    # At 390 px: nothing wider than the screen.
    other, _ = make_case("selfie_check", issue_type="forgot_password",
                         email="bob@example.test")
    phone = new_page(PHONE)
    browser_sign_in(phone, live_server, app, "sam@example.test")
    phone.goto(f"{live_server}/agent/cases/{other.id}")
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 390
    boxes = [phone.locator(f"#viewer-{kind}").bounding_box() for kind in ("id_document",
                                                                         "selfie")]
    assert boxes[1]["y"] >= boxes[0]["y"] + boxes[0]["height"] - 1  # stacked
