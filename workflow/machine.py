"""The one state machine for every case, built from the transition table and the rules.

The machine holds no model (``model=None``): cases are database rows and the row's
``state`` column is the truth. A trigger is fired for a loaded case with
``fire(case, trigger, actors)``; the machine checks the source state, the stored guards and
every named rule in ``RULES`` (each one a condition of the rows it applies to), and sets
``case.state``. Persisting, auditing and side effects belong to the service.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from transitions import Machine, MachineError

from . import rules
from .rules import Acting, Policy
from .states import (
    ALL_STAFF,
    OVERRIDES,
    TRANSITIONS,
    TRIGGERS,
    Actor,
    Resolution,
    State,
    Transition,
)


class TransitionNotAllowed(Exception):
    """The event cannot be fired for this case now, or not by this actor."""

    def __init__(self, trigger: str, state: str, why: str = ""):
        self.trigger = trigger
        self.state = state
        super().__init__(why or f"'{trigger}' is not allowed while the case is {state}.")


class ReasonRequired(Exception):
    """The event needs a written reason and none was given."""

    def __init__(self, trigger: str):
        self.trigger = trigger
        super().__init__(f"'{trigger}' needs a reason.")


class NothingToRecover(TransitionNotAllowed):
    """The request matched no account of record: no approval performs anything."""


class ChecksNotDone(TransitionNotAllowed):
    """The automated checks of the current photos have not had their say (no risk assessed)."""


class StageNotCleared(TransitionNotAllowed):
    """A stage the approval does not review itself is not clear, nor overridden."""


class FourEyesRequired(TransitionNotAllowed):
    """The case needs a standing proposal and a different security lead or admin."""


class OverrideNotConfirmed(TransitionNotAllowed):
    """The approval would override rejected results and the approver did not say so."""

    def __init__(self, trigger: str, state: str, findings):
        self.findings = tuple(findings)
        super().__init__(trigger, state, rules.override_refusal(list(self.findings)))


class CaseClaimed(Exception):
    """Another agent holds the case: only they, or a lead who takes it over, may act on it."""

    def __init__(self, holder: str):
        self.holder = holder
        super().__init__(f"{holder} has claimed this case, so only {holder} can act on it. "
                         "A security lead or an admin can take it over.")


def _stored_guard_holds(row: Transition, case) -> bool:
    """Whether the case's stored columns let ``row`` apply (it returns where the case left)."""
    if row.resume and getattr(case, row.resume) != row.dest.value:
        return False
    if row.unless_resumes:
        column, value = row.unless_resumes
        if getattr(case, column) == value:
            return False
    return True


