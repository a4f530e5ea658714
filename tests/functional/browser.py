"""Real Chromium for the page tests: Debian's build, driven by Playwright.

``live_server`` serves the app on a free localhost port; ``browser`` is one Chromium for the
test; ``page`` is a phone-sized page in it and ``desktop_page`` a desktop one;
``new_page(width, height)`` opens further pages, each in a context of its own (another person:
its own cookies). Pages wait up to a minute: on a loaded 2-core machine a navigation can take
many seconds. A test file that uses them sets ``pytestmark = BROWSER``.

``axe_check(page)`` runs axe-core (``make browser`` installs it) on the page as it stands and
fails on every serious or critical WCAG 2.1 A/AA violation; ``assert_fits(page)`` fails when
the page scrolls sideways; ``snap(page, name)`` saves a screenshot into $SCREENSHOT_DIR when
that is set (``make screenshots``), and does nothing otherwise. ``choose_photo(page, field,
path)`` chooses a photo for a field of the request form and waits for the intake gate's verdict.
"""

import io
import os
import shutil
from functools import cache
from pathlib import Path

import pytest
from PIL import Image

from tests.serving import served_in_thread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# axe-core as `make browser` installs it (the version and hash of tests/browser-deps/).
AXE_JS = Path(__file__).resolve().parents[2] / ".browser/node_modules/axe-core/axe.min.js"
# The rules of WCAG 2.1 levels A and AA (2.0's are tagged apart from those 2.1 added).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_FAILING_IMPACTS = ("serious", "critical")
# Colours of a saved screenshot: the case page's two photos at 1440 px stay under 200 KB.
SNAP_COLOURS = 128
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


@cache
def _axe_source() -> str:
    if not AXE_JS.exists():
        pytest.skip("axe-core is not installed (make browser; it needs npm)")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on the page as it stands."""
    # Injected through the DevTools protocol (page.evaluate) rather than a <script> tag or a
    # context with bypass_csp: the pages keep their strict CSP (script-src 'self'), so the
    # page is checked exactly as a visitor's browser renders it, and a test still fails on
    # anything the CSP would block. The CSP governs the page's own scripts, not the
    # debugger's evaluation, and axe-core itself needs no eval.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})", AXE_TAGS)
    return [v for v in results["violations"] if v["impact"] in AXE_FAILING_IMPACTS]


def format_violations(violations: list[dict]) -> str:
    """One paragraph per rule: id, impact, help text, then each failing element's selector."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}"
                     f" <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            target = " ".join(" > ".join(t) if isinstance(t, list) else t
                              for t in node["target"])
            lines.append(f"    {target}: {node.get('failureSummary', '').splitlines()[-1].strip()}")
    return "\n".join(lines)


def axe_check(page) -> None:
    """Fail with a readable list of every serious or critical WCAG 2.1 A/AA violation."""
    violations = axe_violations(page)
    assert not violations, (f"{len(violations)} accessibility rule(s) broken on {page.url}:\n"
                            + format_violations(violations))


def assert_fits(page) -> None:
    """The page does not scroll sideways at its viewport's width."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth,"
                           " document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide in a {widths[1]} px window"


def snap(page, name: str) -> Path | None:
    """Save what the window shows as $SCREENSHOT_DIR/<name>.png; without the variable, nothing.

    The picture is kept to SNAP_COLOURS colours: the pages are flat text and buttons, and the
    photos on the case page still read well, at a third of the size in the repository."""
    directory = os.environ.get("SCREENSHOT_DIR")
    if not directory:
        return None
    path = Path(directory) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    shot = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("RGB")
    shot.quantize(colors=SNAP_COLOURS).save(path, optimize=True)
    return path


def choose_photo(page, field: str, path) -> None:
    """Choose ``path`` for the request form's photo field ``field`` (its id) and wait until the
    intake gate's verdict is shown under it.

    The verdict's sentence reflows the form: a click sent while it arrives can land beside the
    button it was aimed at (on a phone the send button moves down a line or two)."""
    verdict = f"#{field}-verdict"
    page.eval_on_selector(verdict, "v => v.removeAttribute('data-result')")
    page.set_input_files(f"#{field}", str(path))
    page.wait_for_selector(f"{verdict}[data-result]")
