"""The state machine on its own: every state x event pair, without a database."""

from types import SimpleNamespace

import pytest

from workflow.machine import (
    CaseClaimed,
    ReasonRequired,
    TransitionNotAllowed,
    allowed_rows,
    claim_allows,
    fire,
    machine,
)
from workflow.states import TRIGGERS, Actor, State

S, I, F, E, A, R = (  # noqa: E741  (short names keep the table readable)
    ("submitted", "id_check", "selfie_check", "escalated", "awaiting_user",
    "resolved")
)

# The lifecycle of DESIGN.md written out by hand: (state, event) -> destination for a security
# lead (who may do everything staff can). Missing pairs must be refused. Cases that wait or are
# escalated remember the stage they came from: here awaiting_from=selfie_check and
# escalated_from=id_check.
LEAD_EXPECTED = {
    (S, "start_review"): I, (I, "confirm_document"): F, (F, "approve"): R, (E, "approve"): R,
    **{(s, "decline"): R for s in (S, I, F, E, A)},
    **{(s, "request_info"): A for s in (S, I, F, E)},
    **{(s, "request_resubmission"): A for s in (S, I, F, E)},
    **{(s, "escalate"): E for s in (S, I, F, A)},
    (E, "return_to_stage"): I,
    **{(s, "mark_duplicate"): R for s in (S, I, F, E, A)},
}
USER_EXPECTED = {
    (A, "user_replied"): F, (A, "user_resubmitted"): I,
    **{(s, "withdraw"): R for s in (S, I, F, E, A)},
}
SYSTEM_EXPECTED = {
    (S, "start_review"): I, (I, "confirm_document"): F,
    **{(s, "escalate"): E for s in (S, I, F, A)},
    **{(s, "request_resubmission"): A for s in (S, I, F)},
    (A, "expire"): R,
    # The owner of record stops an approved recovery: back to the security leads.
    (R, "stop_recovery"): E,
}
REASON = "a reason"


# An account of record, a clear document and the risk the system assessed once the checks
# ended: what approving from the selfie check reads.
DOCUMENT_CLEAR = SimpleNamespace(check="document.mrz.check_digits", result="clear", attempt=1,
                                 reason_code=None, actor_agent_id=None)
RISK_ASSESSED = SimpleNamespace(check="risk.assessment", result="clear", attempt=1,
                                reason_code="risk_low", actor_agent_id=None,
                                details={"level": "low"})


def make(state: str, awaiting_from=F, escalated_from=I, assignee_id=None, assignee=None,
         resolution=None):
    # A resolved case here was approved, unless the test says otherwise.
    resolution = resolution or ("approved" if state == R else None)
    return SimpleNamespace(state=state, resolution=resolution, awaiting_from=awaiting_from,
                           escalated_from=escalated_from, assignee_id=assignee_id,
                           assignee=assignee, account_id=1, evidence_attempt=1,
                           checks=[DOCUMENT_CLEAR, RISK_ASSESSED])


@pytest.mark.parametrize("actors,expected", [
    ({Actor.SECURITY_LEAD, Actor.AGENT}, LEAD_EXPECTED),
    ({Actor.USER}, USER_EXPECTED),
    ({Actor.SYSTEM}, SYSTEM_EXPECTED),
], ids=["security_lead", "user", "system"])
@pytest.mark.parametrize("state", [s.value for s in State])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_state_event_pair(state, trigger, actors, expected):
    case = make(state)
    want = expected.get((state, trigger))
    if want is None:
        with pytest.raises(TransitionNotAllowed):
            fire(case, trigger, actors, REASON)
        assert case.state == state
    else:
        row = fire(case, trigger, actors, REASON)
        assert case.state == want == row.dest


@pytest.mark.parametrize("resolution", ["declined", "withdrawn", "expired", "duplicate"])
def test_only_an_approved_recovery_is_stopped(resolution):
    case = make(R, resolution=resolution)
    with pytest.raises(TransitionNotAllowed, match="Only an approved recovery"):
        fire(case, "stop_recovery", {Actor.SYSTEM})
    assert case.state == R
    for staff in ({Actor.SECURITY_LEAD, Actor.AGENT}, {Actor.ADMIN, Actor.AGENT}):
        with pytest.raises(TransitionNotAllowed):
            fire(make(R), "stop_recovery", staff, REASON)


