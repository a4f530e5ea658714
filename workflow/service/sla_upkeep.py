"""Service levels: each case's stored SLA figures, kept in step with its log, and SLA marks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from extensions import db

from .. import sla
from ..models import CaseEvent, CaseSla, Message, RecoveryCase, utcnow
from ..states import Actor, State
from .hooks import announce
from .policies import sla_settings
from .unit import load_case, record_event, transaction


def sla_entries(case: RecoveryCase) -> list[sla.Entry]:
    """The case's log as the SLA reads it: its events and its messages."""
    entries = [sla.Entry(e.created_at, "event", e.event, e.actor_type, e.to_state)
               for e in case.events]
    entries += [sla.Entry(m.created_at, "message", "message", m.author_type,
                          internal=m.internal) for m in case.messages]
    return entries


def sla_clocks(case: RecoveryCase, now: datetime | None = None) -> sla.CaseClocks:
    """The case's clocks now, live from its log."""
    settings = sla_settings()
    policy = settings.policy_for(case.issue_type, case.priority)
    return sla.derive(sla_entries(case), created=case.created_at, policy=policy,
                      calendar=settings.calendars[policy.calendar], now=now or utcnow())


# The case's columns its SLA row keeps a copy of (for the report), by the row's names.
SLA_CASE_COLUMNS = {"filed_at": "created_at", "issue_type": "issue_type",
                    "priority": "priority", "assignee_id": "assignee_id"}


def sla_case_columns(case: RecoveryCase) -> dict:
    """The copies of the case's own columns on its SLA row.

    A case not yet inserted takes its column defaults now, so the copies match them.
    """
    if case.created_at is None:
        case.created_at = utcnow()
    if case.priority is None:
        case.priority = RecoveryCase.__table__.c.priority.default.arg
    copies = {name: getattr(case, column) for name, column in SLA_CASE_COLUMNS.items()}
    if sa.inspect(case).attrs.assignee.history.has_changes():
        # Set through the relationship: the column follows only as the flush writes it.
        copies["assignee_id"] = case.assignee.id if case.assignee is not None else None
    return copies


def refresh_sla(case: RecoveryCase) -> CaseSla:
    """Bring the stored SLA figures of ``case`` in line with its log (no commit)."""
    settings = sla_settings()
    copies = sla_case_columns(case)  # first: it fills a new case's defaults the policy reads
    policy = settings.policy_for(case.issue_type, case.priority)
    row = sla.figures(sla_entries(case), created=case.created_at, policy=policy,
                      calendar=settings.calendars[policy.calendar])
    row.update(copies)
    stored = case.sla
    if stored is None:
        stored = case.sla = CaseSla(**row)
    else:
        for name, value in row.items():
            if getattr(stored, name) != value:
                setattr(stored, name, value)
    return stored


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _keep_sla_in_step(session, flush_context, instances) -> None:
    """Every write that adds to a case's log refreshes its SLA figures in the same flush.

    So does a change to a case column the row depends on (its policy's issue type and
    priority) or keeps a copy of (the assignee), made with or without an event.
    """
    cases = {}
    for obj in session.new:
        if isinstance(obj, CaseEvent | Message):
            obj.created_at = obj.created_at or utcnow()
            case = obj.case
            if case is not None:
                cases[id(case)] = case
        elif isinstance(obj, CaseSla) and obj.case is not None:
            for name, value in sla_case_columns(obj.case).items():
                setattr(obj, name, value)  # a row written by hand copies its case too
    for obj in session.dirty:
        if isinstance(obj, RecoveryCase) and id(obj) not in cases:
            state = sa.inspect(obj)
            # The assignee may be set through the relationship, whose column follows later.
            if any(state.attrs[column].history.has_changes()
                   for column in (*SLA_CASE_COLUMNS.values(), "assignee")) \
                    and obj.sla is not None:
                cases[id(obj)] = obj
    for case in cases.values():
        refresh_sla(case)


def recompute_sla(batch: int = 500) -> int:
    """Rebuild every case's stored SLA figures from its log; returns how many changed."""
    changed = 0
    last_id = 0
    while True:
        with transaction():
            cases = list(db.session.scalars(
                sa.select(RecoveryCase).where(RecoveryCase.id > last_id)
                .order_by(RecoveryCase.id).limit(batch)))
            if not cases:
                return changed
            for case in cases:
                before = sla_values(case.sla)
                refresh_sla(case)
                db.session.flush()
                changed += before != sla_values(case.sla)
            last_id = cases[-1].id


