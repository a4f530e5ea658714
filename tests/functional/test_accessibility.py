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
from tests.conftest import (
    STRONG_PASSWORD,
    browser_sign_in,
    document_photo,
    fresh_totp_code,
    image_bytes,
    selfie_photo,
)
from tests.functional.browser import BROWSER, DESKTOP, PHONE, assert_fits, axe_check, snap
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
    v.page.set_input_files("#id_document", str(photo))
    v.page.set_input_files("#selfie", str(photo))
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
    v.go("/status/" + "x" * 43)
    v.page.wait_for_selector("text=Please slow down")


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


def sla_report(v: Visit):
    v.make_case("resolved")
    v.make_case("awaiting_user")
    v.signed_in("/reports/sla")


PAGES = {
    "form": form_empty,
    "form-errors": form_with_errors,
    "submitted": submitted,
    "status-submitted": status_in("submitted"),
    "status-checking": status_in("selfie_check"),
    "status-awaiting-user": status_in("awaiting_user"),
    "status-declined": status_in("resolved"),
    "status-withdrawn": status_withdrawn,
    "reset": reset,
    "reset-done": reset_done,
    "not-me": not_me,
    "link-invalid": link_invalid,
    "404": not_found,
    "429": too_many_requests,
    "login": login,
    "code-step": code_step,
    "enrol": enrol,
    "recovery-codes": recovery_codes,
    "queue": queue,
    "case": case_page,
    "security": signed_in_at("/agent/security", "security"),
    "tokens": signed_in_at("/agent/tokens", "tokens"),
    "staff": signed_in_at("/agent/staff", "staff"),
    "staff-member": staff_member,
    "audit": audit,
    "audit-export": signed_in_at("/agent/audit/export", "audit_export"),
    "sla-report": sla_report,
}

# Pages being rebuilt (queue.html, case.html): their wide tables widen the page on a phone
# (the queue to about 680 px, the case to about 820 px at 390); left to that work.
REBUILT = {("phone", "queue"), ("phone", "case")}

# The screenshots shown in the README (make screenshots).
SHOWN = {("phone", "form"), ("phone", "status-awaiting-user"), ("desktop", "queue"),
         ("desktop", "case")}

VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}


def cases():
    for viewport in VIEWPORTS:
        for name in PAGES:
            marks = []
            if (viewport, name) in REBUILT:
                marks.append(pytest.mark.xfail(strict=False, reason="page being rebuilt"))
            yield pytest.param(viewport, name, id=f"{viewport}-{name}", marks=marks)


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
    page = new_page(VIEWPORTS[viewport])
    PAGES[name](Visit(app, live_server, page, make_agent, make_account, make_case, tmp_path))
    if (viewport, name) in SHOWN:
        snap(page, f"{viewport}-{name}")
    axe_check(page)
    if viewport == "phone":
        assert_fits(page)
