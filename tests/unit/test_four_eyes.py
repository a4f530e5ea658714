"""The four-eyes rules on stored facts, and what the user's page promises: no database."""

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from workflow import rules
from workflow.rules import Acting
from workflow.states import (
    FOUR_EYES_ISSUE_TYPES,
    ISSUE_TYPES,
    RESOLUTION_TEXT,
    Actor,
    Resolution,
    State,
    status_text,
)

SAM, LEE, ADA = 7, 8, 9
AGENT = frozenset({Actor.AGENT})
LEAD = frozenset({Actor.SECURITY_LEAD, Actor.AGENT})
ADMIN = frozenset({Actor.ADMIN, Actor.AGENT})


def risk(level: str, attempt: int = 1):
    return SimpleNamespace(check="risk.assessment", attempt=attempt, actor_agent_id=None,
                           result="clear" if level == "low" else "consider",
                           reason_code=None if level == "low" else f"risk_{level}",
                           details={"level": level})


@dataclass
class Case:
    state: str = State.SELFIE_CHECK.value
    issue_type: str = "lost_2fa"
    email: str = "anna@example.test"
    account_id: int | None = 1
    evidence_attempt: int = 1
    checks: list = field(default_factory=list)
    proposal_agent_id: int | None = None
    proposal_attempt: int | None = None
    proposal_risk: str | None = None
    proposer: object = None

    def propose(self, agent_id=SAM, name="Sam"):
        self.proposal_agent_id, self.proposer = agent_id, SimpleNamespace(name=name)
        self.proposal_attempt, self.proposal_risk = self.evidence_attempt, rules.risk_level(self)
        return self


def test_the_four_eyes_issue_types_are_issue_types():
    assert {"lost_2fa", "suspicious_activity"} == FOUR_EYES_ISSUE_TYPES
    assert set(ISSUE_TYPES) >= FOUR_EYES_ISSUE_TYPES


@pytest.mark.parametrize("issue_type,checks,expected", [
    ("forgot_password", [], []),
    ("forgot_password", [risk("medium")], []),
    ("forgot_password", [risk("high")], ["its risk is high"]),
    # Only the latest assessment of the current photos counts.
    ("forgot_password", [risk("high"), risk("low")], []),
    ("forgot_password", [risk("high", attempt=0), risk("low")], []),
    # Until the current photos are assessed, a high risk of earlier ones still stands.
    ("forgot_password", [risk("high", attempt=0)],
     ["its risk was high on earlier photos and these are not assessed yet"]),
    ("lost_2fa", [], ["its recovery (lost_2fa) removes a second factor or unfreezes the "
                      "account"]),
    ("suspicious_activity", [risk("high")],
     ["its recovery (suspicious_activity) removes a second factor or unfreezes the account",
      "its risk is high"]),
])
def test_what_needs_four_eyes(issue_type, checks, expected):
    case = Case(issue_type=issue_type, checks=checks)
    assert rules.four_eyes_reasons(case) == expected
    assert rules.needs_four_eyes(case) is bool(expected)


def test_the_risk_level_reads_the_reason_code_when_details_lack_it():
    row = SimpleNamespace(check="risk.assessment", attempt=1, result="consider",
                          reason_code="risk_high", details={}, actor_agent_id=None)
    assert rules.risk_level(Case(checks=[row])) == "high"
    assert rules.risk_level(Case()) is None


def test_a_proposal_stands_until_the_photos_or_the_risk_change():
    case = Case(checks=[risk("medium")]).propose()
    assert rules.proposal_stands(case) and rules.proposal_withdrawn_why(case) is None
    case.checks.append(risk("high"))
    assert rules.proposal_withdrawn_why(case) == "the risk changed from medium to high"
    case = Case().propose()
    case.evidence_attempt = 2
    assert rules.proposal_withdrawn_why(case) == ("new photos were sent (attempt 2; proposed "
                                                  "on attempt 1)")
    assert not rules.proposal_stands(case) and rules.proposed(case)
    assert rules.proposal_withdrawn_why(Case()) is None and not rules.proposed(Case())


