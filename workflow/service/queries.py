"""Queue queries: filtered, ordered, paged lists of cases, and who may open a case."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import sqlalchemy as sa

from extensions import db

from .. import rules
from ..models import MAX_ID, Agent, CaseSla, RecoveryCase
from ..states import State
from .errors import CaseNotFound, LeadsOnly


class BadCursor(ValueError):
    """The pagination cursor is not one this server issued."""


def encode_cursor(case: RecoveryCase) -> str:
    """An opaque cursor pointing after ``case`` in queue order."""
    raw = f"{case.created_at.isoformat()}|{case.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, case_id = raw.split("|")
        created = datetime.fromisoformat(stamp)
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        created.astimezone(UTC)  # raises OverflowError for dates at the edge of the calendar
        if not 1 <= int(case_id) <= MAX_ID:
            raise ValueError("case id out of range")
        return created, int(case_id)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as err:
        raise BadCursor("The cursor is not valid; start again without one.") from err


def queue_query(*, states=None, issue_type: str | None = None, assignee_id: int | None = None,
                unassigned: bool = False, by_due: bool = False, actors=None) -> sa.Select:
    """Cases in queue order, filtered: oldest first, or (``by_due``) what is due first; for
    staff acting as ``actors``, only the cases they may open (None: every case)."""
    query = sa.select(RecoveryCase)
    if actors is not None and not rules.may_open(State.ESCALATED.value, actors):
        query = query.where(RecoveryCase.state != State.ESCALATED.value)
    if by_due:
        # Running clocks first, earliest due time first; paused and closed cases after.
        query = query.outerjoin(CaseSla).order_by(CaseSla.next_due_at.asc().nulls_last())
        if states and State.RESOLVED not in states:
            # The SLA row's own copy of the state (kept in step in every flush) turns the
            # outer join into an inner one for the planner, which can then walk the due
            # times of open cases in order (ix_case_sla_open_due) instead of joining every
            # open case and sorting: 1.8 ms against 410 ms at a million cases
            # (docs/benchmarks.md).
            query = query.where(CaseSla.state != State.RESOLVED.value)
    if states:
        query = query.where(RecoveryCase.state.in_(list(states)))
    if issue_type:
        query = query.where(RecoveryCase.issue_type == issue_type)
    if assignee_id is not None:
        query = query.where(RecoveryCase.assignee_id == assignee_id)
    if unassigned:
        query = query.where(RecoveryCase.assignee_id.is_(None))
    return query.order_by(RecoveryCase.created_at, RecoveryCase.id)


def list_cases(*, limit: int, cursor: str | None = None,
               **filters) -> tuple[list[RecoveryCase], str | None]:
    """One page of the queue and the cursor of the next page (None at the end)."""
    query = queue_query(**filters)
    if cursor:
        created, case_id = _decode_cursor(cursor)
        query = query.where(sa.or_(
            RecoveryCase.created_at > created,
            sa.and_(RecoveryCase.created_at == created, RecoveryCase.id > case_id),
        ))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)


def check_case_access(case_id: int, agent: Agent) -> None:
    """Raise LeadsOnly when ``agent`` may not open the case (an unknown case passes: the
    route answers that it does not exist)."""
    state = db.session.scalar(sa.select(RecoveryCase.state).where(RecoveryCase.id == case_id))
    if state is not None and not rules.may_open(state, agent.actors):
        raise LeadsOnly(case_id)


def get_case(case_id: int) -> RecoveryCase:
    """A case by id."""
    case = db.session.get(RecoveryCase, case_id)
    if case is None:
        raise CaseNotFound(f"There is no case {case_id}.")
    return case
