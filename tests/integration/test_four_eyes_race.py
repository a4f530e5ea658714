"""Four eyes with two real staff members acting at once, on the database the suite runs on.

On PostgreSQL (`DATABASE_URL=postgresql+psycopg://...`) the case row is really locked
(SELECT ... FOR UPDATE): whatever the timing, a four-eyes case is approved once, by a lead who
did not propose it, after exactly one standing proposal.
"""

import threading

import pytest

from extensions import db
from workflow import service
from workflow.models import Agent

pytestmark = pytest.mark.postgres

ROUNDS = 10
REASON = "Checked the ID and selfie side by side."


def _run(app, agent_id, barrier, outcomes, action):
    """Run ``action(agent)`` in its own app context once every racer is ready."""
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        barrier.wait(timeout=30)
        try:
            action(agent)
            outcomes.append(("ok", agent_id))
        except service.StaleCase:
            outcomes.append(("stale", agent_id))
        except (service.ActionRefused, service.TransitionNotAllowed) as err:
            outcomes.append(("refused", str(err)))
        except Exception as err:  # surfaced by the assertions below
            outcomes.append(("error", repr(err)))
        finally:
            db.session.remove()


def _race(app, racers) -> list[tuple[str, object]]:
    """Start one thread per (agent, action) at the same moment; their outcomes."""
    barrier, outcomes = threading.Barrier(len(racers)), []
    threads = [threading.Thread(target=_run, args=(app, agent.id, barrier, outcomes, action))
               for agent, action in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def proposing(case_id: int, version: int):
    """The action of proposing to approve the case seen at ``version``."""
    def propose(agent):
        service.propose_approval(case_id, agent, version, f"Checked by {agent.name}.")
    return propose


def approving(case_id: int, version: int):
    """The action of approving the case seen at ``version``."""
    def approve(agent):
        service.fire_event(case_id, "approve", agent=agent, expected_version=version,
                           reason=REASON)
    return approve


@pytest.fixture
def staff(make_agent):
    """Sam and Kim (agents), Lee (security lead), Ada (admin), by name."""
    return {name: make_agent(role, name=name)[0]
            for name, role in (("Sam", "agent"), ("Kim", "agent"), ("Lee", "security_lead"),
                               ("Ada", "admin"))}


@pytest.fixture
def lost_2fa_case(make_case, make_account):
    """Builder: a lost-2FA case at the selfie check, with its account of record."""
    counter = iter(range(10_000))

    def build():
        email = f"holder{next(counter)}@example.test"
        make_account(email=email)
        case, _ = make_case("selfie_check", email=email, issue_type="lost_2fa")
        return case

    return build


def test_two_leads_approving_a_proposal_at_once_approve_it_once(app, staff, lost_2fa_case):
    sam, lee, ada = staff["Sam"], staff["Lee"], staff["Ada"]
    for _round in range(ROUNDS):
        case = lost_2fa_case()
        case = service.propose_approval(case.id, sam, case.version, "All checks clear.")
        version, events = case.version, len(case.events)
        approve = approving(case.id, version)
        outcomes = _race(app, [(lee, approve), (ada, approve)])
        assert sorted(kind for kind, _ in outcomes) == ["ok", "stale"], outcomes
        db.session.expire_all()
        fresh = service.get_case(case.id)
        winner = next(who for kind, who in outcomes if kind == "ok")
        assert (fresh.state, fresh.resolution) == ("resolved", "approved")
        assert [(e.event, e.actor_agent_id) for e in fresh.events[events:]] == [
            ("approve", winner)]
        assert fresh.proposal_agent_id == sam.id != winner


def test_proposing_and_approving_at_once_never_approves_without_a_proposal(
        app, staff, lost_2fa_case):
    """The lead sees the case before anyone proposed; the agent proposes meanwhile."""
    sam, lee = staff["Sam"], staff["Lee"]
    for _round in range(ROUNDS):
        case = lost_2fa_case()
        outcomes = _race(app, [(sam, proposing(case.id, case.version)),
                               (lee, approving(case.id, case.version))])
        db.session.expire_all()
        fresh = service.get_case(case.id)
        # The approval, seen before any proposal, is refused (four eyes) or finds the case
        # changed (stale); the proposal stands either way.
        kinds = sorted(kind for kind, _ in outcomes)
        assert kinds in (["ok", "refused"], ["ok", "stale"]), outcomes
        assert ("ok", sam.id) in outcomes
        assert fresh.state == "selfie_check" and fresh.proposal_agent_id == sam.id
        assert [e.event for e in fresh.events].count("approval_proposed") == 1


def test_two_people_proposing_at_once_make_one_proposal(app, staff, lost_2fa_case):
    sam, kim, lee = staff["Sam"], staff["Kim"], staff["Lee"]
    for _round in range(ROUNDS):
        case = lost_2fa_case()
        propose = proposing(case.id, case.version)
        outcomes = _race(app, [(sam, propose), (kim, propose)])
        assert sorted(kind for kind, _ in outcomes) == ["ok", "stale"], outcomes
        db.session.expire_all()
        fresh = service.get_case(case.id)
        proposer = next(who for kind, who in outcomes if kind == "ok")
        assert fresh.proposal_agent_id == proposer
        assert [e.event for e in fresh.events].count("approval_proposed") == 1
        # The proposer cannot approve; the lead can.
        with pytest.raises(service.FourEyesRequired):
            service.fire_event(case.id, "approve", agent=db.session.get(Agent, proposer),
                               expected_version=fresh.version, reason=REASON)
        service.fire_event(case.id, "approve", agent=lee, expected_version=fresh.version,
                           reason=REASON)
        assert service.get_case(case.id).resolution == "approved"