@pytest.mark.parametrize("case,acting,refusal", [
    (Case(issue_type="forgot_password"), Acting(AGENT, SAM), None),
    (Case(), Acting(LEAD, LEE), "This case needs four eyes (its recovery (lost_2fa) removes a "
     "second factor or unfreezes the account): one staff member proposes the approval, with a "
     "reason, then a different security lead or admin approves it."),
    (Case().propose(), Acting(LEAD, SAM), "You proposed approving this case: a different "
     "security lead or admin must approve it."),
    (Case().propose(LEE, "Lee"), Acting(LEAD, LEE), "You proposed approving this case: a "
     "different security lead or admin must approve it."),
    (Case().propose(), Acting(AGENT, 11), "This case needs four eyes (its recovery (lost_2fa) "
     "removes a second factor or unfreezes the account): Sam proposed it; a security lead or "
     "admin approves it."),
    (Case().propose(), Acting(LEAD, LEE), None),
    (Case().propose(LEE, "Lee"), Acting(ADMIN, ADA), None),
], ids=["not_needed", "unproposed", "own_proposal_agent", "own_proposal_lead", "plain_agent",
        "different_lead", "admin_after_lead"])
def test_who_may_approve_under_four_eyes(case, acting, refusal):
    assert rules.four_eyes_refusal(case, acting) == refusal


def test_a_withdrawn_proposal_asks_for_a_new_one():
    case = Case().propose()
    case.checks.append(risk("high"))
    assert rules.four_eyes_refusal(case, Acting(LEAD, LEE)) == (
        "This case needs four eyes (its recovery (lost_2fa) removes a second factor or "
        "unfreezes the account and its risk is high), and the proposal by Sam was withdrawn: "
        "the risk changed from unassessed to high. Propose the approval again.")


@pytest.mark.parametrize("case,actors,refusal", [
    (Case(state="id_check"), AGENT, "An approval is proposed at the selfie check, or by a "
     "security lead while the case is escalated."),
    (Case(state="resolved"), LEAD, "An approval is proposed at the selfie check, or by a "
     "security lead while the case is escalated."),
    (Case(state="escalated"), AGENT, "Your role may not propose approving a case that is "
     "escalated."),
    (Case(state="selfie_check", account_id=None), AGENT, rules.nothing_to_recover(Case())),
    (Case(issue_type="forgot_password"), AGENT, "This case needs no second person: approve "
     "it directly."),
    (Case().propose(), LEAD, "Sam has already proposed approving this case."),
    (Case(), AGENT, None),
    (Case(state="escalated"), LEAD, None),
    (Case(issue_type="forgot_password", checks=[risk("high")]), AGENT, None),
], ids=["before_the_selfie_check", "closed", "agent_on_escalated", "no_account",
        "not_needed", "already_proposed", "agent_at_selfie_check", "lead_on_escalated",
        "high_risk"])
def test_who_may_propose_and_when(case, actors, refusal):
    assert rules.proposal_refusal(case, actors) == refusal


def test_a_withdrawn_proposal_can_be_made_again():
    case = Case().propose()
    case.evidence_attempt = 2
    assert rules.proposal_refusal(case, AGENT) is None


@pytest.mark.parametrize("has_account", [True, False])
def test_the_approved_text_promises_an_email_only_to_an_account(has_account):
    shown = status_text("resolved", "approved", has_account=has_account)
    assert shown.startswith("Your identity is confirmed.")
    assert ("email" in shown) is has_account
    for resolution in Resolution:
        if resolution is not Resolution.APPROVED:
            assert status_text("resolved", resolution.value, has_account=has_account) == \
                RESOLUTION_TEXT[resolution]
    for state in State:
        if state is not State.RESOLVED:
            assert "email" not in status_text(state.value, None, has_account=has_account)


def test_new_photos_do_not_wash_a_high_risk_away_before_they_are_assessed():
    case = Case(issue_type="forgot_password", evidence_attempt=2, checks=[risk("high", 1)])
    assert rules.needs_four_eyes(case)
    assert "not assessed yet" in " ".join(rules.four_eyes_reasons(case))
    case.checks.append(risk("low", 2))  # the new photos, assessed
    assert not rules.needs_four_eyes(case)
    assert not rules.needs_four_eyes(Case(issue_type="forgot_password", evidence_attempt=2,
                                          checks=[risk("medium", 1)]))
