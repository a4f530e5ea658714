"""Which declines count as fraud for retention, and what a purge keeps of a check's details."""

from types import SimpleNamespace as Row

import pytest

from verification.checks import PERSONAL_DETAILS, impersonal
from workflow import rules


def event(name: str, from_state: str | None = None):
    return Row(event=name, from_state=from_state)


def risk(level: str):
    return Row(check="risk.assessment", result="consider", reason_code=f"risk_{level}",
               attempt=1, actor_agent_id=None, details={"level": level})


@pytest.mark.parametrize(("resolution", "events", "checks", "fraud"), [
    ("declined", [event("decline", "id_check")], [risk("low")], False),
    ("declined", [event("decline", "escalated")], [], True),
    ("declined", [event("decline", "selfie_check")], [risk("high")], True),
    ("declined", [event("reported_not_me"), event("decline", "id_check")], [], True),
    ("approved", [event("escalate", "id_check"), event("approve", "escalated")],
     [risk("high")], False),
    ("withdrawn", [event("reported_not_me")], [], False),
])
def test_declined_as_fraud(resolution, events, checks, fraud):
    case = Row(resolution=resolution, events=events, checks=checks, evidence_attempt=1)
    assert rules.declined_as_fraud(case) is fraud


def test_a_purge_keeps_the_impersonal_part_of_a_check():
    details = {"document": "ERIKSSON, ANNA", "account": "Anna Eriksson", "typed_name": "Anna",
               "lines": ["P<SWE..."], "answered": {"amount": "500"}, "other_cases": [4, 7],
               "box": [1, 2, 3, 4], "checks": {"document_number": True}}
    assert impersonal(details) == {"other_cases": [4, 7], "box": [1, 2, 3, 4],
                                   "checks": {"document_number": True}, "purged": True}
    assert not PERSONAL_DETAILS & set(impersonal(details))
