"""The local account directory: recovery steps performed on ``Account`` rows.

Runs inside the service's transaction (``in_transaction``): the change to the account, the
reset link and its email, and the action's record commit together or not at all, so a step
is never half-done and never done twice (the action's row is locked while it runs).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from extensions import db
from notify import public_url
from workflow.models import Account, ResetLink, token_hash, utcnow
from workflow.service import ActionDone, ActionFailed, ActionOrder
from workflow.states import RecoveryStep


def reset_url(token: str) -> str:
    """The desk's reset page for ``token``, on the address people open the desk at."""
    return public_url(f"/reset/{token}")


def _reset_link(account: Account, order: ActionOrder) -> ActionDone:
    # Only the hash is stored; the token itself lives in the email alone.
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=current_app.config["RESET_LINK_TTL"])
    second_factor_removed = RecoveryStep.REMOVE_SECOND_FACTOR in order.case_steps
    db.session.add(ResetLink(account_id=account.id, action_id=order.action_id,
                             token_hash=token_hash(token), expires_at=expires_at,
                             second_factor_removed=second_factor_removed))
    return ActionDone(
        summary=f"a one-time link emailed to the address of record, valid until "
                f"{expires_at:%Y-%m-%d %H:%M} UTC",
        details={"expires_at": expires_at.isoformat()},
        notice=("reset_link", {"link": reset_url(token), "expires_at": expires_at,
                               "second_factor_removed": second_factor_removed}))


def _end_password(account: Account) -> bool:
    """Make the current password unusable; True if there was one.

    A takeover through recovery usually holds the password already (phished, reused) and
    lacks only the second factor, or is what got the account frozen: the step that removes
    the factor, or lifts the freeze, also ends the password, and only the owner's reset link
    (to the address of record) lets anyone in again.
    """
    had = account.password_hash is not None
    account.password_hash = None
    return had


def _remove_second_factor(account: Account, order: ActionOrder) -> ActionDone:
    was = account.two_factor_enabled
    account.two_factor_enabled = False
    ended = _end_password(account)
    summary = ("second factor removed; the owner enrols a new one at next sign-in"
               if was else "no second factor was enrolled")
    return ActionDone(summary=summary + ("; the current password no longer works" if ended
                                         else ""),
                      details={"was_enabled": was, "password_ended": ended})


def _unlock(account: Account, order: ActionOrder) -> ActionDone:
    was = account.locked
    account.locked = False
    return ActionDone(summary="account unlocked" if was else "the account was not locked",
                      details={"was_locked": was})


def _unfreeze(account: Account, order: ActionOrder) -> ActionDone:
    was = account.frozen
    account.frozen = False
    ended = _end_password(account)
    summary = "account unfrozen" if was else "the account was not frozen"
    return ActionDone(summary=summary + ("; the current password no longer works" if ended
                                         else ""),
                      details={"was_frozen": was, "password_ended": ended})


# Step -> what the local directory does. One entry a step.
STEPS: dict[RecoveryStep, Callable[[Account, ActionOrder], ActionDone]] = {
    RecoveryStep.RESET_LINK: _reset_link,
    RecoveryStep.REMOVE_SECOND_FACTOR: _remove_second_factor,
    RecoveryStep.UNLOCK: _unlock,
    RecoveryStep.UNFREEZE: _unfreeze,
}


class LocalDirectory:
    """The account service of the desk's own directory (the default)."""

    in_transaction = True

    def perform(self, order: ActionOrder) -> ActionDone:
        """Perform one step on the account of record, in the caller's transaction."""
        account = None
        if order.account_id is not None:
            account = db.session.scalars(sa.select(Account).where(Account.id == order.account_id)
                                         .with_for_update()).first()
        if account is None:
            raise ActionFailed("there is no account of record for this case", retriable=False)
        return STEPS[order.kind](account, order)
