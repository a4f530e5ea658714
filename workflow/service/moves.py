"""Moving a case: the machine fired for a loaded case, and what goes with a move.

The stage columns, the user-facing message, a person's review as a check result and the
audit event are written in the caller's transaction.
"""

from __future__ import annotations

from flask import current_app

from verification.checks import CheckResult, Result, stage_results

from .. import machine
from ..models import Agent, Message, RecoveryCase, utcnow
from ..states import HUMAN_REVIEWS, Actor, State, Transition
from .unit import record_check, record_event


def _resubmissions_used_up(case: RecoveryCase) -> bool:
    return case.resubmissions >= current_app.config["MAX_RESUBMISSIONS"]


def allowed_events(case: RecoveryCase, actors, agent_id: int | None = None) -> list[Transition]:
    """The transitions ``actors`` (staff: agent ``agent_id``) may fire on ``case`` now."""
    rows = machine.allowed_rows(case, actors, agent_id)
    if case.state == State.ESCALATED and _resubmissions_used_up(case):
        rows = [row for row in rows if row.trigger != "request_resubmission"]
    return rows


def overrides_checks(case: RecoveryCase, trigger: str) -> bool:
    """Whether a person firing ``trigger`` would override what the automated checks found.

    Confirming a document, or approving a selfie, that the checks did not clear (consider or
    rejected, current attempt) is an override: it needs a written reason and is recorded as
    one.
    """
    stage = {"confirm_document": "document", "approve": "selfie"}.get(trigger)
    if stage is None or (stage == "selfie" and case.state != State.SELFIE_CHECK):
        return False
    checks = automated(case.checks)
    if stage == "selfie" and challenge_confirmed(case):
        # The agent compared the code and the held ID by eye: that supersedes the machine's
        # reading of them.
        checks = [c for c in checks if not c.check.startswith("selfie.challenge.")]
    result = stage_results(checks, case.evidence_attempt).get(stage)
    return result in (Result.CONSIDER, Result.REJECTED)


def automated(checks):
    """The checks the machines recorded (a person's review does not override itself)."""
    return [c for c in checks if c.actor_agent_id is None]


def challenge_confirmed(case: RecoveryCase) -> bool:
    """Whether an agent has confirmed the challenge code on the current selfie."""
    return any(c.check == "selfie.challenge.review" and c.attempt == case.evidence_attempt
               and c.result == Result.CLEAR for c in case.checks)


def reason_needed(case: RecoveryCase, row: Transition) -> bool:
    """Whether ``row`` needs a written reason for this case now."""
    return row.needs_reason or overrides_checks(case, row.trigger)


def apply_event(case: RecoveryCase, trigger: str, actors, *, actor: Actor, agent: Agent | None,
           reason: str | None) -> Transition:
    """Fire ``trigger`` on a loaded, locked case and record everything that goes with it."""
    agent_id = agent.id if agent else None
    # First: a refused claim must not turn into the system's escalation below.
    machine.check_claim(case, actors, agent_id)
    from_state = case.state
    overriding = agent is not None and overrides_checks(case, trigger)
    if overriding and not (reason or "").strip():
        raise machine.ReasonRequired(trigger)
    if (trigger == "approve" and from_state == State.SELFIE_CHECK and case.challenge_code
            and not challenge_confirmed(case)):
        raise machine.TransitionNotAllowed(
            trigger, case.state, f"Compare the code on the selfie with {case.challenge_code} "
            "and confirm it before approving.")
    if trigger == "request_resubmission" and _resubmissions_used_up(case):
        limit = current_app.config["MAX_RESUBMISSIONS"]
        row = machine.matching_row(case, trigger)
        if row is None or not row.actors & set(actors):
            raise machine.TransitionNotAllowed(trigger, case.state)
        if case.state == State.ESCALATED:
            raise machine.TransitionNotAllowed(
                trigger, case.state, f"The user has already sent new photos {limit} times: "
                "decide the case with what you have.")
        # The user has had their tries: a person from security looks at it instead.
        reason = f"Resubmission limit ({limit}) reached. {reason or ''}".strip()
        trigger, actors, actor = "escalate", {Actor.SYSTEM}, Actor.SYSTEM
    row = machine.fire(case, trigger, actors, reason, agent_id=agent_id)
    if "asks_user" in row.tags:
        case.awaiting_from = from_state
        case.resubmission_requested = "resubmission" in row.tags
    elif row.trigger == "escalate":
        case.escalated_from = from_state
    # The request for new photos stays open while a lead reviews a waiting case, so that the
    # case can return to waiting exactly as it was; any other way out of waiting closes it.
    if from_state == State.AWAITING_USER and row.trigger != "escalate":
        case.resubmission_requested = False
    if row.resolution is not None:
        case.resolution = row.resolution.value
        case.resolved_at = utcnow()
    if row.user_visible_reason and reason:
        case.messages.append(Message(author_type=actor.value if agent else "system",
                                     agent_id=agent.id if agent else None, body=reason.strip()))
    review = HUMAN_REVIEWS.get((trigger, State(from_state)))
    if review is not None and agent is not None:
        code = "agent_overrode" if overriding else review[2]
        record_check(case, CheckResult(check=review[0], result=review[1], reason_code=code),
                      agent=agent)
    record_event(case, trigger, actor=actor, agent=agent, from_state=from_state,
            to_state=row.dest.value, reason=reason)
    return row
