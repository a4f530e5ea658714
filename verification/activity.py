"""Recent account activity only the owner knows: the answers of a request against the record.

Pure: the service gives the answers typed on the form (or sent to the API), the account's
recent activity from the directory and how many earlier requests for the account already
answered; this module says, as checks of the tree (``account.activity.*``), which answers
match. An answer is compared with the *last* activity of its kind before the request, with a
tolerance (people remember round figures and the day they sent money, not the day it was
credited). Past the attempt limit nothing is compared: repeated guessing is itself the
finding.

A match is recorded as clear but never lowers the risk: what a person knows about an account
leaks with it (phished statements, a shared device), so knowledge is only ever evidence
*against* a request. Mismatches raise it (verification/risk.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .checks import CheckResult, Result

ENGINE = "recovery-desk-activity"
ENGINE_VERSION = "1"

DEPOSIT = "deposit"
PURCHASE = "purchase"
KINDS = (DEPOSIT, PURCHASE)

CHECK_DEPOSIT = "account.activity.last_deposit"
CHECK_PURCHASE = "account.activity.last_purchase"
CHECK_ATTEMPTS = "account.activity.attempts"
CHECK_ACCOUNT = "account.activity.account"
# The prefix of every check this module writes.
CHECK_PREFIX = "account.activity."

# What people type for an asset, by the symbol the directory records. Symbols compare
# case-insensitively; these are the names people use instead of the symbol.
ASSET_NAMES = {
    "BITCOIN": "BTC", "XBT": "BTC", "ETHER": "ETH", "ETHEREUM": "ETH", "TETHER": "USDT",
    "SOLANA": "SOL", "CARDANO": "ADA", "RIPPLE": "XRP", "DOGECOIN": "DOGE", "LITECOIN": "LTC",
    "USD COIN": "USDC", "POLKADOT": "DOT",
}


@dataclass(frozen=True)
class ActivityAnswers:
    """What the person answered; every question is optional."""

    deposit_amount: Decimal | None = None
    deposit_date: date | None = None
    asset_bought: str | None = None

    def given(self) -> bool:
        """Whether any question was answered."""
        return any(v is not None and v != "" for v in
                   (self.deposit_amount, self.deposit_date, self.asset_bought))

    def as_dict(self) -> dict[str, str]:
        """The answers given, as text (for a request's fingerprint and the check details)."""
        found = {"deposit_amount": self.deposit_amount, "deposit_date": self.deposit_date,
                 "asset_bought": self.asset_bought}
        return {k: (v.isoformat() if isinstance(v, date) else str(v))
                for k, v in found.items() if v is not None and v != ""}


@dataclass(frozen=True)
class Activity:
    """One entry of an account's recent activity in the directory."""

    kind: str
    amount: Decimal
    asset: str
    occurred_at: datetime


@dataclass(frozen=True)
class ActivityPolicy:
    """Tolerances and the attempt limit (config.py says why each value is what it is)."""

    amount_tolerance: float = 0.05
    date_tolerance_days: int = 2
    max_attempts: int = 3


def asset_symbol(text: str) -> str:
    """The symbol an answer names: ``"bitcoin"``, ``" btc "`` and ``"XBT"`` are all BTC."""
    key = " ".join(text.split()).upper()
    return ASSET_NAMES.get(key, key)


def last_of(kind: str, history: Iterable[Activity], before: datetime) -> Activity | None:
    """The latest activity of ``kind`` at or before ``before``."""
    found = [a for a in history if a.kind == kind and a.occurred_at <= before]
    return max(found, key=lambda a: a.occurred_at, default=None)


def amount_matches(answer: Decimal, actual: Decimal, tolerance: float) -> bool:
    """Whether ``answer`` is within ``tolerance`` (a share of ``actual``) of ``actual``."""
    return abs(answer - actual) <= Decimal(str(tolerance)) * abs(actual)


def date_matches(answer: date, actual: datetime, days: int) -> bool:
    """Whether ``answer`` is at most ``days`` calendar days from the (UTC) day of ``actual``."""
    return abs((answer - actual.date()).days) <= days


def _check(name: str, matched: bool, reason: str, details: dict) -> CheckResult:
    return CheckResult(name, Result.CLEAR if matched else Result.CONSIDER,
                       None if matched else reason, score=1.0 if matched else 0.0,
                       engine=ENGINE, engine_version=ENGINE_VERSION, details=details)


def _deposit_check(answers: ActivityAnswers, last: Activity | None,
                   policy: ActivityPolicy) -> CheckResult:
    details: dict = {"answered": {k: v for k, v in answers.as_dict().items()
                                  if k.startswith("deposit_")},
                     "amount_tolerance": policy.amount_tolerance,
                     "date_tolerance_days": policy.date_tolerance_days}
    if last is None:
        details["on_record"] = None
        return _check(CHECK_DEPOSIT, False, "activity_deposit_mismatch", details)
    details["on_record"] = {"amount": str(last.amount), "asset": last.asset,
                            "date": last.occurred_at.date().isoformat()}
    parts = {}
    if answers.deposit_amount is not None:
        parts["amount"] = amount_matches(answers.deposit_amount, last.amount,
                                         policy.amount_tolerance)
    if answers.deposit_date is not None:
        parts["date"] = date_matches(answers.deposit_date, last.occurred_at,
                                     policy.date_tolerance_days)
    details["matched"] = parts
    return _check(CHECK_DEPOSIT, all(parts.values()), "activity_deposit_mismatch", details)


def _purchase_check(answers: ActivityAnswers, last: Activity | None) -> CheckResult:
    answered = asset_symbol(answers.asset_bought or "")
    details: dict = {"answered": {"asset_bought": answers.asset_bought, "symbol": answered},
                     "on_record": None if last is None else {
                         "asset": last.asset, "date": last.occurred_at.date().isoformat()}}
    matched = last is not None and asset_symbol(last.asset) == answered
    return _check(CHECK_PURCHASE, matched, "activity_purchase_mismatch", details)


def compare_activity(answers: ActivityAnswers, history: Iterable[Activity] | None, *,
                     asked_at: datetime, earlier_attempts: int,
                     policy: ActivityPolicy | None = None) -> list[CheckResult]:
    """The checks of ``answers`` against an account's ``history`` (None: no account of record).

    ``earlier_attempts`` is how many earlier requests for the account answered within the
    policy's window; past ``max_attempts`` nothing is compared and the one check says so. No
    answers give no checks: the questions are optional.
    """
    policy = policy or ActivityPolicy()
    if not answers.given():
        return []
    if history is None:
        return [CheckResult(CHECK_ACCOUNT, Result.CONSIDER, "no_account_of_record",
                            engine=ENGINE, engine_version=ENGINE_VERSION)]
    if earlier_attempts >= policy.max_attempts:
        return [CheckResult(CHECK_ATTEMPTS, Result.CONSIDER, "activity_attempts_exceeded",
                            score=float(earlier_attempts + 1),
                            threshold=float(policy.max_attempts), engine=ENGINE,
                            engine_version=ENGINE_VERSION,
                            details={"attempt": earlier_attempts + 1,
                                     "max_attempts": policy.max_attempts})]
    history = list(history)
    checks = []
    if answers.deposit_amount is not None or answers.deposit_date is not None:
        checks.append(_deposit_check(answers, last_of(DEPOSIT, history, asked_at), policy))
    if answers.asset_bought:
        checks.append(_purchase_check(answers, last_of(PURCHASE, history, asked_at)))
    return checks
