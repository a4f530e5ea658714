"""Answers about recent account activity against the record (verification/activity.py)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verification.activity import (
    CHECK_ACCOUNT,
    CHECK_ATTEMPTS,
    CHECK_DEPOSIT,
    CHECK_PURCHASE,
    Activity,
    ActivityAnswers,
    ActivityPolicy,
    amount_matches,
    asset_symbol,
    compare_activity,
    date_matches,
)
from verification.checks import Result
from verification.risk import Level, RiskFacts, assess

ASKED = datetime(2026, 12, 8, 10, tzinfo=UTC)
HISTORY = [
    Activity("deposit", Decimal("1200.00"), "EUR", datetime(2026, 10, 1, 12, tzinfo=UTC)),
    Activity("purchase", Decimal("0.015"), "BTC", datetime(2026, 10, 2, 12, tzinfo=UTC)),
    Activity("deposit", Decimal("487.30"), "EUR", datetime(2026, 12, 2, 23, 30, tzinfo=UTC)),
    Activity("purchase", Decimal("0.85"), "ETH", datetime(2026, 12, 3, 9, tzinfo=UTC)),
    # After the request was filed: never the "last" one the person was asked about.
    Activity("deposit", Decimal("9.99"), "EUR", datetime(2026, 12, 9, tzinfo=UTC)),
]
POLICY = ActivityPolicy(amount_tolerance=0.05, date_tolerance_days=2, max_attempts=3)


def compare(answers, history=HISTORY, attempts=0):
    return {c.check: c for c in compare_activity(answers, history, asked_at=ASKED,
                                                 earlier_attempts=attempts, policy=POLICY)}


def outcome(checks) -> dict[str, tuple[str, str | None]]:
    return {name: (c.result.value, c.reason_code) for name, c in checks.items()}


@pytest.mark.parametrize("answers,expected", [
    # A round figure within 5% of 487.30 and a date two days off: the owner's memory.
    (ActivityAnswers(Decimal("490"), date(2026, 12, 4)), {CHECK_DEPOSIT: ("clear", None)}),
    (ActivityAnswers(Decimal("463")), {CHECK_DEPOSIT: ("clear", None)}),
    (ActivityAnswers(deposit_date=date(2026, 11, 30)), {CHECK_DEPOSIT: ("clear", None)}),
    # 1200 was an earlier deposit, not the last one.
    (ActivityAnswers(Decimal("1200")), {CHECK_DEPOSIT: ("consider", "activity_deposit_mismatch")}),
    (ActivityAnswers(Decimal("460")), {CHECK_DEPOSIT: ("consider", "activity_deposit_mismatch")}),
    (ActivityAnswers(Decimal("487.30"), date(2026, 12, 5)),
     {CHECK_DEPOSIT: ("consider", "activity_deposit_mismatch")}),
    (ActivityAnswers(asset_bought="eth"), {CHECK_PURCHASE: ("clear", None)}),
    (ActivityAnswers(asset_bought=" Ethereum "), {CHECK_PURCHASE: ("clear", None)}),
    (ActivityAnswers(asset_bought="Bitcoin"),
     {CHECK_PURCHASE: ("consider", "activity_purchase_mismatch")}),
    (ActivityAnswers(Decimal("487.3"), date(2026, 12, 2), "ETH"),
     {CHECK_DEPOSIT: ("clear", None), CHECK_PURCHASE: ("clear", None)}),
    (ActivityAnswers(Decimal("100"), None, "ETH"),
     {CHECK_DEPOSIT: ("consider", "activity_deposit_mismatch"),
      CHECK_PURCHASE: ("clear", None)}),
])
def test_answers_are_compared_with_the_last_activity_of_their_kind(answers, expected):
    assert outcome(compare(answers)) == expected


def test_no_answers_no_checks():
    assert compare(ActivityAnswers()) == {}
    assert compare(ActivityAnswers(asset_bought="")) == {}


def test_an_account_without_such_activity_does_not_match():
    checks = compare(ActivityAnswers(Decimal("10"), asset_bought="BTC"), history=[])
    assert outcome(checks) == {CHECK_DEPOSIT: ("consider", "activity_deposit_mismatch"),
                               CHECK_PURCHASE: ("consider", "activity_purchase_mismatch")}
    assert checks[CHECK_DEPOSIT].details["on_record"] is None


def test_without_an_account_of_record_nothing_is_compared():
    assert outcome(compare(ActivityAnswers(Decimal("10")), history=None)) == {
        CHECK_ACCOUNT: ("consider", "no_account_of_record")}


@pytest.mark.parametrize("attempts,compared", [(0, True), (2, True), (3, False), (7, False)])
def test_past_the_attempt_limit_the_answers_are_not_compared(attempts, compared):
    checks = compare(ActivityAnswers(Decimal("487.30"), asset_bought="ETH"), attempts=attempts)
    if compared:
        assert set(checks) == {CHECK_DEPOSIT, CHECK_PURCHASE}
    else:
        # Right answers too: past the limit, guessing is the finding.
        assert outcome(checks) == {CHECK_ATTEMPTS: ("consider", "activity_attempts_exceeded")}
        assert checks[CHECK_ATTEMPTS].details == {"attempt": attempts + 1, "max_attempts": 3}


def test_the_details_tell_the_agent_what_was_answered_and_what_is_on_record():
    check = compare(ActivityAnswers(Decimal("500"), date(2026, 12, 9)))[CHECK_DEPOSIT]
    assert check.details["answered"] == {"deposit_amount": "500",
                                         "deposit_date": "2026-12-09"}
    assert check.details["on_record"] == {"amount": "487.30", "asset": "EUR",
                                          "date": "2026-12-02"}
    assert check.details["matched"] == {"amount": True, "date": False}
    assert check.result is Result.CONSIDER


@pytest.mark.parametrize("typed,symbol", [("btc", "BTC"), ("Bitcoin", "BTC"), ("XBT", "BTC"),
                                          ("usd  coin", "USDC"), (" sol ", "SOL"),
                                          ("NEWCOIN", "NEWCOIN")])
def test_asset_symbols(typed, symbol):
    assert asset_symbol(typed) == symbol


amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1e12"), places=6)


@given(actual=amounts, share=st.floats(min_value=0, max_value=0.05))
def test_an_amount_within_the_tolerance_matches(actual, share):
    for sign in (1, -1):
        answer = actual * (1 + sign * Decimal(str(share)))
        assert amount_matches(answer, actual, 0.05)


@given(actual=amounts, share=st.floats(min_value=0.0501, max_value=10))
def test_an_amount_beyond_the_tolerance_does_not(actual, share):
    for sign in (1, -1):
        answer = actual * (1 + sign * Decimal(str(share)))
        assert not amount_matches(answer, actual, 0.05)


@given(moment=st.datetimes(min_value=datetime(2009, 1, 3), max_value=datetime(2100, 1, 1),
                           timezones=st.just(UTC)),
       offset=st.integers(min_value=-10, max_value=10))
def test_a_date_matches_within_the_days_allowed(moment, offset):
    answer = moment.date() + timedelta(days=offset)
    assert date_matches(answer, moment, 2) is (abs(offset) <= 2)


@given(history=st.lists(st.builds(
    Activity, kind=st.sampled_from(["deposit", "purchase"]), amount=amounts,
    asset=st.sampled_from(["BTC", "ETH", "EUR"]),
    occurred_at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2027, 1, 1),
                             timezones=st.just(UTC))), max_size=8),
       attempts=st.integers(min_value=0, max_value=5))
def test_the_owner_giving_the_record_exactly_always_matches(history, attempts):
    """Whatever the history, answering with the last deposit and purchase on record clears."""
    deposits = [a for a in history if a.kind == "deposit" and a.occurred_at <= ASKED]
    purchases = [a for a in history if a.kind == "purchase" and a.occurred_at <= ASKED]
    last_deposit = max(deposits, key=lambda a: a.occurred_at, default=None)
    last_purchase = max(purchases, key=lambda a: a.occurred_at, default=None)
    answers = ActivityAnswers(
        last_deposit.amount if last_deposit else Decimal("1"),
        last_deposit.occurred_at.date() if last_deposit else None,
        last_purchase.asset if last_purchase else "BTC")
    checks = compare(answers, history=history, attempts=attempts)
    if attempts >= POLICY.max_attempts:
        assert set(checks) == {CHECK_ATTEMPTS}
        return
    assert (checks[CHECK_DEPOSIT].result is Result.CLEAR) is (last_deposit is not None)
    assert (checks[CHECK_PURCHASE].result is Result.CLEAR) is (last_purchase is not None)


@pytest.mark.parametrize("codes,level", [
    (("activity_deposit_mismatch",), Level.MEDIUM),
    (("activity_purchase_mismatch",), Level.MEDIUM),
    (("activity_deposit_mismatch", "activity_purchase_mismatch"), Level.HIGH),
    (("activity_attempts_exceeded",), Level.HIGH),
])
def test_wrong_or_too_many_answers_raise_the_risk(codes, level):
    risk = assess(RiskFacts(findings=codes))
    assert risk.level is level
    assert {r.code for r in risk.reasons} == set(codes)
