"""Staff API tokens: issued with an expiry, shown once, stored hashed, revocable.

A token is ``rd_`` and 43 URL-safe characters (256 random bits). Only its SHA-256 hash is
stored, with a short prefix to recognise it in lists. A new token made in the console is
shown once, on the page after its creation: the transaction that creates it also stores the
token masked with a one-time pad of the same length, and the pad goes into the creator's
session only. The next page unmasks it and clears the stored half with one conditional
UPDATE, so a reload, a second tab or a replayed cookie finds nothing to show.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from extensions import db

from ..models import MAX_ID, Agent, ApiToken, token_hash, utcnow
from ..states import Actor
from . import audit
from .unit import transaction

# Marks the desk's tokens, so that secret scanners and people recognise a leaked one.
TOKEN_MARK = "rd_"
# What lists show of a token: the mark and 8 random characters (48 of its 256 bits), enough to
# tell one's tokens apart; the 208 other bits stay secret.
PREFIX_LENGTH = len(TOKEN_MARK) + 8
NAME_MAX_LENGTH = 80
# The token create_agent issues with a new account.
FIRST_TOKEN_NAME = "First token"
# ``last_used_at`` is written at most this often per token: a busy integration must not turn
# every API read into a write, and a minute is precise enough to see whether a token is used.
LAST_USED_STEP = timedelta(minutes=1)
# How long after its creation a new token can still be shown (the page right after it).
REVEAL_WINDOW = timedelta(minutes=10)


class TokenNotFound(Exception):
    """No such token, or one the asker may not see (the same answer: 404)."""


class TokenSettingsInvalid(ValueError):
    """API_TOKEN_TTL_DAYS / API_TOKEN_MAX_TTL_DAYS are not a usable pair of day counts."""


class ApiTokenRefused(Exception):
    """A known token that no longer works (401 with a sentence saying why)."""


class TokenExpired(ApiTokenRefused):
    """The token's expiry has passed."""


class TokenRevoked(ApiTokenRefused):
    """The token was revoked."""


@dataclass(frozen=True)
class TokenLifetimes:
    """How many days a token lives by default, and at most."""

    default_days: int
    max_days: int


def token_lifetimes(config) -> TokenLifetimes:
    """API_TOKEN_TTL_DAYS and API_TOKEN_MAX_TTL_DAYS, checked (refused when unusable)."""
    default, most = config.get("API_TOKEN_TTL_DAYS"), config.get("API_TOKEN_MAX_TTL_DAYS")
    for name, value in (("API_TOKEN_TTL_DAYS", default), ("API_TOKEN_MAX_TTL_DAYS", most)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TokenSettingsInvalid(f"{name} must be a whole number of days, at least 1, "
                                       f"not {value!r}")
    if default > most:
        raise TokenSettingsInvalid(f"API_TOKEN_TTL_DAYS ({default}) is more than "
                                   f"API_TOKEN_MAX_TTL_DAYS ({most})")
    return TokenLifetimes(default, most)


@dataclass(frozen=True)
class NewToken:
    """A token just issued: the row, the token itself (never stored), and the pad that
    unmasks the stored copy once (None when nothing was kept to show)."""

    token: ApiToken
    secret: str
    reveal_key: bytes | None


def check_token_request(name: str, days: int, lifetimes: TokenLifetimes) -> str:
    """The token's name, stripped; ValueError with a sentence when the name or days won't do."""
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX_LENGTH or any(ch in name for ch in "\r\n"):
        raise ValueError(f"Give the token a name of one line, at most {NAME_MAX_LENGTH} "
                         "characters (what it is for).")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= lifetimes.max_days:
        raise ValueError(f"A token expires in 1 to {lifetimes.max_days} days.")
    return name


def _mask(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def issue_token(agent: Agent, name: str, days: int, *, keep_to_show: bool = False) -> NewToken:
    """Add a token for ``agent`` to the current transaction (the caller commits)."""
    secret = TOKEN_MARK + secrets.token_urlsafe(32)
    now = utcnow()
    pad = secrets.token_bytes(len(secret)) if keep_to_show else None
    token = ApiToken(agent_id=agent.id, name=name, token_hash=token_hash(secret),
                     prefix=secret[:PREFIX_LENGTH], created_at=now,
                     expires_at=now + timedelta(days=days),
                     reveal=_mask(secret.encode(), pad) if pad else None)
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.created", actor=Actor.SYSTEM, detail={
        "target_agent_id": agent.id, "token_id": token.id, "days": days})
    return NewToken(token, secret, pad)