SLA_MARKS = ("sla_warning", "sla_breached")


def _marked(case: RecoveryCase, event: str, clock: str, since: datetime | None) -> bool:
    return any(e.event == event and e.reason == clock and (since is None or e.created_at >= since)
               for e in case.events)


def check_sla(now: datetime | None = None, batch: int = 200) -> list[tuple[int, str, str]]:
    """Record warnings and breaches of running clocks on their cases, once per clock.

    The stored due and warning times find the candidates in one indexed query; each is then
    judged on its live clocks. A mark is an event on the case (``sla_warning``,
    ``sla_breached`` with the clock's name), which the timeline shows and the log keeps; a
    clock that starts again (the next update, after each message of the user) can be marked
    again. Each mark writes its emails to the outbox in the same transaction (to the
    assignee, or to the leads when nobody holds the case); ``notify.outbox`` sends them after
    the commit. Returns (case id, clock, mark) of what was recorded.
    """
    now = now or utcnow()
    due = sa.or_(*(sa.and_(getattr(CaseSla, f"{c}_at").is_(None),
                           getattr(CaseSla, f"{c}_warn_at") <= now) for c in sla.CLOCKS))
    ids = list(db.session.scalars(
        sa.select(CaseSla.case_id).where(~CaseSla.paused, CaseSla.state != State.RESOLVED.value,
                                         due).order_by(CaseSla.case_id)))
    db.session.rollback()
    recorded = []
    settings = sla_settings()
    for start in range(0, len(ids), batch):
        with transaction():
            for case_id in ids[start:start + batch]:
                case = load_case(case_id)
                if case.is_resolved:
                    continue
                for name, clock in sla_clocks(case, now).clocks.items():
                    if clock.met_at is not None:
                        continue
                    mark = ("sla_breached" if clock.breached(now)
                            else "sla_warning" if clock.warning(now) else None)
                    if mark is None or _marked(case, mark, name, clock.started_at):
                        continue
                    record_event(case, mark, actor=Actor.SYSTEM, reason=name)
                    policy = settings.policy_for(case.issue_type, case.priority)
                    announce(mark, case, clock=name, due_at=clock.due_at, target=clock.target,
                             timezone=settings.calendars[policy.calendar].timezone)
                    recorded.append((case.id, name, mark))
    for case_id, name, mark in recorded:
        current_app.logger.warning("SLA %s: case %s, %s", mark.removeprefix("sla_"), case_id,
                                   name.replace("_", " "))
    return recorded


@dataclass(frozen=True)
class SlaBadge:
    """What the queue shows of a case's SLA: the earliest due time and how it stands."""

    due_at: datetime | None
    status: str | None  # "breached", "warning" or None
    clocks: tuple[str, ...] = ()  # the clocks breached (or warning)


def sla_badge(row: CaseSla | None, now: datetime) -> SlaBadge:
    """The badge of a stored SLA row at ``now`` (no log read: fast for a queue page)."""
    if row is None:
        return SlaBadge(None, None)
    breached, warning = [], []
    for clock in sla.CLOCKS:
        met, due = getattr(row, f"{clock}_at"), getattr(row, f"{clock}_due_at")
        seconds, target = getattr(row, f"{clock}_seconds"), getattr(row, f"{clock}_target")
        warn = getattr(row, f"{clock}_warn_at")
        if met is not None:
            if seconds is not None and seconds > target:
                breached.append(clock)
        elif due is not None and not row.paused and row.state != State.RESOLVED:
            if now > due:
                breached.append(clock)
            elif warn is not None and now >= warn:
                warning.append(clock)
    if breached:
        return SlaBadge(row.next_due_at, "breached", tuple(breached))
    if warning:
        return SlaBadge(row.next_due_at, "warning", tuple(warning))
    return SlaBadge(row.next_due_at, None)


def sla_values(row: CaseSla | None) -> dict | None:
    if row is None:
        return None
    return {c.key: getattr(row, c.key) for c in sa.inspect(CaseSla).column_attrs}
