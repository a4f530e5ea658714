"""The owner of record's say: "this wasn't me", by the emailed link or through staff.

The emails to the address of record (on filing and on approval) carry a link signed with the
desk's secret for this one purpose (a salt of its own, so no other signed token of the desk
is one), naming the case and its account. Opening it shows what the request is and what it
would do; confirming it (a POST: a mail scanner that fetches links changes nothing) records
the owner's report and stops the recovery:

- every step not performed yet is cancelled, and reset links the case issued stop working;
- an approved case is reopened for the security leads (``stop_recovery``); an open one is
  escalated; either way the report makes its risk high, so approving it again needs four
  eyes;
- a case that ended without an approval did nothing to the account: the report is recorded.

Confirming twice changes nothing more; after a new approval, the same link stops it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from extensions import db
from verification.risk import Level

from .. import rules
from ..models import Agent, RecoveryAction, RecoveryCase, ResetLink, utcnow
from ..states import (
    ISSUE_TYPES,
    OPEN_ACTION_STATUSES,
    RECOVERY_STEP_LABELS,
    ActionStatus,
    Actor,
    RecoveryStep,
)
from . import hooks
from .errors import ActionRefused
from .moves import apply_event
from .recovery import cancel_open_actions
from .risk import assess_risk, escalate_for_risk
from .unit import load_case, record_event, transaction

SALT = "recovery-desk.owner-stop"
# Longer tokens than this were never issued.
TOKEN_MAX_CHARS = 200
NOT_ME = rules.NOT_ME_EVENT


class OwnerLinkInvalid(Exception):
    """The link was not issued by this desk, was altered, or expired: one answer for all."""

    def __init__(self):
        super().__init__("This link is not valid or has expired. If someone is trying to "
                         "take over your account, contact support from the app or website.")


class StopOutcome(StrEnum):
    """What the owner's report did."""

    STOPPED = "stopped"  # an approved recovery's remaining steps were cancelled
    TOO_LATE = "too_late"  # every step was already performed: security looks into it
    ESCALATED = "escalated"  # an open request went to security, nothing was performed
    CLOSED = "closed"  # the request had ended without touching the account
    ALREADY = "already"  # the owner had already reported it with the link


@dataclass(frozen=True)
class OwnerView:
    """What the owner's page shows about the request."""

    case_id: int
    issue: str
    filed_at: datetime
    filed_with: str
    open: bool
    approved: bool
    reported: bool
    # (label, when): steps still to come, with when they are due; steps performed.
    pending: tuple[tuple[str, datetime], ...]
    performed: tuple[tuple[str, datetime | None], ...]
    cancelled: tuple[str, ...]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def owner_link_token(case: RecoveryCase) -> str:
    """The token of the case's "this wasn't me" link (for its account of record only)."""
    return _serializer().dumps([case.id, case.account_id])


def _case_id(token: str) -> int:
    if not token or len(token) > TOKEN_MAX_CHARS:
        raise OwnerLinkInvalid()
    try:
        found = _serializer().loads(token, max_age=current_app.config["OWNER_LINK_TTL"])
        case_id, account_id = found
    except (BadData, TypeError, ValueError):
        raise OwnerLinkInvalid() from None
    if not isinstance(case_id, int) or not isinstance(account_id, int):
        raise OwnerLinkInvalid()
    # The link stands for the account it was sent to: a case that names another (or none)
    # is not this owner's to stop.
    stored = db.session.scalar(sa.select(RecoveryCase.account_id)
                               .where(RecoveryCase.id == case_id))
    if stored is None or stored != account_id:
        raise OwnerLinkInvalid()
    return case_id


def _reported_by_owner(case: RecoveryCase) -> bool:
    """Whether the owner reported the request with the link since its latest approval (a
    case approved again after a stop can be stopped again)."""
    reported = False
    for event in case.events:
        if event.event == "approve":
            reported = False
        elif event.event == NOT_ME and event.actor_type == Actor.OWNER.value:
            reported = True
    return reported


