"""Every page of the desk in a real browser, on a phone and on a desktop: axe-core finds no
serious or critical WCAG 2.1 A/AA violation, and no page scrolls sideways on the phone.

Each page is reached the way a person reaches it (a form sent, a link from an email, a
sign-in through both steps); ``PAGES`` names them, each with the steps that open it.
"""

from dataclasses import dataclass
from datetime import date

import pyotp
import pytest

import jobs.executors
from i18n import LANGUAGE_COOKIE
from tests.conftest import (
    STRONG_PASSWORD,
    browser_sign_in,
    document_photo,
    fresh_totp_code,
    image_bytes,
    selfie_photo,
)
from tests.functional.browser import (
    BROWSER,
    DESKTOP,
    PHONE,
    assert_fits,
    axe_check,
    choose_photo,
    snap,
)
from tests.integration.test_owner_stop import not_me_token
from tests.recovery import approve, outbox_of, token_in
from verification.specimen import SpecimenPerson
from workflow import service

pytestmark = BROWSER

ADMIN = "admin@example.test"
ANNA = SpecimenPerson(expiry_date=date(date.today().year + 4, 4, 15))


@dataclass
class Visit:
    """What a page's steps may use: the app, its address, the browser page and the builders."""

    app: object
    url: str
    page: object
    make_agent: object
    make_account: object
    make_case: object
    tmp_path: object

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)

    def signed_in(self, path: str) -> None:
        """Sign in as an admin (every console page is theirs), then open ``path``."""
        self.make_agent("admin", email=ADMIN, name="Ada Admin")
        browser_sign_in(self.page, self.url, self.app, ADMIN)
        self.go(path)

    def password_step(self, email: str) -> None:
        self.go("/agent/login")
        self.page.fill("#email", email)
        self.page.fill("#password", STRONG_PASSWORD)
        self.page.click("button[type=submit]")

    def checked_case(self):
        """A case whose document and selfie checks ran on real photos (on the desk's thread)."""
        self.make_account(full_name="Anna Maria Eriksson")
        case, _ = self.make_case("submitted", issue_type="forgot_password",
                                 full_name="Anna Eriksson",
                                 files={"id_document": document_photo(ANNA),
                                        "selfie": selfie_photo()})
        assert jobs.executors.wait_for_jobs(self.app, timeout=180)
        return case


# --- the public side -----------------------------------------------------------------------

def form_empty(v: Visit):
    v.go("/recover")


def form_with_errors(v: Visit):
    v.go("/recover")
    v.page.fill("#email", "not an address")
    v.page.click("button[type=submit]")
    v.page.wait_for_selector(".errors")


def submitted(v: Visit):
    photo = v.tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes())
    v.go("/recover")
    v.page.fill("#email", "anna@example.test")
    v.page.fill("#full_name", "Anna Eriksson")
    v.page.fill("#date_of_birth", "1974-08-12")
    v.page.select_option("#issue_type", "forgot_password")
    choose_photo(v.page, "id_document", photo)
    choose_photo(v.page, "selfie", photo)
    v.page.check("#consent")
    v.page.click("button[type=submit]")
    v.page.wait_for_selector("#tracking-link")


def status_in(state: str):
    def visit(v: Visit):
        _case, token = v.make_case(state)
        v.go(f"/status/{token}")
    visit.__name__ = f"status_{state}"
    return visit


def status_withdrawn(v: Visit):
    _case, token = v.make_case("submitted")
    service.user_withdraw(token)
    v.go(f"/status/{token}")


def approved_case(v: Visit):
    """A case approved and carried out: its emails hold a reset link and a not-me link."""
    v.make_account()
    case, _ = v.make_case("selfie_check", issue_type="forgot_password")
    lead, _ = v.make_agent("security_lead", email="lead@example.test")
    approve(case, lead)
    service.run_case_actions(case.id)
    return case


def reset(v: Visit):
    case = approved_case(v)
    v.go(f"/reset/{token_in(outbox_of('reset_link', case.id)[0].body)}")


def reset_done(v: Visit):
    v.go("/reset/done")


def not_me(v: Visit):
    case = approved_case(v)
    v.go(f"/not-me/{not_me_token(outbox_of('request_received', case.id)[0].body)}")


