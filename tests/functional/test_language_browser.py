"""A real browser: the language switcher works with the keyboard alone, and sticks."""

from tests.functional.browser import BROWSER

pytestmark = BROWSER


def test_the_switcher_works_with_the_keyboard_and_sticks(page, live_server):
    page.goto(f"{live_server}/reset/done")
    assert page.get_attribute("html", "lang") == "en"
    assert page.get_attribute("nav.languages a[lang=en]", "aria-current") == "true"
    # Tab from the top of the page to "Español", then Enter.
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.lang") == "es":
            break
    assert page.evaluate("document.activeElement.textContent") == "Español"
    page.keyboard.press("Enter")
    page.wait_for_url("**/reset/done?lang=es")
    assert page.get_attribute("html", "lang") == "es"
    assert page.text_content("h1") == "Su contraseña nueva ya está guardada"
    assert page.get_attribute("nav.languages a[lang=es]", "aria-current") == "true"
    assert page.get_attribute("nav.languages a[lang=en]", "aria-current") is None
    # The choice is remembered by the next page, with no ?lang in its address.
    page.goto(f"{live_server}/reset/{'x' * 43}")
    assert page.get_attribute("html", "lang") == "es"
    assert page.text_content("h1") == "Este enlace no se puede usar"
    # The switcher fits the phone's width (no horizontal scrolling).
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
