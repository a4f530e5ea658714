"""Self-help first: what happened, that issue's fixes, and the answers counted for the
reports' deflection rate."""

import csv
import io
import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import sign_in
from workflow import service
from workflow.guides import GUIDES
from workflow.models import SelfHelpAnswer, utcnow
from workflow.states import ISSUE_TYPES


def counts() -> dict[tuple[str, str], int]:
    db.session.expire_all()
    return {(r.issue_type, r.outcome): r.count
            for r in db.session.scalars(sa.select(SelfHelpAnswer))}


def answer(client, issue_type: str, outcome: str, **extra):
    return client.post(f"/help/{issue_type}", data={"outcome": outcome, **extra})


def test_the_front_door_asks_what_happened(client):
    html = client.get("/").get_data(as_text=True)
    assert "What happened?" in html
    for issue_type, guide in GUIDES.items():
        assert f'href="/help/{issue_type}"' in html and str(guide.question) in html
    assert 'href="/recover"' in html


def test_every_issue_type_has_a_guide_with_two_answers(client):
    assert set(GUIDES) == set(ISSUE_TYPES)
    for issue_type in ISSUE_TYPES:
        html = client.get(f"/help/{issue_type}").get_data(as_text=True)
        assert 'value="solved"' in html and "This solved it" in html
        assert 'value="need_help"' in html and "I still need help" in html


@pytest.mark.parametrize("issue_type,fix", [
    ("lost_2fa", "clock to automatic"),
    ("account_locked", "Wait for the lock to lift"),
    ("new_device", "Expect a confirmation"),
    ("other", "Turn off your VPN or proxy"),
    ("forgot_password", "Update the app"),
])
def test_each_guide_shows_its_fixes(client, issue_type, fix):
    assert fix in client.get(f"/help/{issue_type}").get_data(as_text=True)


def test_solved_is_counted_once_per_browser_and_day(app, client):
    response = answer(client, "lost_2fa", "solved")
    assert (response.status_code, response.headers["Location"]) == (303, "/help/solved")
    assert "Glad it worked" in client.get("/help/solved").get_data(as_text=True)
    answer(client, "lost_2fa", "solved")
    answer(client, "lost_2fa", "need_help")
    assert counts() == {("lost_2fa", "solved"): 1}
    # Another guide, and another browser, count on their own.
    answer(client, "account_locked", "solved")
    answer(app.test_client(), "lost_2fa", "solved")
    assert counts() == {("lost_2fa", "solved"): 2, ("account_locked", "solved"): 1}


def test_still_need_help_goes_to_the_form_with_the_type_chosen(client):
    response = answer(client, "new_device", "need_help")
    assert (response.status_code, response.headers["Location"]) == (
        303, "/recover?issue_type=new_device")
    assert counts() == {("new_device", "need_help"): 1}


def test_bad_answers_count_nothing(client):
    assert answer(client, "lost_2fa", "maybe").status_code == 400
    assert client.post("/help/lost_2fa", data={}).status_code == 400
    assert answer(client, "no_such_type", "solved").status_code == 404
    assert counts() == {}


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_answers_need_the_forms_csrf_token(client):
    assert answer(client, "lost_2fa", "solved").status_code == 400
    assert counts() == {}


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_SELF_HELP": "2 per hour"}])
def test_answers_are_rate_limited(app):
    for _ in range(2):
        assert answer(app.test_client(), "lost_2fa", "solved").status_code == 303
    assert answer(app.test_client(), "lost_2fa", "solved").status_code == 429
    assert counts() == {("lost_2fa", "solved"): 2}


@pytest.fixture
def answers(app):
    """Answers over three days: lost_2fa 3 solved / 1 not; new_device 0 / 2; one old."""
    today = utcnow().date()
    for issue_type, outcome, times in [("lost_2fa", "solved", 3), ("lost_2fa", "need_help", 1),
                                       ("new_device", "need_help", 2)]:
        for _ in range(times):
            service.record_self_help(issue_type, outcome, today)
    service.record_self_help("lost_2fa", "need_help", today - timedelta(days=40))
    return today


def period(today: date) -> str:
    return f"from={today - timedelta(days=7)}&to={today}"


def test_the_report_shows_the_deflection_rate(app, client, make_agent, answers):
    _agent, token = make_agent("agent", email="sam@example.test")
    assert sign_in(client, "sam@example.test").status_code == 302
    html = client.get(f"/reports/sla?{period(answers)}").get_data(as_text=True)
    assert '<tr data-issue-type="lost_2fa"><td>I lost my two-factor device</td><td>3</td>' \
           '<td>1</td><td>75 %</td></tr>' in html
    assert '<tr data-issue-type="new_device"><td>I have a new phone or device</td><td>0</td>' \
           '<td>2</td><td>0 %</td></tr>' in html
    assert '<tr data-issue-type="other"><td>Something else</td><td>0</td><td>0</td><td>–</td>' \
           in html

    text = client.get(f"/reports/sla.csv?{period(answers)}&table=deflection").get_data(
        as_text=True)
    rows = {r["issue_type"]: r for r in csv.DictReader(io.StringIO(text))}
    assert (rows["lost_2fa"]["solved"], rows["lost_2fa"]["need_help"],
            rows["lost_2fa"]["deflection_rate"]) == ("3", "1", "0.75")
    assert rows["other"]["deflection_rate"] == ""

    api = app.test_client().get(f"/api/v1/reports/sla?{period(answers)}",
                                headers={"Authorization": f"Bearer {token}"}).get_json()
    [lost] = [d for d in api["deflection"] if d["issue_type"] == "lost_2fa"]
    assert (lost["solved"], lost["need_help"], lost["deflection_rate"]) == (3, 1, 0.75)

    result = app.test_cli_runner().invoke(args=[
        "sla-report", "--from", str(answers - timedelta(days=60)), "--to", str(answers),
        "--format", "json"])
    assert result.exit_code == 0, result.output
    [lost] = [d for d in json.loads(result.output)["deflection"]
              if d["issue_type"] == "lost_2fa"]
    # The answer of 40 days ago is inside this longer period.
    assert (lost["solved"], lost["need_help"]) == (3, 2)
