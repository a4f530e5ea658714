"""The workflow's rules as predicates on a case's stored facts: no database, no configuration.

A case here is anything with the case's columns (``state``, ``challenge_code``,
``evidence_attempt``, ``resubmissions``) and its ``checks`` (objects with ``check``,
``result``, ``reason_code``, ``attempt`` and ``actor_agent_id``). The configured limits come
in as a ``Policy``, which the service builds from its configuration. The machine turns these
predicates into the conditions of its transitions.
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from verification.checks import REASONS, Result, stage_results, worst

from .states import (
    ALL_STAFF,
    APPROVAL_REVIEWS,
    APPROVAL_STAGES,
    FINDINGS_ROUTES,
    FOUR_EYES_ISSUE_TYPES,
    FOUR_EYES_RISK,
    LEADS,
    OVERRIDES,
    REROUTES,
    TRANSITIONS,
    Actor,
    FindingsRoute,
    Reroute,
    Resolution,
    State,
    Transition,
)


@dataclass(frozen=True)
class Policy:
    """The configured limits the rules apply; ``None`` for a limit means there is none."""

    max_resubmissions: int | None = None


@dataclass(frozen=True)
class Acting:
    """Who fires an event, as whom, with which reason, under which policy."""

    actors: frozenset[Actor]
    agent_id: int | None = None
    reason: str | None = None
    policy: Policy = field(default_factory=Policy)
    # The person said, after seeing them, that they override rejected results.
    override: bool = False

    @property
    def person(self) -> bool:
        """Whether staff act (a person's review), rather than the user or the system."""
        return bool(self.actors & ALL_STAFF)

    @property
    def has_reason(self) -> bool:
        return bool((self.reason or "").strip())


# --- facts --------------------------------------------------------------------------------

def automated(checks: Iterable) -> list:
    """The checks the machines recorded (a person's review does not override itself)."""
    return [c for c in checks if c.actor_agent_id is None]


def challenge_confirmed(case) -> bool:
    """Whether an agent has confirmed the challenge code on the current selfie."""
    return any(c.check == "selfie.challenge.review" and c.attempt == case.evidence_attempt
               and c.result == Result.CLEAR for c in case.checks)


def challenge_pending(case) -> bool:
    """Whether the case carries a challenge code that nobody has confirmed yet."""
    # In-memory cases without the column (unit tests of other rules) carry no code.
    return bool(getattr(case, "challenge_code", None)) and not challenge_confirmed(case)


def overrides_checks(case, trigger: str) -> bool:
    """Whether a person firing ``trigger`` now would override what the automated checks found.

    Confirming a document, or approving a selfie, that the checks did not clear (consider or
    rejected, current attempt) is an override: it needs a written reason and is recorded as
    one.
    """
    stage = OVERRIDES.get((trigger, State(case.state)))
    # In-memory cases without checks (unit tests of other rules) have nothing to override.
    checks = automated(getattr(case, "checks", ()))
    if stage is None or not checks:
        return False
    if stage == "selfie" and challenge_confirmed(case):
        # The agent compared the code and the held ID by eye: that supersedes the machine's
        # reading of them.
        checks = [c for c in checks if not c.check.startswith("selfie.challenge.")]
    result = stage_results(checks, case.evidence_attempt).get(stage)
    return result in (Result.CONSIDER, Result.REJECTED)


def reason_needed(case, row: Transition, *, person: bool = True) -> bool:
    """Whether ``row`` needs a written reason for this case now (by staff, unless not
    ``person``: the automated checks override nothing)."""
    return row.needs_reason or (person and overrides_checks(case, row.trigger))


def resubmissions_used_up(case, policy: Policy) -> bool:
    """Whether the user has sent new photos as many times as the policy allows."""
    limit = policy.max_resubmissions
    return limit is not None and case.resubmissions >= limit


# The facts the tables of states.py name (a reroute's ``when``).
FACTS = {"resubmissions_used_up": resubmissions_used_up}


# --- reroutes -----------------------------------------------------------------------------

def reroute_for(case, trigger: str, policy: Policy) -> Reroute | None:
    """The reroute that firing ``trigger`` takes for ``case`` now, if any."""
    return next((r for r in REROUTES if r.trigger == trigger and case.state in r.sources
                 and FACTS[r.when](case, policy)), None)


def reroute_reason(reroute: Reroute, reason: str | None, policy: Policy) -> str:
    """The reason the rerouted event is recorded with."""
    return reroute.reason.format(reason=reason or "", **asdict(policy)).strip()


# --- approval and the challenge code ------------------------------------------------------

APPROVALS: tuple[Transition, ...] = tuple(
    row for row in TRANSITIONS if row.resolution is Resolution.APPROVED)


def approval_sources() -> set[State]:
    """Every state a case can be approved from."""
    return {source for row in APPROVALS for source in row.sources}


def has_account(case) -> bool:
    """Whether the request matched an account of record: there is something to recover."""
    return case.account_id is not None


def leads_only(state: str) -> bool:
    """Whether a case in ``state`` is the security leads' alone: an escalated case (high risk,
    fraud signals, an owner's "this wasn't me") is not shown to plain agents at all."""
    return state == State.ESCALATED.value


def may_open(state: str, actors: Iterable[Actor]) -> bool:
    """Whether staff acting as ``actors`` may see and act on a case in ``state``."""
    return not leads_only(state) or bool(set(actors) & LEADS)


def was_approved(case) -> bool:
    """Whether the case ended approved: its recovery is what an owner's report stops."""
    return case.resolution == Resolution.APPROVED.value


def duplicate_refusal(case) -> str | None:
    """Why ``case`` may not be closed as a duplicate of the case it names
    (``case.duplicate_of``); None when it may, or when it names none (closed from its own
    page, the reason says what it repeats).

    The other case must be another request of the same person (the same email address, or
    the same account of record), and not itself closed as a duplicate: duplicates point at
    the request that is worked, never along a chain.
    """
    original = getattr(case, "duplicate_of", None)
    if original is None:
        return None
    if original.id == case.id:
        return "A case cannot be a duplicate of itself."
    same_account = case.account_id is not None and case.account_id == original.account_id
    if not same_account and (case.email or "").lower() != (original.email or "").lower():
        return (f"Case #{original.id} is another person's request (a different email "
                "address and account), so this case does not repeat it.")
    if original.resolution == Resolution.DUPLICATE.value:
        return (f"Case #{original.id} is itself closed as a duplicate: name the case it "
                "repeats instead.")
    return None


def nothing_to_recover(case) -> str:
    """Why a case without an account of record cannot be approved, and what fits instead."""
    return (f"No account of record matches {case.email}: there is nothing to recover, so "
            "this request cannot be approved. Decline it (the user can file again with the "
            "address of their account), or close it as a duplicate when the same person has "
            "filed a request that matched their account.")


def _approver_refusal(case, actors: Iterable[Actor], done: str, doing: str) -> str | None:
    """Why ``actors`` may not act for an approval of the case now (only whoever may approve
    it from its state may); None when they may. ``done``/``doing`` name the act."""
    approvals = [row for row in APPROVALS if case.state in row.sources]
    if not approvals:
        return (f"{done} at the selfie check, or by a security lead while the case is "
                "escalated.")
    if not any(row.actors & set(actors) for row in approvals):
        return f"Your role may not {doing} a case that is {case.state}."
    return None


def challenge_refusal(case, actors: Iterable[Actor]) -> str | None:
    """Why ``actors`` may not confirm the case's challenge code now; None when they may.

    The code is confirmed by whoever may approve the case now (the approval needs it): any
    agent at the selfie check, a security lead while the case is escalated.
    """
    if not case.challenge_code:
        return "This request has no challenge code."
    refusal = _approver_refusal(case, actors, "The code is confirmed",
                                "confirm the code of")
    if refusal is not None:
        return refusal
    if challenge_confirmed(case):
        return "The code on this selfie is already confirmed."
    return None


def may_confirm_challenge(case, actors: Iterable[Actor]) -> bool:
    """Whether ``actors`` may confirm the case's challenge code now."""
    return challenge_refusal(case, actors) is None


# --- what the automated checks do with their findings ------------------------------------

def finding_codes(findings: Iterable) -> dict[str, Result]:
    """The reason codes of the findings that did not clear, each with its worst result, in
    the order first found."""
    codes: dict[str, Result] = {}
    for found in findings:
        result = Result(found.result)
        if found.reason_code and result is not Result.CLEAR:
            codes[found.reason_code] = worst((codes.get(found.reason_code, result), result))
    return codes


def route_findings(stage: str, state: str, outcome: Result,
                   codes: Mapping[str, Result]) -> FindingsRoute | None:
    """What the system does with a stage's findings for a case at ``state``: the route to
    take (its trigger and reason), or None to leave the case for a person.

    ``codes`` are the reason codes of the findings that did not clear, with their results.
    """
    rejected = {code for code, result in codes.items() if result is Result.REJECTED}
    for route in FINDINGS_ROUTES:
        if (route.stage, route.state, route.outcome) != (stage, state, outcome):
            continue
        if route.unless_flagged & set(codes):
            continue
        if route.only_rejected is not None and not rejected <= route.only_rejected:
            continue
        return route
    return None


def route_reason(route: FindingsRoute, codes: Mapping[str, Result]) -> str:
    """The reason a route's event is recorded with: its own, or what the user must fix."""
    return route.reason or " ".join(REASONS[code].user_text for code, result in codes.items()
                                    if result is Result.REJECTED)


# --- what an approval reads: each stage clear, or overridden by a person ------------------

@dataclass(frozen=True)
class Finding:
    """A result of the automated checks that did not clear."""

    check: str
    result: Result
    reason_code: str | None

    def describe(self) -> str:
        return f"{self.check} ({self.reason_code or self.result.value})"


def _current(checks: Iterable, attempt: int) -> dict[str, object]:
    """The newest row of each check of evidence ``attempt`` (rows oldest first)."""
    newest: dict[str, object] = {}
    for row in checks:
        if row.attempt == attempt:
            newest[row.check] = row
    return newest


def unresolved_findings(case, stage: str) -> list[Finding]:
    """What the automated checks of the current photos found at ``stage`` that did not clear.

    Once an agent confirmed the challenge code by eye, the machine's reading of it no longer
    counts (as for ``overrides_checks``).
    """
    newest = _current(automated(getattr(case, "checks", ())), case.evidence_attempt)
    confirmed = challenge_confirmed(case)
    return [Finding(row.check, Result(row.result), row.reason_code)
            for name, row in newest.items()
            if name.split(".", 1)[0] == stage and row.result != Result.CLEAR
            and not (confirmed and name.startswith("selfie.challenge."))]


def stage_checked(case, stage: str) -> bool:
    """Whether anything (the automated checks or a person) judged ``stage`` of the current
    photos."""
    return any(row.attempt == case.evidence_attempt and row.check.split(".", 1)[0] == stage
               for row in getattr(case, "checks", ()))


def overridden_by_a_person(case, stage: str) -> bool:
    """Whether a person's latest review of ``stage`` for the current photos overrode what the
    automated checks found (``agent_overrode``: recorded only with a written reason)."""
    review = _current(getattr(case, "checks", ()), case.evidence_attempt).get(f"{stage}.review")
    return (review is not None and review.actor_agent_id is not None
            and review.result == Result.CLEAR and review.reason_code == "agent_overrode")


def stage_refusal(case, source: State) -> str | None:
    """Why an approval from ``source`` may not follow from the stages' results; None when it
    may. A stage the approval does not review itself must be clear, or overridden already."""
    reviewed = APPROVAL_REVIEWS.get(State(source), ())
    for stage in APPROVAL_STAGES:
        if stage in reviewed or overridden_by_a_person(case, stage):
            continue
        found = unresolved_findings(case, stage)
        if found:
            worst_result = worst(f.result for f in found)
            return (f"The {stage} check of the current photos is {worst_result.value} "
                    f"({', '.join(f.describe() for f in found)}) and nobody has overridden it: "
                    "escalate the case so that a security lead can decide.")
        if not stage_checked(case, stage):
            return (f"Nobody has checked the {stage} of the current photos (attempt "
                    f"{case.evidence_attempt}): escalate the case so that a security lead can "
                    "decide.")
    return None


def overrides_needed(case, source: State) -> list[Finding]:
    """The rejected results that approving from ``source`` would override: those of the
    stages the approval reviews itself that no person has overridden yet."""
    reviewed = APPROVAL_REVIEWS.get(State(source), ())
    return [found for stage in APPROVAL_STAGES
            if stage in reviewed and not overridden_by_a_person(case, stage)
            for found in unresolved_findings(case, stage) if found.result is Result.REJECTED]


def override_refusal(found: list[Finding]) -> str:
    """What an approval that would override ``found`` without saying so is told."""
    return (f"Approving overrides rejected results: {'; '.join(f.describe() for f in found)}. "
            "Confirm that you override them, with your reason, to approve.")


# --- the automated checks have had their say ---------------------------------------------

CHECKS_NOT_DONE = ("The automated checks of these photos have not finished: approve once they "
                   "have, or retry them if they failed.")


def risk_assessed(case) -> bool:
    """Whether the system assessed the risk of the current photos.

    The risk is assessed once the selfie of the photos is checked, or once their checks
    failed for good: until then the automated checks have not had their say (a person's
    review of a stage is no assessment of the risk).
    """
    return any(c.check == "risk.assessment" and c.attempt == case.evidence_attempt
               for c in automated(getattr(case, "checks", ())))


# --- four eyes ---------------------------------------------------------------------------

def _level(assessment) -> str:
    details = getattr(assessment, "details", None) or {}
    return details.get("level") or (assessment.reason_code or "risk_low").removeprefix("risk_")


def risk_level(case) -> str | None:
    """The level of the latest risk assessment of the current photos; None before one."""
    newest = _current(getattr(case, "checks", ()), case.evidence_attempt).get("risk.assessment")
    return None if newest is None else _level(newest)


def high_before(case) -> bool:
    """Whether the latest assessment of earlier photos was high and the current photos are
    not assessed yet: new photos must not wash a high risk away before they are checked."""
    if risk_level(case) is not None:
        return False
    earlier = [c for c in getattr(case, "checks", ())
               if c.check == "risk.assessment" and c.attempt < case.evidence_attempt]
    return bool(earlier) and _level(earlier[-1]) == FOUR_EYES_RISK


def four_eyes_reasons(case) -> list[str]:
    """Why approving the case needs four eyes (empty: it does not)."""
    why = []
    if getattr(case, "issue_type", None) in FOUR_EYES_ISSUE_TYPES:
        why.append(f"its recovery ({case.issue_type}) removes a second factor or unfreezes "
                   "the account")
    if risk_level(case) == FOUR_EYES_RISK:
        why.append("its risk is high")
    elif high_before(case):
        why.append("its risk was high on earlier photos and these are not assessed yet")
    return why


def needs_four_eyes(case) -> bool:
    """Whether one staff member must propose the approval and another approve it."""
    return bool(four_eyes_reasons(case))


def proposed(case) -> bool:
    """Whether a proposal to approve is stored on the case (standing or not)."""
    return getattr(case, "proposal_agent_id", None) is not None


def proposal_withdrawn_why(case) -> str | None:
    """Why the stored proposal no longer stands (new photos, another risk level); None when
    it stands or there is none."""
    if not proposed(case):
        return None
    if case.proposal_attempt != case.evidence_attempt:
        return (f"new photos were sent (attempt {case.evidence_attempt}; proposed on attempt "
                f"{case.proposal_attempt})")
    level = risk_level(case)
    if case.proposal_risk != level:
        return f"the risk changed from {case.proposal_risk or 'unassessed'} to " \
               f"{level or 'unassessed'}"
    return None


def proposal_stands(case) -> bool:
    """Whether a proposal stands for the case's current photos and risk."""
    return proposed(case) and proposal_withdrawn_why(case) is None


def _proposer_name(case) -> str:
    proposer = getattr(case, "proposer", None)
    return proposer.name if proposer is not None else f"agent {case.proposal_agent_id}"


def four_eyes_refusal(case, acting: Acting) -> str | None:
    """Why ``acting`` may not approve the case under four eyes; None when they may (or the
    case does not need them)."""
    why = four_eyes_reasons(case)
    if not why:
        return None
    needs = f"This case needs four eyes ({' and '.join(why)})"
    if not proposed(case):
        return (f"{needs}: one staff member proposes the approval, with a reason, then a "
                "different security lead or admin approves it.")
    withdrawn = proposal_withdrawn_why(case)
    if withdrawn:
        return (f"{needs}, and the proposal by {_proposer_name(case)} was withdrawn: "
                f"{withdrawn}. Propose the approval again.")
    if acting.agent_id is None or acting.agent_id == case.proposal_agent_id:
        return ("You proposed approving this case: a different security lead or admin must "
                "approve it." if acting.agent_id is not None else
                f"{needs}: a security lead or admin approves it, as themselves.")
    if not acting.actors & LEADS:
        return (f"{needs}: {_proposer_name(case)} proposed it; a security lead or admin "
                "approves it.")
    return None


def proposal_refusal(case, actors: Iterable[Actor]) -> str | None:
    """Why ``actors`` may not propose approving the case now; None when they may.

    A proposal is made where an approval could follow, by whoever may approve from there
    (any staff at the selfie check, a security lead while the case is escalated), for a case
    that needs four eyes and has something to recover.
    """
    refusal = _approver_refusal(case, actors, "An approval is proposed",
                                "propose approving")
    if refusal is not None:
        return refusal
    if not has_account(case):
        return nothing_to_recover(case)
    if not needs_four_eyes(case):
        return "This case needs no second person: approve it directly."
    if proposal_stands(case):
        return f"{_proposer_name(case)} has already proposed approving this case."
    return None


# --- retention ---------------------------------------------------------------------------

# The owner of record's report that a request is not theirs (service.owner records it).
NOT_ME_EVENT = "reported_not_me"


def declined_as_fraud(case) -> bool:
    """Whether a case was declined on a suspicion of fraud, so its evidence is kept longer.

    Declined by a security lead's review (from escalated: high risk, fraud signals, "this
    wasn't me"), declined at a high risk, or declined after the owner of record said the
    request was not theirs. Any other decline (the person could not show who they are) is
    an ordinary one.
    """
    if case.resolution != Resolution.DECLINED.value:
        return False
    events = getattr(case, "events", ())
    if any(e.event == "decline" and e.from_state == State.ESCALATED.value for e in events):
        return True
    if any(e.event == NOT_ME_EVENT for e in events):
        return True
    return risk_level(case) == FOUR_EYES_RISK
