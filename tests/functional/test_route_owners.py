"""Every route has an owner: each URL rule of the app, asked by everyone who could ask it.

The table below names, for every (endpoint, method) the app serves, who may use it. A route
added without an entry fails ``test_every_route_is_in_the_table``. Each route is then asked by
an anonymous visitor, the holder of a tracking link, an agent, a security lead and an admin;
routes about a case are asked on an open case and on an escalated one (the security leads'
alone). A refusal is 401 (API), 403, a redirect to sign in first, or, for a route that
takes a tracking token, 404 for a token that is not the asker's; anything else below 500 is
the route answering its owner. No one ever gets a 5xx.
"""

from dataclasses import dataclass

import pytest

from tests.conftest import STRONG_PASSWORD, sign_in
from tests.integration.test_owner_stop import not_me_token
from tests.recovery import approve, outbox_of, token_in
from workflow import service

PRINCIPALS = ("anonymous", "tracking", "agent", "security_lead", "admin")
STAFF = frozenset({"agent", "security_lead", "admin"})
LEADS = frozenset({"security_lead", "admin"})
ADMIN = frozenset({"admin"})
EVERYONE = frozenset(PRINCIPALS)


@dataclass(frozen=True)
class Owner:
    """Who may use a route: ``who``; ``on_cases`` says it is about a case (asked on an open
    and an escalated one, the latter only for leads); ``tracking``: it takes a tracking token."""

    path: str
    who: frozenset[str]
    on_cases: bool = False
    tracking: bool = False


OPEN, ESCALATED = "open", "escalated"

