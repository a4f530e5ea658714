"""Canned replies over HTTP: admins keep them (others may not), a wrong one is refused with why
and nothing saved, every change is audited, and staff insert them into a reply with the
placeholders filled in from the case (never the tracking link)."""

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import csrf_sign_in, csrf_token_in, sign_in
from workflow import service
from workflow.models import AuditRecord, Macro

BODY = ("Hello {first_name},\n\nabout case {case_number} ({issue_type}): we will answer "
        "{sla_due}.\n\n{agent_name}")


def records(action: str) -> list[AuditRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == action)
                                   .order_by(AuditRecord.id)))


def all_macros() -> list[Macro]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Macro).order_by(Macro.id)))


@pytest.fixture
def staff(app, make_agent):
    """An agent (Sam), a security lead and an admin, each with a signed-in client."""
    people = {"agent": make_agent("agent", email="agent@example.test", name="Sam Rivera")[0],
              "security_lead": make_agent("security_lead", email="lead@example.test")[0],
              "admin": make_agent("admin", email="admin@example.test", name="Ada Admin")[0]}
    clients = {}
    for role, agent in people.items():
        clients[role] = app.test_client()
        assert sign_in(clients[role], agent.email).status_code == 302
    return people, clients


def create(client, name="Greeting", body=BODY, **form):
    return client.post("/agent/macros", data={"name": name, "body": body, **form})


def test_an_admin_creates_and_edits_a_macro_and_each_change_is_audited(staff):
    people, clients = staff
    admin = clients["admin"]
    created = create(admin)
    assert created.status_code == 303
    page = admin.get("/agent/macros").get_data(as_text=True)
    assert "Greeting" in page and "saved" in page
    macro = all_macros()[0]
    assert (macro.name, macro.body, macro.active, macro.created_by_id) == (
        "Greeting", BODY, True, people["admin"].id)
    [made] = records("macro.created")
    assert (made.agent_id, made.actor_type, made.detail) == (
        people["admin"].id, "agent", {"macro_id": macro.id})

    edit = admin.get(f"/agent/macros/{macro.id}")
    assert edit.status_code == 200 and "Hello {first_name}" in edit.get_data(as_text=True)
    # Saved unchanged: nothing recorded.
    assert admin.post(f"/agent/macros/{macro.id}",
                      data={"name": "Greeting", "body": BODY, "active": "y"}).status_code == 303
    assert records("macro.changed") == []
    # The box unticked: no longer offered.
    assert admin.post(f"/agent/macros/{macro.id}",
                      data={"name": "Hello", "body": BODY}).status_code == 303
    macro = all_macros()[0]
    assert (macro.name, macro.active, macro.updated_by_id) == ("Hello", False, people["admin"].id)
    [changed] = records("macro.changed")
    assert changed.detail == {"macro_id": macro.id, "fields": ["name", "active"],
                              "active": False}


@pytest.mark.parametrize("role", ["agent", "security_lead"])
def test_only_admins_manage_macros(staff, role):
    _, clients = staff
    assert create(clients["admin"], name="Kept").status_code == 303
    macro_id = all_macros()[0].id
    client = clients[role]
    assert client.get("/agent/macros").status_code == 403
    assert client.get(f"/agent/macros/{macro_id}").status_code == 403
    assert create(client, name="Mine").status_code == 403
    assert client.post(f"/agent/macros/{macro_id}",
                       data={"name": "Taken", "body": "x"}).status_code == 403
    assert [(m.name, m.active) for m in all_macros()] == [("Kept", True)]
    assert len(records("macro.created")) == 1 and records("macro.changed") == []


@pytest.mark.parametrize("name, body, why", [
    ("Link", "Your link: {tracking_link}", "Unknown placeholder {tracking_link}"),
    ("Attr", "{first_name.__class__.__init__}", "Unknown placeholder {first_name.__class__"),
    ("Spec", "{case_number:>1000000000}", "Unknown placeholder {case_number:&gt;1000000000}"),
    ("Brace", "Hello {first_name", "A lone “{”"),
    ("", "Hello", "Give the macro a name."),
    ("Empty", "   ", "The reply is empty."),
    ("Long", "x" * 4001, "at most 4000 characters"),
    ("N" * 81, "Hello", "at most 80 characters"),
])
def test_a_wrong_macro_is_refused_with_why_and_nothing_is_saved(staff, name, body, why):
    _, clients = staff
    answer = create(clients["admin"], name=name, body=body)
    assert answer.status_code in (400, 422)
    html = answer.get_data(as_text=True)
    assert why in html and 'aria-invalid="true"' in html
    assert all_macros() == [] and records("macro.created") == []