# --- the named rules ----------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """A named rule: a condition of every row it ``applies`` to.

    ``holds(case, acting, row)`` decides on the case's stored facts; ``refusal(case, acting,
    row)`` is the error ``fire`` raises when it does not hold. ``who`` rules are about who
    asks, checked before a reroute changes who fires. Rules not ``listed`` do not hide a row
    from ``allowed_rows``: the action is offered and refused with its message when fired.
    """

    name: str
    applies: Callable[[Transition], bool]
    holds: Callable[[object, Acting, Transition], bool]
    refusal: Callable[[object, Acting, Transition], Exception]
    listed: bool = True
    who: bool = False


def _claim_refusal(case, acting: Acting, row: Transition) -> CaseClaimed:
    assignee = getattr(case, "assignee", None)
    return CaseClaimed(assignee.name if assignee is not None else f"agent {case.assignee_id}")


def _asks_for_photos(row: Transition) -> bool:
    return {"asks_user", "resubmission"} <= set(row.tags)


def _may_override(row: Transition) -> bool:
    return any((row.trigger, source) in OVERRIDES for source in row.sources)


def _approves(row: Transition) -> bool:
    return row.resolution is Resolution.APPROVED


def _closes_duplicate(row: Transition) -> bool:
    return row.resolution is Resolution.DUPLICATE


def _reopens(row: Transition) -> bool:
    return "reopens" in row.tags


RULES: tuple[Rule, ...] = (
    Rule("role", lambda row: True,
         lambda case, acting, row: bool(row.actors & acting.actors),
         lambda case, acting, row: TransitionNotAllowed(
             row.trigger, case.state,
             f"Your role may not '{row.trigger}' a case that is {case.state}."),
         who=True),
    Rule("claim", lambda row: True,
         lambda case, acting, row: claim_allows(case, acting.actors, acting.agent_id),
         _claim_refusal, who=True),
    # Past the limit, the work stages reroute the request (states.REROUTES); an escalated
    # case is decided with the photos there are.
    Rule("resubmissions_left", _asks_for_photos,
         lambda case, acting, row: not rules.resubmissions_used_up(case, acting.policy),
         lambda case, acting, row: TransitionNotAllowed(
             row.trigger, case.state, "The user has already sent new photos "
             f"{acting.policy.max_resubmissions} times: decide the case with what you have.")),
    # Approval performs a recovery: without an account of record there is none to perform.
    Rule("account_of_record", _approves,
         lambda case, acting, row: rules.has_account(case),
         lambda case, acting, row: NothingToRecover(row.trigger, case.state,
                                                    rules.nothing_to_recover(case))),
    # The automated checks of the current photos have had their say: their risk is assessed
    # (after the selfie check, or when the checks failed for good). Not offered before: the
    # checks are still running, or someone retries them.
    Rule("checks_done", _approves,
         lambda case, acting, row: rules.risk_assessed(case),
         lambda case, acting, row: ChecksNotDone(row.trigger, case.state,
                                                 rules.CHECKS_NOT_DONE)),
    Rule("reason", lambda row: row.needs_reason or _may_override(row),
         lambda case, acting, row: acting.has_reason
         or not rules.reason_needed(case, row, person=acting.person),
         lambda case, acting, row: ReasonRequired(row.trigger), listed=False),
    Rule("challenge_confirmed", _approves,
         lambda case, acting, row: not rules.challenge_pending(case),
         lambda case, acting, row: TransitionNotAllowed(
             row.trigger, case.state, f"Compare the code on the selfie with "
             f"{case.challenge_code} and confirm it before approving."),
         listed=False),
    # One staff member proposes, a different security lead or admin approves (listed: the
    # approval is offered only to them, once a proposal stands).
    Rule("four_eyes", _approves,
         lambda case, acting, row: rules.four_eyes_refusal(case, acting) is None,
         lambda case, acting, row: FourEyesRequired(row.trigger, case.state,
                                                    rules.four_eyes_refusal(case, acting))),
    # Only an approved recovery is stopped and reopened: a declined, withdrawn, expired or
    # duplicate case did nothing to the account.
    Rule("approved", _reopens,
         lambda case, acting, row: rules.was_approved(case),
         lambda case, acting, row: TransitionNotAllowed(
             row.trigger, case.state, "Only an approved recovery can be stopped.")),
    # A duplicate names a request of the same person that is not a duplicate itself.
    Rule("duplicate_of", _closes_duplicate,
         lambda case, acting, row: rules.duplicate_refusal(case) is None,
         lambda case, acting, row: TransitionNotAllowed(row.trigger, case.state,
                                                        rules.duplicate_refusal(case)),
         listed=False),
    Rule("stages_cleared", _approves,
         lambda case, acting, row: rules.stage_refusal(case, case.state) is None,
         lambda case, acting, row: StageNotCleared(row.trigger, case.state,
                                                   rules.stage_refusal(case, case.state)),
         listed=False),
    # Overriding a rejected result is an explicit act: offered, and refused with what it
    # would override until the approver confirms it.
    Rule("override_confirmed", _approves,
         lambda case, acting, row: acting.override
         or not rules.overrides_needed(case, case.state),
         lambda case, acting, row: OverrideNotConfirmed(
             row.trigger, case.state, rules.overrides_needed(case, case.state)),
         listed=False),
)


def _acting(kwargs: dict) -> Acting:
    """Who acts, from the keyword arguments a trigger was fired with (none: nobody)."""
    return Acting(frozenset(kwargs.get("actors", ())), kwargs.get("agent_id"),
                  kwargs.get("reason"), kwargs.get("policy") or Policy(),
                  bool(kwargs.get("override", False)))


def _conditions(row: Transition) -> list:
    """The machine's conditions for a row: its stored guard and every rule that applies."""
    conditions = []
    if row.resume or row.unless_resumes:
        def guard(event_data) -> bool:
            return _stored_guard_holds(row, event_data.model)

        guard.__name__ = f"guard_{row.trigger}_{row.dest.value}"
        conditions.append(guard)
    for rule in RULES:
        if rule.applies(row):
            conditions.append(_condition(rule, row))
    return conditions


def _condition(rule: Rule, row: Transition):
    def holds(event_data) -> bool:
        return rule.holds(event_data.model, _acting(event_data.kwargs), row)

    holds.__name__ = f"{rule.name}_{row.trigger}_{row.dest.value}"
    return holds


def _build_machine() -> Machine:
    rows = []
    for row in TRANSITIONS:
        rows.append({
            "trigger": row.trigger,
            "source": [s.value for s in row.sources],
            "dest": row.dest.value,
            "conditions": _conditions(row),
        })
    return Machine(
        model=None,
        states=[s.value for s in State],
        transitions=rows,
        initial=State.SUBMITTED.value,
        auto_transitions=False,
        send_event=True,
    )


machine = _build_machine()


def claim_allows(case, actors: Iterable[Actor], agent_id: int | None) -> bool:
    """Whether the case's claim lets ``actors`` (staff as agent ``agent_id``) act on it.

    Nobody holds it: anyone the table allows. Held: staff only as its assignee; the user and
    the system (the automated checks) whatever the claim.
    """
    holder = case.assignee_id
    return holder is None or not set(actors) & ALL_STAFF or agent_id == holder


def check_claim(case, actors: Iterable[Actor], agent_id: int | None) -> None:
    """Raise CaseClaimed, naming who holds the case, unless the claim lets these actors act."""
    acting = Acting(frozenset(actors), agent_id)
    if not claim_allows(case, acting.actors, agent_id):
        raise _claim_refusal(case, acting, None)


