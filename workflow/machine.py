"""The one state machine for every case, built from the transition table.

The machine holds no model (``model=None``): cases are database rows and the row's
``state`` column is the truth. A trigger is fired for a loaded case with
``fire(case, trigger)``; the machine checks the source state and the stored guards and
sets ``case.state``. Persisting, auditing and side effects belong to the service.
"""

from collections.abc import Iterable

from transitions import Machine, MachineError

from .states import ALL_STAFF, TRANSITIONS, Actor, State, Transition


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


class CaseClaimed(Exception):
    """Another agent holds the case: only they, or a lead who takes it over, may act on it."""

    def __init__(self, holder: str):
        self.holder = holder
        super().__init__(f"{holder} has claimed this case, so only {holder} can act on it. "
                         "A security lead or an admin can take it over.")


def claim_allows(case, actors: Iterable[Actor], agent_id: int | None) -> bool:
    """Whether the case's claim lets ``actors`` (staff as agent ``agent_id``) act on it.

    Nobody holds it: anyone the table allows. Held: staff only as its assignee; the user and
    the system (the automated checks) whatever the claim.
    """
    holder = case.assignee_id
    return holder is None or not set(actors) & ALL_STAFF or agent_id == holder


def check_claim(case, actors: Iterable[Actor], agent_id: int | None) -> None:
    """Raise CaseClaimed, naming who holds the case, unless the claim lets these actors act."""
    if not claim_allows(case, actors, agent_id):
        assignee = getattr(case, "assignee", None)
        raise CaseClaimed(assignee.name if assignee is not None else f"agent {case.assignee_id}")


def _stored_guard_holds(row: Transition, case) -> bool:
    """Whether the case's stored columns let ``row`` apply (it returns where the case left)."""
    if row.resume and getattr(case, row.resume) != row.dest.value:
        return False
    if row.unless_resumes:
        column, value = row.unless_resumes
        if getattr(case, column) == value:
            return False
    return True


def _claim_holds(event_data) -> bool:
    """The machine's condition for every row: the claim lets whoever fires act."""
    acting, case = event_data.kwargs, event_data.model
    if "actors" not in acting:  # fired without saying who acts: only an unclaimed case moves
        return case.assignee_id is None
    return claim_allows(case, acting["actors"], acting.get("agent_id"))


def _guards(row: Transition) -> list:
    """The machine's conditions for a row: the same checks as ``_applies`` and the claim."""

    def holds(event_data) -> bool:
        return _stored_guard_holds(row, event_data.model)

    holds.__name__ = f"guard_{row.trigger}_{row.dest.value}"
    return [holds, _claim_holds] if row.resume or row.unless_resumes else [_claim_holds]


def _build_machine() -> Machine:
    rows = []
    for row in TRANSITIONS:
        rows.append({
            "trigger": row.trigger,
            "source": [s.value for s in row.sources],
            "dest": row.dest.value,
            "conditions": _guards(row),
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


def _applies(row: Transition, case) -> bool:
    """True when ``row`` starts from the case's state and its stored guard holds."""
    return case.state in row.sources and _stored_guard_holds(row, case)


def matching_row(case, trigger: str) -> Transition | None:
    """The table row that ``trigger`` would take for ``case`` now, if any."""
    for row in TRANSITIONS:
        if row.trigger == trigger and _applies(row, case):
            return row
    return None


def allowed_rows(case, actors: Iterable[Actor], agent_id: int | None = None) -> list[Transition]:
    """The transitions available for ``case`` now to someone acting as any of ``actors``
    (staff as agent ``agent_id``: nothing, when another agent holds the case)."""
    actors = set(actors)
    if not claim_allows(case, actors, agent_id):
        return []
    seen, rows = set(), []
    for row in TRANSITIONS:
        if row.trigger not in seen and row.actors & actors and _applies(row, case):
            seen.add(row.trigger)
            rows.append(row)
    return rows


def fire(case, trigger: str, actors: Iterable[Actor], reason: str | None = None,
         agent_id: int | None = None) -> Transition:
    """Move ``case`` with ``trigger`` on behalf of ``actors`` (staff: agent ``agent_id``);
    return the row that applied.

    Sets ``case.state`` only: the caller records the event and commits, or rolls back.
    """
    actors = frozenset(actors)
    row = matching_row(case, trigger)
    if row is None or trigger not in machine.events:
        raise TransitionNotAllowed(trigger, case.state)
    if not row.actors & actors:
        raise TransitionNotAllowed(
            trigger, case.state, f"Your role may not '{trigger}' a case that is {case.state}."
        )
    check_claim(case, actors, agent_id)
    if row.needs_reason and not (reason or "").strip():
        raise ReasonRequired(trigger)
    try:
        moved = machine.events[trigger].trigger(case, actors=actors, agent_id=agent_id)
    except MachineError as err:
        raise TransitionNotAllowed(trigger, case.state) from err
    if not moved or case.state != row.dest:
        raise TransitionNotAllowed(trigger, case.state)
    return row