ROUTES: dict[tuple[str, str], Owner] = {
    # The public side: anyone, or whoever holds the link the desk emailed.
    ("public.index", "GET"): Owner("/", EVERYONE),
    ("public.recover", "GET"): Owner("/recover", EVERYONE),
    ("public.recover", "POST"): Owner("/recover", EVERYONE),
    ("public.submitted", "GET"): Owner("/recover/submitted", EVERYONE),
    ("public.check_photo", "POST"): Owner("/recover/check-photo", EVERYONE),
    ("public.new_code", "POST"): Owner("/recover/new-code", EVERYONE),
    ("public.status", "GET"): Owner("/status/{token}", frozenset({"tracking"}), tracking=True),
    ("public.reply", "POST"): Owner("/status/{token}/reply", frozenset({"tracking"}),
                                    tracking=True),
    ("public.resubmit", "POST"): Owner("/status/{token}/resubmit", frozenset({"tracking"}),
                                       tracking=True),
    ("public.withdraw", "POST"): Owner("/status/{token}/withdraw", frozenset({"tracking"}),
                                       tracking=True),
    ("public.withdraw", "GET"): Owner("/status/{token}/withdraw", frozenset({"tracking"}),
                                      tracking=True),
    ("public.status_progress", "GET"): Owner("/status/{token}/progress",
                                             frozenset({"tracking"}), tracking=True),
    ("public.help_guide", "GET"): Owner("/help/lost_2fa", EVERYONE),
    ("public.help_guide", "POST"): Owner("/help/lost_2fa", EVERYONE),
    ("public.help_solved", "GET"): Owner("/help/solved", EVERYONE),
    ("public.tracking_link", "GET"): Owner("/tracking-link", EVERYONE),
    ("public.tracking_link", "POST"): Owner("/tracking-link", EVERYONE),
    ("public.tracking_link_sent", "GET"): Owner("/tracking-link/sent", EVERYONE),
    ("public.reset", "GET"): Owner("/reset/{reset}", EVERYONE),
    ("public.reset", "POST"): Owner("/reset/{reset}", EVERYONE),
    ("public.reset_done", "GET"): Owner("/reset/done", EVERYONE),
    ("public.not_me", "GET"): Owner("/not-me/{not_me}", EVERYONE),
    ("public.not_me", "POST"): Owner("/not-me/{not_me}", EVERYONE),
    ("static", "GET"): Owner("/static/desk.css", EVERYONE),
    ("agent.login", "GET"): Owner("/agent/login", EVERYONE),
    ("agent.login", "POST"): Owner("/agent/login", EVERYONE),
    # The second sign-in step answers anyone: without a password step just passed, it sends
    # them back to the first.
    ("agent.second_factor", "GET"): Owner("/agent/login/code", EVERYONE),
    ("agent.second_factor", "POST"): Owner("/agent/login/code", EVERYONE),
    ("agent.enrol", "GET"): Owner("/agent/login/enrol", EVERYONE),
    ("agent.enrol", "POST"): Owner("/agent/login/enrol", EVERYONE),
    ("api.create_challenge", "POST"): Owner("/api/v1/challenges", EVERYONE),
    ("api.create_recovery_request", "POST"): Owner("/api/v1/recovery-requests", EVERYONE),
    ("api.recovery_request_status", "GET"): Owner("/api/v1/recovery-requests/{token}",
                                                  frozenset({"tracking"}), tracking=True),
    ("api.openapi", "GET"): Owner("/api/v1/openapi.json", EVERYONE),
    # The console and the reports: staff.
    ("agent.logout", "POST"): Owner("/agent/logout", STAFF),
    ("agent.queue", "GET"): Owner("/agent/", STAFF),
    ("agent.save_view", "POST"): Owner("/agent/views", STAFF),
    ("agent.delete_view", "POST"): Owner("/agent/views/999/delete", STAFF),
    ("agent.bulk", "POST"): Owner("/agent/bulk", STAFF),
    ("agent.security", "GET"): Owner("/agent/security", STAFF),
    ("agent.security", "POST"): Owner("/agent/security", STAFF),
    ("agent.reset_second_factor", "POST"): Owner("/agent/staff/999/second-factor/reset",
                                                 frozenset({"admin"})),
    ("reports.sla", "GET"): Owner("/reports/sla", STAFF),
    ("reports.sla_csv", "GET"): Owner("/reports/sla.csv", STAFF),
    ("agent.case", "GET"): Owner("/agent/cases/{case}", STAFF, on_cases=True),
    ("agent.audit_trail", "GET"): Owner("/agent/cases/{case}/audit", LEADS, on_cases=True),
    ("agent.audit_export", "GET"): Owner("/agent/audit/export", frozenset({"admin"})),
    ("agent.evidence", "GET"): Owner("/agent/cases/{case}/evidence/{evidence}", STAFF,
                                     on_cases=True),
    ("agent.fire", "POST"): Owner("/agent/cases/{case}/events", STAFF, on_cases=True),
    ("agent.propose", "POST"): Owner("/agent/cases/{case}/proposal", STAFF, on_cases=True),
    ("agent.assign", "POST"): Owner("/agent/cases/{case}/assign", STAFF, on_cases=True),
    ("agent.take_over", "POST"): Owner("/agent/cases/{case}/take-over", LEADS, on_cases=True),
    ("agent.message", "POST"): Owner("/agent/cases/{case}/messages", STAFF, on_cases=True),
    ("agent.confirm_challenge", "POST"): Owner("/agent/cases/{case}/challenge-confirmation",
                                               STAFF, on_cases=True),
    ("agent.not_me", "POST"): Owner("/agent/cases/{case}/not-me", STAFF, on_cases=True),
    ("agent.retry_verification", "POST"): Owner("/agent/cases/{case}/verification-retry",
                                                STAFF, on_cases=True),
    ("agent.retry_recovery_action", "POST"): Owner(
        "/agent/cases/{case}/recovery-actions/{action}/retry", STAFF, on_cases=True),
    # API tokens: each staff member's own; the staff list and anyone's tokens for admins.
    ("agent.tokens", "GET"): Owner("/agent/tokens", STAFF),
    ("agent.create_token", "POST"): Owner("/agent/tokens", STAFF),
    ("agent.revoke_token", "POST"): Owner("/agent/tokens/{api_token}/revoke", STAFF),
    ("agent.staff", "GET"): Owner("/agent/staff", ADMIN),
    ("agent.staff_member", "GET"): Owner("/agent/staff/{staff}", ADMIN),
    ("agent.revoke_staff_tokens", "POST"): Owner("/agent/staff/{staff}/revoke-tokens", ADMIN),
    # Canned replies: admins keep them (999: no such macro, a 404 for admins), staff use them.
    ("collab.macro_list", "GET"): Owner("/agent/macros", ADMIN),
    ("collab.create_macro", "POST"): Owner("/agent/macros", ADMIN),
    ("collab.macro_page", "GET"): Owner("/agent/macros/999", ADMIN),
    ("collab.update_macro", "POST"): Owner("/agent/macros/999", ADMIN),
    ("collab.reply", "GET"): Owner("/agent/cases/{case}/reply", STAFF, on_cases=True),
    ("collab.presence", "GET"): Owner("/agent/cases/{case}/presence", STAFF, on_cases=True),
    # The API for staff.
    ("api.list_cases", "GET"): Owner("/api/v1/cases", STAFF),
    ("api.sla_report", "GET"): Owner("/api/v1/reports/sla", STAFF),
    ("api.get_case", "GET"): Owner("/api/v1/cases/{case}", STAFF, on_cases=True),
    ("api.fire_event", "POST"): Owner("/api/v1/cases/{case}/events", STAFF, on_cases=True),
    ("api.propose_approval", "POST"): Owner("/api/v1/cases/{case}/proposal", STAFF,
                                            on_cases=True),
    ("api.confirm_challenge", "POST"): Owner("/api/v1/cases/{case}/challenge-confirmation",
                                             STAFF, on_cases=True),
    ("api.claim_case", "POST"): Owner("/api/v1/cases/{case}/claim", STAFF, on_cases=True),
    ("api.take_over_case", "POST"): Owner("/api/v1/cases/{case}/take-over", LEADS,
                                          on_cases=True),
    ("api.report_not_me", "POST"): Owner("/api/v1/cases/{case}/not-me", STAFF, on_cases=True),
    ("api.retry_verification", "POST"): Owner("/api/v1/cases/{case}/verification-retry", STAFF,
                                              on_cases=True),
}


