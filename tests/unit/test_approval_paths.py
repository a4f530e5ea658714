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
    ChecksNotDone,
    FourEyesRequired,
    NothingToRecover,
    OverrideNotConfirmed,
    ReasonRequired,
    StageNotCleared,
    TransitionNotAllowed,
    allowed_rows,
    fire,
    machine,
)
from workflow.rules import APPROVALS
from workflow.states import (
    ALL_STAFF,
    APPROVAL_REVIEWS,
    APPROVAL_STAGES,
    FOUR_EYES_ISSUE_TYPES,
    LEADS,
    OVERRIDES,
    TRANSITIONS,
    Actor,
    Resolution,
    State,
)

CODE = "482913"
SAM, DANA = 7, 8  # agent ids: Sam acts, Dana holds the case when it is claimed by another
PAT = 9  # agent id of a staff member who proposes approvals
ACCOUNT = 42


@dataclass(frozen=True)
class Path:
    """What approving from a state takes, written out by hand."""

    actors: frozenset[Actor]
    needs_reason: bool
    # Whether approving against automated findings that did not clear is an override there.
    overridable: bool
    # The stages the approving person reviews: the approval may override their results.
    reviews: tuple[str, ...]


PATHS = {
    State.SELFIE_CHECK: Path(ALL_STAFF, needs_reason=False, overridable=True,
                             reviews=("selfie",)),
    State.ESCALATED: Path(LEADS, needs_reason=True, overridable=False,
                          reviews=("document", "selfie")),
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
    details: dict = field(default_factory=dict)


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
    email: str = "anna@example.test"
    account_id: int | None = ACCOUNT
    issue_type: str = "forgot_password"
    proposal_agent_id: int | None = None
    proposal_attempt: int | None = None
    proposal_risk: str | None = None
    proposer: object = None


CONFIRMED = Check("selfie.challenge.review", "clear", "challenge_confirmed", actor_agent_id=SAM)
MISMATCH = Check("selfie.match.document", "rejected", "face_mismatch")
# The document stage judged clear by the automated checks, as the selfie check expects.
DOCUMENT_CLEAR = Check("document.mrz.check_digits", "clear")


# The risk the system assessed once the automated checks of the photos ended.
LOW_RISK = Check("risk.assessment", "clear", "risk_low", details={"level": "low"})


def ready(source: State, *, assessed: bool = True, **overrides) -> Case:
    """A case at ``source`` on which every rule of approving holds (given a reason).

    Unless the checks name one, the system assessed the risk of the current photos (low),
    as it does when their automated checks end; not ``assessed``: they have not ended.
    """
    fields = {"state": source.value, "checks": [CONFIRMED, DOCUMENT_CLEAR]} | overrides
    case = Case(**fields)
    if assessed and not any(c.check == "risk.assessment" and c.attempt == case.evidence_attempt
                            for c in case.checks):
        case.checks = [*case.checks, _now(LOW_RISK, case.evidence_attempt)]
    return case


def allowed_actors(row) -> frozenset[Actor]:
    """The staff actors of a person in the row's least powerful role (a lead also acts as
    an agent)."""
    role = Actor.AGENT if Actor.AGENT in row.actors else sorted(row.actors & ALL_STAFF)[0]
    return frozenset({role, Actor.AGENT})


def approve(case, actors, reason="Checked on a call.", agent_id=SAM, override=False):
    return fire(case, "approve", actors, reason, agent_id=agent_id, override=override)


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
    assert APPROVAL_REVIEWS[source] == path.reviews


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
    case = ready(source, challenge_code=None, checks=[DOCUMENT_CLEAR])
    approve(case, allowed_actors(row))
    assert case.state == "resolved"


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_overriding_the_automated_checks_needs_a_reason(row, source):
    case = ready(source, checks=[CONFIRMED, DOCUMENT_CLEAR, MISMATCH])
    if PATHS[source].overridable:
        with pytest.raises(ReasonRequired):
            approve(case, allowed_actors(row), reason=None, override=True)
        assert case.state == source
    fired = approve(case, allowed_actors(row), reason="Same person: glasses off.",
                    override=True)
    assert case.state == "resolved"
    assert fired.overriding is PATHS[source].overridable


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_the_machine_itself_refuses_each_missing_condition(row, source):
    """Firing the machine's event directly applies every rule too: nobody goes around fire()."""
    actors = allowed_actors(row)
    good = {"actors": actors, "agent_id": SAM, "reason": "Checked on a call."}
    lead = {**good, "actors": frozenset({Actor.SECURITY_LEAD, Actor.AGENT})}
    broken = {
        "role": (ready(source), {**good, "actors": frozenset({Actor.USER})}),
        "claim": (ready(source, assignee_id=DANA), good),
        "challenge": (ready(source, checks=[]), good),
        "override": (ready(source, checks=[CONFIRMED, DOCUMENT_CLEAR, MISMATCH]),
                     {**good, "reason": None, "override": True}),
        "account": (ready(source, account_id=None), good),
        "checks_not_done": (ready(source, assessed=False), good),
        "override_unconfirmed": (ready(source, checks=[CONFIRMED, DOCUMENT_CLEAR, MISMATCH]),
                                 good),
        "four_eyes_unproposed": (ready(source, issue_type="lost_2fa"), lead),
        "four_eyes_own_proposal": (proposed(source), {**lead, "agent_id": PAT}),
        "four_eyes_withdrawn": (proposed(source, evidence_attempt=2,
                                         checks=[_now(CONFIRMED, 2), _now(DOCUMENT_CLEAR, 2)]),
                                lead),
    }
    if Actor.AGENT in row.actors:
        broken["four_eyes_plain_agent"] = (proposed(source), good)
    for stage in set(APPROVAL_STAGES) - set(PATHS[source].reviews):
        broken[f"{stage}_unchecked"] = (ready(source, checks=[CONFIRMED]), good)
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
    case = proposed(source)
    assert machine.events["approve"].trigger(case, **lead) is True
    assert case.state == "resolved"


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_listing_follows_role_and_claim(row, source):
    actors = allowed_actors(row)
    assert row in allowed_rows(ready(source), actors, SAM)
    assert row not in allowed_rows(ready(source, assignee_id=DANA), actors, SAM)
    for actor in set(Actor) - row.actors:
        assert row not in allowed_rows(ready(source), {actor}, SAM)


# --- an account of record -----------------------------------------------------------------

@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_refused_without_an_account_of_record(row, source):
    case = ready(source, account_id=None)
    for actors in (allowed_actors(row), allowed_actors(row) | LEADS):
        with pytest.raises(NothingToRecover) as refused:
            approve(case, actors, override=True)
        assert case.state == source
        assert str(refused.value) == (
            "No account of record matches anna@example.test: there is nothing to recover, so "
            "this request cannot be approved. Decline it (the user can file again with the "
            "address of their account), or close it as a duplicate when the same person has "
            "filed a request that matched their account.")
        # Not offered: there is no approval to reach.
        assert row not in allowed_rows(case, actors, SAM)
    declines = {r.trigger for r in allowed_rows(case, allowed_actors(row), SAM)}
    assert {"decline", "mark_duplicate"} <= declines


# --- the automated checks of the current photos have had their say -----------------------

CHECKS_NOT_DONE = ("The automated checks of these photos have not finished: approve once they "
                   "have, or retry them if they failed.")
STAGE_REVIEWS = [Check(f"{stage}.review", "clear", "agent_confirmed", actor_agent_id=DANA)
                 for stage in APPROVAL_STAGES]


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
@pytest.mark.parametrize("checks", [
    [CONFIRMED, DOCUMENT_CLEAR],  # the selfie job has not ended
    [CONFIRMED, *STAGE_REVIEWS],  # a person judged every stage before the checks
    # A person's own "assessment", or the system's of the photos before these.
    [CONFIRMED, DOCUMENT_CLEAR, Check("risk.assessment", "clear", "risk_low",
                                      actor_agent_id=DANA, details={"level": "low"})],
    [CONFIRMED, DOCUMENT_CLEAR, Check("risk.assessment", "clear", "risk_low", attempt=0,
                                      details={"level": "low"})],
], ids=["selfie_job_running", "reviewed_by_people", "assessed_by_a_person", "older_photos"])
def test_refused_until_the_automated_checks_have_had_their_say(row, source, checks):
    """Whatever the issue type and the reviews, an approval waits for the system's risk
    assessment of the current photos (after the selfie job, or when the checks failed)."""
    for issue_type in ("forgot_password", "lost_2fa"):
        case = ready(source, assessed=False, checks=checks, issue_type=issue_type)
        for actors in (allowed_actors(row), LEAD_ACTORS, frozenset({Actor.ADMIN, Actor.AGENT})):
            if not row.actors & actors:
                continue
            with pytest.raises(ChecksNotDone) as refused:
                approve(case, actors, override=True)
            assert str(refused.value) == CHECKS_NOT_DONE
            assert case.state == source
            # Not offered while the checks have not ended, as four eyes hide it.
            assert row not in allowed_rows(case, actors, SAM)
    # Once the system assessed the risk of these photos, the same case is approved.
    case = ready(source, checks=[*checks, LOW_RISK])
    assert row in allowed_rows(case, allowed_actors(row), SAM)
    approve(case, allowed_actors(row), override=True)
    assert case.state == "resolved"


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_the_checks_are_waited_for_after_the_account_and_before_anything_else(row, source):
    """No account: nothing to recover whatever the checks; the checks refuse before a
    missing reason, an unconfirmed code, four eyes, the stages and the overrides."""
    with pytest.raises(NothingToRecover):
        approve(ready(source, assessed=False, account_id=None), allowed_actors(row))
    case = ready(source, assessed=False, checks=[MISMATCH], issue_type="lost_2fa")
    with pytest.raises(ChecksNotDone):
        approve(case, allowed_actors(row), reason=None)
    assert case.state == source


# --- each stage clear, or overridden by a person with a reason ----------------------------

def _now(check: Check, attempt: int) -> Check:
    return Check(check.check, check.result, check.reason_code, attempt, check.actor_agent_id,
                 check.details)


DOCUMENT_REJECTED = Check("document.mrz.found", "rejected", "mrz_not_found")
DOCUMENT_CONSIDER = Check("document.data.name", "consider", "name_partial_match")
SELFIE_CONSIDER = Check("selfie.known_faces", "consider", "face_seen_on_other_account")
OVERRODE = {stage: Check(f"{stage}.review", "clear", "agent_overrode", actor_agent_id=DANA)
            for stage in APPROVAL_STAGES}
FINDINGS = {"document": {"rejected": DOCUMENT_REJECTED, "consider": DOCUMENT_CONSIDER},
            "selfie": {"rejected": MISMATCH, "consider": SELFIE_CONSIDER}}
UNREVIEWED = [(row, source, stage) for row, source in SOURCES for stage in APPROVAL_STAGES
              if stage not in PATHS[source].reviews]
REVIEWED = [(row, source, stage) for row, source in SOURCES for stage in PATHS[source].reviews]


def _others(stage: str) -> list[Check]:
    """Clear results of every stage but ``stage``."""
    return [Check(f"{other}.quality", "clear") for other in APPROVAL_STAGES if other != stage]


@pytest.mark.parametrize("row,source,stage", UNREVIEWED,
                         ids=[f"{s.value}-{st}" for _, s, st in UNREVIEWED])
@pytest.mark.parametrize("result", ["rejected", "consider", "unchecked"])
def test_a_stage_the_approval_does_not_review_must_be_clear_or_overridden(row, source, stage,
                                                                          result):
    findings = [] if result == "unchecked" else [FINDINGS[stage][result]]
    case = ready(source, checks=[CONFIRMED, *_others(stage), *findings])
    with pytest.raises(StageNotCleared) as refused:
        approve(case, allowed_actors(row), override=True)
    assert case.state == source
    message = str(refused.value)
    if result == "unchecked":
        assert message == (f"Nobody has checked the {stage} of the current photos (attempt 1): "
                           "escalate the case so that a security lead can decide.")
    else:
        found = findings[0]
        assert message == (f"The {stage} check of the current photos is {result} "
                           f"({found.check} ({found.reason_code})) and nobody has overridden "
                           "it: escalate the case so that a security lead can decide.")
    # A person who overrode it (with a reason, at its own stage) lets the approval through.
    if result != "unchecked":
        case = ready(source, checks=[CONFIRMED, *_others(stage), *findings, OVERRODE[stage]])
        approve(case, allowed_actors(row))
        assert case.state == "resolved"
    # A person's clear review of an unchecked stage is a check of it.
    case = ready(source, checks=[CONFIRMED, *_others(stage),
                                 Check(f"{stage}.review", "clear", "agent_confirmed",
                                       actor_agent_id=DANA)])
    approve(case, allowed_actors(row))
    assert case.state == "resolved"


@pytest.mark.parametrize("row,source,stage", UNREVIEWED,
                         ids=[f"{s.value}-{st}" for _, s, st in UNREVIEWED])
def test_an_override_of_the_photos_before_does_not_count(row, source, stage):
    older = _now(OVERRODE[stage], 1)
    case = ready(source, evidence_attempt=2,
                 checks=[_now(CONFIRMED, 2), *(_now(c, 2) for c in _others(stage)),
                         older, _now(FINDINGS[stage]["rejected"], 2)])
    with pytest.raises(StageNotCleared):
        approve(case, allowed_actors(row), override=True)
    assert case.state == source


@pytest.mark.parametrize("row,source,stage", REVIEWED,
                         ids=[f"{s.value}-{st}" for _, s, st in REVIEWED])
def test_overriding_a_rejected_result_is_an_explicit_act(row, source, stage):
    found = FINDINGS[stage]["rejected"]
    case = ready(source, checks=[CONFIRMED, *_others(stage), found])
    with pytest.raises(OverrideNotConfirmed) as refused:
        approve(case, allowed_actors(row))
    assert case.state == source
    assert str(refused.value) == (f"Approving overrides rejected results: {found.check} "
                                  f"({found.reason_code}). Confirm that you override them, "
                                  "with your reason, to approve.")
    assert [(f.check, f.reason_code) for f in refused.value.findings] == \
        [(found.check, found.reason_code)]
    # Offered all the same: the page asks for the confirmation step.
    assert row in allowed_rows(case, allowed_actors(row), SAM)
    # The confirmation needs a written reason too.
    with pytest.raises(ReasonRequired):
        approve(case, allowed_actors(row), reason="  ", override=True)
    fired = approve(case, allowed_actors(row), override=True)
    assert case.state == "resolved"
    assert [(f.check, f.reason_code) for f in fired.overridden] == \
        [(found.check, found.reason_code)]


@pytest.mark.parametrize("row,source,stage", REVIEWED,
                         ids=[f"{s.value}-{st}" for _, s, st in REVIEWED])
def test_a_result_to_consider_is_overridden_with_a_reason_alone(row, source, stage):
    case = ready(source, checks=[CONFIRMED, *_others(stage), FINDINGS[stage]["consider"]])
    with pytest.raises(ReasonRequired):
        approve(case, allowed_actors(row), reason=None)
    fired = approve(case, allowed_actors(row))
    assert case.state == "resolved" and fired.overridden == ()


@pytest.mark.parametrize("row,source,stage", REVIEWED,
                         ids=[f"{s.value}-{st}" for _, s, st in REVIEWED])
def test_a_rejected_result_already_overridden_or_of_older_photos_needs_no_confirmation(
        row, source, stage):
    found = FINDINGS[stage]["rejected"]
    case = ready(source, checks=[CONFIRMED, *_others(stage), found, OVERRODE[stage]])
    approve(case, allowed_actors(row))
    assert case.state == "resolved"
    case = ready(source, evidence_attempt=2,
                 checks=[_now(CONFIRMED, 2), *(_now(c, 2) for c in _others(stage)), found])
    approve(case, allowed_actors(row))
    assert case.state == "resolved"


# --- four eyes ----------------------------------------------------------------------------

LEAD_ACTORS = frozenset({Actor.SECURITY_LEAD, Actor.AGENT})
HIGH_RISK = Check("risk.assessment", "consider", "risk_high", details={"level": "high"})


def proposed(source: State, **overrides) -> Case:
    """A lost-2FA case at ``source`` whose approval Pat proposed on its current photos."""
    fields = {"issue_type": "lost_2fa", "proposal_agent_id": PAT, "proposal_attempt": 1,
              "proposal_risk": "low", "proposer": SimpleNamespace(name="Pat")} | overrides
    return ready(source, **fields)


FOUR_EYES_CASES = {
    **{issue: {"issue_type": issue} for issue in sorted(FOUR_EYES_ISSUE_TYPES)},
    "high_risk": {"checks": [CONFIRMED, DOCUMENT_CLEAR, HIGH_RISK]},
}


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
@pytest.mark.parametrize("why", list(FOUR_EYES_CASES))
def test_four_eyes_need_a_proposal_and_a_different_lead(row, source, why):
    facts = FOUR_EYES_CASES[why]
    risk = "high" if why == "high_risk" else "low"
    case = ready(source, **facts)
    with pytest.raises(FourEyesRequired, match="needs four eyes .*: one staff member proposes "
                       "the approval, with a reason, then a different security lead or admin "
                       "approves it."):
        approve(case, LEAD_ACTORS)
    assert row not in allowed_rows(case, LEAD_ACTORS, SAM)
    case = proposed(source, **facts, proposal_risk=risk)
    with pytest.raises(FourEyesRequired, match="^You proposed approving this case: a "
                       "different security lead or admin must approve it.$"):
        approve(case, LEAD_ACTORS, agent_id=PAT)
    assert row not in allowed_rows(case, LEAD_ACTORS, PAT)
    if Actor.AGENT in row.actors:
        with pytest.raises(FourEyesRequired, match="Pat proposed it; a security lead or admin "
                           "approves it."):
            approve(case, {Actor.AGENT})
        assert row not in allowed_rows(case, {Actor.AGENT}, SAM)
    assert case.state == source
    assert row in allowed_rows(case, LEAD_ACTORS, SAM)
    approve(case, {Actor.ADMIN, Actor.AGENT})
    assert case.state == "resolved"


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
@pytest.mark.parametrize("change,why", [
    ({"evidence_attempt": 2, "checks": [_now(CONFIRMED, 2), _now(DOCUMENT_CLEAR, 2)]},
     "new photos were sent (attempt 2; proposed on attempt 1)"),
    ({"checks": [CONFIRMED, DOCUMENT_CLEAR, HIGH_RISK]},
     "the risk changed from low to high"),
    ({"proposal_risk": "medium"}, "the risk changed from medium to low"),
], ids=["new_photos", "risk_raised", "risk_lowered"])
def test_new_photos_or_another_risk_level_withdraw_the_proposal(row, source, change, why):
    case = proposed(source, **change)
    with pytest.raises(FourEyesRequired) as refused:
        approve(case, LEAD_ACTORS)
    assert str(refused.value).endswith(f"and the proposal by Pat was withdrawn: {why}. Propose "
                                       "the approval again.")
    assert case.state == source
    assert row not in allowed_rows(case, LEAD_ACTORS, SAM)


@pytest.mark.parametrize("row,source", SOURCES, ids=[s.value for _, s in SOURCES])
def test_a_case_that_needs_no_four_eyes_is_approved_by_one_person(row, source):
    case = ready(source, checks=[CONFIRMED, DOCUMENT_CLEAR,
                                 Check("risk.assessment", "consider", "risk_medium",
                                       details={"level": "medium"})])
    approve(case, allowed_actors(row))
    assert case.state == "resolved"
