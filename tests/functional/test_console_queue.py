"""The console's queue: search of every kind, filters, saved views, bulk actions, shortcuts."""

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest

from extensions import db
from tests.conftest import sign_in
from workflow import service
from workflow.agent_views import countdown
from workflow.models import CaseEvent, DocumentReading, RecoveryCase, SavedView


@pytest.fixture
def agent_client(client, make_agent):
    """A client signed in as Sam, a plain agent (``client.agent``)."""
    sam, _ = make_agent("agent", email="sam@example.test", name="Sam")
    assert sign_in(client, "sam@example.test").status_code == 302
    client.agent = sam
    return client


def listed(html: str) -> set[int]:
    """The case numbers the queue lists."""
    return {int(n) for n in re.findall(r'id="row-(\d+)"', html)}


def queue(client, **args) -> str:
    response = client.get("/agent/", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def read_document(case_id: int, number: str) -> None:
    db.session.add(DocumentReading(case_id=case_id, attempt=1, mrz_found=True,
                                   document_number=number, issuing_country="SWE",
                                   outcome="clear"))
    db.session.commit()


def test_search_finds_each_kind(agent_client, make_case):
    anna, anna_token = make_case(email="anna@example.test", full_name="Anna Maria Eriksson")
    bob, bob_token = make_case(email="bob@example.test", full_name="Bob  Lindqvist")
    read_document(bob.id, "X4821937")
    searches = {
        "anna@example.test": anna, "ANNA@Example.test ": anna,
        "anna maria": anna, "LINDQ": set(), "bob lind": bob,
        f"#{bob.id}": bob, str(anna.id): anna,
        "x4821937": bob, "X48 21937": bob,
        f"https://desk.example/status/{bob_token}": bob, anna_token: anna,
    }
    for q, expected in searches.items():
        found = listed(queue(agent_client, q=q))
        assert found == ({expected.id} if expected else set()), q


def test_a_search_by_number_or_link_finds_closed_cases_too(agent_client, make_case):
    closed, token = make_case("resolved")
    assert listed(queue(agent_client, q=f"#{closed.id}")) == {closed.id}
    assert listed(queue(agent_client, q=f"http://x/status/{token}")) == {closed.id}
    assert listed(queue(agent_client, q="anna maria")) == set()  # the active ones by name
    assert listed(queue(agent_client, q="anna maria", state="all")) == {closed.id}


@pytest.mark.parametrize("q", ["%", "_", "\\", "a" * 400, "#99999999999", "<script>",
                               "/status/", "\x00"])
def test_odd_searches_answer_without_error(agent_client, make_case, q):
    make_case()
    html = queue(agent_client, q=q)
    assert "<script>" not in html.split("<main")[1]


def test_filters_by_risk_assignee_and_sla(agent_client, make_case, make_agent):
    assessed, _ = make_case("selfie_check")
    fresh, _ = make_case()
    assert listed(queue(agent_client, risk="low")) == {assessed.id}
    assert listed(queue(agent_client, risk="high")) == set()
    service.claim_case(fresh.id, agent_client.agent, None)
    assert listed(queue(agent_client, assigned="mine")) == {fresh.id}
    assert listed(queue(agent_client, assigned=str(agent_client.agent.id))) == {fresh.id}
    assert listed(queue(agent_client, assigned="unassigned")) == {assessed.id}
    html = queue(agent_client)
    assert 'class="badge risk-low">low<' in html and "not assessed" in html
    assert listed(queue(agent_client, sla="breached")) == set()
    assert listed(queue(agent_client, sla="ok")) == {assessed.id, fresh.id}
    # Past every due time the badge (and its filter) says breached.
    sla = db.session.get(RecoveryCase, fresh.id).sla
    sla.first_response_due_at = datetime.now(UTC) - timedelta(minutes=35)
    db.session.commit()
    assert listed(queue(agent_client, sla="breached")) == {fresh.id}
    assert listed(queue(agent_client, sla="ok")) == {assessed.id}


def test_the_queue_shows_risk_priority_and_a_countdown(agent_client, make_case):
    case, _ = make_case()
    html = queue(agent_client)
    due = db.session.get(RecoveryCase, case.id).sla.next_due_at
    assert f'datetime="{due.isoformat()}"' in html
    assert re.search(r'<time class="countdown sla-ok"[^>]*title="Due [^"]+ UTC">due in ', html)
    assert "priority-high\">high<" in html  # lost 2FA is high priority (config)


@pytest.mark.parametrize("minutes,said", [(80, "due in 1 h 20 min"), (-35, "overdue by 35 min"),
                                          (60, "due in 1 h"), (0.5, "due in 0 min"),
                                          (60 * 26 + 5, "due in 1 d 2 h")])
def test_countdown_words(minutes, said):
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert countdown(now + timedelta(minutes=minutes), now) == said


def test_saved_views_are_saved_listed_shared_and_deleted(agent_client, make_agent, client):
    response = agent_client.post("/agent/views", data={
        "name": "  My  lost phones ", "query": "issue_type=lost_2fa&assigned=mine&evil=1",
        "shared": "y"})
    assert response.status_code == 302
    view = db.session.query(SavedView).one()
    assert (view.name, view.query, view.shared) == ("My lost phones",
                                                    "issue_type=lost_2fa&assigned=mine", True)
    html = queue(agent_client)
    assert "?issue_type=lost_2fa&amp;assigned=mine" in html and "My lost phones" in html
    # Saved again under the same name: replaced, not doubled.
    agent_client.post("/agent/views", data={"name": "My lost phones", "query": "risk=high"})
    assert db.session.query(SavedView).one().query == "risk=high"
    # A colleague sees it once shared, and cannot delete it.
    other = client.application.test_client()
    make_agent("agent", email="kim@example.test", name="Kim")
    sign_in(other, "kim@example.test")
    assert "My lost phones" not in other.get("/agent/").get_data(as_text=True)
    agent_client.post("/agent/views", data={"name": "My lost phones", "query": "risk=high",
                                            "shared": "y"})
    html = other.get("/agent/").get_data(as_text=True)
    assert "My lost phones" in html and "shared by Sam" in html
    assert other.post(f"/agent/views/{view.id}/delete").status_code == 404
    assert db.session.query(SavedView).count() == 1
    assert agent_client.post(f"/agent/views/{view.id}/delete").status_code == 302
    assert db.session.query(SavedView).count() == 0


@pytest.mark.parametrize("name,message", [
    ("", "Give the view a name."), ("   ", "Give the view a name."),
    ("x" * 61, "at most 60 characters"), ("tab\x07", "control"),
])
def test_bad_view_names_are_refused_and_nothing_is_saved(agent_client, name, message):
    response = agent_client.post("/agent/views", data={"name": name, "query": "risk=high"})
    assert response.status_code in (400, 422)
    assert message in html_lib.unescape(response.get_data(as_text=True))
    assert db.session.query(SavedView).count() == 0


def _events(case_id: int) -> list[str]:
    db.session.expire_all()
    return [e.event for e in db.session.query(CaseEvent).filter_by(case_id=case_id)
            .order_by(CaseEvent.id)]


def test_bulk_assign_claims_each_case_and_reports_a_stale_one(agent_client, make_case):
    first, _ = make_case()
    second, _ = make_case()
    stale = f"{second.id}:{second.version - 1}"
    response = agent_client.post("/agent/bulk", data={
        "action": "assign", "assignee": "me", "case": [f"{first.id}:{first.version}", stale]})
    assert response.status_code == 422
    text = html_lib.unescape(response.get_data(as_text=True))
    assert f"Case #{first.id}</a>: assigned to Sam." in text
    assert f"Case #{second.id}</a> was not changed: it changed since the queue was loaded" in text
    assert db.session.get(RecoveryCase, first.id).assignee_id == agent_client.agent.id
    assert db.session.get(RecoveryCase, second.id).assignee_id is None
    assert _events(first.id).count("claimed") == 1 and "claimed" not in _events(second.id)


def test_plain_agents_cannot_bulk_assign_to_others(agent_client, make_case, make_agent):
    case, _ = make_case()
    kim, _ = make_agent("agent", name="Kim")
    response = agent_client.post("/agent/bulk", data={
        "action": "assign", "assignee": str(kim.id), "case": [f"{case.id}:{case.version}"]})
    assert response.status_code == 422
    assert "Only security leads and admins" in response.get_data(as_text=True)
    assert db.session.get(RecoveryCase, case.id).assignee_id is None


def test_bulk_close_as_duplicate_through_the_machine(agent_client, make_case):
    original, _ = make_case(email="anna@example.test")
    repeat, _ = make_case(email="anna@example.test")
    closed, _ = make_case("resolved", email="anna@example.test")
    stranger, _ = make_case(email="bob@example.test")
    selected = [f"{c.id}:{c.version}" for c in (repeat, closed, stranger)]
    response = agent_client.post("/agent/bulk", data={
        "action": "duplicate", "original": f"#{original.id}", "note": "Filed twice.",
        "case": selected})
    assert response.status_code == 422
    text = html_lib.unescape(response.get_data(as_text=True))
    assert f"Case #{repeat.id}</a>: closed as a duplicate of case #{original.id}." in text
    assert f"Case #{closed.id}</a> was not changed: " in text
    assert f"Case #{stranger.id}</a> was not changed: Case #{original.id} is another " \
           "person's request" in text
    db.session.expire_all()
    done = db.session.get(RecoveryCase, repeat.id)
    assert (done.state, done.resolution, done.duplicate_of_id) == ("resolved", "duplicate",
                                                                   original.id)
    event = db.session.query(CaseEvent).filter_by(case_id=repeat.id,
                                                  event="mark_duplicate").one()
    assert event.reason.startswith(f"Duplicate of case #{original.id}. Filed twice.")
    untouched = db.session.get(RecoveryCase, stranger.id)
    assert (untouched.state, untouched.duplicate_of_id, untouched.version) == (
        stranger.state, None, stranger.version)
    assert db.session.get(RecoveryCase, closed.id).resolution == "declined"


@pytest.mark.parametrize("data,message", [
    ({"action": "duplicate", "original": "", "case": ["1:1"]}, "Give the number of the case"),
    ({"action": "duplicate", "original": "999999", "case": ["1:1"]}, "There is no case #999999"),
    ({"action": "assign", "assignee": "me"}, "Select at least one case."),
    ({"action": "assign", "assignee": "me", "case": ["1:x"]}, "The selection was incomplete"),
    ({"action": "explode", "assignee": "me", "case": ["1:1"]}, "The selection was incomplete"),
    ({"action": "assign", "assignee": "everyone", "case": ["1:1"]}, "Choose whom"),
])
def test_bad_bulk_requests_change_nothing(agent_client, make_case, data, message):
    case, _ = make_case()
    before = _events(case.id)
    response = agent_client.post("/agent/bulk", data=data)
    assert response.status_code in (400, 422)
    assert message in html_lib.unescape(response.get_data(as_text=True))
    assert _events(case.id) == before


def test_every_console_page_has_the_shortcuts_overlay(agent_client, make_case):
    make_case()
    html = queue(agent_client)
    assert '<dialog id="shortcuts-help"' in html and 'aria-labelledby="shortcuts-title"' in html
    assert "/static/shortcuts.js" in html and "/static/console.css" in html
    assert 'data-shortcut="/" data-shortcut-label="Search cases"' in html
    assert "data-row-shortcuts" in html
    security = agent_client.get("/agent/security").get_data(as_text=True)
    assert '<dialog id="shortcuts-help"' in security
    assert 'class="who"' in security


def test_a_leads_only_case_cannot_be_named_as_the_original(agent_client, make_case):
    escalated, _ = make_case("escalated", email="anna@example.test")
    repeat, _ = make_case(email="anna@example.test")
    response = agent_client.post("/agent/bulk", data={
        "action": "duplicate", "original": str(escalated.id),
        "case": [f"{repeat.id}:{repeat.version}"]})
    text = html_lib.unescape(response.get_data(as_text=True))
    # The same answer as for a case that does not exist: nothing about whose request it is.
    assert f"There is no case #{escalated.id}." in text
    db.session.expire_all()
    assert db.session.get(RecoveryCase, repeat.id).state != "resolved"
