"""Staff sign-in beyond the password: the TOTP second factor, recovery codes, and the back-off
that slows repeated failures down.

Every code is good once, however many processes check it at once: a TOTP code moves the
agent's last used time step forward with one conditional UPDATE, and a recovery code is spent
the same way, so of two requests with the same code exactly one succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from extensions import db

from .. import credentials
from ..credentials import Backoff
from ..models import Agent, RecoveryCode, SigninFailures, utcnow
from ..states import Actor
from . import audit
from .agents import end_agent_sessions, sign_in_failed
from .errors import AgentNotFound
from .unit import serialise_on, transaction

# Recovery codes carry about 50 bits; argon2id makes a stolen table of their hashes slow to
# search. OWASP's minimum parameters (19 MiB, two passes) suffice for random codes, and keep ten
# hashes at enrolment and up to ten checks per use quick.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class SecondFactorCheck:
    """The verdict on a code: accepted or not, whether it was a recovery code, how many are
    left."""

    accepted: bool
    recovery_code: bool = False
    codes_left: int = 0


def _agent(agent_id: int, *, lock: bool = False) -> Agent:
    agent = db.session.get(Agent, agent_id, with_for_update=lock, populate_existing=lock)
    if agent is None:
        raise AgentNotFound(f"There is no agent {agent_id}.")
    return agent


def enrolment_secret(agent_id: int) -> str | None:
    """The TOTP secret an agent without a second factor is enrolling with (made on first
    asking, kept until enrolment ends), or None when the agent has one already."""
    with transaction():
        agent = _agent(agent_id, lock=True)
        if agent.totp_enabled_at is not None:
            return None
        if agent.totp_secret is None:
            agent.totp_secret = credentials.new_totp_secret()
        return agent.totp_secret


def _store_recovery_codes(agent: Agent) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.agent_id == agent.id))
    codes = credentials.new_recovery_codes()
    db.session.add_all(RecoveryCode(agent_id=agent.id, code_hash=_hasher.hash(
        credentials.normalise_recovery_code(code))) for code in codes)
    return codes


def enable_second_factor(agent_id: int, code: str) -> list[str] | None:
    """Finish enrolment with the first code from the app: the second factor is on, and the
    ten recovery codes (shown once, stored hashed) come back. None if the code is wrong."""
    with transaction():
        agent = _agent(agent_id, lock=True)
        if agent.totp_enabled_at is not None or agent.totp_secret is None:
            return None
        step = credentials.matching_step(agent.totp_secret, code, utcnow(), after=None)
        if step is None:
            sign_in_failed(agent, "wrong_code")
            return None
        agent.totp_enabled_at = utcnow()
        agent.totp_last_step = step
        audit.record("second_factor.enrolled", actor=Actor.AGENT, agent=agent)
        audit.record("signin.success", actor=Actor.AGENT, agent=agent,
                      detail={"method": "enrolment"})
        return _store_recovery_codes(agent)


def _spend_totp(agent: Agent, code: str) -> bool:
    step = credentials.matching_step(agent.totp_secret, code, utcnow(),
                                     after=agent.totp_last_step)
    if step is None:
        return False
    moved = db.session.execute(
        sa.update(Agent).where(Agent.id == agent.id, sa.or_(
            Agent.totp_last_step.is_(None), Agent.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return moved.rowcount == 1


def _spend_recovery_code(agent: Agent, code: str) -> bool:
    bare = credentials.normalise_recovery_code(code)
    if bare is None:
        return False
    unused = db.session.scalars(sa.select(RecoveryCode).where(
        RecoveryCode.agent_id == agent.id, RecoveryCode.used_at.is_(None)))
    for stored in unused:
        try:
            _hasher.verify(stored.code_hash, bare)
        except (VerificationError, InvalidHashError):
            continue
        spent = db.session.execute(
            sa.update(RecoveryCode).where(RecoveryCode.id == stored.id,
                                          RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow()).execution_options(synchronize_session=False))
        return spent.rowcount == 1
    return False


def recovery_codes_left(agent_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode).where(
        RecoveryCode.agent_id == agent_id, RecoveryCode.used_at.is_(None))) or 0


def check_second_factor(agent_id: int, code: str) -> SecondFactorCheck:
    """Check a code from the agent's app, or one of their recovery codes; either is spent."""
    with transaction():
        agent = _agent(agent_id)
        verdict = SecondFactorCheck(False)
        if agent.totp_enabled_at is None or agent.totp_secret is None:
            pass
        elif _spend_totp(agent, code):
            verdict = SecondFactorCheck(True)
        elif _spend_recovery_code(agent, code):
            verdict = SecondFactorCheck(True, recovery_code=True,
                                        codes_left=recovery_codes_left(agent.id))
        if verdict.accepted:
            audit.record("signin.success", actor=Actor.AGENT, agent=agent, detail={
                "method": "recovery_code" if verdict.recovery_code else "totp",
                "codes_left": verdict.codes_left if verdict.recovery_code else None})
    if not verdict.accepted:
        sign_in_failed(agent, "wrong_code")
    return verdict


