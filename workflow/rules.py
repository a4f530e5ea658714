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
    FINDINGS_ROUTES,
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


def challenge_refusal(case, actors: Iterable[Actor]) -> str | None:
    """Why ``actors`` may not confirm the case's challenge code now; None when they may.

    The code is confirmed by whoever may approve the case now (the approval needs it): any
    agent at the selfie check, a security lead while the case is escalated.
    """
    if not case.challenge_code:
        return "This request has no challenge code."
    approvals = [row for row in APPROVALS if case.state in row.sources]
    if not approvals:
        return ("The code is confirmed at the selfie check, or by a security lead while the "
                "case is escalated.")
    if not any(row.actors & set(actors) for row in approvals):
        return f"Your role may not confirm the code of a case that is {case.state}."
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
