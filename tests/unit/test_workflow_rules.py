"""The workflow's tables and rules without a database: the resubmission limit's reroute, what
the automated checks do with their findings, and who may confirm a challenge code."""

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from verification.checks import REASONS, Result
from workflow import machine, rules
from workflow.rules import Policy
from workflow.states import (
    ALL_STAFF,
    NEEDS_A_PERSON,
    SELFIE_RETAKE,
    WORK_STAGES,
    Actor,
    State,
)

LIMIT = 3
POLICY = Policy(max_resubmissions=LIMIT)
AGENT, LEAD = frozenset({Actor.AGENT}), frozenset({Actor.SECURITY_LEAD, Actor.AGENT})
SAM, DANA = 7, 8
# The system's risk assessment of the current photos: the automated checks have ended.
RISK_ASSESSED = SimpleNamespace(check="risk.assessment", result="clear", attempt=1,
                                reason_code="risk_low", actor_agent_id=None,
                                details={"level": "low"})


@dataclass
class Case:
    state: str
    resubmissions: int = 0
    challenge_code: str | None = None
    evidence_attempt: int = 1
    assignee_id: int | None = None
    assignee: object = None
    awaiting_from: str | None = None
    escalated_from: str | None = State.ID_CHECK.value
    checks: list = field(default_factory=list)
    account_id: int | None = 1


# --- the resubmission limit -------------------------------------------------------------------

def ask(case, actors=AGENT, reason="Blurry.", agent_id=SAM):
    """An agent (by default) asks for new photos under the policy's limit."""
    return machine.fire(case, "request_resubmission", actors, reason, agent_id=agent_id,
                        policy=POLICY)


def offered(case, actors) -> set[str]:
    return {row.trigger for row in machine.allowed_rows(case, actors, SAM, POLICY)}


@pytest.mark.parametrize("stage", WORK_STAGES)
@pytest.mark.parametrize("actors", [AGENT, frozenset({Actor.SYSTEM})], ids=["agent", "system"])
def test_below_the_limit_new_photos_are_asked_for(stage, actors):
    case = Case(stage.value, resubmissions=LIMIT - 1)
    fired = ask(case, actors)
    assert (case.state, fired.trigger, fired.actor) == ("awaiting_user", "request_resubmission",
                                                        None)
    assert (fired.actors, fired.reason) == (actors, "Blurry.")


@pytest.mark.parametrize("stage", WORK_STAGES)
@pytest.mark.parametrize("reason", ["Blurry.", None])
def test_past_the_limit_the_system_escalates_instead(stage, reason):
    case = Case(stage.value, resubmissions=LIMIT)
    fired = ask(case, reason=reason)
    assert case.state == "escalated" and fired.dest is State.ESCALATED
    assert (fired.trigger, fired.actors, fired.actor) == ("escalate",
                                                         frozenset({Actor.SYSTEM}), Actor.SYSTEM)
    assert fired.reason == f"Resubmission limit ({LIMIT}) reached. {reason or ''}".strip()
    assert fired.overriding is False
    # Still offered: asking is what the agent does; the table decides where it leads.
    assert "request_resubmission" in offered(Case(stage.value, resubmissions=LIMIT), AGENT)


def test_past_the_limit_an_escalated_case_is_decided_with_what_there_is():
    case = Case("escalated", resubmissions=LIMIT, checks=[RISK_ASSESSED])
    with pytest.raises(machine.TransitionNotAllowed, match=f"already sent new photos {LIMIT} "
                       "times: decide the case with what you have"):
        ask(case, LEAD)
    assert case.state == "escalated"
    listed = offered(case, LEAD)
    assert "request_resubmission" not in listed and "approve" in listed
    below = Case("escalated", resubmissions=LIMIT - 1)
    assert "request_resubmission" in offered(below, LEAD)


def test_the_limit_is_checked_before_the_claim_and_role_are_forgotten():
    """A refused claim or role is not turned into the system's escalation."""
    held = Case("id_check", resubmissions=LIMIT, assignee_id=DANA,
                assignee=SimpleNamespace(name="Dana"))
    with pytest.raises(machine.CaseClaimed):
        ask(held)
    with pytest.raises(machine.TransitionNotAllowed, match="role"):
        ask(Case("id_check", resubmissions=LIMIT), {Actor.USER}, agent_id=None)
    assert held.state == "id_check"


def test_below_the_limit_a_reason_is_still_needed():
    with pytest.raises(machine.ReasonRequired):
        ask(Case("id_check"), reason="  ")


def test_the_machine_refuses_the_request_itself_past_the_limit():
    """Nobody goes around the reroute by firing the machine's event directly."""
    kwargs = {"actors": AGENT, "agent_id": SAM, "reason": "Blurry.", "policy": POLICY}
    case = Case("id_check", resubmissions=LIMIT)
    assert machine.machine.events["request_resubmission"].trigger(case, **kwargs) is False
    assert case.state == "id_check"
    assert machine.machine.events["request_resubmission"].trigger(
        Case("id_check", resubmissions=LIMIT - 1), **kwargs) is True


def test_without_a_policy_there_is_no_limit():
    case = Case("escalated", resubmissions=100)
    machine.fire(case, "request_resubmission", LEAD, "Blurry.", agent_id=SAM)
    assert case.state == "awaiting_user"


