"""The risk of a case, assessed on stored facts."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from extensions import db
from verification.activity import CHECK_PREFIX as ACTIVITY_CHECKS
from verification.checks import Result
from verification.risk import Level, RiskAssessment, RiskFacts, assess

from .. import rules
from ..models import AccountChange, RecoveryCase, VerificationCheck
from ..states import Actor, State
from .approvals import withdraw_stale_proposal
from .errors import ActionRefused
from .moves import apply_event
from .policies import risk_policy
from .unit import load_case, record_check, record_event, transaction


def _risk_facts(case: RecoveryCase) -> RiskFacts:
    policy = risk_policy()
    since = case.created_at - timedelta(hours=24)
    window = (RecoveryCase.created_at > since, RecoveryCase.created_at <= case.created_at)
    account_requests = db.session.scalar(
        sa.select(sa.func.count()).select_from(RecoveryCase)
        .where(RecoveryCase.email == case.email, *window))
    ip_requests = db.session.scalar(
        sa.select(sa.func.count()).select_from(RecoveryCase)
        .where(RecoveryCase.client_ip == case.client_ip, *window)) if case.client_ip else 0
    changes: list[str] = []
    if case.account_id is not None:
        changes = list(db.session.scalars(
            sa.select(AccountChange.kind)
            .where(AccountChange.account_id == case.account_id,
                   AccountChange.created_at > case.created_at
                   - timedelta(days=policy.account_change_days))
            .order_by(AccountChange.created_at)))
    findings = tuple(dict.fromkeys(
        c.reason_code for c in rules.automated(case.checks)
        # The activity answers are checked once, at filing: they count whatever the attempt.
        if (c.attempt == case.evidence_attempt or c.check.startswith(ACTIVITY_CHECKS))
        and c.reason_code and c.result != Result.CLEAR and not c.check.startswith("risk.")))
    return RiskFacts(findings=findings, account_requests_24h=account_requests or 0,
                     ip_requests_24h=ip_requests or 0, account_changes=tuple(changes),
                     not_me_reports=sum(1 for e in case.events if e.event == "reported_not_me"))


def assess_risk(case: RecoveryCase) -> RiskAssessment:
    """Assess the case's risk now and add the assessment to its check tree."""
    risk = assess(_risk_facts(case), risk_policy())
    record_check(case, risk.as_check(), agent=None)
    record_event(case, "risk_assessed", actor=Actor.SYSTEM,
                 reason=f"{risk.level.value}" + (f": {', '.join(r.code for r in risk.reasons)}"
                                                 if risk.reasons else ""))
    withdraw_stale_proposal(case)
    return risk


def escalate_for_risk(case: RecoveryCase, risk: RiskAssessment) -> None:
    """Send a high-risk case to the security leads, with the reasons, unless it is there."""
    if case.state in (State.ESCALATED, State.RESOLVED):
        return
    reasons = " ".join(r.text for r in risk.reasons if r.level is Level.HIGH) or \
        " ".join(r.text for r in risk.reasons)
    apply_event(case, "escalate", {Actor.SYSTEM}, actor=Actor.SYSTEM, agent=None,
                reason=f"High risk. {reasons}")


def reassess_risk(case_id: int) -> RecoveryCase:
    """Assess the case's risk again, now, on its stored facts (findings, velocity, account
    changes, reports that the holder did not file it), as the finished checks do: a high
    risk sends the case to security."""
    with transaction():
        case = load_case(case_id)
        if case.is_resolved:
            raise ActionRefused("This case is closed.")
        risk = assess_risk(case)
        if risk.level is Level.HIGH:
            escalate_for_risk(case, risk)
    return case


def current_risk(case: RecoveryCase) -> VerificationCheck | None:
    """The latest risk assessment of the case's current photos."""
    return next((c for c in reversed(case.checks)
                 if c.check == "risk.assessment" and c.attempt == case.evidence_attempt), None)
