"""The agent console through the test client."""

import html as html_lib

import pytest

from tests.conftest import sign_in
from workflow import service


@pytest.fixture
def agent_client(client, make_agent):
    agent, _ = make_agent("agent", email="sam@example.test", name="Sam")
    assert sign_in(client, "sam@example.test").status_code == 302
    client.agent = agent
    return client


def test_console_needs_sign_in(client, make_case):
    case, _ = make_case()
    for path in ("/agent/", f"/agent/cases/{case.id}",
                 f"/agent/cases/{case.id}/evidence/{case.evidence[0].id}"):
        response = client.get(path)
        assert response.status_code == 302 and "/agent/login" in response.location


def test_wrong_password_is_refused(client, make_agent):
    make_agent(email="sam@example.test")
    response = sign_in(client, "sam@example.test", "not the password")
    assert response.status_code == 401
    assert "Wrong email or password" in response.get_data(as_text=True)


def test_sign_in_does_not_follow_offsite_next(client, make_agent):
    make_agent(email="sam@example.test")
    response = sign_in(client, "sam@example.test", path="/agent/login?next=https://evil.example/")
    assert response.location == "/agent/"
    response = sign_in(client.application.test_client(), "sam@example.test",
                       path="/agent/login?next=/agent/?view=all")
    assert response.location == "/agent/?view=all"


def test_queue_lists_oldest_first_and_filters(agent_client, make_case):
    first, _ = make_case(issue_type="lost_2fa")
    second, _ = make_case(issue_type="forgot_password")
    resolved, _ = make_case("resolved")
    html = agent_client.get("/agent/").get_data(as_text=True)
    assert html.index(f"#{first.id}<") < html.index(f"#{second.id}<")
    assert f"#{resolved.id}<" not in html  # the default view is the active cases
    html = agent_client.get("/agent/?issue_type=forgot_password").get_data(as_text=True)
    assert f"#{second.id}<" in html and f"#{first.id}<" not in html
    html = agent_client.get("/agent/?state=resolved").get_data(as_text=True)
    assert f"#{resolved.id}<" in html and f"#{first.id}<" not in html


@pytest.mark.parametrize("app_config", [{"QUEUE_PAGE_SIZE": 2}])
def test_queue_is_paginated(agent_client, make_case):
    ids = [make_case()[0].id for _ in range(3)]
    page1 = agent_client.get("/agent/").get_data(as_text=True)
    page2 = agent_client.get("/agent/?page=2").get_data(as_text=True)
    assert f"#{ids[2]}<" not in page1 and 'id="next-page"' in page1
    assert f"#{ids[2]}<" in page2


def test_case_page_shows_record_evidence_and_allowed_actions(agent_client, make_case,
                                                             make_account):
    make_account(email="anna@example.test", full_name="Anna Maria Eriksson")
    case, _ = make_case("id_check", full_name="Anna Eriksson")
    html = agent_client.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    assert "Anna Maria Eriksson" in html and "Anna Eriksson" in html
    assert 'class="mismatch"' in html
    for item in case.evidence:
        assert f"/agent/cases/{case.id}/evidence/{item.id}" in html
    buttons = set(__import__("re").findall(r'data-event="([a-z_]+)"', html))
    assert buttons == {row.trigger for row in service.allowed_events(case, {"agent"})}
    assert "confirm_document" in buttons and "approve" not in buttons


def test_evidence_is_served_privately(agent_client, make_case):
    case, _ = make_case()
    item = case.evidence[0]
    response = agent_client.get(f"/agent/cases/{case.id}/evidence/{item.id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == item.mime_type
    assert "no-store" in response.headers["Cache-Control"]
    other, _ = make_case()
    assert agent_client.get(f"/agent/cases/{other.id}/evidence/{item.id}").status_code == 404


def test_agent_resolves_a_case_end_to_end(agent_client, make_case, make_account):
    # An account to recover, and an issue type one person may approve (no four eyes).
    make_account()
    case, token = make_case(issue_type="forgot_password")

    def fire(trigger):
        version = service.get_case(case.id).version
        return agent_client.post(f"/agent/cases/{case.id}/events",
                                 data={"event": trigger, "version": version})

    for trigger in ("start_review", "confirm_document"):
        response = fire(trigger)
        assert response.status_code == 302, response.get_data(as_text=True)
    # Not before the automated checks of the photos have had their say.
    response = fire("approve")
    assert response.status_code == 422
    assert "The automated checks of these photos have not finished" in \
        html_lib.unescape(response.get_data(as_text=True))
    assert service.get_case(case.id).state == "selfie_check"
    service.reassess_risk(case.id)  # the checks ended: the risk of these photos is assessed
    response = fire("approve")
    assert response.status_code == 302, response.get_data(as_text=True)
    case = service.case_for_token(token)
    assert (case.state, case.resolution) == ("resolved", "approved")
    assert [e.event for e in case.events] == ["submitted", "start_review", "confirm_document",
                                              "risk_assessed", "approve"]
    html = agent_client.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    assert "document: clear" in html and "selfie: clear" in html


def test_stale_click_gets_a_clear_conflict(agent_client, make_case):
    case, _ = make_case("id_check")
    seen = case.version
    agent_client.post(f"/agent/cases/{case.id}/events",
                      data={"event": "confirm_document", "version": seen})
    response = agent_client.post(f"/agent/cases/{case.id}/events",
                                 data={"event": "decline", "version": seen, "reason": "no"})
    assert response.status_code == 409
    assert "changed while you were looking" in response.get_data(as_text=True)
    assert service.get_case(case.id).state == "selfie_check"


def test_reason_is_required_on_the_page(agent_client, make_case):
    case, _ = make_case("id_check")
    response = agent_client.post(f"/agent/cases/{case.id}/events",
                                 data={"event": "decline", "version": case.version})
    assert response.status_code == 422
    assert "reason" in response.get_data(as_text=True)
    assert service.get_case(case.id).state == "id_check"


def test_claim_message_and_note(agent_client, make_case):
    case, token = make_case()
    response = agent_client.post(f"/agent/cases/{case.id}/assign",
                                 data={"action": "claim", "version": case.version})
    assert response.status_code == 302
    assert service.get_case(case.id).assignee_id == agent_client.agent.id
    agent_client.post(f"/agent/cases/{case.id}/messages", data={"body": "Hello Anna"})
    agent_client.post(f"/agent/cases/{case.id}/messages",
                      data={"body": "Looks fine", "internal": "y"})
    status = agent_client.get(f"/status/{token}").get_data(as_text=True)
    assert "Hello Anna" in status and "Looks fine" not in status


def test_sign_out(agent_client):
    agent_client.post("/agent/logout")
    assert agent_client.get("/agent/").status_code == 302


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_LOGIN": "3 per 15 minutes"}])
def test_sign_in_attempts_are_rate_limited(client, make_agent):
    make_agent(email="sam@example.test")
    codes = [sign_in(client, "sam@example.test", "guess number one").status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    page = sign_in(client, "sam@example.test")  # even the right password waits now
    assert page.status_code == 429 and "Too many requests" in page.get_data(as_text=True)
