"""Closing a case as a duplicate of another: the machine's condition, without a database."""

from types import SimpleNamespace

import pytest

from workflow.machine import TransitionNotAllowed, allowed_rows, fire, refusal
from workflow.states import Actor, State

AGENT = {Actor.AGENT}


def case(case_id=2, state=State.ID_CHECK.value, email="ann@example.com", account_id=None,
         resolution=None, duplicate_of=None):
    return SimpleNamespace(id=case_id, state=state, resolution=resolution, email=email,
                           account_id=account_id, assignee_id=None, assignee=None,
                           awaiting_from=None, escalated_from=None, evidence_attempt=1,
                           checks=[], duplicate_of=duplicate_of)


@pytest.mark.parametrize("original", [
    case(1, email="ann@example.com"),
    case(1, email="ANN@example.com"),
    case(1, email="other@example.com", account_id=7),
    case(1, state=State.RESOLVED.value, resolution="declined"),
], ids=["same-email", "email-case", "same-account", "original-closed"])
def test_a_repeat_of_the_same_persons_request_closes_as_duplicate(original):
    duplicate = case(account_id=7 if original.account_id else None, duplicate_of=original)
    assert refusal(duplicate, "mark_duplicate", AGENT) is None
    fired = fire(duplicate, "mark_duplicate", AGENT, reason="Filed twice")
    assert duplicate.state == State.RESOLVED.value
    assert fired.row.resolution == "duplicate"


@pytest.mark.parametrize("original,why", [
    (case(1, email="bob@example.com"), "another person's request"),
    (case(1, email="bob@example.com", account_id=8), "another person's request"),
    (case(1, state=State.RESOLVED.value, resolution="duplicate"), "itself closed as a duplicate"),
], ids=["other-email", "other-account", "chain"])
def test_the_condition_refuses_in_plain_words(original, why):
    duplicate = case(account_id=7, duplicate_of=original)
    err = refusal(duplicate, "mark_duplicate", AGENT)
    assert isinstance(err, TransitionNotAllowed) and why in str(err)
    with pytest.raises(TransitionNotAllowed, match=why):
        fire(duplicate, "mark_duplicate", AGENT, reason="Filed twice")
    assert duplicate.state == State.ID_CHECK.value


def test_a_case_is_not_a_duplicate_of_itself():
    duplicate = case(1)
    duplicate.duplicate_of = duplicate
    with pytest.raises(TransitionNotAllowed, match="itself"):
        fire(duplicate, "mark_duplicate", AGENT, reason="Filed twice")


def test_without_a_named_case_the_action_stays_offered_as_before():
    assert "mark_duplicate" in {row.trigger for row in allowed_rows(case(), AGENT)}
    assert refusal(case(), "mark_duplicate", AGENT) is None


def test_a_closed_case_cannot_be_closed_again():
    closed = case(state=State.RESOLVED.value, resolution="approved", duplicate_of=case(1))
    assert isinstance(refusal(closed, "mark_duplicate", AGENT), TransitionNotAllowed)
