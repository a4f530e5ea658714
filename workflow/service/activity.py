"""The answers about recent account activity, compared when a request is filed.

Compared at filing, in the transaction that creates the case, rather than in the document
job: the answers describe the account as it stood when the person asked (later activity
must not turn a right answer wrong), the attempt limit counts requests in the order they
were filed, and the job runs once per photo attempt and may run twice, while the answers
are given once. The checks are recorded on the first evidence attempt; the risk assessment
reads them whatever the attempt (service/risk.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from extensions import db
from verification.activity import (
    CHECK_PREFIX,
    KINDS,
    Activity,
    ActivityAnswers,
    ActivityPolicy,
    compare_activity,
)

from ..models import Account, AccountActivity, RecoveryCase, VerificationCheck
from .unit import record_check, serialise_on


def activity_policy() -> ActivityPolicy:
    """The tolerances and the attempt limit from configuration."""
    config = current_app.config
    return ActivityPolicy(amount_tolerance=float(config["ACTIVITY_AMOUNT_TOLERANCE"]),
                          date_tolerance_days=int(config["ACTIVITY_DATE_TOLERANCE_DAYS"]),
                          max_attempts=int(config["ACTIVITY_MAX_ATTEMPTS"]))


def _latest(account: Account, asked_at: datetime) -> list[Activity]:
    """The account's last activity of each kind before ``asked_at`` (all the answers need)."""
    found = []
    for kind in KINDS:
        row = db.session.scalars(
            sa.select(AccountActivity)
            .where(AccountActivity.account_id == account.id, AccountActivity.kind == kind,
                   AccountActivity.occurred_at <= asked_at)
            .order_by(AccountActivity.occurred_at.desc(), AccountActivity.id.desc())
            .limit(1)).first()
        if row is not None:
            found.append(Activity(row.kind, row.amount, row.asset, row.occurred_at))
    return found


def _earlier_attempts(account: Account, since: datetime) -> int:
    """Earlier requests for the account, filed since ``since``, whose answers were recorded."""
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(VerificationCheck.case_id)))
        .join(RecoveryCase, RecoveryCase.id == VerificationCheck.case_id)
        .where(RecoveryCase.account_id == account.id, RecoveryCase.created_at > since,
               VerificationCheck.check.startswith(CHECK_PREFIX))) or 0


def record_activity_answers(case: RecoveryCase, answers: ActivityAnswers | None) -> None:
    """Compare the answers of a request being filed and add the checks to its tree."""
    if answers is None or not answers.given():
        return
    account = case.account
    now = case.created_at
    history = attempts = None
    if account is not None:
        # Two requests for one account at once must not both pass as attempt N.
        serialise_on(f"account-activity:{account.id}")
        window = timedelta(days=int(current_app.config["ACTIVITY_ATTEMPT_WINDOW_DAYS"]))
        attempts = _earlier_attempts(account, now - window)
        history = _latest(account, now)
    for found in compare_activity(answers, history, asked_at=now,
                                  earlier_attempts=attempts or 0, policy=activity_policy()):
        record_check(case, found, agent=None)
