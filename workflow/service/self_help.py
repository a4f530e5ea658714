"""The self-help guides' answers: anonymous counts per issue type, outcome and UTC day."""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import postgresql, sqlite

from extensions import db

from ..models import SelfHelpAnswer
from ..states import ISSUE_TYPES
from .unit import transaction, utcnow

SOLVED, NEED_HELP = "solved", "need_help"
OUTCOMES: tuple[str, ...] = (SOLVED, NEED_HELP)


class UnknownAnswer(ValueError):
    """An issue type or outcome the guides do not have."""


def record_self_help(issue_type: str, outcome: str, day: date | None = None) -> None:
    """Count one answer to the guide of ``issue_type`` (one statement: answers at once all
    count, whichever inserts the day's row first)."""
    if issue_type not in ISSUE_TYPES or outcome not in OUTCOMES:
        raise UnknownAnswer(f"unknown guide answer {issue_type!r}/{outcome!r}")
    day = day or utcnow().date()
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(SelfHelpAnswer)
    statement = insert.values(day=day, issue_type=issue_type, outcome=outcome, count=1)
    statement = statement.on_conflict_do_update(
        index_elements=["day", "issue_type", "outcome"],
        set_={"count": SelfHelpAnswer.count + 1})
    with transaction():
        db.session.execute(statement)
