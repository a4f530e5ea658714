"""Tracking links emailed again: someone who lost their link gives an email address and the
desk sends the links of the open requests it finds to their address of record.

Asking only queues the work (a row and an audit record), so the answer is the same, and
takes the same time, whether or not a request matches; the scheduled tick does the rest.
Only a hash of each tracking token is stored, so a link cannot be sent again as it was: the
case gets a new token and the old link stops working (the email says so).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import current_app

from extensions import db

from ..models import Account, RecoveryCase, TrackingLinkRequest, token_hash
from ..states import Actor, State
from . import audit
from .hooks import announce
from .unit import load_case, record_event, transaction

# The event on the case when its link was replaced and emailed (the timeline and the audit
# trail show it; the reason says the old link stopped working).
REISSUED_EVENT = "tracking_link_reissued"


def request_tracking_links(email: str, locale: str) -> None:
    """Queue the sending of the tracking links of ``email``'s open requests."""
    with transaction():
        db.session.add(TrackingLinkRequest(email=email.strip().lower()[:254],
                                           locale=locale[:16]))
        # Ids and codes only: the address itself stays out of the audit trail.
        audit.record("tracking_link.requested", actor=Actor.USER)


def _open_cases(email: str) -> list[int]:
    """The open requests filed with ``email``, or for the account whose address it is."""
    return list(db.session.scalars(
        sa.select(RecoveryCase.id)
        .outerjoin(Account, RecoveryCase.account_id == Account.id)
        .where(RecoveryCase.state != State.RESOLVED.value,
               sa.or_(RecoveryCase.email == email, Account.email == email))
        .order_by(RecoveryCase.id)))


def send_tracking_links(batch: int | None = None) -> int:
    """Send what the queued requests ask for: each matching open case gets a new tracking
    token, emailed to its address of record. Returns the number of links sent."""
    size = batch or current_app.config["TRACKING_LINK_BATCH_SIZE"]
    with transaction():
        queued = list(db.session.scalars(
            sa.select(TrackingLinkRequest).order_by(TrackingLinkRequest.id).limit(size)))
        work = [(row.id, row.email, row.locale) for row in queued]
    sent = 0
    for row_id, email, locale in work:
        with transaction():
            # Whoever deletes the row sends its links: two ticks at once send them once.
            taken = db.session.execute(sa.delete(TrackingLinkRequest).where(
                TrackingLinkRequest.id == row_id)).rowcount
            if not taken:
                continue
            for case_id in _open_cases(email):
                case = load_case(case_id)
                if case.is_resolved:
                    continue
                token = secrets.token_urlsafe(32)
                case.tracking_token_hash = token_hash(token)
                record_event(case, REISSUED_EVENT, actor=Actor.SYSTEM,
                             reason="A new tracking link was emailed on request; the old link "
                                    "no longer works.")
                announce(REISSUED_EVENT, case, tracking_token=token, locale=locale)
                sent += 1
    return sent
