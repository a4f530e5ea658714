"""Retention: a closed case's evidence is purged once its retention period has passed.

What is purged: the photos and error screenshots (``Evidence`` rows), what the person told
support (device, app version, when it began, what was tried), the face encodings and
document readings made from the photos (``SelfieReading``, ``DocumentReading`` rows), and
the personal part of the check results' details (names, dates, document numbers, MRZ and
OCR text, activity answers: ``verification.checks.PERSONAL_DETAILS``). What stays: the case
row with its state and resolution, its timeline (events and messages), its check results
(check, result, reason code, score, threshold, engine), its recovery actions and its SLA
figures, so every report reads the same after a purge as before. The purge is stamped on the
case (``purged_at``) and recorded in its timeline (``evidence_purged``).

A case is purged once it has been resolved for its period (``RETENTION``: ``declined_fraud``
for a case declined on a suspicion of fraud, ``rules.declined_as_fraud``, else ``default``),
and not while any of its recovery steps may still run (a cooling-off period, a step waiting
for a retry): those cases wait for the next purge. A case reopened by the owner's stop is open
again, so it is not purged until it is resolved anew. The purge works in batches of
``RETENTION_BATCH_SIZE`` cases, each batch one short transaction that locks its cases, so it
runs beside the desk; a second run finds nothing more to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from extensions import db
from verification.checks import PERSONAL_DETAILS, impersonal

from .. import rules, sla
from ..models import RecoveryAction, RecoveryCase, VerificationCheck, utcnow
from ..states import OPEN_ACTION_STATUSES, Actor, State
from .support import forget_support_details
from .unit import load_case, record_event, transaction

# The retention classes a case falls in, and what decides it.
RETENTION_CLASSES = ("default", "declined_fraud")
# The longest period the setting takes: ten years (AML record-keeping asks for five).
MAX_RETENTION_SECONDS = 3650 * 86400.0
PURGED_EVENT = "evidence_purged"


class BadRetention(ValueError):
    """RETENTION is not a mapping of retention classes to durations."""


def retention_periods(config) -> dict[str, timedelta]:
    """RETENTION parsed: retention class -> how long after resolution evidence is kept.

    Refused when a class is unknown or missing, or a duration is not one (30d, 12h).
    """
    periods = config.get("RETENTION")
    if not isinstance(periods, dict):
        raise BadRetention('RETENTION maps "default" and "declined_fraud" to durations, '
                           'like {"default": "30d", "declined_fraud": "365d"}')
    unknown = sorted(set(periods) - set(RETENTION_CLASSES))
    if unknown:
        raise BadRetention(f"RETENTION: unknown key(s) {', '.join(map(repr, unknown))} "
                           f"(one of {', '.join(RETENTION_CLASSES)})")
    parsed = {}
    for name in RETENTION_CLASSES:
        if name not in periods:
            raise BadRetention(f"RETENTION needs {name!r}, a duration like 30d")
        try:
            seconds = sla.parse_duration(periods[name], limit=MAX_RETENTION_SECONDS)
        except sla.BadCalendar as err:
            raise BadRetention(f"RETENTION[{name!r}]: a duration is like 30d or 12h, at "
                               f"most 3650d, not {periods[name]!r} ({err})") from None
        parsed[name] = timedelta(seconds=seconds)
    return parsed


def retention_settings() -> dict[str, timedelta]:
    """The app's retention periods (checked at start-up)."""
    size = current_app.config["RETENTION_BATCH_SIZE"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise BadRetention(f"RETENTION_BATCH_SIZE must be a whole number of cases, 1 or "
                           f"more, not {size!r}")
    return retention_periods(current_app.config)


def retention_class(case: RecoveryCase) -> str:
    """The retention class of a resolved case."""
    return "declined_fraud" if rules.declined_as_fraud(case) else "default"


def purge_due_at(case: RecoveryCase, periods: dict[str, timedelta]) -> datetime | None:
    """When the case's evidence is due to be purged; None while it is open."""
    if case.state != State.RESOLVED or case.resolved_at is None:
        return None
    return case.resolved_at + periods[retention_class(case)]


def has_open_actions(case_id: int) -> bool:
    """Whether any recovery step of the case may still run (pending, running, failed)."""
    return db.session.scalar(sa.select(sa.exists().where(
        RecoveryAction.case_id == case_id, RecoveryAction.status.in_(OPEN_ACTION_STATUSES))))


def strip_evidence(case: RecoveryCase) -> dict[str, int]:
    """Delete the case's photos and screenshots, encodings and readings, what the person
    told support, and strip its checks' personal details, in the current transaction; how
    many of each went."""
    gone = {"photos": len(case.evidence), "document_readings": len(case.readings),
            "selfie_readings": len(case.selfie_readings)}
    # Whole rows: the readings are append-only, and a photo without its bytes is no photo.
    case.evidence.clear()
    case.readings.clear()
    case.selfie_readings.clear()
    table = VerificationCheck.__table__
    stripped = 0
    for check in case.checks:
        if PERSONAL_DETAILS & set(check.details or {}):
            # Below the ORM, which refuses to change a check; the database lets the details
            # (only they) be rewritten.
            db.session.execute(table.update().where(table.c.id == check.id)
                               .values(details=impersonal(check.details)))
            stripped += 1
    if stripped:
        db.session.expire(case, ["checks"])
    gone["check_details"] = stripped
    gone["support_details"] = forget_support_details(case)
    return gone


@dataclass
class PurgeReport:
    """What one purge did: the cases purged, and those due but waiting for recovery steps."""

    purged: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


def purge_expired(now: datetime | None = None) -> PurgeReport:
    """Purge the evidence of every resolved case whose retention period has passed."""
    now = now or utcnow()
    periods = retention_periods(current_app.config)
    batch = current_app.config["RETENTION_BATCH_SIZE"]
    report = PurgeReport()
    oldest = now - min(periods.values())
    last_id = 0
    while True:
        with transaction():
            ids = list(db.session.scalars(
                sa.select(RecoveryCase.id)
                .where(RecoveryCase.state == State.RESOLVED.value,
                       RecoveryCase.purged_at.is_(None), RecoveryCase.resolved_at <= oldest,
                       RecoveryCase.id > last_id)
                .order_by(RecoveryCase.id).limit(batch)))
            for case_id in ids:
                case = load_case(case_id)  # locked, and seen as it is now
                due = purge_due_at(case, periods)
                if case.purged_at is not None or due is None or due > now:
                    continue
                if has_open_actions(case.id):
                    report.waiting.append(case.id)
                    continue
                strip_evidence(case)
                case.purged_at = now
                record_event(case, PURGED_EVENT, actor=Actor.SYSTEM,
                             reason=f"Retention: {retention_class(case).replace('_', ' ')} "
                                    f"period of {_days(periods[retention_class(case)])} after "
                                    "resolution")
                report.purged.append(case.id)
        if len(ids) < batch:
            return report
        last_id = ids[-1]


def _days(period: timedelta) -> str:
    days = period / timedelta(days=1)
    return f"{days:g} day{'s' if days != 1 else ''}"
