"""Challenge codes: issued signed, verified with their age, read back from a selfie."""

import pytest
from itsdangerous import URLSafeTimedSerializer
from PIL import Image

from tests.conftest import FACES
from verification import challenge
from verification.checks import Result
from verification.specimen import SpecimenPerson, render_challenge_selfie, render_passport

SECRET = "a-test-secret"


def test_an_issued_code_verifies_with_its_nonce():
    issued = challenge.issue(SECRET, ttl_seconds=600)
    assert issued.code.isdigit() and len(issued.code) == challenge.CODE_LENGTH
    verified = challenge.verify(issued.token, SECRET, ttl_seconds=600)
    assert verified.code == issued.code and len(verified.nonce) == 32


def test_every_issue_is_a_new_code_and_nonce():
    tokens = {challenge.issue(SECRET, 600).token for _ in range(20)}
    nonces = {challenge.verify(t, SECRET, 600).nonce for t in tokens}
    assert len(tokens) == len(nonces) == 20


def test_an_old_token_is_expired():
    issued = challenge.issue(SECRET, ttl_seconds=600)
    # A token is older than a negative time to live from the moment it is issued.
    with pytest.raises(challenge.ChallengeExpired):
        challenge.verify(issued.token, SECRET, ttl_seconds=-1)


@pytest.mark.parametrize("token", [
    "", "not-a-token", challenge.issue("another-secret", 600).token,
    URLSafeTimedSerializer(SECRET, salt="recovery-desk/challenge-code").dumps(
        {"c": "12ab56", "n": "0" * 32}),
    URLSafeTimedSerializer(SECRET, salt="recovery-desk/challenge-code").dumps(["x"]),
])
def test_forged_or_malformed_tokens_are_invalid(token):
    # The tokens are signed when the tests are collected, which may be many minutes before
    # this one runs: a time to live of a day keeps them from expiring first.
    with pytest.raises(challenge.ChallengeInvalid):
        challenge.verify(token, SECRET, 24 * 3600)


@pytest.mark.parametrize(("text", "digits"), [
    ("482 913", "482913"), ("48Z9I3", "482913"), ("O12S", "0125"), ("vwx:", ""),
])
def test_look_alike_letters_are_read_as_digits(text, digits):
    assert challenge.digits_of(text) == digits


@pytest.fixture(scope="module")
def challenge_selfie():
    document = render_passport(SpecimenPerson(), Image.open(FACES / "obama_1.jpg"))
    return render_challenge_selfie(Image.open(FACES / "obama_2.jpg"), document, "482913", seed=3)


def test_the_code_is_read_on_a_generated_challenge_selfie(challenge_selfie):
    reading = challenge.read_code(challenge_selfie, "482913")
    assert reading.found
    check = challenge.code_check(reading)
    assert check.check == "selfie.challenge.code" and check.result is Result.CLEAR


def test_another_code_is_not_found_and_only_asks_for_a_person(challenge_selfie):
    reading = challenge.read_code(challenge_selfie, "771105")
    assert not reading.found and reading.texts
    check = challenge.code_check(reading)
    assert check.result is Result.CONSIDER and check.reason_code == "challenge_code_not_read"


def test_an_unavailable_engine_is_a_signal_with_the_error():
    check = challenge.code_check(None, "OCR engine missing")
    assert check.result is Result.CONSIDER and check.details["error"] == "OCR engine missing"