def _applies(row: Transition, case) -> bool:
    """True when ``row`` starts from the case's state and its stored guard holds."""
    return case.state in row.sources and _stored_guard_holds(row, case)


def matching_row(case, trigger: str) -> Transition | None:
    """The table row that ``trigger`` would take for ``case`` now, if any."""
    for row in TRANSITIONS:
        if row.trigger == trigger and _applies(row, case):
            return row
    return None


def _enforce(row: Transition, case, acting: Acting, *, who_only: bool = False,
             listing: bool = False) -> None:
    """Raise the refusal of the first rule for ``row`` that does not hold."""
    for rule in RULES:
        if (who_only and not rule.who) or (listing and not rule.listed):
            continue
        if rule.applies(row) and not rule.holds(case, acting, row):
            raise rule.refusal(case, acting, row)


@dataclass(frozen=True)
class Fired:
    """What ``fire`` did: the row that applied and the event as the service records it."""

    row: Transition
    trigger: str
    actors: frozenset[Actor]
    reason: str | None
    # A person's decision against what the automated checks found (recorded as one).
    overriding: bool = False
    # Who the event is recorded as when a reroute says so; None: whoever fired it.
    actor: Actor | None = None
    # The rejected results the person explicitly overrode with this event.
    overridden: tuple[rules.Finding, ...] = ()

    @property
    def dest(self) -> State:
        return self.row.dest


def _plan(case, trigger: str, acting: Acting, *,
          listing: bool = False) -> tuple[Transition, Transition, Acting, Actor | None]:
    """The row asked for, and the row, acting and actor the event takes (after a reroute);
    raises the refusal of the first rule that does not hold."""
    asked = matching_row(case, trigger)
    if asked is None or trigger not in machine.events:
        raise TransitionNotAllowed(trigger, case.state)
    _enforce(asked, case, acting, who_only=True, listing=listing)
    row, actor = asked, None
    reroute = rules.reroute_for(case, trigger, acting.policy)
    if reroute is not None:
        actor = reroute.actor
        acting = Acting(frozenset({actor}), None,
                        rules.reroute_reason(reroute, acting.reason, acting.policy),
                        acting.policy, acting.override)
        row = matching_row(case, reroute.to)
        if row is None:
            raise TransitionNotAllowed(reroute.to, case.state)
    _enforce(row, case, acting, listing=listing)
    return asked, row, acting, actor


def allowed_rows(case, actors: Iterable[Actor], agent_id: int | None = None,
                 policy: Policy | None = None) -> list[Transition]:
    """The transitions available for ``case`` now to someone acting as any of ``actors``
    (staff as agent ``agent_id``: nothing, when another agent holds the case).

    A row is offered when every listed rule holds; rules about what the firing must bring
    (a reason, a confirmed challenge code) refuse it when it is fired without.
    """
    acting = Acting(frozenset(actors), agent_id, None, policy or Policy())
    rows = []
    for trigger in TRIGGERS:
        try:
            rows.append(_plan(case, trigger, acting, listing=True)[0])
        except (TransitionNotAllowed, CaseClaimed, ReasonRequired):
            continue
    return rows


def refusal(case, trigger: str, actors: Iterable[Actor], agent_id: int | None = None,
            policy: Policy | None = None, *, reason: str | None = "given",
            override: bool = False) -> Exception | None:
    """The error firing ``trigger`` now would raise (given a reason, unless ``reason`` says
    otherwise); None when it would fire. Changes nothing."""
    acting = Acting(frozenset(actors), agent_id, reason, policy or Policy(), override)
    try:
        _plan(case, trigger, acting)
    except (TransitionNotAllowed, CaseClaimed, ReasonRequired) as err:
        return err
    return None


def fire(case, trigger: str, actors: Iterable[Actor], reason: str | None = None,
         agent_id: int | None = None, policy: Policy | None = None, *,
         override: bool = False) -> Fired:
    """Move ``case`` with ``trigger`` on behalf of ``actors`` (staff: agent ``agent_id``)
    under ``policy``; return what was fired (a reroute may fire another event). ``override``:
    the person confirms that they override the rejected results the event would override.

    Sets ``case.state`` only: the caller records the event and commits, or rolls back.
    """
    acting = Acting(frozenset(actors), agent_id, reason, policy or Policy(), override)
    _asked, row, acting, actor = _plan(case, trigger, acting)
    overriding = acting.person and rules.overrides_checks(case, row.trigger)
    overridden = tuple(rules.overrides_needed(case, case.state)) \
        if acting.person and row.resolution is Resolution.APPROVED else ()
    try:
        moved = machine.events[row.trigger].trigger(
            case, actors=acting.actors, agent_id=acting.agent_id, reason=acting.reason,
            policy=acting.policy, override=acting.override)
    except MachineError as err:
        raise TransitionNotAllowed(row.trigger, case.state) from err
    if not moved or case.state != row.dest:
        raise TransitionNotAllowed(row.trigger, case.state)
    return Fired(row, row.trigger, acting.actors, acting.reason, overriding, actor, overridden)