def revoke_all(agent: Agent, *, by: Agent | None = None, reason: str | None = None) -> int:
    """Revoke every token of ``agent`` still unrevoked, in the current transaction."""
    result = db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.agent_id == agent.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by_id=by.id if by else None,
                revoke_reason=reason, reveal=None)
        .execution_options(synchronize_session=False))
    if result.rowcount:
        audit.record("api_token.revoked_all", actor=Actor.AGENT if by else Actor.SYSTEM,
                     agent=by, detail={"target_agent_id": agent.id, "tokens": result.rowcount})
    return result.rowcount


def create_token(agent_id: int, name: str, days: int, lifetimes: TokenLifetimes) -> NewToken:
    """A new token for the signed-in agent, kept (masked) to be shown once on the next page."""
    name = check_token_request(name, days, lifetimes)
    with transaction():
        agent = db.session.get(Agent, agent_id)
        if agent is None or not agent.active:
            raise TokenNotFound("There is no such staff member.")
        new = issue_token(agent, name, days, keep_to_show=True)
    return new


def reveal_token(agent_id: int, token_id: int, key: bytes) -> str | None:
    """The new token ``key`` unmasks, once; None when it was shown already or is too old."""
    if not 1 <= token_id <= MAX_ID:
        return None
    with transaction():
        token = db.session.scalar(sa.select(ApiToken).where(ApiToken.id == token_id,
                                                            ApiToken.agent_id == agent_id))
        if token is None or token.reveal is None:
            return None
        masked, hashed = token.reveal, token.token_hash
        fresh = utcnow() - token.created_at <= REVEAL_WINDOW
        # Whoever clears the stored half first shows the token; everyone else finds nothing.
        cleared = db.session.execute(
            sa.update(ApiToken).where(ApiToken.id == token_id, ApiToken.reveal == masked)
            .values(reveal=None).execution_options(synchronize_session=False)).rowcount
    if cleared != 1 or not fresh or len(key) != len(masked):
        return None
    secret = _mask(masked, key).decode("ascii", errors="replace")
    # Any pad unmasks to something: only the one that gives the token's hash is the right one.
    return secret if token_hash(secret) == hashed else None


def revoke_token(token_id: int, by: Agent) -> ApiToken:
    """Revoke one token: one's own, or anyone's for an admin (TokenNotFound otherwise)."""
    with transaction():
        token = db.session.scalars(sa.select(ApiToken).where(ApiToken.id == token_id)
                                   .with_for_update()).first()
        if token is None or (token.agent_id != by.id and by.role != "admin"):
            raise TokenNotFound("There is no such API token.")
        if token.revoked_at is None:
            token.revoked_at, token.revoked_by_id, token.reveal = utcnow(), by.id, None
            audit.record("api_token.revoked", actor=Actor.AGENT, agent=by, detail={
                "target_agent_id": token.agent_id, "token_id": token.id})
    return token


def tokens_of(agent_id: int) -> list[ApiToken]:
    """An agent's tokens, newest first, revoked and expired ones included."""
    return list(db.session.scalars(sa.select(ApiToken).where(ApiToken.agent_id == agent_id)
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


@dataclass(frozen=True)
class StaffMember:
    """A staff account with how many of its tokens work now."""

    agent: Agent
    working_tokens: int


def staff_overview(now: datetime | None = None) -> list[StaffMember]:
    """Every staff account, by name, with its count of working tokens."""
    now = now or utcnow()
    counts = dict(db.session.execute(
        sa.select(ApiToken.agent_id, sa.func.count())
        .where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .group_by(ApiToken.agent_id)).all())
    agents = db.session.scalars(sa.select(Agent).order_by(Agent.name, Agent.id))
    return [StaffMember(agent, counts.get(agent.id, 0)) for agent in agents]


def agent_for_token(token: str) -> Agent | None:
    """The active agent whose working API bearer token this is; None for an unknown token.

    A known token that expired or was revoked raises TokenExpired / TokenRevoked, whose
    sentence tells its holder to get a new one. The check reads the database on every
    request, so a revocation holds at once in every process.
    """
    found = db.session.execute(
        sa.select(ApiToken, Agent).join(Agent, ApiToken.agent_id == Agent.id)
        .where(ApiToken.token_hash == token_hash(token))).first()
    if found is None or not found.Agent.active:
        return None
    api_token, agent = found
    now = utcnow()
    if api_token.revoked_at is not None:
        raise TokenRevoked("This API token was revoked. Create a new one under API tokens in "
                           "the console.")
    if api_token.expires_at <= now:
        raise TokenExpired("This API token has expired. Create a new one under API tokens in "
                           "the console.")
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_STEP:
        with transaction():
            # Conditional, so that requests at the same moment write it once between them.
            db.session.execute(
                sa.update(ApiToken)
                .where(ApiToken.id == api_token.id,
                       sa.or_(ApiToken.last_used_at.is_(None),
                              ApiToken.last_used_at <= now - LAST_USED_STEP))
                .values(last_used_at=now).execution_options(synchronize_session=False))
    return agent