def test_names_are_unique_whatever_their_case_and_edits_are_checked_too(staff):
    _, clients = staff
    admin = clients["admin"]
    assert create(admin, name="Greeting").status_code == 303
    assert create(admin, name="Other").status_code == 303
    again = create(admin, name="greeting")
    assert again.status_code == 422 and "exists already" in again.get_data(as_text=True)
    other = all_macros()[1]
    renamed = admin.post(f"/agent/macros/{other.id}",
                         data={"name": "GREETING", "body": "x", "active": "y"})
    assert renamed.status_code == 422 and "exists already" in renamed.get_data(as_text=True)
    broken = admin.post(f"/agent/macros/{other.id}",
                        data={"name": "Other", "body": "{nope}", "active": "y"})
    assert broken.status_code == 422 and "Unknown placeholder {nope}" in broken.get_data(
        as_text=True)
    assert [m.name for m in all_macros()] == ["Greeting", "Other"]
    assert all_macros()[1].body == BODY and records("macro.changed") == []
    assert admin.get("/agent/macros/999").status_code == 404
    assert admin.post("/agent/macros/999", data={"name": "a", "body": "b"}).status_code == 404


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_saving_a_macro_needs_the_forms_csrf_token(app, make_agent):
    make_agent("admin", email="admin@example.test")
    client = app.test_client()
    assert csrf_sign_in(client, "admin@example.test").status_code == 302
    assert create(client).status_code == 400
    assert all_macros() == []
    token = csrf_token_in(client.get("/agent/macros").get_data(as_text=True))
    assert create(client, csrf_token=token).status_code == 303
    assert len(all_macros()) == 1


def test_a_reply_fills_in_the_case_and_never_the_tracking_link(staff, make_case):
    people, clients = staff
    assert create(clients["admin"]).status_code == 303
    macro = all_macros()[0]
    case, tracking = make_case("id_check", issue_type="lost_2fa", full_name="Anna Eriksson")
    sam = clients["agent"]
    answer = sam.get(f"/agent/cases/{case.id}/reply?macro={macro.id}",
                     headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    due = service.get_case(case.id).sla.resolution_due_at
    expected = (f"Hello Anna,\n\nabout case {case.id} (a lost two-factor device): we will "
                f"answer by {due:%A} {due.day} {due:%B %Y}, {due:%H:%M} UTC.\n\nSam Rivera")
    assert answer.get_json() == {"macro": macro.id, "name": "Greeting", "body": expected}
    assert tracking not in answer.get_data(as_text=True)

    # Without JavaScript: a page with the reply box filled in, sent to the messages route.
    page = sam.get(f"/agent/cases/{case.id}/reply?macro={macro.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="reply-body"' in html and "Hello Anna," in html
    assert f'action="/agent/cases/{case.id}/messages"' in html
    sent = sam.post(f"/agent/cases/{case.id}/messages", data={"body": expected})
    assert sent.status_code == 302
    assert service.get_case(case.id).messages[-1].body == expected


def test_the_case_page_offers_active_macros_above_the_reply_box(staff, make_case):
    _, clients = staff
    admin = clients["admin"]
    assert create(admin, name="Offered").status_code == 303
    assert create(admin, name="Retired").status_code == 303
    retired = all_macros()[1]
    assert admin.post(f"/agent/macros/{retired.id}",
                      data={"name": "Retired", "body": BODY}).status_code == 303
    case, _ = make_case("id_check")
    html = clients["agent"].get(f"/agent/cases/{case.id}").get_data(as_text=True)
    picker = html.index('id="macro-picker"')
    assert picker < html.index('id="reply-body"')
    assert "Offered" in html and "Retired" not in html
    assert 'src="/static/macros.js"' in html
    # A retired macro cannot be used any more, with or without JavaScript.
    for accept in ("application/json", "text/html"):
        refused = clients["agent"].get(f"/agent/cases/{case.id}/reply?macro={retired.id}",
                                       headers={"Accept": accept})
        assert refused.status_code == 404
        assert "not offered any more" in refused.get_data(as_text=True)
    for bad_id in ("abc", "0", "-1", "2147483648", "9" * 5000, "１"):
        bad = clients["agent"].get(f"/agent/cases/{case.id}/reply?macro={bad_id}")
        assert bad.status_code == 400 and "Choose a canned reply" in bad.get_data(as_text=True)


def test_no_picker_without_macros_and_an_erased_name_is_not_used(staff, make_case):
    _, clients = staff
    case, _ = make_case("id_check")
    assert 'id="macro-picker"' not in clients["agent"].get(
        f"/agent/cases/{case.id}").get_data(as_text=True)
    assert create(clients["admin"], body="Hello {first_name}").status_code == 303
    found = service.get_case(case.id)
    found.full_name = "erased"
    db.session.commit()
    answer = clients["agent"].get(f"/agent/cases/{case.id}/reply?macro={all_macros()[0].id}",
                                  headers={"Accept": "application/json"})
    assert answer.get_json()["body"] == "Hello there"


def test_escalated_cases_stay_the_leads_for_replies_too(staff, make_case):
    _, clients = staff
    assert create(clients["admin"]).status_code == 303
    case, _ = make_case("escalated")
    path = f"/agent/cases/{case.id}/reply?macro={all_macros()[0].id}"
    assert clients["agent"].get(path).status_code == 403
    assert clients["security_lead"].get(path).status_code == 200
