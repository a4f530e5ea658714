"""A claim means something: only the assignee acts on a claimed case, or a lead or admin who
takes it over (recorded); everyone else is refused, in the console and the API."""

import re

import pytest

from tests.conftest import sign_in
from workflow import service


@pytest.fixture
def staff(app, make_agent):
    """Sam and Dana (agents) and Lee (security lead), each with a token and a signed-in browser."""
    people = {}
    for key, role, name in (("sam", "agent", "Sam"), ("dana", "agent", "Dana"),
                            ("lee", "security_lead", "Lee")):
        agent, token = make_agent(role, email=f"{key}@example.test", name=name)
        browser = app.test_client()
        assert sign_in(browser, f"{key}@example.test").status_code == 302
        agent.browser, agent.bearer = browser, {"Authorization": f"Bearer {token}"}
        people[key] = agent
    return people


def api(agent, path, body):
    return agent.browser.post(f"/api/v1{path}", json=body, headers=agent.bearer)


def snapshot(case_id):
    case = service.get_case(case_id)
    return case.state, case.version, case.assignee_id, len(case.events), len(case.messages)


def buttons(html: str) -> set[str]:
    return set(re.findall(r'data-event="([a-z_]+)"', html))


def test_the_reported_case_a_leads_claim_stops_another_agents_token(staff, make_case):
    """The issue's report: a lead claimed a case, another agent's token moved it anyway."""
    lee, dana = staff["lee"], staff["dana"]
    case, _ = make_case("id_check")
    assert api(lee, f"/cases/{case.id}/claim", {"version": case.version}).status_code == 200
    before = snapshot(case.id)
    response = api(dana, f"/cases/{case.id}/events",
                   {"event": "request_info", "version": before[1], "reason": "Which phone?"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "case_claimed"
    assert "Lee has claimed this case" in error["message"]
    assert snapshot(case.id) == before


def test_api_claim_refusal_take_over_and_the_old_assignee(staff, make_case):
    sam, dana, lee = staff["sam"], staff["dana"], staff["lee"]
    case, _ = make_case("id_check")
    claimed = api(sam, f"/cases/{case.id}/claim", {"version": case.version}).get_json()
    assert claimed["assignee_id"] == sam.id
    version = claimed["version"]

    # Dana sees the case but is offered nothing and refused everything that acts on it.
    seen = dana.browser.get(f"/api/v1/cases/{case.id}", headers=dana.bearer).get_json()
    assert seen["allowed_events"] == []
    own = sam.browser.get(f"/api/v1/cases/{case.id}", headers=sam.bearer).get_json()
    assert {e["event"] for e in own["allowed_events"]} >= {"confirm_document", "decline"}
    before = snapshot(case.id)
    for path, body in ((f"/cases/{case.id}/events",
                        {"event": "confirm_document", "version": version}),
                       (f"/cases/{case.id}/claim", {"version": version}),
                       (f"/cases/{case.id}/challenge-confirmation", {"version": version}),
                       (f"/cases/{case.id}/verification-retry", {})):
        response = api(dana, path, body)
        assert response.status_code == 409, (path, response.get_json())
        assert response.get_json()["error"]["code"] == "case_claimed"
        assert "Sam" in response.get_json()["error"]["message"]
    assert snapshot(case.id) == before
    # Leads are refused too, until they take the case over.
    response = api(lee, f"/cases/{case.id}/events", {"event": "decline", "version": version,
                                                      "reason": "No."})
    assert response.status_code == 409
    # An agent cannot take over; a stale version is refused; then the lead takes it.
    assert api(dana, f"/cases/{case.id}/take-over", {"version": version}).status_code == 403
    stale = api(lee, f"/cases/{case.id}/take-over", {"version": version - 1})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale_version"
    assert snapshot(case.id) == before
    taken = api(lee, f"/cases/{case.id}/take-over", {"version": version})
    assert taken.status_code == 200
    body = taken.get_json()
    assert body["assignee_id"] == lee.id
    event = body["events"][-1]
    assert (event["event"], event["actor_agent_id"]) == ("taken_over", lee.id)
    assert f"from Sam (agent {sam.id})" == event["reason"]
    # Now Sam, the old assignee, is refused, and the lead acts.
    response = api(sam, f"/cases/{case.id}/events",
                   {"event": "confirm_document", "version": body["version"]})
    assert response.status_code == 409 and "Lee" in response.get_json()["error"]["message"]
    moved = api(lee, f"/cases/{case.id}/events",
                {"event": "confirm_document", "version": body["version"]})
    assert moved.status_code == 200 and moved.get_json()["state"] == "selfie_check"


def test_unclaimed_cases_stay_open_to_anyone_the_role_allows(staff, make_case):
    dana = staff["dana"]
    case, _ = make_case("id_check")
    response = api(dana, f"/cases/{case.id}/events",
                   {"event": "confirm_document", "version": case.version})
    assert response.status_code == 200


def test_take_over_of_an_unclaimed_case_claims_it(staff, make_case):
    lee = staff["lee"]
    case, _ = make_case()
    body = api(lee, f"/cases/{case.id}/take-over", {"version": case.version}).get_json()
    assert body["assignee_id"] == lee.id and body["events"][-1]["event"] == "claimed"
    again = api(lee, f"/cases/{case.id}/take-over", {"version": body["version"]}).get_json()
    assert again["version"] == body["version"]  # already theirs: nothing changes


def test_console_refuses_another_agents_claim_with_a_flash(staff, make_case):
    sam, dana = staff["sam"], staff["dana"]
    case, _ = make_case("selfie_check", issue_type="lost_2fa")
    response = sam.browser.post(f"/agent/cases/{case.id}/assign",
                                data={"action": "claim", "version": case.version})
    assert response.status_code == 302
    case = service.get_case(case.id)

    page = dana.browser.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    assert buttons(page) == set()
    assert 'id="claimed-by"' in page and "Sam has claimed this case" in page
    assert 'id="take-over"' not in page  # agents cannot take over
    assert buttons(sam.browser.get(f"/agent/cases/{case.id}").get_data(as_text=True)) == \
        {row.trigger for row in service.allowed_events(case, sam.actors, sam.id)} != set()

    before = snapshot(case.id)
    for path, data in ((f"/agent/cases/{case.id}/events",
                        {"event": "decline", "version": case.version, "reason": "No."}),
                       (f"/agent/cases/{case.id}/messages", {"body": "Hello from Dana"}),
                       (f"/agent/cases/{case.id}/assign",
                        {"action": "claim", "version": case.version})):
        response = dana.browser.post(path, data=data)
        assert response.status_code == 302 and response.location == f"/agent/cases/{case.id}"
        shown = dana.browser.get(response.location).get_data(as_text=True)
        assert "Sam has claimed this case, so only Sam can act on it" in shown, path
    assert snapshot(case.id) == before
    # An internal note for the holder is not acting on the case.
    response = dana.browser.post(f"/agent/cases/{case.id}/messages",
                                 data={"body": "Holder called back", "internal": "y"})
    assert response.status_code == 302
    assert service.get_case(case.id).messages[-1].internal


def test_console_take_over_needs_the_box_and_is_recorded(staff, make_case):
    sam, lee = staff["sam"], staff["lee"]
    case, _ = make_case("id_check")
    case = service.claim_case(case.id, sam, case.version)
    page = lee.browser.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    assert buttons(page) == set() and 'id="take-over"' in page
    assert "I take this case over from Sam" in page

    before = snapshot(case.id)
    response = lee.browser.post(f"/agent/cases/{case.id}/take-over",
                                data={"version": case.version})
    assert response.status_code == 302
    assert "Tick the box" in lee.browser.get(response.location).get_data(as_text=True)
    assert snapshot(case.id) == before
    assert sam.browser.post(f"/agent/cases/{case.id}/take-over",
                            data={"version": case.version, "confirm": "y"}).status_code == 403

    response = lee.browser.post(f"/agent/cases/{case.id}/take-over",
                                data={"version": case.version, "confirm": "y"})
    assert response.status_code == 302
    case = service.get_case(case.id)
    assert case.assignee_id == lee.id
    event = case.events[-1]
    assert (event.event, event.actor_agent_id, event.reason) == \
        ("taken_over", lee.id, f"from Sam (agent {sam.id})")
    page = lee.browser.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    assert "confirm_document" in buttons(page)
    # Sam's page now offers nothing, and a stale form of Sam's is refused by the claim.
    assert buttons(sam.browser.get(f"/agent/cases/{case.id}").get_data(as_text=True)) == set()
    response = sam.browser.post(f"/agent/cases/{case.id}/events",
                                data={"event": "confirm_document", "version": case.version})
    assert "Lee has claimed this case" in sam.browser.get(response.location).get_data(
        as_text=True)
    assert service.get_case(case.id).state == "id_check"


def test_the_system_still_moves_claimed_cases(staff, make_case):
    sam = staff["sam"]
    case, _ = make_case()
    case = service.claim_case(case.id, sam, case.version)
    moved = service.fire_event(case.id, "start_review", agent=None, expected_version=None)
    assert moved.state == "id_check" and moved.assignee_id == sam.id


def test_a_lead_reassigning_a_held_case_records_whose_it_was(staff, make_case):
    sam, dana, lee = staff["sam"], staff["dana"], staff["lee"]
    case, _ = make_case()
    case = service.claim_case(case.id, sam, case.version)
    case = service.assign_case(case.id, lee, dana.id, case.version)
    assert case.events[-1].reason == "to Dana, from Sam"


@pytest.mark.parametrize("app_config", [{"MAX_RESUBMISSIONS": 0}])
def test_a_refused_claim_does_not_escalate_through_the_resubmission_limit(staff, make_case):
    """Asking for photos past the limit escalates as the system; not for a non-holder."""
    sam, dana = staff["sam"], staff["dana"]
    case, _ = make_case("id_check")
    case = service.claim_case(case.id, sam, case.version)
    with pytest.raises(service.CaseClaimed):
        service.fire_event(case.id, "request_resubmission", agent=dana,
                           expected_version=case.version, reason="Blurry.")
    assert service.get_case(case.id).state == "id_check"
