"""Recovery actions: planned with an approval, performed after it through an account service.

Approving a case plans its issue type's steps (``states.RECOVERY_ACTIONS``) as
``RecoveryAction`` rows in the approval's transaction; after the commit the job runner runs
them (``hooks.queue_recovery_actions``), and the scheduled sweep runs what is due later. One
run of an action:

1. claims it in a short transaction: a conditional UPDATE sets it ``running`` (attempts + 1)
   until ``RECOVERY_ACTION_CLAIM_SECONDS`` from now, so two runners never perform it together,
   and one that dies leaves an action the sweep takes again when the claim ends;
2. performs it through the adapter named on the row: the local directory inside the
   transaction that records the outcome (effect and record commit together, or neither), a
   remote service outside any transaction, with the action's idempotency key, so a retry
   after a lost answer changes nothing more on its side;
3. records the outcome as a case event (what, when, adapter, result); a failure keeps the
   action ``failed`` with its error, tried again after the next of
   ``RECOVERY_ACTION_RETRY_DELAYS`` when the error may pass, and otherwise (or after the last
   delay) left for an agent's Retry.

The steps of a case run in order: one runs only once those before it are done. Steps that
remove a second factor or unfreeze wait out a cooling-off period after the approval
(``RECOVERY_HOLD`` per issue type, ``due_at``), during which the owner of record can stop
them: ``cancel_open_actions`` marks every step not performed yet ``cancelled``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from flask import current_app

from extensions import db

from .. import machine
from ..models import Agent, RecoveryAction, RecoveryCase, utcnow
from ..states import (
    OPEN_ACTION_STATUSES,
    RECOVERY_STEP_LABELS,
    ActionStatus,
    Actor,
    RecoveryStep,
    recovery_steps,
)
from . import hooks
from .errors import ActionRefused
from .policies import recovery_hold
from .unit import after_commit, load_case, record_event, transaction

# What the longest stored error keeps (the start says what went wrong).
ERROR_CHARS = 1000


@dataclass(frozen=True)
class ActionOrder:
    """What an account service is asked to do: one step for one account, under one key."""

    action_id: int
    case_id: int
    kind: RecoveryStep
    idempotency_key: str
    attempt: int
    account_id: int | None
    account_email: str | None
    # Every step of the case, in order (a reset link says when the second factor went too).
    case_steps: tuple[RecoveryStep, ...] = ()


@dataclass(frozen=True)
class ActionDone:
    """What an account service reports after performing a step.

    ``details`` go on the record (never a secret); ``notice`` is a notification kind and its
    facts for the owner of record (a reset link's email), written with the record.
    """

    summary: str
    details: dict = field(default_factory=dict)
    notice: tuple[str, dict] | None = None


class ActionFailed(Exception):
    """The account service did not perform the step; ``retriable`` when trying again later
    may work (unreachable, timed out, busy), not when it refused the request as such."""

    def __init__(self, message: str, *, retriable: bool):
        super().__init__(message)
        self.retriable = retriable


class AccountService(Protocol):
    """An account-service adapter, registered by the layer above (``accounts``)."""

    # Performs inside the desk's transaction (the local directory), or outside any (remote).
    in_transaction: bool

    def perform(self, order: ActionOrder) -> ActionDone:
        """Perform ``order`` (exactly once per idempotency key), or raise ActionFailed."""


@dataclass(frozen=True)
class _Claim:
    action_id: int
    case_id: int
    attempts: int
    adapter: str


def plan_recovery_actions(case: RecoveryCase) -> list[RecoveryAction]:
    """Plan the approved case's steps in the current transaction, due after the issue type's
    cooling-off period; the due ones run after its commit.

    A case approved again after its owner stopped the first recovery gets its steps planned
    anew, after the earlier ones (which stay on its record, cancelled or done).
    """
    steps = recovery_steps(case.issue_type)
    if not steps or any(a.status in OPEN_ACTION_STATUSES for a in case.recovery_actions):
        return []
    adapter = hooks.account_service_name()
    now = utcnow()
    # The cooling-off period runs from the decision (the approval just stamped resolved_at),
    # not from however long the rest of the approval took.
    due = (case.resolved_at or now) + recovery_hold(case.issue_type)
    first = max((a.position for a in case.recovery_actions), default=0) + 1
    planned = [RecoveryAction(position=number, kind=step.value, adapter=adapter,
                              idempotency_key=secrets.token_hex(16),
                              status=ActionStatus.PENDING.value, attempts=0, due_at=due,
                              result={}, created_at=now)
               for number, step in enumerate(steps, start=first)]
    # The rows are the plan (the case page and the API list them); the record gets the
    # outcome of each step as it happens.
    case.recovery_actions.extend(planned)
    case_id = case.id
    after_commit(lambda: _queue_quietly(case_id))
    return planned


def _queue_quietly(case_id: int) -> None:
    """Queue a case's actions after a commit: a queue that fails leaves them to the sweep."""
    try:
        hooks.queue_recovery_actions(case_id)
    except Exception:  # the approval is committed: it must not look failed to its caller
        current_app.logger.exception("recovery actions of case %s could not be queued, left "
                                     "to the sweep", case_id)


def _retry_delays() -> list[float]:
    return list(current_app.config["RECOVERY_ACTION_RETRY_DELAYS"])


def _runnable(now: datetime):
    """Actions a runner may take now: due and waiting, failed with a retry due, or claimed
    by a runner whose claim ran out (it died)."""
    action = RecoveryAction
    return sa.or_(
        sa.and_(action.status == ActionStatus.PENDING.value, action.due_at <= now,
                sa.or_(action.next_attempt_at.is_(None), action.next_attempt_at <= now)),
        sa.and_(action.status.in_([ActionStatus.FAILED.value, ActionStatus.RUNNING.value]),
                action.next_attempt_at.is_not(None), action.next_attempt_at <= now),
    )


def _claim(action_id: int) -> _Claim | None:
    """Take the action for one run, or None when it is not runnable now or not next."""
    now = utcnow()
    with transaction():
        action = db.session.get(RecoveryAction, action_id)
        if action is None:
            return None
        earlier_open = db.session.scalar(sa.select(sa.func.count()).where(
            RecoveryAction.case_id == action.case_id,
            RecoveryAction.position < action.position,
            RecoveryAction.status.in_(OPEN_ACTION_STATUSES)))
        if earlier_open:
            return None
        claim_until = now + timedelta(seconds=current_app.config["RECOVERY_ACTION_CLAIM_SECONDS"])
        taken = db.session.execute(
            sa.update(RecoveryAction)
            .where(RecoveryAction.id == action_id, _runnable(now))
            .values(status=ActionStatus.RUNNING.value, attempts=RecoveryAction.attempts + 1,
                    next_attempt_at=claim_until)
            .execution_options(synchronize_session=False))
        if taken.rowcount != 1:
            return None
        db.session.refresh(action)
        return _Claim(action.id, action.case_id, action.attempts, action.adapter)


def _mine(claim: _Claim, *, cancelled_too: bool = False) -> RecoveryAction | None:
    """The claimed action, locked, while this run still holds it (else None).

    ``cancelled_too``: also when it was cancelled while this run held it (a remote service
    performed it meanwhile: the record must say so).
    """
    # The case row first (FOR KEY SHARE, what recording the outcome's event takes anyway),
    # then the action: the order a stop takes them in (``load_case``, then
    # ``cancel_open_actions``), so a run and a stop wait for each other, never deadlock.
    db.session.execute(sa.select(RecoveryCase.id).where(RecoveryCase.id == claim.case_id)
                       .with_for_update(read=True, key_share=True))
    action = db.session.scalars(
        sa.select(RecoveryAction).where(RecoveryAction.id == claim.action_id).with_for_update()
        .execution_options(populate_existing=True)).first()
    statuses = {ActionStatus.RUNNING.value}
    if cancelled_too:
        statuses.add(ActionStatus.CANCELLED.value)
    if action is None or action.status not in statuses or action.attempts != claim.attempts:
        return None
    return action


def _order(action: RecoveryAction) -> ActionOrder:
    case = action.case
    account = case.account
    return ActionOrder(action_id=action.id, case_id=case.id, kind=RecoveryStep(action.kind),
                       idempotency_key=action.idempotency_key, attempt=action.attempts,
                       account_id=account.id if account else None,
                       account_email=account.email if account else None,
                       # The steps planned with this one (an earlier, stopped plan's are not).
                       case_steps=tuple(RecoveryStep(a.kind) for a in case.recovery_actions
                                        if a.created_at == action.created_at
                                        and a.status != ActionStatus.CANCELLED.value))


def _label(action: RecoveryAction) -> str:
    return f"{RECOVERY_STEP_LABELS[RecoveryStep(action.kind)]} ({action.adapter})"


def _facts(action: RecoveryAction) -> dict:
    """What the audit record of a step's outcome says about it (ids and codes only)."""
    return {"action_id": action.id, "step": action.kind, "adapter": action.adapter,
            "attempt": action.attempts}


def _finish(action: RecoveryAction, outcome: ActionDone) -> None:
    """Record a performed step on the action and on the case's record."""
    if action.status == ActionStatus.CANCELLED.value:
        # The stop arrived while the service was performing it: it happened all the same.
        outcome = ActionDone(f"{outcome.summary} (performed while the recovery was being "
                             "stopped: the stop came too late for this step)",
                             outcome.details, outcome.notice)
    action.status = ActionStatus.DONE.value
    action.done_at = utcnow()
    action.next_attempt_at = None
    action.last_error = None
    action.result = {"summary": outcome.summary, **outcome.details}
    record_event(action.case, "recovery_action_done", actor=Actor.SYSTEM,
                 reason=f"{_label(action)}: {outcome.summary}", audit_detail=_facts(action))
    if outcome.notice is not None:
        kind, facts = outcome.notice
        hooks.announce(kind, action.case, **facts)


def _fail(claim: _Claim, error: str, *, retriable: bool) -> str | None:
    """Record a failed try; the next try's time when one is due, else it waits for an agent."""
    error = error[:ERROR_CHARS]
    with transaction():
        action = _mine(claim)
        if action is None:
            return None
        delays = _retry_delays()
        action.status = ActionStatus.FAILED.value
        action.last_error = error
        if retriable and action.attempts <= len(delays):
            action.next_attempt_at = utcnow() + timedelta(seconds=delays[action.attempts - 1])
            then = f"tried again after {action.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
        else:
            action.next_attempt_at = None
            then = "waiting for an agent to retry it"
        if not retriable:
            # Refused: nothing was done, and a service answers a repeated key as it did the
            # first time, so an agent's retry must be a new request. A passing failure keeps
            # its key: the service may have acted before its answer was lost.
            action.idempotency_key = secrets.token_hex(16)
        record_event(action.case, "recovery_action_failed", actor=Actor.SYSTEM,
                     reason=f"{_label(action)}, attempt {action.attempts}: {error}; {then}",
                     audit_detail={**_facts(action), "retriable": retriable})
        return action.status


def run_recovery_action(action_id: int) -> str | None:
    """Perform one action if it is runnable now; its status afterwards (None: not run)."""
    claim = _claim(action_id)
    if claim is None:
        return None
    adapter = hooks.account_service(claim.adapter)
    if adapter is None:
        return _fail(claim, f"the account service {claim.adapter!r} is not configured in "
                            "this process", retriable=False)
    try:
        if adapter.in_transaction:
            with transaction():
                action = _mine(claim)
                if action is None:
                    return None
                _finish(action, adapter.perform(_order(action)))
        else:
            with transaction():
                action = _mine(claim)
                order = None if action is None else _order(action)
            if order is None:
                return None
            outcome = adapter.perform(order)
            with transaction():
                action = _mine(claim, cancelled_too=True)
                if action is None:
                    return None
                _finish(action, outcome)
    except ActionFailed as err:
        return _fail(claim, str(err), retriable=err.retriable)
    except Exception as err:
        # Unexpected (a bug, the database gone for a moment): tried again later all the same.
        current_app.logger.exception("recovery action %s failed", action_id)
        try:
            return _fail(claim, f"{type(err).__name__}: {err}", retriable=True)
        except Exception:  # the claim runs out, and the sweep takes the action again
            current_app.logger.exception("could not record the failure of action %s",
                                         action_id)
            return None
    return ActionStatus.DONE.value


def run_case_actions(case_id: int) -> list[str | None]:
    """Run the case's runnable actions in order, stopping at the first one not done."""
    ids = db.session.scalars(sa.select(RecoveryAction.id).where(
        RecoveryAction.case_id == case_id, RecoveryAction.status.in_(OPEN_ACTION_STATUSES))
        .order_by(RecoveryAction.position)).all()
    db.session.rollback()
    outcomes = []
    for action_id in ids:
        outcome = run_recovery_action(action_id)
        outcomes.append(outcome)
        if outcome != ActionStatus.DONE.value:
            break
    return outcomes


def cases_with_due_actions() -> list[int]:
    """Cases with an action runnable now (the sweep's work), oldest first."""
    try:
        return list(db.session.scalars(
            sa.select(RecoveryAction.case_id).where(_runnable(utcnow()))
            .group_by(RecoveryAction.case_id).order_by(sa.func.min(RecoveryAction.id))))
    finally:
        db.session.rollback()


def retry_recovery_action(case_id: int, action_id: int, agent: Agent) -> RecoveryAction:
    """An agent has a failed action tried again now; it runs after the commit."""
    with transaction():
        case = load_case(case_id, lock=False)
        machine.check_claim(case, agent.actors, agent.id)  # as for every act on a held case
        action = db.session.scalars(sa.select(RecoveryAction).where(
            RecoveryAction.id == action_id, RecoveryAction.case_id == case.id)
            .with_for_update()).first()
        if action is None or action.status != ActionStatus.FAILED.value:
            raise ActionRefused("Only a failed recovery action can be retried; reload the case.")
        action.status = ActionStatus.PENDING.value
        action.next_attempt_at = None
        record_event(case, "recovery_action_retried", actor=Actor(agent.role), agent=agent,
                     reason=_label(action), audit_detail=_facts(action))
        after_commit(lambda: _queue_quietly(case_id))
    return action


def cancel_open_actions(case: RecoveryCase, why: str) -> list[RecoveryAction]:
    """Cancel, in the current transaction, the case's steps not performed yet (``why`` goes on
    the record). A step a remote service is performing right now may still happen: its
    outcome is then recorded as it comes."""
    open_actions = list(db.session.scalars(
        sa.select(RecoveryAction).where(RecoveryAction.case_id == case.id,
                                        RecoveryAction.status.in_(OPEN_ACTION_STATUSES))
        .order_by(RecoveryAction.position).with_for_update()
        .execution_options(populate_existing=True)))
    for action in open_actions:
        action.status = ActionStatus.CANCELLED.value
        action.next_attempt_at = None
        record_event(case, "recovery_action_cancelled", actor=Actor.SYSTEM,
                     reason=f"{_label(action)}: {why}", audit_detail=_facts(action))
    return open_actions


def hold_until(case: RecoveryCase) -> datetime | None:
    """When the case's pending steps are due, while that is still ahead (the cooling-off
    period); None when nothing waits for it."""
    now = utcnow()
    waiting = [a.due_at for a in case.recovery_actions
               if a.status == ActionStatus.PENDING.value and a.due_at > now]
    return min(waiting) if waiting else None
