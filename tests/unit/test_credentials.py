"""The staff credential rules, without a database."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow import credentials
from workflow.credentials import Backoff, WeakPassword, check_password


@pytest.mark.parametrize("password, why", [
    ("short pass", "at least 12"),
    ("qwerty123456", "common"),            # on the list as it is
    ("Password1234!", "common"),           # a listed word dressed in digits and symbols
    ("!!Sunshine2024", "common"),
    ("aaaaaaaaaaaaaaa", "repeated or sequential"),
    ("abcdefghijklmn", "repeated or sequential"),
    ("98765432109876", "repeated or sequential"),
    ("abc123abc123abc123", "repeated or sequential"),
    ("samantha-rocks-the-desk", "your name or email"),
    ("x" * 1025, "at most 1024"),
])
def test_weak_passwords_are_refused_with_the_reason(password, why):
    with pytest.raises(WeakPassword, match=why):
        check_password(password, personal=("samantha@example.test", "Samantha Jones"))


@pytest.mark.parametrize("password", ["correct horse battery staple", "Gr4vel-Lantern-Otter",
                                      "tea at 4 with the blue giraffe"])
def test_good_passwords_pass(password):
    check_password(password, personal=("samantha@example.test", "Samantha Jones"))


def test_the_list_is_the_full_one():
    common = credentials._common_passwords()
    assert len(common) > 19_000 and "password" in common and "qwerty123456" in common


def test_a_code_matches_its_step_and_only_after_the_last_one_used():
    secret = credentials.new_totp_secret()
    at = datetime(2026, 12, 6, 9, 0, 10, tzinfo=UTC)
    step = credentials.totp_step(at)
    code = pyotp.TOTP(secret).at(at)
    assert credentials.matching_step(secret, code, at, after=None) == step
    assert credentials.matching_step(secret, f" {code[:3]} {code[3:]} ", at, after=None) == step
    assert credentials.matching_step(secret, code, at, after=step) is None  # used already
    # A phone one step slow or fast still works; two steps off does not.
    assert credentials.matching_step(secret, code, at + timedelta(seconds=30), after=None) == step
    assert credentials.matching_step(secret, code, at + timedelta(seconds=60), after=None) is None
    assert credentials.matching_step(secret, "12345", at, after=None) is None
    assert credentials.matching_step(secret, "１２３４５６", at, after=None) is None


def test_recovery_codes_are_ten_distinct_and_read_back_however_typed():
    codes = credentials.new_recovery_codes()
    assert len(set(codes)) == 10
    for code in codes:
        assert credentials.normalise_recovery_code(code.lower().replace("-", " ")) \
            == code.replace("-", "")
    assert credentials.normalise_recovery_code("0OIL1-00000") is None  # look-alikes never issued


@given(st.integers(min_value=0, max_value=10_000))
def test_the_back_off_never_shrinks_and_is_capped(failures):
    backoff = Backoff(free=5, first=timedelta(seconds=15), longest=timedelta(minutes=15),
                      forget=timedelta(hours=24))
    assert backoff.wait_after(failures) <= backoff.wait_after(failures + 1) <= backoff.longest
    assert (backoff.wait_after(failures) == timedelta(0)) == (failures < 5)


def test_waits_in_words():
    assert credentials.wait_words(timedelta(seconds=1)) == "1 second"
    assert credentials.wait_words(timedelta(seconds=14.2)) == "15 seconds"
    assert credentials.wait_words(timedelta(minutes=15)) == "15 minutes"
