"""What staff do to a case: fire an event, claim, take over, assign, write, confirm a code."""

from __future__ import annotations

from extensions import db
from verification.checks import CheckResult, Result

from .. import machine, rules
from ..models import MAX_ID, Agent, Message, RecoveryCase, utcnow
from ..states import LEADS, Actor
from .errors import ActionRefused
from .moves import apply_event
from .unit import check_version, load_case, record_check, record_event, transaction


def fire_event(case_id: int, trigger: str, *, agent: Agent | None, expected_version: int | None,
               reason: str | None = None, override: bool = False) -> RecoveryCase:
    """An agent (or, without one, the system) moves a case; stale versions are refused.

    ``override``: the agent confirmed, having seen them, that they override the rejected
    results the event would override (approving needs it then).
    """
    actors = agent.actors if agent else {Actor.SYSTEM}
    actor = Actor(agent.role) if agent else Actor.SYSTEM
    with transaction():
        case = load_case(case_id)
        check_version(case, expected_version)
        apply_event(case, trigger, actors, actor=actor, agent=agent, reason=reason,
                    override=override)
    return case


def may_act(case: RecoveryCase, agent: Agent) -> bool:
    """Whether the case's claim lets ``agent`` act on it (its assignee, or nobody holds it)."""
    return machine.claim_allows(case, agent.actors, agent.id)


def claim_case(case_id: int, agent: Agent, expected_version: int | None) -> RecoveryCase:
    """Take an unassigned case (or one already yours)."""
    with transaction():
        case = load_case(case_id)
        check_version(case, expected_version)
        machine.check_claim(case, agent.actors, agent.id)
        if case.assignee_id != agent.id:
            case.assignee_id = agent.id
            record_event(case, "claimed", actor=Actor(agent.role), agent=agent)
    return case


def take_over_case(case_id: int, agent: Agent, expected_version: int | None) -> RecoveryCase:
    """A security lead or admin takes a case from whoever holds it; recorded with their name.

    A case nobody holds is simply claimed; one already theirs is left as it is.
    """
    if Actor(agent.role) not in LEADS:
        raise ActionRefused("Only security leads and admins can take over a case.")
    with transaction():
        case = load_case(case_id)
        check_version(case, expected_version)
        previous = case.assignee
        if previous is None:
            case.assignee_id = agent.id
            record_event(case, "claimed", actor=Actor(agent.role), agent=agent)
        elif previous.id != agent.id:
            case.assignee_id = agent.id
            record_event(case, "taken_over", actor=Actor(agent.role), agent=agent,
                         reason=f"from {previous.name} (agent {previous.id})")
    return case


def assign_case(case_id: int, agent: Agent, assignee_id: int | None,
                expected_version: int | None) -> RecoveryCase:
    """Give a case to an agent, or release it (``assignee_id=None``).

    Agents may release their own cases; security leads and admins may assign anyone.
    """
    with transaction():
        case = load_case(case_id)
        check_version(case, expected_version)
        lead = Actor(agent.role) in (Actor.SECURITY_LEAD, Actor.ADMIN)
        releasing_own = assignee_id is None and case.assignee_id == agent.id
        if not (lead or releasing_own):
            raise ActionRefused("Only security leads and admins can assign cases to others.")
        assignee = None
        if assignee_id is not None:
            assignee = db.session.get(Agent, assignee_id) if 1 <= assignee_id <= MAX_ID else None
            if assignee is None or not assignee.active:
                raise ActionRefused("That agent does not exist or is deactivated.")
        if case.assignee_id != assignee_id:
            previous = case.assignee
            note = f"to {assignee.name}" if assignee else "released"
            if assignee is not None and previous is not None:
                note += f", from {previous.name}"
            case.assignee_id = assignee_id
            record_event(case, "assigned" if assignee else "released", actor=Actor(agent.role),
                         agent=agent, reason=note)
    return case


def add_staff_message(case_id: int, agent: Agent, body: str, *, internal: bool) -> Message:
    """An agent writes to the user, or leaves an internal note for colleagues."""
    body = (body or "").strip()
    if not body:
        raise ActionRefused("The message is empty.")
    with transaction():
        case = load_case(case_id, lock=False)
        if case.is_resolved and not internal:
            raise ActionRefused("This case is closed; the user can no longer be written to here.")
        if not internal:  # notes inform whoever holds the case; writing to the user is acting
            machine.check_claim(case, agent.actors, agent.id)
        message = Message(author_type=agent.role, agent_id=agent.id, body=body, internal=internal)
        case.messages.append(message)
    return message


def confirm_challenge(case_id: int, agent: Agent, expected_version: int | None) -> RecoveryCase:
    """An agent read the expected code on the current selfie (whoever may approve the case
    now: at the selfie check, or a security lead while it is escalated)."""
    with transaction():
        case = load_case(case_id)
        check_version(case, expected_version)
        machine.check_claim(case, agent.actors, agent.id)
        refusal = rules.challenge_refusal(case, agent.actors)
        if refusal is not None:
            raise ActionRefused(refusal)
        record_check(case, CheckResult("selfie.challenge.review", Result.CLEAR,
                                       "challenge_confirmed"), agent=agent)
        record_event(case, "challenge_confirmed", actor=Actor(agent.role), agent=agent,
                     reason=f"code {case.challenge_code}")
        # The version moves so that a form showing the unconfirmed state is stale.
        case.updated_at = utcnow()
    return case
