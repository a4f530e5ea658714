"""Who else has a case open: two agents, each in a client of their own, see each other's
visits and changes through the presence endpoint, kept in the database (every process of
the desk sees them), forgotten after a while, never cached, leads' cases the leads' alone."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import sign_in
from workflow import service
from workflow.models import Agent, CaseViewer, utcnow


@pytest.fixture
def two_agents(app, make_agent):
    """Sam and Kim, agents, each signed in in a client of their own."""
    clients = {}
    for name in ("Sam", "Kim"):
        make_agent("agent", email=f"{name.lower()}@example.test", name=name)
        clients[name] = app.test_client()
        assert sign_in(clients[name], f"{name.lower()}@example.test").status_code == 302
    return clients


def presence(client, case_id: int) -> dict:
    answer = client.get(f"/agent/cases/{case_id}/presence")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.get_json()


def viewer_rows() -> list[CaseViewer]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(CaseViewer).order_by(CaseViewer.agent_id)))


def age_rows(seconds: int) -> None:
    """Move every viewer's visit ``seconds`` into the past (as if their page went quiet)."""
    then = utcnow() - timedelta(seconds=seconds)
    db.session.execute(sa.update(CaseViewer).values(opened_at=then, last_seen=then))
    db.session.commit()


def test_each_agent_sees_the_other_open_and_change_the_case(two_agents, make_case):
    sam, kim = two_agents["Sam"], two_agents["Kim"]
    case, _ = make_case("submitted")
    before = case.version
    first = sam.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    assert f'data-case-id="{case.id}"' in first and f'data-version="{case.version}"' in first
    alone = presence(sam, case.id)
    assert alone["viewers"] == [] and alone["version"] == case.version

    # Kim opens the case page: Sam's next poll names Kim, Kim's names Sam, neither themselves.
    assert kim.get(f"/agent/cases/{case.id}").status_code == 200
    seen_by_sam = presence(sam, case.id)
    assert [v["name"] for v in seen_by_sam["viewers"]] == ["Kim"]
    assert seen_by_sam["viewers"][0]["notice"] == "Kim opened this case just now."
    assert [v["name"] for v in presence(kim, case.id)["viewers"]] == ["Sam"]
    # And the page Sam opens now says so before any script runs.
    assert "Kim opened this case" in sam.get(f"/agent/cases/{case.id}").get_data(as_text=True)

    # Kim acts: Sam's poll carries the new version and who changed it to what.
    assert kim.post(f"/agent/cases/{case.id}/events",
                    data={"event": "start_review", "version": before}).status_code == 302
    changed = presence(sam, case.id)
    assert changed["version"] == service.get_case(case.id).version > before
    assert (changed["changed_by"], changed["change"]) == ("Kim", "id check")
    assert changed["change_notice"] == "Kim changed this case (id check) just now."
    assert presence(kim, case.id)["changed_by"] == "You"


def test_presence_is_in_the_database_and_forgotten_after_a_while(app, two_agents, make_case):
    sam, kim = two_agents["Sam"], two_agents["Kim"]
    case, _ = make_case("submitted")
    presence(kim, case.id)
    presence(sam, case.id)
    assert len(viewer_rows()) == 2
    window = app.config["PRESENCE_WINDOW_SECONDS"]
    # Kim's page went quiet longer than the window: no longer there for Sam.
    age_rows(window + 5)
    sam_opened = next(r for r in viewer_rows() if r.agent.name == "Sam").opened_at
    assert presence(sam, case.id)["viewers"] == []
    # Kim comes back: a new visit, opened now (not when the old one began).
    opened = presence(kim, case.id)
    assert [v["seconds_ago"] for v in presence(sam, case.id)["viewers"]] == [0]
    assert opened["viewers"][0]["name"] == "Sam"
    assert next(r for r in viewer_rows() if r.agent.name == "Sam").opened_at > sam_opened
    # A heartbeat within the window keeps the visit's start.
    age_rows(window - 10)
    started = next(r for r in viewer_rows() if r.agent.name == "Kim").opened_at
    presence(kim, case.id)
    assert next(r for r in viewer_rows() if r.agent.name == "Kim").opened_at == started
    assert "opened this case" in presence(sam, case.id)["viewers"][0]["notice"]
    # Rows silent longer than PRESENCE_FORGET_SECONDS are deleted by the next write.
    age_rows(app.config["PRESENCE_FORGET_SECONDS"] + 1)
    other, _ = make_case("submitted", email="other@example.test")
    presence(sam, other.id)
    assert [(r.case_id, r.agent.name) for r in viewer_rows()] == [(other.id, "Sam")]


def test_presence_is_staff_only_and_escalated_cases_are_the_leads(app, two_agents, make_agent,
                                                                  make_case):
    case, _ = make_case("escalated")
    assert two_agents["Sam"].get(f"/agent/cases/{case.id}/presence").status_code == 403
    make_agent("security_lead", email="lead@example.test", name="Lee")
    lead = app.test_client()
    assert sign_in(lead, "lead@example.test").status_code == 302
    assert presence(lead, case.id)["viewers"] == []
    anonymous = app.test_client().get(f"/agent/cases/{case.id}/presence")
    assert anonymous.status_code == 302 and "/agent/login" in anonymous.location
    assert [r.agent.name for r in viewer_rows()] == ["Lee"]
    assert two_agents["Sam"].get("/agent/cases/999999/presence").status_code == 404


def test_heartbeats_at_once_from_several_processes_never_fail(app, make_agent, make_case):
    """Many pages beating at once for the same case and agents (as gunicorn workers would,
    each on a connection of its own): one row per agent, no error."""
    case, _ = make_case("submitted")
    agents = [make_agent("agent")[0] for _ in range(3)]
    errors, start = [], threading.Barrier(6)

    def beat(agent_id: int) -> None:
        with app.app_context():
            try:
                agent = db.session.get(Agent, agent_id)
                start.wait(timeout=30)
                for _ in range(10):
                    service.presence.seen(case.id, agent)
            except Exception as err:  # noqa: BLE001 - reported to the test below
                errors.append(repr(err))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=beat, args=(a.id,)) for a in agents for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(r.agent_id for r in viewer_rows()) == sorted(a.id for a in agents)


def test_polling_does_not_keep_an_idle_session_alive(app, two_agents, make_case):
    from workflow import auth

    sam = two_agents["Sam"]
    case, _ = make_case("submitted")
    idle = app.config["SESSION_IDLE_SECONDS"]
    quiet_since = int(utcnow().timestamp()) - idle + 60  # a minute of the idle time left
    with sam.session_transaction() as session:
        session[auth.SEEN_AT] = quiet_since
    presence(sam, case.id)
    with sam.session_transaction() as session:
        assert session[auth.SEEN_AT] == quiet_since
    # Anything the agent does counts as activity, as before.
    assert sam.get(f"/agent/cases/{case.id}").status_code == 200
    with sam.session_transaction() as session:
        assert session[auth.SEEN_AT] > quiet_since