@pytest.mark.parametrize("state,trigger", [(F, "approve"), (I, "confirm_document"),
                                           (S, "start_review")])
def test_plain_agent_can_work_the_happy_path(state, trigger):
    case = make(state)
    fire(case, trigger, {Actor.AGENT})
    assert case.state != state


@pytest.mark.parametrize("trigger", ["approve", "return_to_stage", "decline", "mark_duplicate",
                                     "request_info", "request_resubmission"])
def test_only_leads_decide_escalated_cases(trigger):
    case = make(E)
    with pytest.raises(TransitionNotAllowed, match="role"):
        fire(case, trigger, {Actor.AGENT}, REASON)
    assert case.state == E
    assert allowed_rows(case, {Actor.AGENT}) == []
    fire(case, trigger, {Actor.SECURITY_LEAD, Actor.AGENT}, REASON)
    assert case.state != E


@pytest.mark.parametrize("asked_from,back_to", [(I, I), (F, I), (S, I), (E, E)])
def test_new_photos_go_to_the_document_check_unless_a_lead_asked(asked_from, back_to):
    case = make(A, awaiting_from=asked_from)
    fire(case, "user_resubmitted", {Actor.USER})
    assert case.state == back_to


@pytest.mark.parametrize("trigger,state", [("decline", I), ("request_info", F), ("escalate", S),
                                           ("mark_duplicate", I), ("return_to_stage", E)])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_transitions_that_need_a_reason_refuse_without_one(trigger, state, reason):
    case = make(state)
    with pytest.raises(ReasonRequired):
        fire(case, trigger, {Actor.ADMIN, Actor.AGENT}, reason)
    assert case.state == state


@pytest.mark.parametrize("stage", [S, I, F, E])
def test_user_reply_returns_to_the_stage_the_case_left(stage):
    case = make(A, awaiting_from=stage)
    fire(case, "user_replied", {Actor.USER})
    assert case.state == stage


@pytest.mark.parametrize("stage", [S, I, F, A])
def test_return_from_escalation_goes_back_where_it_came_from(stage):
    case = make(E, escalated_from=stage)
    fire(case, "return_to_stage", {Actor.SECURITY_LEAD}, REASON)
    assert case.state == stage


def test_allowed_rows_match_what_fire_accepts():
    for state in State:
        for actors in ({Actor.AGENT}, {Actor.SECURITY_LEAD, Actor.AGENT}, {Actor.USER}):
            allowed = {row.trigger for row in allowed_rows(make(state.value), actors)}
            for trigger in TRIGGERS:
                case = make(state.value)
                try:
                    fire(case, trigger, actors, REASON)
                    accepted = True
                except TransitionNotAllowed:
                    accepted = False
                assert accepted == (trigger in allowed), (state, trigger, actors)


@pytest.mark.parametrize("resolution", ["approved", "declined", "withdrawn", "expired",
                                        "duplicate"])
def test_resolved_is_terminal_but_for_the_owners_stop(resolution):
    # Nobody moves a resolved case, except the system when the owner of record stops an
    # approved recovery.
    case = make(R, resolution=resolution)
    assert allowed_rows(case, set(Actor) - {Actor.SYSTEM}) == []
    assert [row.trigger for row in allowed_rows(case, {Actor.SYSTEM})] == \
        (["stop_recovery"] if resolution == "approved" else [])


def test_unknown_trigger_is_refused():
    with pytest.raises(TransitionNotAllowed):
        fire(make(S), "teleport", {Actor.ADMIN})


# --- claims: who may act on a case another agent holds ---------------------------------------

SAM, DANA = 7, 8  # agent ids: Sam holds the claimed cases below, Dana does not
STAFF = {"agent": {Actor.AGENT}, "security_lead": {Actor.SECURITY_LEAD, Actor.AGENT},
         "admin": {Actor.ADMIN, Actor.AGENT}}


def claimed(state: str) -> SimpleNamespace:
    return make(state, assignee_id=SAM, assignee=SimpleNamespace(name="Sam"))


