"""Security headers on every kind of response, and pages that need no inline script or style."""

from html.parser import HTMLParser

import pytest

from app import create_app
from tests.conftest import STRONG_PASSWORD, make_config, sign_in
from tests.integration.test_owner_stop import not_me_token
from tests.recovery import approve, outbox_of, token_in
from workflow import service


class InlineFinder(HTMLParser):
    """Collects what a Content Security Policy without 'unsafe-inline' would block."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name == "style":
                self.found.append(f"style attribute on <{tag}>")
            if name.startswith("on"):
                self.found.append(f"{name} handler on <{tag}>")
            if name in ("href", "src", "action") and (value or "").lower().startswith(
                    "javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")


def inline_parts(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


@pytest.fixture
def desk(client, make_agent, make_account, make_case):
    """Every kind of page and resource the desk serves, as (name, path, expected status)."""
    lead, token = make_agent("security_lead", email="lead@example.test")
    make_account()
    case, tracking = make_case("selfie_check", issue_type="forgot_password")
    approve(case, lead)
    service.run_case_actions(case.id)
    reset = token_in(outbox_of("reset_link", case.id)[0].body)
    not_me = not_me_token(outbox_of("recovery_approved", case.id)[0].body)
    evidence = service.get_case(case.id).evidence[0].id
    public = [
        ("request form", "/recover", 200),
        ("status page", f"/status/{tracking}", 200),
        ("reset page", f"/reset/{reset}", 200),
        ("reset link not valid", "/reset/" + "x" * 43, 404),
        ("reset done", "/reset/done", 200),
        ("owner's page", f"/not-me/{not_me}", 200),
        ("owner's link not valid", "/not-me/" + "x" * 43, 404),
        ("console sign-in", "/agent/login", 200),
        ("page not found", "/no-such-page", 404),
        ("style sheet", "/static/desk.css", 200),
        ("script", "/static/recover.js", 200),
        ("API document", "/api/v1/openapi.json", 200),
        ("API status", f"/api/v1/recovery-requests/{tracking}", 200),
        ("API not signed in", "/api/v1/cases", 401),
    ]
    staff = [
        ("queue", "/agent/", 200),
        ("case page", f"/agent/cases/{case.id}", 200),
        ("evidence image", f"/agent/cases/{case.id}/evidence/{evidence}", 200),
        ("case audit trail", f"/agent/cases/{case.id}/audit", 200),
        ("audit export, not an admin", "/agent/audit/export", 403),
        ("SLA report", "/reports/sla", 200),
        ("SLA report CSV", "/reports/sla.csv", 200),
        ("API tokens", "/agent/tokens", 200),
        ("staff (admins only)", "/agent/staff", 403),
    ]
    return {"public": public, "staff": staff, "token": token}


def read(response):
    """The response, read whole and closed (static files are streamed from disk)."""
    response.get_data()
    response.close()
    return response


def fetch_all(client, desk):
    answers = []
    for name, path, status in desk["public"]:
        answers.append((name, read(client.get(path)), status))
    answers.append(("API signed in", read(client.get(
        "/api/v1/cases", headers={"Authorization": f"Bearer {desk['token']}"})), 200))
    sign_in(client, "lead@example.test")
    for name, path, status in desk["staff"]:
        answers.append((name, read(client.get(path)), status))
    return answers


def test_every_kind_of_response_carries_the_headers(client, desk):
    answers = fetch_all(client, desk)
    assert len(answers) == len(desk["public"]) + len(desk["staff"]) + 1
    for name, response, status in answers:
        assert response.status_code == status, name
        headers = response.headers
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy, name
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Referrer-Policy"] in ("no-referrer", "strict-origin-when-cross-origin")
        # Served over plain HTTP outside production: no HSTS (a browser would ignore it).
        assert "Strict-Transport-Security" not in headers, name
        if response.mimetype == "text/html":
            assert "script-src 'self'" in policy and "style-src 'self'" in policy, name
            assert "camera=(self)" in headers["Permissions-Policy"], name
        else:
            assert policy.startswith("default-src 'none'"), name


def test_pages_carrying_a_secret_in_their_address_send_no_referrer(client, desk):
    for name, response, _status in fetch_all(client, desk):
        if name in ("status page", "reset page", "owner's page"):
            assert response.headers["Referrer-Policy"] == "no-referrer", name


def test_no_page_needs_inline_script_or_style(client, desk):
    pages = [(name, response) for name, response, _ in fetch_all(client, desk)
             if response.mimetype == "text/html"]
    assert len(pages) >= 12
    for name, response in pages:
        assert inline_parts(response.get_data(as_text=True)) == [], name


def test_the_inline_finder_finds_what_the_policy_would_block():
    html = ('<p style="x">a</p><script>alert(1)</script><style>p{}</style>'
            '<a href="javascript:void(0)" onclick="f()">b</a><script src="/s.js"></script>')
    assert inline_parts(html) == ["style attribute on <p>", "inline <script>", "<style> element",
                                  "javascript: URL on <a>", "onclick handler on <a>"]


def signed_in_cookie(app, base_url: str) -> str:
    """The session cookie a sign-in sets, over ``base_url``."""
    answer = app.test_client().post("/agent/login", base_url=base_url, data={
        "email": "sam@example.test", "password": STRONG_PASSWORD})
    assert answer.status_code == 302
    return answer.headers["Set-Cookie"]


def test_over_https_hsts_and_a_secure_session_cookie(app, make_agent):
    make_agent("agent", email="sam@example.test")
    page = app.test_client().get("/agent/login", base_url="https://desk.example.test")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookie = signed_in_cookie(app, "https://desk.example.test")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in signed_in_cookie(app, "http://localhost")


def test_in_production_cookies_are_always_secure_and_hsts_is_sent(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'prod.sqlite'}", ENV_NAME="production"))
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    with app.app_context():
        from extensions import db
        db.create_all()
        service.create_agent("sam@example.test", "Sam", "agent", STRONG_PASSWORD)
    assert "Secure" in signed_in_cookie(app, "http://localhost")
    page = app.test_client().get("/agent/login")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_production_desk_on_loopback_may_turn_secure_cookies_off(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'prod.sqlite'}", ENV_NAME="production",
                                 SESSION_COOKIE_SECURE=False))
    assert not app.config["SESSION_COOKIE_SECURE"] and not app.config["REMEMBER_COOKIE_SECURE"]
