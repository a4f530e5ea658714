"""Every path into an approval, from the transition table, refused unless all its rules hold.

No database: cases are in-memory objects with the columns and the check rows the rules read.
A new row into resolved(approved) fails ``test_every_path_into_approval_is_covered`` until
it is described in ``PATHS`` below, and then runs through every test here.
"""

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from workflow.machine import (
    CaseClaimed,
    ReasonRequired,
    TransitionNotAllowed,
    allowed_rows,
    fire,
    machine,
)
from workflow.rules import APPROVALS
from workflow.states import (
    ALL_STAFF,
    LEADS,
    OVERRIDES,
    TRANSITIONS,
    Actor,
    Resolution,
    State,
)

CODE = "482913"
SAM, DANA = 7, 8  # agent ids: Sam acts, Dana holds the case when it is claimed by another


@dataclass(frozen=True)
class Path:
    """What approving from a state takes, written out by hand."""

    actors: frozenset[Actor]
    needs_reason: bool
    # Whether approving against automated findings that did not clear is an override there.
    overridable: bool


PATHS = {
    State.SELFIE_CHECK: Path(ALL_STAFF, needs_reason=False, overridable=True),
    State.ESCALATED: Path(LEADS, needs_reason=True, overridable=False),
}

APPROVAL_ROWS = [row for row in TRANSITIONS if row.resolution is Resolution.APPROVED]
SOURCES = [(row, source) for row in APPROVAL_ROWS for source in row.sources]


@dataclass
class Check:
    check: str
    result: str
    reason_code: str | None = None
    attempt: int = 1
    actor_agent_id: int | None = None


@dataclass
class Case:
    state: str
    challenge_code: str | None = CODE
    evidence_attempt: int = 1
    resubmissions: int = 0
    assignee_id: int | None = None
    assignee: object = None
    awaiting_from: str | None = None
    escalated_from: str | None = State.SELFIE_CHECK.value
    checks: list[Check] = field(default_factory=list)


CONFIRMED = Check("selfie.challenge.review", "clear", "challenge_confirmed", actor_agent_id=SAM)
MISMATCH = Check("selfie.match.document", "rejected", "face_mismatch")


def ready(source: State, **overrides) -> Case:
    """A case at ``source`` on which every rule of approving holds (given a reason)."""
    fields = {"state": source.value, "checks": [CONFIRMED]} | overrides
    return Case(**fields)


def allowed_actors(row) -> frozenset[Actor]:
    """The staff actors of a person in the row's least powerful role (a lead also acts as
    an agent)."""
    role = Actor.AGENT if Actor.AGENT in row.actors else sorted(row.actors & ALL_STAFF)[0]
    return frozenset({role, Actor.AGENT})


def approve(case, actors, reason="Checked on a call.", agent_id=SAM):
    return fire(case, "approve", actors, reason, agent_id=agent_id)


def test_every_path_into_approval_is_covered():
    assert list(APPROVALS) == APPROVAL_ROWS
    assert {source for _, source in SOURCES} == set(PATHS)
    assert all(row.trigger == "approve" and row.dest is State.RESOLVED for row in APPROVAL_ROWS)


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_the_table_matches_the_paths_written_out(row, source):
    path = PATHS[source]
    assert row.actors == path.actors
    assert row.needs_reason is path.needs_reason
    assert (("approve", source) in OVERRIDES) is path.overridable


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_allowed_when_every_rule_holds(row, source):
    for claimed in (None, SAM):
        case = ready(source, assignee_id=claimed)
        fired = approve(case, allowed_actors(row))
        assert (case.state, fired.dest, fired.row) == ("resolved", State.RESOLVED, row)
        assert fired.overriding is False


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_refused_for_a_role_the_row_does_not_name(row, source):
    for actor in set(Actor) - row.actors:
        case = ready(source)
        with pytest.raises(TransitionNotAllowed):
            approve(case, {actor})
        assert case.state == source


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_refused_when_another_agent_holds_the_case(row, source):
    case = ready(source, assignee_id=DANA, assignee=SimpleNamespace(name="Dana"))
    with pytest.raises(CaseClaimed, match="Dana has claimed this case"):
        approve(case, allowed_actors(row) | LEADS)
    assert case.state == source


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
@pytest.mark.parametrize("reason", [None, "", "  "])
def test_a_reason_where_the_row_needs_one(row, source, reason):
    case = ready(source)
    if PATHS[source].needs_reason:
        with pytest.raises(ReasonRequired):
            approve(case, allowed_actors(row), reason)
        assert case.state == source
    else:
        approve(case, allowed_actors(row), reason)
        assert case.state == "resolved"


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
@pytest.mark.parametrize("checks", [
    [],  # nobody confirmed it
    [Check("selfie.challenge.review", "clear", "challenge_confirmed", attempt=0,
           actor_agent_id=SAM)],  # confirmed on the photos before these
    [Check("selfie.challenge.code", "clear")],  # read automatically only
], ids=["unconfirmed", "older_attempt", "read_automatically"])
def test_refused_until_the_challenge_code_is_confirmed(row, source, checks):
    case = ready(source, checks=checks)
    with pytest.raises(TransitionNotAllowed) as refused:
        approve(case, allowed_actors(row))
    assert str(refused.value) == (f"Compare the code on the selfie with {CODE} and confirm it "
                                  "before approving.")
    assert case.state == source
    # Offered all the same, so the page can say what is missing.
    assert row in allowed_rows(case, allowed_actors(row), SAM)


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_a_case_without_a_challenge_code_needs_no_confirmation(row, source):
    case = ready(source, challenge_code=None, checks=[])
    approve(case, allowed_actors(row))
    assert case.state == "resolved"


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_overriding_the_automated_checks_needs_a_reason(row, source):
    case = ready(source, checks=[CONFIRMED, MISMATCH])
    if PATHS[source].overridable:
        with pytest.raises(ReasonRequired):
            approve(case, allowed_actors(row), reason=None)
        assert case.state == source
    fired = approve(case, allowed_actors(row), reason="Same person: glasses off.")
    assert case.state == "resolved"
    assert fired.overriding is PATHS[source].overridable


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_the_machine_itself_refuses_each_missing_condition(row, source):
    """Firing the machine's event directly applies every rule too: nobody goes around fire()."""
    actors = allowed_actors(row)
    good = {"actors": actors, "agent_id": SAM, "reason": "Checked on a call."}
    broken = {
        "role": (ready(source), {**good, "actors": frozenset({Actor.USER})}),
        "claim": (ready(source, assignee_id=DANA), good),
        "challenge": (ready(source, checks=[]), good),
        "override": (ready(source, checks=[CONFIRMED, MISMATCH]), {**good, "reason": None}),
    }
    if PATHS[source].needs_reason:
        broken["reason"] = (ready(source), {**good, "reason": None})
    for name, (case, kwargs) in broken.items():
        moved = machine.events["approve"].trigger(case, **kwargs)
        expected = name == "override" and not PATHS[source].overridable \
            and not PATHS[source].needs_reason
        assert moved is expected, name
    case = ready(source)
    assert machine.events["approve"].trigger(case, **good) is True
    assert case.state == "resolved"


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_listing_follows_role_and_claim(row, source):
    actors = allowed_actors(row)
    assert row in allowed_rows(ready(source), actors, SAM)
    assert row not in allowed_rows(ready(source, assignee_id=DANA), actors, SAM)
    for actor in set(Actor) - row.actors:
        assert row not in allowed_rows(ready(source), {actor}, SAM)
