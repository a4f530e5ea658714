"""Who else has a case open, and what changed it last: the console's concurrent-edit notice.

Each open case page says it is there (opening the page, then its heartbeat): one row of
``case_viewer`` per case and staff member, written with one INSERT ... ON CONFLICT on both
databases, so any process of the desk sees every other's viewers. A row whose heartbeat
stopped longer than PRESENCE_WINDOW_SECONDS ago no longer counts, and the next visit starts
afresh (``opened_at``); rows silent for PRESENCE_FORGET_SECONDS are deleted whenever
presence is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from extensions import db

from ..models import Agent, CaseEvent, CaseViewer, RecoveryCase, utcnow
from ..states import State
from .errors import CaseNotFound
from .unit import transaction

# Who a change by someone other than staff is said to come from.
ACTOR_NAMES = {"user": "The requester", "system": "The desk", "owner": "The account holder"}
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@dataclass(frozen=True)
class Viewer:
    """Another staff member with the case open."""

    agent_id: int
    name: str
    opened_at: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Change:
    """The case's last change: by whom, when, and what (``approved``, ``escalated``...)."""

    by: str
    by_agent_id: int | None
    at: datetime
    what: str


@dataclass(frozen=True)
class Presence:
    """What the case page's notice needs: the others there, the version, the last change."""

    viewers: list[Viewer]
    version: int
    change: Change | None


def _settings() -> tuple[timedelta, timedelta]:
    config = current_app.config
    return (timedelta(seconds=config["PRESENCE_WINDOW_SECONDS"]),
            timedelta(seconds=config["PRESENCE_FORGET_SECONDS"]))


def seen(case_id: int, agent: Agent) -> None:
    """Note that ``agent`` has the case open now (a new visit when the last was too long ago),
    and forget viewers silent for PRESENCE_FORGET_SECONDS; CaseNotFound for no such case."""
    window, forget = _settings()
    now = utcnow()
    table = CaseViewer.__table__
    insert = _INSERTS[db.session.get_bind().dialect.name](table).values(
        case_id=case_id, agent_id=agent.id, opened_at=now, last_seen=now)
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.case_id, table.c.agent_id],
        set_={"last_seen": insert.excluded.last_seen,
              "opened_at": sa.case((table.c.last_seen < now - window, insert.excluded.opened_at),
                                   else_=table.c.opened_at)})
    with transaction():
        # The write comes first: on SQLite a transaction that has read and then writes cannot
        # wait for another writer (it fails with "database is locked" at once, as six threads
        # beating at once showed), while one that starts with a write waits its turn.
        db.session.execute(sa.delete(CaseViewer).where(CaseViewer.last_seen < now - forget))
        if db.session.scalar(sa.select(RecoveryCase.id).where(RecoveryCase.id == case_id)) is None:
            raise CaseNotFound(f"There is no case {case_id}.")
        db.session.execute(upsert)


def viewers(case_id: int, agent: Agent) -> list[Viewer]:
    """The staff other than ``agent`` who had the case open within PRESENCE_WINDOW_SECONDS,
    the longest there first."""
    window, _ = _settings()
    rows = db.session.execute(
        sa.select(CaseViewer, Agent.name).join(Agent, Agent.id == CaseViewer.agent_id)
        .where(CaseViewer.case_id == case_id, CaseViewer.agent_id != agent.id,
               CaseViewer.last_seen >= utcnow() - window)
        .order_by(CaseViewer.opened_at, CaseViewer.agent_id)).all()
    return [Viewer(agent_id=row.agent_id, name=name, opened_at=row.opened_at,
                   last_seen=row.last_seen) for row, name in rows]


def _what(event: CaseEvent, resolution: str | None) -> str:
    if event.to_state == State.RESOLVED and resolution:
        return resolution
    if event.to_state and event.to_state != event.from_state:
        return event.to_state.replace("_", " ")
    return event.event.replace("_", " ")


def last_change(case: RecoveryCase) -> Change | None:
    """The case's latest event as a change: who, when, what; None before any."""
    row = db.session.execute(
        sa.select(CaseEvent, Agent.name).outerjoin(Agent, Agent.id == CaseEvent.actor_agent_id)
        .where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc()).limit(1)).first()
    if row is None:
        return None
    event, name = row
    by = name or ACTOR_NAMES.get(event.actor_type, "Someone")
    return Change(by=by, by_agent_id=event.actor_agent_id, at=event.created_at,
                  what=_what(event, case.resolution))


def heartbeat(case_id: int, agent: Agent) -> Presence:
    """The page's poll: note ``agent`` as there, then who else is, the case's version and
    its last change (read after the write, in a fresh transaction)."""
    seen(case_id, agent)
    case = db.session.get(RecoveryCase, case_id, populate_existing=True)
    return Presence(viewers=viewers(case_id, agent), version=case.version,
                    change=last_change(case))
