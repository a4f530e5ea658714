"""A phone in a real browser: self-help first, then the status page's steps and withdraw."""

import re

import pytest

from tests.functional.browser import BROWSER

pytestmark = BROWSER


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_self_help_solves_it(page, live_server):
    page.goto(f"{live_server}/")
    page.click("a[data-issue-type=lost_2fa]")
    assert "clock to automatic" in page.text_content("#fixes")
    page.click("#help-solved")
    page.wait_for_selector("#help-solved-page")
    assert page.url == f"{live_server}/help/solved"


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_still_need_help_opens_the_form_for_that_issue(page, live_server):
    page.goto(f"{live_server}/")
    # With the keyboard alone: the issue's link, then the button.
    page.focus("a[data-issue-type=new_device]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#guide")
    page.focus("#help-need-help")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/recover\?issue_type=new_device$"))
    assert page.locator("#issue_type").count() == 1


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_status_page_shows_the_steps_and_withdraw_asks_first(page, live_server,
                                                                 make_case):
    _case, token = make_case("escalated", issue_type="forgot_password")
    page.goto(f"{live_server}/status/{token}")
    current = page.locator("#steps [aria-current=step]")
    assert current.count() == 1
    assert current.text_content().strip().startswith("A person is reviewing")
    assert page.locator("#steps li").count() == 5
    assert page.locator("#steps li.step-done").count() == 3
    assert "What happens next" in page.text_content("#next")
    # The page fits the phone: nothing wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.click("#withdraw a")
    page.wait_for_selector("#withdraw-confirm")
    page.click("#withdraw-keep")
    page.wait_for_selector("#steps")
    page.click("#withdraw a")
    page.click("#withdraw-confirm-button")
    page.wait_for_selector(".flash.success")
    assert page.text_content("#steps [aria-current=step]").strip().startswith("Done")
    assert "You withdrew this request." in page.text_content("#status-text")
