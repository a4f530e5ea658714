"""The keyboard alone, in a real browser: the request form, self-help, the status page's
withdraw confirmation, the console sign-in, the case page's action area and the shortcuts help.

Tab reaches every control of the form in the order they are seen (top to bottom, left to right
within a row), each control shows where the focus is, nothing traps the focus, and the form
is filled and sent with keys only (typing, Space on a file picker or a checkbox, Enter).
"""

import pytest

from tests.conftest import STRONG_PASSWORD, browser_sign_in, image_bytes
from tests.functional.browser import BROWSER, DESKTOP

pytestmark = BROWSER

# More presses than any page of the desk has stops: a page that never gives the focus back
# to where it started within this many presses keeps it somewhere.
MAX_TABS = 80
# Tab stops within one control: Chromium's date picker has four (month, day, year, calendar).
SEGMENTS = 4

# The focusable controls of a form that a person sees, in the order they are laid out: rows
# from the top (a few pixels apart count as one row), left to right within a row.
VISUAL_ORDER = """form => {
  const controls = [...form.querySelectorAll(
      'input:not([type=hidden]), select, textarea, button, a[href], [tabindex]')]
    .filter(el => !el.disabled && el.tabIndex >= 0 && el.getClientRects().length > 0);
  const box = el => el.getBoundingClientRect();
  controls.sort((a, b) => Math.abs(box(a).top - box(b).top) > 4
    ? box(a).top - box(b).top : box(a).left - box(b).left);
  return controls.map(el => el.id || el.name || el.outerHTML.slice(0, 60));
}"""

# What has the focus, and whether it shows: an outline or a box shadow while :focus-visible.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return {key: el.id || el.name || el.outerHTML.slice(0, 60),
          inForm: !!el.closest('main form'),
          visible: el.matches(':focus-visible') && (outline || style.boxShadow !== 'none')};
}"""


def tab_cycle(page) -> list[dict]:
    """Press Tab from the top of the page until the focus comes back round: every stop."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    stops, repeats = [], 0
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or (stops and focused["key"] == stops[0]["key"]):
            return stops  # back at the start: the page let go of the focus
        if stops and focused["key"] == stops[-1]["key"]:
            # A date picker takes a Tab per segment: more than that is a trap.
            repeats += 1
            assert repeats < SEGMENTS, f"focus stuck on {focused}"
            continue
        repeats = 0
        stops.append(focused)
    pytest.fail(f"the focus never came back round after {MAX_TABS} presses: {stops}")


def assert_tab_order(page, form_selector: str) -> list[str]:
    """Tab visits every control of the form in visual order, each showing its focus."""
    expected = page.eval_on_selector(form_selector, VISUAL_ORDER)
    stops = tab_cycle(page)
    in_form = [stop["key"] for stop in stops if stop["inForm"]]
    assert in_form == expected, "tab order differs from the visual order"
    hidden_focus = [stop["key"] for stop in stops if not stop["visible"]]
    assert not hidden_focus, f"no visible focus on {hidden_focus}"
    # Shift+Tab walks back out of the form too: no trap in either direction.
    page.focus(f"{form_selector} button[type=submit]")
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or not focused["inForm"]:
            return expected
    pytest.fail("Shift+Tab never left the form")


def tab_to(page, element_id: str) -> None:
    """Press Tab until ``element_id`` has the focus."""
    tab_until(page, f"#{element_id}")


def tab_until(page, selector: str) -> None:
    """Press Tab until the element with the focus matches ``selector``."""
    for _ in range(MAX_TABS):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"Tab never reached {selector}")


def assert_whole_page_keyboard_ready(page) -> list[dict]:
    """Tab goes round the whole page and lets go of the focus, each stop showing it."""
    stops = tab_cycle(page)
    assert stops, "nothing on the page takes the focus"
    hidden_focus = [stop["key"] for stop in stops if not stop["visible"]]
    assert not hidden_focus, f"no visible focus on {hidden_focus}"
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    return stops


def choose_file_with_keyboard(page, element_id: str, path) -> None:
    """Space on a focused file input opens the picker; the picker is answered with ``path``.

    The page must be listening for file choosers already (see the test): the browser only
    hands a picker to the test while one is listened for, and a listener added just before
    the key press may reach the browser after it (the second picker then opened natively,
    unseen, and the wait timed out)."""
    tab_to(page, element_id)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(path))