def outcome(case, trigger, actors, agent_id):
    """The state ``trigger`` takes ``case`` to, or the error that refused it."""
    try:
        return fire(case, trigger, actors, REASON, agent_id=agent_id).dest
    except (TransitionNotAllowed, CaseClaimed) as err:
        return type(err)


@pytest.mark.parametrize("role", list(STAFF))
@pytest.mark.parametrize("state", [s.value for s in State])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_claimed_case_moves_only_for_its_holder(state, trigger, role):
    actors = STAFF[role]
    unclaimed = outcome(make(state), trigger, actors, DANA)
    # The holder may do exactly what anyone of their role may do on an unclaimed case.
    assert outcome(claimed(state), trigger, actors, SAM) == unclaimed
    # Anyone else, leads and admins included, is refused whatever the table would allow.
    case = claimed(state)
    refused = outcome(case, trigger, actors, DANA)
    assert refused == (TransitionNotAllowed if unclaimed is TransitionNotAllowed
                       else CaseClaimed)
    assert case.state == state


@pytest.mark.parametrize("actors,expected", [({Actor.USER}, USER_EXPECTED),
                                             ({Actor.SYSTEM}, SYSTEM_EXPECTED)],
                         ids=["user", "system"])
@pytest.mark.parametrize("state", [s.value for s in State])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_the_user_and_the_system_move_claimed_cases(state, trigger, actors, expected):
    want = expected.get((state, trigger), TransitionNotAllowed)
    assert outcome(claimed(state), trigger, actors, None) == want


@pytest.mark.parametrize("role", list(STAFF))
def test_allowed_rows_offer_nothing_to_anyone_but_the_holder(role):
    for state in State:
        everyone = allowed_rows(make(state.value), STAFF[role], DANA)
        assert allowed_rows(claimed(state.value), STAFF[role], SAM) == everyone
        assert allowed_rows(claimed(state.value), STAFF[role], DANA) == []
        assert allowed_rows(claimed(state.value), STAFF[role]) == []  # no agent named
        assert allowed_rows(claimed(state.value), {Actor.SYSTEM}) == \
            allowed_rows(make(state.value), {Actor.SYSTEM})


def test_the_refusal_names_the_holder():
    with pytest.raises(CaseClaimed, match="Sam has claimed this case") as refused:
        fire(claimed(I), "confirm_document", STAFF["security_lead"], agent_id=DANA)
    assert refused.value.holder == "Sam"
    nameless = make(I, assignee_id=SAM)
    with pytest.raises(CaseClaimed, match=f"agent {SAM}"):
        fire(nameless, "confirm_document", STAFF["agent"], agent_id=DANA)


def test_the_claim_is_a_condition_of_the_machine_itself():
    """Firing the machine directly applies the claim too: nobody can go around fire()."""
    case = claimed(S)
    assert machine.events["start_review"].trigger(
        case, actors=frozenset(STAFF["agent"]), agent_id=DANA) is False
    assert machine.events["start_review"].trigger(case) is False  # who acts is unknown
    assert case.state == S
    assert machine.events["start_review"].trigger(
        case, actors=frozenset(STAFF["agent"]), agent_id=SAM) is True
    assert case.state == I


@pytest.mark.parametrize("holder,actors,agent_id,allowed", [
    (None, {Actor.AGENT}, DANA, True),
    (None, {Actor.AGENT}, None, True),
    (SAM, {Actor.AGENT}, SAM, True),
    (SAM, {Actor.AGENT}, DANA, False),
    (SAM, {Actor.ADMIN, Actor.AGENT}, DANA, False),
    (SAM, {Actor.AGENT}, None, False),
    (SAM, {Actor.SYSTEM}, None, True),
    (SAM, {Actor.USER}, None, True),
])
def test_claim_allows(holder, actors, agent_id, allowed):
    assert claim_allows(make(I, assignee_id=holder), actors, agent_id) is allowed


@pytest.mark.parametrize("state", [s.value for s in State])
def test_escalated_cases_are_the_leads_alone(state):
    from workflow.rules import may_open

    for actors in ({Actor.SECURITY_LEAD, Actor.AGENT}, {Actor.ADMIN, Actor.AGENT}):
        assert may_open(state, actors)
    assert may_open(state, {Actor.AGENT}) == (state != E)