def _view(case: RecoveryCase) -> OwnerView:
    def label(action: RecoveryAction) -> str:
        return RECOVERY_STEP_LABELS[RecoveryStep(action.kind)]

    actions = case.recovery_actions
    return OwnerView(
        case_id=case.id, issue=ISSUE_TYPES.get(case.issue_type, case.issue_type),
        filed_at=case.created_at, filed_with=case.email, open=not case.is_resolved,
        approved=rules.was_approved(case), reported=_reported_by_owner(case),
        pending=tuple((label(a), a.due_at) for a in actions
                      if a.status in OPEN_ACTION_STATUSES),
        performed=tuple((label(a), a.done_at) for a in actions
                        if a.status == ActionStatus.DONE.value),
        cancelled=tuple(label(a) for a in actions
                        if a.status == ActionStatus.CANCELLED.value))


def owner_view(token: str) -> OwnerView:
    """What the "this wasn't me" page of ``token`` shows; OwnerLinkInvalid when it is not one."""
    try:
        return _view(db.session.get(RecoveryCase, _case_id(token)))
    finally:
        db.session.rollback()


def _expire_reset_links(case: RecoveryCase) -> None:
    """End the reset links the case's steps issued and nobody used (local directory)."""
    ids = [a.id for a in case.recovery_actions]
    if ids:
        now = utcnow()
        db.session.execute(
            sa.update(ResetLink).where(ResetLink.action_id.in_(ids), ResetLink.used_at.is_(None),
                                       ResetLink.expires_at > now)
            .values(expires_at=now).execution_options(synchronize_session=False))


def _stop(case: RecoveryCase, *, actor: Actor, agent: Agent | None, reason: str) -> StopOutcome:
    """Record that the owner says the request is not theirs, and stop what it would do."""
    record_event(case, NOT_ME, actor=actor, agent=agent, reason=reason)
    if case.is_resolved and not rules.was_approved(case):
        return StopOutcome.CLOSED
    cancelled = cancel_open_actions(
        case, "cancelled: the owner of record says this request is not theirs")
    _expire_reset_links(case)
    reopened = case.is_resolved
    if reopened:
        apply_event(case, "stop_recovery", {Actor.SYSTEM}, actor=Actor.SYSTEM, agent=None,
                    reason="The owner of record says this recovery is not theirs"
                           + (f"; {len(cancelled)} step(s) not performed were cancelled."
                              if cancelled else "; every step had already been performed."))
    risk = assess_risk(case)
    if risk.level is Level.HIGH:
        escalate_for_risk(case, risk)
    hooks.announce("owner_stopped", case, cancelled=cancelled, reason=reason)
    if not reopened:
        return StopOutcome.ESCALATED
    return StopOutcome.STOPPED if cancelled else StopOutcome.TOO_LATE


def stop_by_owner(token: str) -> tuple[StopOutcome, OwnerView]:
    """The owner of record confirmed "this wasn't me" with the link of ``token``."""
    case_id = _case_id(token)
    with transaction():
        case = load_case(case_id)
        if _reported_by_owner(case):
            outcome = StopOutcome.ALREADY
        else:
            outcome = _stop(case, actor=Actor.OWNER, agent=None,
                            reason="The owner of record confirmed \"this wasn't me\" with the "
                                   "link emailed to the address of record.")
    with transaction():
        return outcome, _view(load_case(case_id, lock=False))


def report_not_me(case_id: int, agent: Agent, note: str) -> RecoveryCase:
    """Staff record that the account holder says this request is not theirs (a phone call,
    a reply to an email): as the owner's link does, it escalates an open case, and stops an
    approved recovery (reopening the case)."""
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Say who reported it and how (for example: 'Holder replied to the "
                            "notification email').")
    with transaction():
        case = load_case(case_id)
        if case.is_resolved and not rules.was_approved(case):
            raise ActionRefused("This case is closed, and nothing was done to the account.")
        _stop(case, actor=Actor(agent.role), agent=agent, reason=note)
    return case
