"""Helpers for the tests of recovery actions: approving a case, reading what it caused."""

import re

import sqlalchemy as sa

from extensions import db
from workflow import rules, service
from workflow.models import Agent, CaseEvent, OutboxEmail, RecoveryAction, ResetLink

RESET_LINK = re.compile(r"/reset/([A-Za-z0-9_\-]{20,})")


class Clock:
    """A clock moved by hand, for ``tests.clock.set_service_clock``."""

    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


PROPOSER_EMAIL = "proposer@example.test"


def _proposer() -> Agent:
    """A colleague who proposes approvals that need four eyes (created once per test)."""
    found = db.session.scalar(sa.select(Agent).where(Agent.email == PROPOSER_EMAIL))
    if found is not None:
        return found
    agent, _token = service.create_agent(PROPOSER_EMAIL, "Pat Proposer", "agent",
                                         "a long enough password")
    return agent


def approve(case, agent):
    """Approve a case at its selfie check (or wherever it is) with the version it has; where
    it needs four eyes, a colleague proposes the approval first."""
    case = service.get_case(case.id)
    if rules.needs_four_eyes(case) and not rules.proposal_stands(case):
        case = service.propose_approval(case.id, _proposer(), case.version,
                                        "Document and selfie reviewed: all clear.")
    return service.fire_event(case.id, "approve", agent=agent, expected_version=case.version)


def actions_of(case_id: int) -> list[RecoveryAction]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(RecoveryAction).where(
        RecoveryAction.case_id == case_id).order_by(RecoveryAction.position)))


def events_of(case_id: int, prefix: str = "recovery") -> list[CaseEvent]:
    return list(db.session.scalars(sa.select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.event.like(f"{prefix}%"))
        .order_by(CaseEvent.id)))


def outbox_of(kind: str, case_id: int | None = None) -> list[OutboxEmail]:
    """The outbox emails of one kind (about one case), oldest first."""
    db.session.expire_all()
    query = sa.select(OutboxEmail).where(OutboxEmail.kind == kind)
    if case_id is not None:
        query = query.where(OutboxEmail.case_id == case_id)
    return list(db.session.scalars(query.order_by(OutboxEmail.id)))


def reset_emails(case_id: int | None = None) -> list[OutboxEmail]:
    return outbox_of("reset_link", case_id)


def token_in(body: str) -> str:
    """The reset token of the link in an email's body."""
    found = RESET_LINK.search(body)
    assert found, body
    return found.group(1)


def link_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ResetLink))
