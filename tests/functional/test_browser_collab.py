"""A real browser, two agents on one case: each page says when the other opens it and when
the other changes it (before a stale action fails); a canned reply goes into the reply box."""

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_sign_in
from tests.functional.browser import BROWSER, DESKTOP, snap
from workflow import service

pytestmark = BROWSER


# The pages poll every second here, so that the test waits seconds rather than tens of them.
@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True, "PRESENCE_POLL_SECONDS": 1}])
def test_an_agent_sees_a_colleague_open_then_change_the_case(app, new_page, live_server,
                                                            make_agent, make_case, tmp_path):
    make_agent("agent", email="sam@example.test", name="Sam")
    make_agent("agent", email="kim@example.test", name="Kim")
    admin, _ = make_agent("admin", email="admin@example.test", name="Ada")
    service.macros.create_macro("Greeting", "Hello {first_name}, about case {case_number}:",
                                by=admin)
    case, _ = make_case("submitted", issue_type="forgot_password", full_name="Anna Eriksson")
    url = f"{live_server}/agent/cases/{case.id}"
    sam, kim = new_page(DESKTOP), new_page(DESKTOP)
    refused = []
    sam.on("console", lambda message: refused.append(message.text)
           if "Content Security Policy" in message.text else None)
    sam.on("pageerror", lambda error: refused.append(str(error)))

    browser_sign_in(sam, live_server, app, "sam@example.test")
    sam.goto(url)
    assert sam.locator("#presence .flash").count() == 0

    browser_sign_in(kim, live_server, app, "kim@example.test")
    kim.goto(url)
    sam.wait_for_selector("#presence .presence-viewer:has-text('Kim opened this case')")
    assert sam.get_attribute("#presence", "aria-live") == "polite"
    # Kim's page, drawn after Sam's visit began, says so at once.
    assert "Sam opened this case" in kim.text_content("#presence")

    kim.check("#action-start_review")
    kim.click("#action-submit")
    kim.wait_for_selector(".flash.success")
    sam.wait_for_selector("#presence-reload")
    assert "Kim changed this case (id check)" in sam.text_content("#presence .presence-change")
    sam.locator("#presence").scroll_into_view_if_needed()
    snap(sam, "desktop-case-collision")

    # A canned reply goes into the reply box, placeholders filled in, to edit before sending.
    sam.fill("#reply-body", "")
    sam.select_option("#macro-choice", label="Greeting")
    sam.click("#macro-insert")
    expect(sam.locator("#reply-body")).to_have_value(f"Hello Anna, about case {case.id}:")
    assert "Inserted “Greeting”" in sam.text_content("#macro-status")

    # Reloading shows the change; the notice of it is gone, Kim's visit is still named.
    sam.click("#presence-reload")
    sam.wait_for_selector("#presence .presence-viewer")
    assert "id check" in sam.text_content("#state")
    assert sam.locator("#presence .presence-change").count() == 0
    assert refused == []
