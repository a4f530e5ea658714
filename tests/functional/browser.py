"""Real Chromium for the page tests: Debian's build, driven by Playwright.

``live_server`` serves the app on a free localhost port; ``browser`` is one Chromium for the
test; ``page`` is a phone-sized page in it and ``desktop_page`` a desktop one;
``new_page(width, height)`` opens further pages, each in a context of its own (another person:
its own cookies). Pages wait up to a minute: on a loaded 2-core machine a navigation can take
many seconds. A test file that uses them sets ``pytestmark = BROWSER``.
"""

import os
import shutil

import pytest

from tests.serving import served_in_thread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}

BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="Debian's chromium is not installed (make browser)"),
]


@pytest.fixture
def live_server(app):
    """The app served on a free localhost port in a background thread."""
    with served_in_thread(app) as url:
        yield url


@pytest.fixture
def browser_args() -> list[str]:
    """Chromium's command line; a test overrides it to add flags (a fake camera)."""
    return list(CHROMIUM_ARGS)


@pytest.fixture
def browser(live_server, browser_args):
    """One headless Chromium for the test, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=browser_args)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """Open a page of the given viewport in a context of its own."""
    contexts = []

    def open_page(viewport: dict = PHONE, **context_options):
        context = browser.new_context(viewport=viewport, **context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A phone-sized page (390 x 844)."""
    return new_page(PHONE)


@pytest.fixture
def desktop_page(new_page):
    """A desktop-sized page (1440 x 900)."""
    return new_page(DESKTOP)
