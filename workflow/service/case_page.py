"""What the case page shows beside the case: the agent's own workload and the requester's
earlier cases (read only: nothing here commits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from extensions import db

from .. import rules
from ..models import Agent, RecoveryCase
from ..states import State
from .sla_upkeep import SlaBadge, sla_badge


@dataclass(frozen=True)
class Workload:
    """An agent's open cases, the first ``shown`` of them by due time, and how many are due
    soon (an SLA warning) or overdue (breached)."""

    open_cases: int
    due_soon: int
    overdue: int
    shown: list[tuple[RecoveryCase, SlaBadge]]


def agent_workload(agent: Agent, now: datetime, *, shown: int) -> Workload:
    """The open cases assigned to ``agent`` now, with their SLA badges."""
    query = (
        sa.select(RecoveryCase)
        .where(RecoveryCase.assignee_id == agent.id, RecoveryCase.state != State.RESOLVED.value)
        .options(so.selectinload(RecoveryCase.sla))
        .order_by(RecoveryCase.created_at, RecoveryCase.id))
    # A case escalated while this agent held it is the security leads' now: not listed.
    if not rules.may_open(State.ESCALATED.value, agent.actors):
        query = query.where(RecoveryCase.state != State.ESCALATED.value)
    cases = db.session.scalars(query).all()
    badged = [(case, sla_badge(case.sla, now)) for case in cases]
    # Overdue first, then what is due soonest; cases without a running clock last.
    order = {"breached": 0, "warning": 1, None: 2}
    badged.sort(key=lambda pair: (order[pair[1].status], pair[1].due_at is None,
                                  pair[1].due_at or now))
    return Workload(
        open_cases=len(badged),
        due_soon=sum(1 for _, badge in badged if badge.status == "warning"),
        overdue=sum(1 for _, badge in badged if badge.status == "breached"),
        shown=badged[:shown])


def earlier_cases(case: RecoveryCase, actors, *, limit: int) -> list[RecoveryCase]:
    """The requester's other cases (the same email, or the same account), newest first; only
    those staff acting as ``actors`` may open."""
    # Emails are stored lower-cased (the form and the API fold them): the index serves this.
    same = RecoveryCase.email == case.email.lower()
    if case.account_id is not None:
        same = sa.or_(same, RecoveryCase.account_id == case.account_id)
    query = (sa.select(RecoveryCase).where(same, RecoveryCase.id != case.id)
             .order_by(RecoveryCase.created_at.desc(), RecoveryCase.id.desc()).limit(limit))
    if not rules.may_open(State.ESCALATED.value, actors):
        query = query.where(RecoveryCase.state != State.ESCALATED.value)
    return list(db.session.scalars(query))