def test_every_route_is_in_the_table(app):
    served = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == set(ROUTES), "a route without an owner in ROUTES, or one that is gone"


@pytest.fixture
def desk(app, client, make_agent, make_account, make_case):
    """Staff of each role, a filed case and its links, an escalated case, an approved one."""
    staff = {role: make_agent(role, email=f"{role}@example.test")
             for role in ("agent", "security_lead", "admin")}
    tokens = {role: token for role, (_, token) in staff.items()}
    make_account()
    open_case, tracking = make_case("selfie_check", issue_type="forgot_password")
    not_me = not_me_token(outbox_of("request_received", open_case.id)[0].body)
    make_account(email="esc@example.test")
    escalated, _ = make_case("escalated", issue_type="forgot_password", email="esc@example.test")
    make_account(email="done@example.test")
    approved, _ = make_case("selfie_check", issue_type="forgot_password",
                            email="done@example.test")
    approve(approved, service.authenticate("security_lead@example.test", STRONG_PASSWORD))
    service.run_case_actions(approved.id)
    reset = token_in(outbox_of("reset_link", approved.id)[0].body)
    return {
        "tokens": tokens, "tracking": tracking, "not_me": not_me, "reset": reset,
        # A plain agent, and that agent's API token (revoking it answers its owner and
        # admins; anyone else is told there is no such token).
        "staff": staff["agent"][0].id,
        "api_token": service.tokens_of(staff["agent"][0].id)[0].id,
        "cases": {
            OPEN: {"case": open_case.id,
                   "evidence": service.get_case(open_case.id).evidence[0].id,
                   "action": service.get_case(approved.id).recovery_actions[0].id},
            ESCALATED: {"case": escalated.id,
                        "evidence": service.get_case(escalated.id).evidence[0].id,
                        "action": service.get_case(approved.id).recovery_actions[0].id},
        },
    }


def ask(app, desk, owner: Owner, method: str, principal: str, which: str):
    """The answer to ``principal`` asking the route (about the ``which`` case)."""
    client = app.test_client()
    headers = {}
    if principal in STAFF:
        assert sign_in(client, f"{principal}@example.test", STRONG_PASSWORD).status_code == 302
        headers["Authorization"] = f"Bearer {desk['tokens'][principal]}"
    token = desk["tracking"] if principal == "tracking" else "x" * 43
    path = owner.path.format(token=token, reset=desk["reset"], not_me=desk["not_me"],
                             staff=desk["staff"], api_token=desk["api_token"],
                             **desk["cases"][which])
    if method == "GET":
        answer = client.get(path, headers=headers)
    elif path.startswith("/api/"):
        answer = client.post(path, headers=headers, json={})
    else:
        answer = client.post(path, headers=headers, data={})
    answer.get_data()
    answer.close()
    return answer


def refused(answer, owner: Owner) -> bool:
    if answer.status_code in (401, 403):
        return True
    # Sent to sign in first, to come back here (signing out also ends on the sign-in page).
    if answer.status_code == 302 and "/agent/login?next=" in answer.headers["Location"]:
        return True
    return owner.tracking and answer.status_code == 404


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[1]} {r[0]}")
def test_the_route_answers_its_owners_only(app, desk, route):
    endpoint, method = route
    owner = ROUTES[route]
    asked = [(principal, OPEN) for principal in PRINCIPALS]
    if owner.on_cases:
        asked += [(principal, ESCALATED) for principal in STAFF]
    seen = {}
    for principal, which in asked:
        answer = ask(app, desk, owner, method, principal, which)
        assert answer.status_code < 500, (principal, which, answer.status_code)
        may = principal in owner.who and (which == OPEN or principal in LEADS)
        seen[(principal, which)] = answer.status_code
        assert refused(answer, owner) != may, (principal, which, answer.status_code, seen)