def renew_recovery_codes(agent_id: int, code: str) -> list[str] | None:
    """Ten new recovery codes in place of the old ones, for a current code from the app."""
    with transaction():
        agent = _agent(agent_id, lock=True)
        if agent.totp_enabled_at is None or not _spend_totp(agent, code):
            return None
        audit.record("second_factor.recovery_codes_renewed", actor=Actor.AGENT, agent=agent)
        return _store_recovery_codes(agent)


def reset_second_factor(agent_id: int, *, by: Agent | None = None) -> Agent:
    """Take an agent's second factor away (a lost phone, reported to an admin; ``by`` is the
    admin, None on the command line): their recovery codes go, their sessions end, and their
    next sign-in enrols a new app."""
    with transaction():
        agent = _agent(agent_id, lock=True)
        audit.record("second_factor.reset", actor=Actor.AGENT if by else Actor.SYSTEM, agent=by,
                     detail={"target_agent_id": agent.id,
                             "was_enrolled": agent.totp_enabled_at is not None})
        agent.totp_secret = None
        agent.totp_enabled_at = None
        agent.totp_last_step = None
        db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.agent_id == agent.id))
        end_agent_sessions(agent)
    return agent


# Back-off ------------------------------------------------------------------------------------

def _policy(key: str, policies: dict[str, Backoff]) -> Backoff:
    return policies[key.partition(":")[0]]


def _write_lock() -> None:
    """SQLite takes its write lock at a transaction's first write, not its first read: a write
    that changes nothing takes it before the counts are read (PostgreSQL locks per key)."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(sa.text("DELETE FROM signin_failures WHERE 0"))


def _locked_row(key: str) -> SigninFailures | None:
    serialise_on(f"signin-failures:{key}")
    return db.session.get(SigninFailures, key, with_for_update=True, populate_existing=True)


def _count_failure(key: str, row: SigninFailures | None, policy: Backoff,
                   now: datetime) -> None:
    if row is None:
        row = SigninFailures(key=key, failures=0, last_failure_at=now, blocked_until=now)
        db.session.add(row)
    elif now - row.last_failure_at >= policy.forget:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    row.blocked_until = now + policy.wait_after(row.failures)


def start_signin_attempt(keys: list[str], policies: dict[str, Backoff]) -> timedelta | None:
    """Let one attempt (a password or a code) through, or say how long it must wait.

    The attempt is counted as a failure before it is tried, under a lock per key: of attempts
    sent at the same moment, those past the back-off's free ones are refused, however many
    processes take them. A success takes its count back (``signin_attempt_passed``). Keys are
    ``kind:value``, the kind naming the policy.
    """
    for retry in range(2):
        try:
            with transaction():
                _write_lock()
                # One order everywhere (no deadlock); the time is read once every lock is held,
                # so no count made while this attempt waited looks like one from the future.
                rows = {key: _locked_row(key) for key in sorted(keys)}
                now = utcnow()
                waits = [row.blocked_until - now for key, row in rows.items()
                         if row is not None and row.blocked_until > now
                         and now - row.last_failure_at < _policy(key, policies).forget]
                if waits:
                    return max(waits)
                for key, row in rows.items():
                    _count_failure(key, row, _policy(key, policies), now)
            return None
        except IntegrityError:
            # Another process counted this key's first failure at the same moment.
            if retry:
                raise
    return None


def signin_attempt_passed(keys: list[str], *, signed_in: bool = False) -> None:
    """The attempt ``start_signin_attempt`` counted was right: its count is taken back; once
    ``signed_in``, the account's (or the browser's) count starts again from nothing."""
    with transaction():
        _write_lock()
        for key in sorted(keys):
            row = _locked_row(key)
            if row is None:
                continue
            if signed_in and key == keys[0]:
                db.session.delete(row)
                continue
            # As before the attempt, which found the key free to try.
            row.failures = max(0, row.failures - 1)
            row.blocked_until = min(row.blocked_until, utcnow())


def restart_enrolment(agent_id: int) -> None:
    """A new sign-in of an agent without a second factor: the secret an earlier sign-in was
    shown goes, so only the one who finishes enrolling holds the one that counts."""
    with transaction():
        agent = _agent(agent_id, lock=True)
        if agent.totp_enabled_at is None:
            agent.totp_secret = None


def agent_by_email(email: str) -> Agent | None:
    return db.session.scalar(sa.select(Agent).where(Agent.email == email.strip().lower()))