# --- what the automated checks do with their findings ----------------------------------------

R, C = Result.REJECTED, Result.CONSIDER
ONE_NEEDING_A_PERSON = sorted(NEEDS_A_PERSON)[0]
ONE_RETAKE = sorted(SELFIE_RETAKE)[0]


@pytest.mark.parametrize("stage,state,outcome,codes,trigger", [
    ("document", "id_check", Result.CLEAR, {}, "confirm_document"),
    ("document", "id_check", R, {"document_blurry": R}, "request_resubmission"),
    ("document", "id_check", R, {"document_blurry": R, ONE_NEEDING_A_PERSON: C}, None),
    ("document", "id_check", R, {ONE_NEEDING_A_PERSON: R}, None),
    ("document", "id_check", C, {"document_blurry": C}, None),
    # Findings are stored at any stage, but the case moves only from the document check.
    *[("document", s, outcome, {}, None) for s in ("submitted", "selfie_check", "escalated",
                                                  "awaiting_user")
      for outcome in (Result.CLEAR, R)],
    ("selfie", "selfie_check", R, {ONE_RETAKE: R}, "request_resubmission"),
    ("selfie", "selfie_check", R, {code: R for code in SELFIE_RETAKE}, "request_resubmission"),
    # A finding only to consider does not stop the retake of a rejected photo.
    ("selfie", "selfie_check", R, {ONE_RETAKE: R, "challenge_code_not_read": C},
     "request_resubmission"),
    ("selfie", "selfie_check", R, {ONE_RETAKE: R, "face_mismatch": R}, None),
    ("selfie", "selfie_check", R, {"face_mismatch": R}, None),
    ("selfie", "selfie_check", C, {"face_seen_on_other_account": C}, None),
    ("selfie", "selfie_check", Result.CLEAR, {}, None),
    ("selfie", "escalated", R, {ONE_RETAKE: R}, None),
    ("selfie", "id_check", R, {ONE_RETAKE: R}, None),
])
def test_findings_routing(stage, state, outcome, codes, trigger):
    route = rules.route_findings(stage, state, outcome, codes)
    assert (route.trigger if route else None) == trigger


def test_a_route_says_what_to_fix_or_its_own_reason():
    clear = rules.route_findings("document", "id_check", Result.CLEAR, {})
    assert rules.route_reason(clear, {}) == "All document checks are clear."
    codes = {"selfie_blurry": R, "challenge_code_not_read": C, "selfie_no_face": R}
    retake = rules.route_findings("selfie", "selfie_check", R, codes)
    assert rules.route_reason(retake, codes) == \
        f"{REASONS['selfie_blurry'].user_text} {REASONS['selfie_no_face'].user_text}"


def test_finding_codes_keep_each_codes_worst_result_in_order():
    found = [SimpleNamespace(reason_code=code, result=result) for code, result in (
        ("b", Result.CONSIDER), ("a", Result.REJECTED), ("b", Result.REJECTED),
        ("c", Result.CLEAR), (None, Result.REJECTED), ("a", Result.CONSIDER))]
    assert list(rules.finding_codes(found).items()) == [("b", R), ("a", R)]


# --- who confirms a challenge code ------------------------------------------------------------

CONFIRMED = SimpleNamespace(check="selfie.challenge.review", result="clear", attempt=1,
                            actor_agent_id=SAM, reason_code="challenge_confirmed")
USER = frozenset({Actor.USER})


@pytest.mark.parametrize("state,actors,refusal", [
    ("selfie_check", AGENT, None),
    ("selfie_check", LEAD, None),
    ("escalated", LEAD, None),
    ("escalated", frozenset({Actor.ADMIN, Actor.AGENT}), None),
    ("escalated", AGENT, "Your role may not confirm the code of a case that is escalated."),
    ("selfie_check", USER, "Your role may not confirm"),
    *[(s, LEAD, "The code is confirmed at the selfie check, or by a security lead while the "
                "case is escalated.") for s in ("submitted", "id_check", "awaiting_user",
                                                "resolved")],
])
def test_the_code_is_confirmed_by_whoever_may_approve_now(state, actors, refusal):
    case = Case(state, challenge_code="482913")
    found = rules.challenge_refusal(case, actors)
    assert (found is None) is (refusal is None) and (refusal is None or found.startswith(refusal))
    assert rules.may_confirm_challenge(case, actors) is (refusal is None)


def test_the_approval_states_are_where_the_code_is_confirmed():
    staff = ALL_STAFF | {Actor.AGENT}
    confirmable = {s for s in State
                   if rules.may_confirm_challenge(Case(s.value, challenge_code="1"), staff)}
    assert confirmable == rules.approval_sources() == {State.SELFIE_CHECK, State.ESCALATED}


@pytest.mark.parametrize("case,refusal", [
    (Case("selfie_check"), "This request has no challenge code."),
    (Case("selfie_check", challenge_code="1", checks=[CONFIRMED]),
     "The code on this selfie is already confirmed."),
    (Case("escalated", challenge_code="1", checks=[CONFIRMED]),
     "The code on this selfie is already confirmed."),
])
def test_nothing_to_confirm(case, refusal):
    assert rules.challenge_refusal(case, LEAD) == refusal
