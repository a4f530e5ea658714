"""Approvals that need four eyes: one staff member proposes, a different lead approves.

The rules (who may propose, when a proposal stands, who may approve) are in
``workflow.rules``; the machine applies them to every approval. Here the proposal is stored
on the case and recorded in its timeline, and a proposal that no longer stands (new photos,
another risk level) is withdrawn, on the record, when it is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .. import machine, rules
from ..models import Agent, RecoveryCase, utcnow
from ..states import Actor
from .errors import ActionRefused, ReasonRequired
from .policies import workflow_policy
from .unit import check_version, load_case, record_event, transaction


def withdraw_stale_proposal(case: RecoveryCase, why: str | None = None) -> bool:
    """Withdraw the case's proposal, on the record, when it no longer stands (or, with
    ``why``, for that reason); True if it did.

    Called in the transaction that changed the photos or the risk, and before a new proposal.
    """
    if case.proposal_agent_id is None:
        return False
    why = why or rules.proposal_withdrawn_why(case)
    if why is None:
        return False
    record_event(case, "proposal_withdrawn", actor=Actor.SYSTEM,
                 reason=f"Proposal by {case.proposer.name if case.proposer else 'staff'} "
                        f"withdrawn: {why}.")
    case.proposal_agent_id = None
    case.proposal_at = None
    case.proposal_reason = None
    case.proposal_attempt = None
    case.proposal_risk = None
    return True


def propose_approval(case_id: int, agent: Agent, expected_version: int | None,
                     reason: str | None) -> RecoveryCase:
    """``agent`` proposes approving a case that needs four eyes, with a written reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("propose_approval")
    with transaction():
        case = load_case(case_id)
        check_version(case, expected_version)
        # Not held to the claim: like a note, a proposal informs whoever holds the case, and
        # four eyes need a second person, who seldom holds it.
        withdraw_stale_proposal(case)
        refusal = rules.proposal_refusal(case, agent.actors)
        if refusal is not None:
            raise ActionRefused(refusal)
        case.proposal_agent_id = agent.id
        case.proposal_at = utcnow()
        case.proposal_reason = reason
        case.proposal_attempt = case.evidence_attempt
        case.proposal_risk = rules.risk_level(case)
        record_event(case, "approval_proposed", actor=Actor(agent.role), agent=agent,
                     reason=reason)
    return case


@dataclass(frozen=True)
class Proposal:
    """A proposal to approve, as the pages and the API show it."""

    agent_id: int
    agent_name: str
    at: datetime
    reason: str
    attempt: int
    risk: str | None
    # None while it stands; why it no longer does (noticed, not yet recorded).
    withdrawn: str | None


@dataclass(frozen=True)
class ApprovalOutlook:
    """What approving the case needs now, for someone about to decide."""

    four_eyes: tuple[str, ...]
    proposal: Proposal | None
    # Why this person may not propose now (None: they may); only when four eyes are needed.
    may_not_propose: str | None
    # Why this person may not approve now (None: they may).
    may_not_approve: str | None
    # The rejected results approving would override (the confirmation step names them).
    overrides: tuple[rules.Finding, ...]
    has_account: bool


def proposal_of(case: RecoveryCase) -> Proposal | None:
    """The proposal stored on the case, if any."""
    if not rules.proposed(case):
        return None
    return Proposal(case.proposal_agent_id,
                    case.proposer.name if case.proposer else f"agent {case.proposal_agent_id}",
                    case.proposal_at, case.proposal_reason or "", case.proposal_attempt,
                    case.proposal_risk, rules.proposal_withdrawn_why(case))


def approval_outlook(case: RecoveryCase, agent: Agent) -> ApprovalOutlook:
    """What approving ``case`` needs now, seen by ``agent`` (nothing is changed)."""
    refused = machine.refusal(case, "approve", agent.actors, agent.id, workflow_policy(),
                              override=True)
    needs = tuple(rules.four_eyes_reasons(case))
    may_not_propose = None
    if needs and not case.is_resolved:
        may_not_propose = rules.proposal_refusal(case, agent.actors)
    overrides = () if case.is_resolved else tuple(rules.overrides_needed(case, case.state))
    return ApprovalOutlook(needs, proposal_of(case), may_not_propose,
                           str(refused) if refused is not None else None, overrides,
                           rules.has_account(case))
