"""Fixtures of the functional tests: the real browser ones live in browser.py."""

from tests.functional.browser import (  # noqa: F401 (fixtures)
    browser,
    browser_args,
    desktop_page,
    live_server,
    new_page,
    page,
)