def link_invalid(v: Visit):
    v.go("/reset/" + "x" * 43)


def not_found(v: Visit):
    v.go("/no-such-page")


def too_many_requests(v: Visit):
    # The app of this page allows one look-up by tracking link a minute (see app_config).
    v.go("/status/" + "x" * 43)
    response = v.page.goto(v.url + "/status/" + "x" * 43)
    assert response.status == 429


def help_index(v: Visit):
    v.go("/")


def help_guide(v: Visit):
    v.go("/help/lost_2fa")


def help_solved(v: Visit):
    v.go("/help/solved")


def tracking_link(v: Visit):
    v.go("/tracking-link")


def tracking_link_sent(v: Visit):
    v.go("/tracking-link/sent")


def withdraw_confirm(v: Visit):
    _case, token = v.make_case("submitted")
    v.go(f"/status/{token}/withdraw")
    v.page.wait_for_selector("#withdraw-confirm")


def form_kept_photos(v: Visit):
    """The form sent with both photos and a wrong address: it comes back with the error
    summary, the photos kept and the support details open."""
    photo = v.tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes())
    v.go("/recover?issue_type=lost_2fa")
    v.page.fill("#email", "not an address")
    choose_photo(v.page, "id_document", photo)
    choose_photo(v.page, "selfie", photo)
    v.page.click("main form button[type=submit]")
    v.page.wait_for_selector(".errors")


# --- the console ---------------------------------------------------------------------------

def login(v: Visit):
    v.go("/agent/login")


def code_step(v: Visit):
    v.make_agent("agent", email="sam@example.test")
    fresh_totp_code(v.app, "sam@example.test")  # enrolled: the code step follows
    v.password_step("sam@example.test")
    v.page.wait_for_selector("#code")


def enrol(v: Visit):
    v.make_agent("agent", email="sam@example.test")
    v.password_step("sam@example.test")
    v.page.wait_for_selector("#totp-secret")


def recovery_codes(v: Visit):
    enrol(v)
    secret = v.page.text_content("#totp-secret").replace(" ", "")
    v.page.fill("#code", pyotp.TOTP(secret).now())
    v.page.click("button[type=submit]")
    v.page.wait_for_selector("#recovery-codes")


def queue(v: Visit):
    for state in ("submitted", "awaiting_user", "escalated", "resolved"):
        v.make_case(state)
    v.signed_in("/agent/")


def case_page(v: Visit):
    case = v.checked_case()
    v.signed_in(f"/agent/cases/{case.id}")


def audit(v: Visit):
    case = v.checked_case()
    v.signed_in(f"/agent/cases/{case.id}/audit")


def signed_in_at(path: str, name: str):
    def visit(v: Visit):
        v.signed_in(path)
    visit.__name__ = name
    return visit


def staff_member(v: Visit):
    agent, _ = v.make_agent("agent", email="sam@example.test", name="Sam")
    v.signed_in(f"/agent/staff/{agent.id}")


def queue_with_views(v: Visit):
    """The queue with a saved view and rows to pick for a bulk action."""
    for state in ("submitted", "submitted", "escalated"):
        v.make_case(state)
    agent, _ = v.make_agent("admin", email=ADMIN, name="Ada Admin")
    service.console.save_view(agent, "Escalated", "state:escalated")
    browser_sign_in(v.page, v.url, v.app, ADMIN)
    v.go("/agent/")
    v.page.check("tbody input[type=checkbox] >> nth=0")


def make_macro(v: Visit):
    admin, _ = v.make_agent("admin", email=ADMIN, name="Ada Admin")
    return service.macros.create_macro("Greeting", "Hello {first_name}, about case {case_number}:",
                                       by=admin)


def macros(v: Visit):
    make_macro(v)
    browser_sign_in(v.page, v.url, v.app, ADMIN)
    v.go("/agent/macros")


def macro(v: Visit):
    greeting = make_macro(v)
    browser_sign_in(v.page, v.url, v.app, ADMIN)
    v.go(f"/agent/macros/{greeting.id}")


