"""The unit of work: the transaction, loading and locking a case, recording what happened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from extensions import db
from verification.checks import CheckResult

from ..models import Agent, CaseEvent, RecoveryCase, VerificationCheck, token_hash, utcnow
from ..states import Actor
from .errors import CaseNotFound, StaleCase

_AFTER_COMMIT = "recovery_after_commit"


@contextmanager
def transaction() -> Iterator[None]:
    """Commit on success; on any error roll back everything and re-raise.

    What the transaction asked to do after its commit (``after_commit``) runs once it
    committed, and is forgotten when it rolls back.
    """
    try:
        yield
        db.session.commit()
    except StaleDataError as err:
        db.session.rollback()
        db.session.info.pop(_AFTER_COMMIT, None)
        raise StaleCase() from err
    except BaseException:
        db.session.rollback()
        db.session.info.pop(_AFTER_COMMIT, None)
        raise
    for call in db.session.info.pop(_AFTER_COMMIT, []):
        call()


def after_commit(call: Callable[[], object]) -> None:
    """Run ``call`` once the current transaction has committed (never if it rolls back)."""
    db.session.info.setdefault(_AFTER_COMMIT, []).append(call)


def load_case(case_id: int, *, lock: bool = True) -> RecoveryCase:
    """Load a case, locking its row on databases that support it (PostgreSQL)."""
    query = sa.select(RecoveryCase).where(RecoveryCase.id == case_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    case = db.session.scalars(query).first()
    if case is None:
        raise CaseNotFound(f"There is no case {case_id}.")
    return case


def case_id_for_token(token: str) -> int:
    case_id = db.session.scalar(
        sa.select(RecoveryCase.id).where(RecoveryCase.tracking_token_hash == token_hash(token))
    )
    if case_id is None:
        raise CaseNotFound("This tracking link is not valid.")
    return case_id


def record_event(case: RecoveryCase, event: str, *, actor: Actor, agent: Agent | None = None,
                 from_state: str | None = None, to_state: str | None = None,
                 reason: str | None = None, audit_detail: dict | None = None) -> CaseEvent:
    """Append an event to the case's log; its audit record follows it (service/audit.py).

    ``audit_detail``: ids and codes for the audit record (the reason, free text, stays on
    the case: it may speak of the person).
    """
    entry = CaseEvent(event=event, actor_type=actor.value,
                      actor_agent_id=agent.id if agent else None, from_state=from_state,
                      to_state=to_state, reason=reason or None, created_at=utcnow())
    entry.audit_detail = audit_detail
    case.events.append(entry)
    return entry


def record_check(case: RecoveryCase, found: CheckResult, *, agent: Agent | None) -> None:
    """Append one result to the case's check tree for its current evidence attempt."""
    case.checks.append(VerificationCheck(
        attempt=case.evidence_attempt, check=found.check, result=found.result.value,
        reason_code=found.reason_code, score=found.score, threshold=found.threshold,
        engine=found.engine, engine_version=found.engine_version,
        actor_agent_id=agent.id if agent else None, details=dict(found.details),
    ))


def check_version(case: RecoveryCase, expected_version: int | None) -> None:
    if expected_version is not None and case.version != expected_version:
        raise StaleCase(case.version)


def serialise_on(key: str) -> None:
    """On PostgreSQL, hold a transaction-scoped advisory lock on ``key`` until the commit.

    SQLite already lets one writer through at a time.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(
            sa.func.hashtextextended(key, 0))))
