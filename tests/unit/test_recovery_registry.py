"""The registry of recovery actions: one entry an issue type, every step performed somewhere."""

import hashlib
import hmac

import pytest

from accounts.http import RETRIABLE_STATUS, signature
from accounts.local import STEPS
from errors import redact
from workflow.states import (
    ISSUE_TYPES,
    RECOVERY_ACTIONS,
    RECOVERY_STEP_LABELS,
    RecoveryStep,
    recovery_steps,
)


def test_every_issue_type_has_an_entry_and_nothing_else_does():
    assert set(RECOVERY_ACTIONS) == set(ISSUE_TYPES)


@pytest.mark.parametrize(("issue_type", "steps"), [
    ("forgot_password", [RecoveryStep.RESET_LINK]),
    ("lost_2fa", [RecoveryStep.REMOVE_SECOND_FACTOR, RecoveryStep.RESET_LINK]),
    ("account_locked", [RecoveryStep.UNLOCK]),
    ("suspicious_activity", [RecoveryStep.UNFREEZE, RecoveryStep.RESET_LINK]),
    ("new_device", [RecoveryStep.RESET_LINK]),
    ("other", []),
])
def test_each_issue_type_performs_its_steps_in_order(issue_type, steps):
    assert list(recovery_steps(issue_type)) == steps


def test_an_unknown_issue_type_performs_nothing():
    assert recovery_steps("no_such_type") == ()


def test_a_reset_link_comes_after_any_change_that_lets_the_owner_in():
    # A link for an account still frozen (or whose old factor still stands) would be useless.
    for steps in RECOVERY_ACTIONS.values():
        if RecoveryStep.RESET_LINK in steps:
            assert steps[-1] is RecoveryStep.RESET_LINK


def test_every_step_has_a_label_and_a_local_implementation():
    assert set(RECOVERY_STEP_LABELS) == set(RecoveryStep)
    assert set(STEPS) == set(RecoveryStep)


def test_the_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"action":"unlock"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", "1700000000", body) == f"sha256={expected}"
    assert signature("s3cret", "1700000001", body) != f"sha256={expected}"
    assert signature("other", "1700000000", body) != f"sha256={expected}"


def test_only_passing_answers_are_retried():
    assert {408, 429} <= RETRIABLE_STATUS
    assert not {400, 401, 403, 404, 422} & RETRIABLE_STATUS


def test_reset_tokens_are_kept_out_of_logs():
    token = "Zx4-abcdefghijklmnopqrstuvwxyz_0123456789"
    assert redact(f"GET /reset/{token} 200") == "GET /reset/[token] 200"
