"""Staff accounts: creation, passwords, sessions, deactivation; their API tokens by email."""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy.exc import IntegrityError

from extensions import db

from .. import credentials
from ..models import MAX_ID, Agent, RecoveryCase
from ..states import ROLES, Actor, State
from . import audit
from .errors import AgentExists, AgentNotFound
from .tokens import (
    FIRST_TOKEN_NAME,
    NewToken,
    TokenLifetimes,
    check_token_request,
    issue_token,
    revoke_all,
)
from .unit import record_event, transaction

_hasher = PasswordHasher()


def _check_password(password: str, *personal: str) -> None:
    """Refuse a short, common or personal password (credentials.WeakPassword, a ValueError)."""
    credentials.check_password(password, personal=personal)


def create_agent(email: str, name: str, role: str, password: str,
                 token_days: int | None = None) -> tuple[Agent, str]:
    """Create a staff member; returns the agent and a first API token (shown once, stored
    hashed), valid for ``token_days`` (API_TOKEN_TTL_DAYS when None)."""
    email = email.strip().lower()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    _check_password(password, email, name)
    if "@" not in email or not name.strip():
        raise ValueError("an email address and a name are required")
    if any(ch in email + name for ch in "\r\n") or any(ch.isspace() for ch in email):
        raise ValueError("the email address and the name must be on one line, the address "
                         "without spaces")
    days = token_days or current_app.config["API_TOKEN_TTL_DAYS"]
    try:
        with transaction():
            agent = Agent(email=email, name=name.strip(), role=role,
                          password_hash=_hasher.hash(password))
            db.session.add(agent)
            db.session.flush()
            audit.record("agent.created", actor=Actor.SYSTEM,
                         detail={"target_agent_id": agent.id, "role": role})
            first = issue_token(agent, FIRST_TOKEN_NAME, days)
    except IntegrityError as err:
        raise AgentExists(f"An agent with the email {email} already exists.") from err
    return agent, first.secret


def sign_in_failed(agent: Agent | None, reason: str) -> None:
    # The address and the agent the attempt named; never what was typed.
    audit.record_now("signin.failure", actor="anonymous", detail={
        "reason": reason, "target_agent_id": agent.id if agent is not None else None})


def authenticate(email: str, password: str) -> Agent | None:
    """The active agent with these credentials, or None; the attempt is on the audit trail
    (``signin.password_accepted``: the second factor comes next; or ``signin.failure`` with a
    reason code)."""
    agent = db.session.scalar(sa.select(Agent).where(Agent.email == email.strip().lower()))
    if agent is None or not agent.active:
        _hasher.hash(password)  # spend the same time as a real check: no user enumeration
        sign_in_failed(agent, "unknown_agent" if agent is None else "inactive_agent")
        return None
    try:
        _hasher.verify(agent.password_hash, password)
    except (VerificationError, InvalidHashError):
        sign_in_failed(agent, "wrong_password")
        return None
    with transaction():
        if _hasher.check_needs_rehash(agent.password_hash):
            agent.password_hash = _hasher.hash(password)
        audit.record("signin.password_accepted", actor=Actor.AGENT, agent=agent)
    return agent


def _agent_by_email(email: str) -> Agent:
    agent = db.session.scalars(sa.select(Agent).where(Agent.email == email.strip().lower())
                               .with_for_update()).first()
    if agent is None:
        raise AgentNotFound(f"There is no agent with the email {email.strip()}.")
    return agent


def end_agent_sessions(agent: Agent) -> None:
    # Computed by the database, so two changes at once both move the generation on.
    agent.session_generation = Agent.session_generation + 1


def end_sessions(agent_id: int) -> None:
    """End every console session of the agent (sign-out): its session generation moves on."""
    with transaction():
        agent = db.session.get(Agent, agent_id, with_for_update=True)
        if agent is not None:
            end_agent_sessions(agent)
            audit.record("session.signed_out", actor=Actor.AGENT, agent=agent)


def set_password(email: str, password: str) -> Agent:
    """Give an agent a new password; every console session of theirs ends."""
    with transaction():
        agent = _agent_by_email(email)
        _check_password(password, agent.email, agent.name)
        agent.password_hash = _hasher.hash(password)
        end_agent_sessions(agent)
        audit.record("agent.password_set", actor=Actor.SYSTEM,
                     detail={"target_agent_id": agent.id})
    return agent


def set_role(email: str, role: str) -> tuple[Agent, str]:
    """Give an agent another role; returns the agent and the role it had.

    Sessions go on (each request reads the role afresh), so a new role applies at once.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    with transaction():
        agent = _agent_by_email(email)
        before = agent.role
        if before != role:
            agent.role = role
            audit.record("agent.role_changed", actor=Actor.SYSTEM,
                         detail={"target_agent_id": agent.id, "from": before, "to": role})
    return agent, before


def deactivate_agent(email: str) -> tuple[Agent, int]:
    """Deactivate an agent: sessions end, API tokens are revoked, open cases are released.

    Returns the agent and how many cases were released (so that nobody is left waiting on a
    claim that no one can act on).
    """
    with transaction():
        agent = _agent_by_email(email)
        agent.active = False
        end_agent_sessions(agent)
        revoke_all(agent, reason="the staff member was deactivated")
        held = db.session.scalars(
            sa.select(RecoveryCase).where(RecoveryCase.assignee_id == agent.id,
                                          RecoveryCase.state != State.RESOLVED.value)
            .order_by(RecoveryCase.id).with_for_update())
        released = 0
        for case in held:
            case.assignee_id = None
            record_event(case, "released", actor=Actor.SYSTEM,
                         reason=f"{agent.name} was deactivated")
            released += 1
        audit.record("agent.deactivated", actor=Actor.SYSTEM,
                     detail={"target_agent_id": agent.id, "released_cases": released})
    return agent, released


def session_agent(agent_id: int, generation: int) -> Agent | None:
    """The active agent whose console sessions are of this generation, or None."""
    agent = db.session.get(Agent, agent_id) if 1 <= agent_id <= MAX_ID else None
    if agent is None or not agent.active or agent.session_generation != generation:
        return None
    return agent


def create_token_for(email: str, name: str, days: int, lifetimes: TokenLifetimes) -> NewToken:
    """A new API token for the active agent with this email (the command line prints it)."""
    name = check_token_request(name, days, lifetimes)
    with transaction():
        agent = _agent_by_email(email)
        if not agent.active:
            raise AgentNotFound(f"{agent.email} is deactivated: no token is issued.")
        new = issue_token(agent, name, days)
    return new


def revoke_tokens_of(email: str, *, by: Agent | None = None,
                     reason: str | None = None) -> tuple[Agent, int]:
    """Revoke every API token of the agent with this email (an incident): by an admin in the
    console, or with a ``reason`` (the command line). Returns the agent and how many."""
    with transaction():
        agent = _agent_by_email(email)
        revoked = revoke_all(agent, by=by, reason=reason)
    return agent, revoked
