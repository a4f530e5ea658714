"""Two agents act on the same case at once: exactly one change, one clear conflict.

Runs on whichever database the suite runs on; `make test` runs it on PostgreSQL too, where
the row lock (SELECT ... FOR UPDATE) is real.
"""

import threading

import pytest

from extensions import db
from workflow import service
from workflow.models import Agent

ROUNDS = 25


def _act(app, case_id, agent_id, trigger, version, barrier, outcomes):
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        barrier.wait(timeout=30)
        try:
            service.fire_event(case_id, trigger, agent=agent, expected_version=version,
                               reason="racing")
            outcomes.append(("ok", trigger))
        except service.StaleCase:
            outcomes.append(("stale", trigger))
        except Exception as err:  # surfaced by the assertion below
            outcomes.append(("error", repr(err)))
        finally:
            db.session.remove()


@pytest.mark.parametrize("triggers", [("confirm_document", "decline"),
                                      ("confirm_document", "confirm_document")])
def test_concurrent_actions_produce_exactly_one_change(app, make_case, make_agent, triggers):
    first, _ = make_agent("agent")
    second, _ = make_agent("agent")
    for _round in range(ROUNDS):
        case, _ = make_case("id_check")
        events_before, version = len(case.events), case.version
        barrier, outcomes = threading.Barrier(2), []
        threads = [
            threading.Thread(target=_act, args=(app, case.id, agent.id, trigger, version,
                                                barrier, outcomes))
            for agent, trigger in zip((first, second), triggers, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        kinds = sorted(kind for kind, _ in outcomes)
        assert kinds == ["ok", "stale"], outcomes
        db.session.expire_all()
        fresh = service.get_case(case.id)
        winner = next(trigger for kind, trigger in outcomes if kind == "ok")
        assert len(fresh.events) == events_before + 1
        assert fresh.events[-1].event == winner
        assert fresh.version == version + 1