def test_the_request_form_works_with_the_keyboard_alone(page, live_server, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes())
    page.on("filechooser", lambda chooser: None)  # keeps file choosers handed to the test
    page.goto(f"{live_server}/recover")
    order = assert_tab_order(page, "main form")
    assert {"email", "full_name", "date_of_birth", "issue_type", "id_document", "selfie",
            "consent"} <= set(order)

    page.evaluate("() => document.activeElement.blur()")
    tab_to(page, "email")
    page.keyboard.type("anna@example.test")
    tab_to(page, "full_name")
    page.keyboard.type("Anna Eriksson")
    tab_to(page, "date_of_birth")
    # A date picker takes the digits of its segments in the browser's order (en-US here).
    is_picker = page.evaluate("() => document.activeElement.type === 'date'")
    page.keyboard.type("08121974" if is_picker else "1974-08-12")
    assert page.input_value("#date_of_birth") == "1974-08-12"
    tab_to(page, "issue_type")
    page.keyboard.type("Something")  # a closed select picks the option typed
    assert page.input_value("#issue_type") == "other"
    choose_file_with_keyboard(page, "id_document", photo)
    choose_file_with_keyboard(page, "selfie", photo)
    tab_to(page, "consent")
    box = page.locator("#consent").bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24, box  # a target a thumb can hit
    page.keyboard.press("Space")
    assert page.is_checked("#consent")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.type") == "submit"
    page.keyboard.press("Enter")
    page.wait_for_selector("#tracking-link")


def test_the_console_sign_in_works_with_the_keyboard_alone(page, live_server, make_agent):
    make_agent("agent", email="sam@example.test")
    page.goto(f"{live_server}/agent/login")
    assert assert_tab_order(page, "main form")[:2] == ["email", "password"]

    page.evaluate("() => document.activeElement.blur()")
    tab_to(page, "email")
    page.keyboard.type("sam@example.test")
    page.keyboard.press("Tab")
    page.keyboard.type(STRONG_PASSWORD)
    page.keyboard.press("Enter")
    # Not enrolled yet: the next step sets up the authenticator app, its code field focusable.
    page.wait_for_selector("#totp-secret")
    tab_to(page, "code")


def test_self_help_works_with_the_keyboard_alone(page, live_server):
    page.goto(f"{live_server}/")
    assert_whole_page_keyboard_ready(page)
    tab_until(page, "a[data-issue-type=lost_2fa]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#guide[data-issue-type=lost_2fa]")
    assert_whole_page_keyboard_ready(page)
    tab_to(page, "help-need-help")
    page.keyboard.press("Enter")
    # "I still need help" leads on to the form, the issue type chosen already.
    page.wait_for_url("**/recover?issue_type=lost_2fa")
    assert page.input_value("#issue_type") == "lost_2fa"


def test_withdrawing_works_with_the_keyboard_alone(page, live_server, make_case):
    _case, token = make_case("submitted")
    page.goto(f"{live_server}/status/{token}")
    assert_whole_page_keyboard_ready(page)
    tab_until(page, "#withdraw a")
    page.keyboard.press("Enter")
    page.wait_for_selector("#withdraw-confirm")
    stops = [stop["key"] for stop in assert_whole_page_keyboard_ready(page)]
    # Keeping the request is as near as withdrawing it.
    assert {"withdraw-confirm-button", "withdraw-keep"} <= set(stops)
    tab_to(page, "withdraw-confirm-button")
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash.success")
    assert page.url == f"{live_server}/status/{token}"
    assert page.locator("#withdraw").count() == 0


@pytest.fixture
def case_page(app, new_page, live_server, make_agent, make_case):
    """An admin on the case page of a case waiting for its id check, on a desktop."""
    make_agent("admin", email="ada@example.test", name="Ada")
    case, _ = make_case("id_check", issue_type="forgot_password", full_name="Anna Eriksson")
    page = new_page(DESKTOP)
    browser_sign_in(page, live_server, app, "ada@example.test")
    page.goto(f"{live_server}/agent/cases/{case.id}")
    return page


def test_the_case_page_s_action_area_works_with_the_keyboard_alone(case_page):
    page = case_page
    assert_whole_page_keyboard_ready(page)
    # Tab enters the group of actions at one radio; the arrows choose among them.
    tab_until(page, "#action-form input[type=radio]")
    for _ in range(page.locator("#action-form input[type=radio]").count()):
        if page.is_checked("#action-request_info"):
            break
        page.keyboard.press("ArrowDown")
    assert page.is_checked("#action-request_info")
    tab_to(page, "action-reason")
    page.keyboard.type("Which phone did you lose?")
    tab_to(page, "action-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash.success")
    assert "awaiting" in page.text_content("#state").lower()


def test_the_shortcuts_help_opens_and_closes_with_the_keyboard(case_page):
    page = case_page
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("?")
    page.wait_for_selector("#shortcuts-help[open]")
    assert page.evaluate("() => document.activeElement.id") == "shortcuts-close"
    assert "Show these keyboard shortcuts" in page.text_content("#shortcuts-list")
    # A modal dialog: Tab stays inside it, and Escape closes it, the focus back on its opener.
    for _ in range(3):
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('#shortcuts-help')"
                             " || document.activeElement === document.body")
    page.keyboard.press("Escape")
    page.wait_for_selector("#shortcuts-help:not([open])", state="attached")
    # The dialog's close event, a task queued after it closes, gives the focus back.
    page.wait_for_function("() => document.activeElement.id === 'shortcuts-open'")
    # Opened again from its button with Enter, and closed with its Close button.
    page.keyboard.press("Enter")
    page.wait_for_selector("#shortcuts-help[open]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#shortcuts-help:not([open])", state="attached")
    page.wait_for_function("() => document.activeElement.id === 'shortcuts-open'")
