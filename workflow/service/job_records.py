"""The bookkeeping of verification jobs: failures, retries, cases whose checks are due."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from extensions import db
from verification.risk import Level

from .. import machine
from ..models import (
    Agent,
    CaseEvent,
    DocumentReading,
    Evidence,
    RecoveryCase,
    SelfieReading,
    utcnow,
)
from ..states import Actor, State
from .errors import ActionRefused
from .hooks import queue_document_check
from .risk import assess_risk, escalate_for_risk
from .unit import load_case, record_event, transaction

# The tables the scheduled work reads and writes; all of them exist once `db upgrade` ran.
SCHEDULED_TABLES = ("recovery_case", "case_sla", "outbox_email")


def schema_ready() -> bool:
    """Whether the database has the tables the scheduled checks use."""
    inspector = sa.inspect(db.engine)
    return all(inspector.has_table(name) for name in SCHEDULED_TABLES)


FAILURE_EVENT = "verification_failed"


RETRY_EVENT = "verification_retried"


def record_verification_failure(case_id: int, attempt: int, error: str) -> None:
    """Note on the case that its automated checks failed for good, for an agent to retry.

    The risk is assessed first on what is known (the findings stored so far, velocity,
    account changes), as a finished selfie check would: a high risk still goes to security.
    """
    with transaction():
        case = load_case(case_id)
        if case.evidence_attempt == attempt and not case.is_resolved:
            risk = assess_risk(case)
            if risk.level is Level.HIGH:
                escalate_for_risk(case, risk)
            record_event(case, FAILURE_EVENT, actor=Actor.SYSTEM, reason=error[:500])


def verification_failure(case: RecoveryCase) -> CaseEvent | None:
    """The failure an agent must look at: the last job event of this attempt, if a failure."""
    for event in reversed(case.events):
        if event.event in (FAILURE_EVENT, RETRY_EVENT, "user_resubmitted", "submitted"):
            return event if event.event == FAILURE_EVENT else None
    return None


def verification_complete(case: RecoveryCase) -> bool:
    """Whether both automated readings of the current attempt are stored."""
    has_selfie = any(e.kind == "selfie" for e in case.current_evidence())
    return case.current_reading() is not None and (
        not has_selfie or case.current_selfie_reading() is not None)


def retry_verification(case_id: int, agent: Agent) -> RecoveryCase:
    """An agent runs the automated checks of the current photos again after a failure."""
    with transaction():
        case = load_case(case_id)
        if case.is_resolved:
            raise ActionRefused("This case is closed.")
        if case.purged_at is not None:
            raise ActionRefused("The photos of this case were purged: there is nothing left "
                                "to check.")
        machine.check_claim(case, agent.actors, agent.id)
        if verification_complete(case):
            raise ActionRefused("The automated checks of these photos have already run.")
        record_event(case, RETRY_EVENT, actor=Actor(agent.role), agent=agent)
    queue_document_check(case.id, case.evidence_attempt)
    return case


def cases_needing_verification(older_than: timedelta | None = None, *,
                               include_failed: bool = False) -> list[tuple[int, int]]:
    """(case id, attempt) of open cases whose current photos lack a document or selfie reading.

    ``older_than`` leaves out photos filed more recently (their job may still be running);
    cases whose checks failed for good wait for an agent unless ``include_failed``.
    """
    document = sa.select(DocumentReading.id).where(
        DocumentReading.case_id == RecoveryCase.id,
        DocumentReading.attempt == RecoveryCase.evidence_attempt)
    selfie = sa.select(SelfieReading.id).where(
        SelfieReading.case_id == RecoveryCase.id,
        SelfieReading.attempt == RecoveryCase.evidence_attempt)
    filed = sa.select(sa.func.max(Evidence.created_at)).where(
        Evidence.case_id == RecoveryCase.id,
        Evidence.attempt == RecoveryCase.evidence_attempt).scalar_subquery()
    query = (sa.select(RecoveryCase)
             .where(RecoveryCase.state != State.RESOLVED.value,
                    # A purged case reopened by the owner's stop has no photos left to read.
                    RecoveryCase.purged_at.is_(None),
                    sa.or_(~sa.exists(document), ~sa.exists(selfie)))
             .order_by(RecoveryCase.created_at, RecoveryCase.id))
    if older_than is not None:
        query = query.where(filed <= utcnow() - older_than)
    pending = []
    for case in db.session.scalars(query):
        if verification_complete(case):
            continue  # no selfie among the photos: nothing more to read
        if not include_failed and verification_failure(case) is not None:
            continue
        pending.append((case.id, case.evidence_attempt))
    return pending
