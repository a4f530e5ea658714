"""A real browser at the console's queue: search, the shortcuts dialog, j/k + Enter, bulk assign;
and the queue on a phone, no wider than the screen."""

import pytest

from tests.conftest import browser_sign_in
from tests.functional.browser import BROWSER

pytestmark = BROWSER


def row_ids(page) -> list[str]:
    return page.eval_on_selector_all("#queue tbody tr[data-href]", "rows => rows.map(r => r.id)")


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_search_shortcuts_and_bulk_assign(app, desktop_page, live_server, make_agent, make_case):
    page = desktop_page
    make_agent("agent", email="sam@example.test", name="Sam")
    cases = [make_case(email=f"person{n}@example.test", full_name=f"Person {n}")[0]
             for n in range(3)]
    browser_sign_in(page, live_server, app, "sam@example.test")
    page.goto(f"{live_server}/agent/")

    # "/" jumps to the search; the search finds the one case by its email.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("person1@example.test")
    page.keyboard.press("Enter")
    page.wait_for_url("**/agent/?q=*")
    assert row_ids(page) == [f"row-{cases[1].id}"]

    # "?" lists the shortcuts of the page, read from the page itself; Escape closes it.
    page.goto(f"{live_server}/agent/")
    page.keyboard.press("?")
    dialog = page.locator("#shortcuts-help")
    assert dialog.is_visible()
    listed = page.text_content("#shortcuts-list")
    assert "Search cases" in listed and "Next case in the list" in listed
    assert page.evaluate("document.activeElement.id") == "shortcuts-close"
    page.keyboard.press("Escape")
    assert not dialog.is_visible()

    # j / k move along the rows, Enter opens the one the keyboard is on.
    ids = row_ids(page)
    assert len(ids) == 3
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.id") == ids[1]
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/agent/cases/{ids[1].removeprefix('row-')}")

    # x ticks rows; the bulk action assigns them, each case said in plain words.
    page.goto(f"{live_server}/agent/")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    assert page.locator("#queue input[type=checkbox]:checked").count() == 2
    page.select_option("#bulk-assignee", "me")
    page.click("#bulk-assign")
    page.wait_for_selector("#bulk-outcomes")
    outcomes = page.text_content("#bulk-outcomes")
    for row in ids[:2]:
        assert f"Case #{row.removeprefix('row-')}: assigned to Sam." in outcomes
    assert page.locator("#queue tbody tr", has_text="Sam").count() == 2


def test_the_queue_fits_a_phone(app, page, live_server, make_agent, make_case):
    make_agent("agent", email="sam@example.test", name="Sam")
    for n in range(3):
        make_case(email=f"someone.with.a.long.address.{n}@example.test")
    browser_sign_in(page, live_server, app, "sam@example.test")
    page.goto(f"{live_server}/agent/")
    assert page.locator("#queue tbody tr[data-href]").count() == 3
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    # The agent's name in the header reads at 4.5:1 or better.
    color = page.eval_on_selector("header.top .who", "el => getComputedStyle(el).color")
    assert color == "rgb(230, 235, 241)"
