"""Moving a case: the machine fired for a loaded case, and what goes with a move.

The stage columns, the user-facing message, a person's review as a check result and the
audit event are written in the caller's transaction.
"""

from __future__ import annotations

from verification.checks import CheckResult

from .. import machine, rules
from ..models import Agent, Message, RecoveryCase, utcnow
from ..states import HUMAN_REVIEWS, Actor, Resolution, State, Transition
from . import hooks
from .approvals import withdraw_stale_proposal
from .policies import workflow_policy
from .recovery import plan_recovery_actions
from .unit import record_check, record_event


def allowed_events(case: RecoveryCase, actors, agent_id: int | None = None) -> list[Transition]:
    """The transitions ``actors`` (staff: agent ``agent_id``) may fire on ``case`` now."""
    return machine.allowed_rows(case, actors, agent_id, policy=workflow_policy())


def challenge_confirmed(case: RecoveryCase) -> bool:
    """Whether an agent has confirmed the challenge code on the current selfie."""
    return rules.challenge_confirmed(case)


def reason_needed(case: RecoveryCase, row: Transition) -> bool:
    """Whether ``row`` needs a written reason from staff for this case now."""
    return rules.reason_needed(case, row)


def apply_event(case: RecoveryCase, trigger: str, actors, *, actor: Actor, agent: Agent | None,
                reason: str | None, override: bool = False) -> Transition:
    """Fire ``trigger`` on a loaded, locked case and record everything that goes with it
    (``override``: the person confirmed overriding the rejected results it overrides)."""
    agent_id = agent.id if agent else None
    # A non-holder hears that the case is claimed, whatever they asked for.
    machine.check_claim(case, actors, agent_id)
    from_state = case.state
    # The machine applies every rule, and may fire another event (states.REROUTES).
    fired = machine.fire(case, trigger, actors, reason, agent_id=agent_id,
                         policy=workflow_policy(), override=override)
    row, reason, actor = fired.row, fired.reason, fired.actor or actor
    if "asks_user" in row.tags:
        case.awaiting_from = from_state
        case.resubmission_requested = "resubmission" in row.tags
    elif "reopens" in row.tags:
        # Reopened for a decision: there is no stage to return to.
        case.escalated_from = None
    elif "escalates" in row.tags:
        case.escalated_from = from_state
    # The request for new photos stays open while a lead reviews a waiting case, so that the
    # case can return to waiting exactly as it was; any other way out of waiting closes it.
    if from_state == State.AWAITING_USER and "escalates" not in row.tags:
        case.resubmission_requested = False
    if "reopens" in row.tags:
        case.resolution = None
        case.resolved_at = None
    if row.resolution is not None:
        case.resolution = row.resolution.value
        case.resolved_at = utcnow()
    if row.user_visible_reason and reason:
        case.messages.append(Message(author_type=actor.value if agent else "system",
                                     agent_id=agent.id if agent else None, body=reason.strip()))
    review = HUMAN_REVIEWS.get((fired.trigger, State(from_state)))
    if review is not None and agent is not None:
        code = "agent_overrode" if fired.overriding else review[2]
        overrode = [{"check": f.check, "reason_code": f.reason_code} for f in fired.overridden]
        record_check(case, CheckResult(check=review[0], result=review[1], reason_code=code,
                                       details={"overrode": overrode} if overrode else {}),
                     agent=agent)
    record_event(case, fired.trigger, actor=actor, agent=agent, from_state=from_state,
                 to_state=row.dest.value, reason=reason)
    # The proposal a stopped approval followed stands no more: approving again takes a new one.
    withdraw_stale_proposal(case, "the approval it led to was stopped by the owner of record"
                            if "reopens" in row.tags else None)
    if row.resolution is Resolution.APPROVED:
        planned = plan_recovery_actions(case)
        # The owner of record hears of it in this transaction, with the link that stops it.
        hooks.announce("recovery_approved", case, actions=planned)
    return row