def macro_reply(v: Visit):
    greeting = make_macro(v)
    case, _ = v.make_case("submitted", full_name="Anna Eriksson")
    browser_sign_in(v.page, v.url, v.app, ADMIN)
    v.go(f"/agent/cases/{case.id}/reply?macro={greeting.id}")
    v.page.wait_for_selector("textarea")


def case_presence(v: Visit):
    """The case page while a colleague has it open: the notice names them."""
    case, _ = v.make_case("submitted", full_name="Anna Eriksson")
    kim, _ = v.make_agent("agent", email="kim@example.test", name="Kim")
    with v.app.app_context():
        service.presence.seen(case.id, kim)
    v.signed_in(f"/agent/cases/{case.id}")
    v.page.wait_for_selector("#presence .presence-viewer")


def sla_report(v: Visit):
    v.make_case("resolved")
    v.make_case("awaiting_user")
    v.signed_in("/reports/sla")


PUBLIC = {
    "help": help_index,
    "help-guide": help_guide,
    "help-solved": help_solved,
    "form": form_empty,
    "form-errors": form_with_errors,
    "form-kept-photos": form_kept_photos,
    "submitted": submitted,
    "status-submitted": status_in("submitted"),
    "status-checking": status_in("selfie_check"),
    "status-awaiting-user": status_in("awaiting_user"),
    "status-declined": status_in("resolved"),
    "status-withdrawn": status_withdrawn,
    "withdraw": withdraw_confirm,
    "tracking-link": tracking_link,
    "tracking-link-sent": tracking_link_sent,
    "reset": reset,
    "reset-done": reset_done,
    "not-me": not_me,
    "link-invalid": link_invalid,
    "404": not_found,
    "429": too_many_requests,
}

CONSOLE = {
    "login": login,
    "code-step": code_step,
    "enrol": enrol,
    "recovery-codes": recovery_codes,
    "queue": queue,
    "queue-views": queue_with_views,
    "case": case_page,
    "case-presence": case_presence,
    "macros": macros,
    "macro": macro,
    "macro-reply": macro_reply,
    "security": signed_in_at("/agent/security", "security"),
    "tokens": signed_in_at("/agent/tokens", "tokens"),
    "staff": signed_in_at("/agent/staff", "staff"),
    "staff-member": staff_member,
    "audit": audit,
    "audit-export": signed_in_at("/agent/audit/export", "audit_export"),
    "sla-report": sla_report,
}

PAGES = {**PUBLIC, **CONSOLE}

# The screenshots shown in the README (make screenshots).
SHOWN = {("phone", "help-guide"), ("phone", "form"), ("phone", "status-checking"),
         ("desktop", "queue"), ("desktop", "case")}

VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
# The public pages are read on a phone in the translation the desk ships too.
SPANISH = "phone-es"


def cases():
    for viewport in VIEWPORTS:
        for name in PAGES:
            yield pytest.param(viewport, name, id=f"{viewport}-{name}")
    for name in PUBLIC:
        yield pytest.param(SPANISH, name, id=f"{SPANISH}-{name}")


@pytest.fixture
def app_config(request):
    """CSRF on, as served; the 429 page's app counts look-ups; the checks run where shown."""
    name = request.node.callspec.params["name"]
    config = {"WTF_CSRF_ENABLED": True}
    if name == "429":
        config.update(RATELIMIT_ENABLED=True, RATELIMIT_STATUS="1 per minute")
    if name in ("case", "audit"):
        config.update(QUALITY_GATE=True, VERIFICATION_EXECUTOR="thread")
    return config


@pytest.mark.parametrize(("viewport", "name"), list(cases()))
def test_the_page_passes_axe_and_fits(app, live_server, new_page, make_agent, make_account,
                                      make_case, tmp_path, viewport, name):
    spanish = viewport == SPANISH
    page = new_page(PHONE if spanish else VIEWPORTS[viewport])
    if spanish:
        # What ?lang=es leaves behind: the switcher's choice, remembered by a cookie.
        page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "es", "url": live_server}])
    PAGES[name](Visit(app, live_server, page, make_agent, make_account, make_case, tmp_path))
    if spanish:
        assert page.get_attribute("html", "lang") == "es"
    if (viewport, name) in SHOWN:
        snap(page, f"{viewport}-{name}")
    axe_check(page)
    if viewport != "desktop":
        assert_fits(page)
