"""The local directory's one-time reset links: looked at, then used once.

A link is used by one conditional UPDATE (``used_at`` still empty and not expired), so of
two requests with the same link exactly one sets the password; the other hears that the link
is not valid or was used, the same words as for a link that never existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from argon2 import PasswordHasher

from extensions import db

from ..models import RecoveryAction, ResetLink, token_hash, utcnow
from ..states import Actor
from .unit import record_event, transaction

# NIST SP 800-63B asks for at least 8 characters; the desk asks staff for 12, and an account
# handed back after a takeover deserves no less.
PASSWORD_MIN_LENGTH = 12
# Longer tokens than this were never issued (32 random bytes are 43 characters).
TOKEN_MAX_CHARS = 100

_hasher = PasswordHasher()


class ResetLinkInvalid(Exception):
    """The link does not exist, expired or was used: one answer for all three."""

    def __init__(self):
        super().__init__("This link is not valid or was used. If you still cannot sign in, "
                         "file a new recovery request.")


class PasswordRefused(ValueError):
    """The new password does not meet the policy."""


@dataclass(frozen=True)
class ResetLinkInfo:
    """What the reset page shows about a valid link."""

    second_factor_removed: bool
    expires_at: datetime


def _usable(token: str):
    return sa.and_(ResetLink.token_hash == token_hash(token), ResetLink.used_at.is_(None),
                   ResetLink.expires_at > utcnow())


def reset_link_info(token: str) -> ResetLinkInfo:
    """The link of ``token`` while it can still be used; else ResetLinkInvalid."""
    if not token or len(token) > TOKEN_MAX_CHARS:
        raise ResetLinkInvalid()
    try:
        link = db.session.scalars(sa.select(ResetLink).where(_usable(token))).first()
        if link is None:
            raise ResetLinkInvalid()
        return ResetLinkInfo(link.second_factor_removed, link.expires_at)
    finally:
        db.session.rollback()


def check_new_password(password: str) -> None:
    """Refuse a password the local directory will not take."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordRefused(f"Choose a password of at least {PASSWORD_MIN_LENGTH} "
                              "characters.")


def redeem_reset_link(token: str, password: str) -> None:
    """Set the account's new password with the link of ``token``, which is used up."""
    check_new_password(password)
    if not token or len(token) > TOKEN_MAX_CHARS:
        raise ResetLinkInvalid()
    hashed = _hasher.hash(password)  # slow on purpose: before any row is locked
    with transaction():
        now = utcnow()
        taken = db.session.execute(
            sa.update(ResetLink).where(_usable(token)).values(used_at=now)
            .execution_options(synchronize_session=False))
        if taken.rowcount != 1:
            raise ResetLinkInvalid()
        link = db.session.scalars(sa.select(ResetLink).where(
            ResetLink.token_hash == token_hash(token))).one()
        account = link.account
        account.password_hash = hashed
        account.password_changed_at = now
        # A new password ends every other link still open for the account.
        db.session.execute(
            sa.update(ResetLink).where(ResetLink.account_id == account.id,
                                       ResetLink.used_at.is_(None))
            .values(used_at=now).execution_options(synchronize_session=False))
        action = db.session.get(RecoveryAction, link.action_id) if link.action_id else None
        if action is not None:
            record_event(action.case, "reset_link_used", actor=Actor.USER,
                         reason="a new password was set with the reset link")
