"""The console's queue: searching cases, the SLA badge as a filter, saved views, bulk actions.

A search is one text (``q``) read as the first kind it fits: a case number (``#123`` or
``123``), a tracking link or token (hashed as stored), an email address, a document number
(letters and digits with at least one digit, as the MRZ gives it), else the start of a name.
Each kind is an indexed lookup: a search over 100,000 cases stays in milliseconds
(docs/benchmarks.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa

from extensions import db

from .. import sla
from ..models import (
    MAX_ID,
    Agent,
    CaseSla,
    DocumentReading,
    RecoveryCase,
    SavedView,
    VerificationCheck,
    name_key,
    token_hash,
)
from ..states import Actor, State
from .errors import (
    ActionRefused,
    CaseClaimed,
    CaseNotFound,
    LeadsOnly,
    ReasonRequired,
    StaleCase,
    TransitionNotAllowed,
)
from .moves import apply_event
from .queries import check_case_access, queue_query
from .staff_actions import assign_case, claim_case
from .unit import check_version, load_case, transaction

# What a search may be at most (a pasted link included); longer input is cut, never refused.
MAX_QUERY = 300
# The SLA filter's values, as the queue's badges say them.
SLA_BADGES = ("ok", "warning", "breached")
# Risk levels as the risk assessment stores them (its reason code; low has none).
RISK_LEVELS = ("low", "medium", "high")
# Saved views: a name of at most this many characters, and this many views per agent.
VIEW_NAME_MAX = 60
MAX_VIEWS_PER_AGENT = 30
# Bulk actions take at most this many cases at once (a page of the queue is 25 to 100).
MAX_BULK = 100

_CASE_NUMBER = re.compile(r"#?\s*(\d{1,10})")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,200}")
_DOCUMENT = re.compile(r"(?=[A-Z0-9]*\d)[A-Z0-9]{5,40}")
_TRACKING_PATH = re.compile(r"/status/([A-Za-z0-9_-]{20,200})")
# Control characters (NUL and the like) are never part of what is searched for, and
# PostgreSQL refuses NUL in text: they are dropped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadView(ValueError):
    """A saved view's name or content is not acceptable; nothing was saved."""


@dataclass(frozen=True)
class QueueSearch:
    """What the queue shows: the search text and the filters (all optional)."""

    q: str = ""
    states: tuple[str, ...] | None = None
    issue_type: str | None = None
    risk: str | None = None
    # "mine", "unassigned", an agent's id as text, or "" for anyone.
    assigned: str = ""
    sla: str | None = None


@dataclass(frozen=True)
class SearchKind:
    """How the search text was read: its kind and the value looked up."""

    kind: str  # "case", "tracking", "email", "document", "name" or "" (no search)
    value: str | int = ""


def read_query(text: str) -> SearchKind:
    """The kind of search ``text`` is, and the value to look up."""
    text = _CONTROL.sub(" ", text or "").strip()[:MAX_QUERY]
    if not text:
        return SearchKind("")
    number = _CASE_NUMBER.fullmatch(text)
    if number and 1 <= int(number.group(1)) <= MAX_ID:
        return SearchKind("case", int(number.group(1)))
    path = urlsplit(text).path if "/" in text else ""
    link = _TRACKING_PATH.search(path)
    if link:
        return SearchKind("tracking", token_hash(link.group(1)))
    if _EMAIL.fullmatch(text):
        return SearchKind("email", text.lower())
    compact = re.sub(r"[\s<-]", "", text).upper()
    if _DOCUMENT.fullmatch(compact) and len(compact) < 20:
        return SearchKind("document", compact)
    if _TOKEN.fullmatch(text) and any(c.isdigit() for c in text):
        return SearchKind("tracking", token_hash(text))
    return SearchKind("name", name_key(text) or "")


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search_condition(kind: SearchKind):
    if kind.kind == "case":
        return RecoveryCase.id == kind.value
    if kind.kind == "tracking":
        return RecoveryCase.tracking_token_hash == kind.value
    if kind.kind == "email":
        return RecoveryCase.email == kind.value
    if kind.kind == "document":
        return RecoveryCase.id.in_(sa.select(DocumentReading.case_id)
                                   .where(DocumentReading.document_number == kind.value))
    return RecoveryCase.name_key.like(_like_prefix(kind.value), escape="\\")


def _clock_columns(clock: str):
    return (getattr(CaseSla, f"{clock}_at"), getattr(CaseSla, f"{clock}_due_at"),
            getattr(CaseSla, f"{clock}_seconds"), getattr(CaseSla, f"{clock}_target"),
            getattr(CaseSla, f"{clock}_warn_at"))


def sla_badge_condition(badge: str, now: datetime):
    """The SQL form of ``sla_badge``: the SLA rows whose badge at ``now`` is ``badge``."""
    breached, warning = [], []
    for clock in sla.CLOCKS:
        met, due, seconds, target, warn = _clock_columns(clock)
        running = sa.and_(met.is_(None), due.is_not(None), sa.not_(CaseSla.paused),
                          CaseSla.state != State.RESOLVED.value)
        breached.append(sa.or_(sa.and_(met.is_not(None), seconds.is_not(None),
                                       seconds > target),
                               sa.and_(running, due < now)))
        warning.append(sa.and_(running, due >= now, warn.is_not(None), warn <= now))
    if badge == "breached":
        return sa.or_(*breached)
    if badge == "warning":
        return sa.and_(sa.not_(sa.or_(*breached)), sa.or_(*warning))
    return sa.or_(CaseSla.case_id.is_(None),
                  sa.and_(sa.not_(sa.or_(*breached)), sa.not_(sa.or_(*warning))))


def _latest_risk_code():
    """The reason code of the case's latest risk assessment of its current photos."""
    return (sa.select(VerificationCheck.reason_code)
            .where(VerificationCheck.case_id == RecoveryCase.id,
                   VerificationCheck.check == "risk.assessment",
                   VerificationCheck.attempt == RecoveryCase.evidence_attempt)
            .order_by(VerificationCheck.id.desc()).limit(1).scalar_subquery())


def _risk_condition(level: str):
    assessed = (sa.select(VerificationCheck.id)
                .where(VerificationCheck.case_id == RecoveryCase.id,
                       VerificationCheck.check == "risk.assessment",
                       VerificationCheck.attempt == RecoveryCase.evidence_attempt).exists())
    code = _latest_risk_code()
    if level == "low":
        return sa.and_(assessed, sa.or_(code.is_(None), code == "risk_low"))
    return code == f"risk_{level}"


def search_query(search: QueueSearch, agent: Agent, now: datetime) -> sa.Select:
    """The cases ``agent`` may open that match ``search``, what is due first."""
    assignee_id = None
    if search.assigned == "mine":
        assignee_id = agent.id
    elif search.assigned.isascii() and search.assigned.isdigit() \
            and 1 <= int(search.assigned) <= MAX_ID:
        assignee_id = int(search.assigned)
    kind = read_query(search.q)
    # A case number, a link or an email finds closed cases too: what was asked is shown.
    states = search.states if kind.kind in ("", "name", "document") else None
    query = queue_query(states=states, issue_type=search.issue_type, assignee_id=assignee_id,
                        unassigned=search.assigned == "unassigned", by_due=True,
                        actors=agent.actors)
    if kind.kind:
        query = query.where(_search_condition(kind))
    if search.risk in RISK_LEVELS:
        query = query.where(_risk_condition(search.risk))
    if search.sla in SLA_BADGES:
        query = query.where(sla_badge_condition(search.sla, now))
    return query


def risk_levels(case_ids: list[int]) -> dict[int, str]:
    """The latest assessed risk level of each case's current photos (unassessed: absent)."""
    if not case_ids:
        return {}
    rows = db.session.execute(
        sa.select(RecoveryCase.id, _latest_risk_code().label("code"),
                  sa.select(VerificationCheck.id)
                  .where(VerificationCheck.case_id == RecoveryCase.id,
                         VerificationCheck.check == "risk.assessment",
                         VerificationCheck.attempt == RecoveryCase.evidence_attempt)
                  .exists().label("assessed"))
        .where(RecoveryCase.id.in_(case_ids)))
    return {row.id: (row.code or "risk_low").removeprefix("risk_")
            for row in rows if row.assessed}


# --- saved views ---------------------------------------------------------------------------

def views_for(agent: Agent) -> list[SavedView]:
    """The agent's own views and those colleagues share, by name."""
    return list(db.session.scalars(
        sa.select(SavedView).where(sa.or_(SavedView.agent_id == agent.id, SavedView.shared))
        .order_by(SavedView.name, SavedView.id)))


def save_view(agent: Agent, name: str, query: str, *, shared: bool = False) -> SavedView:
    """Save the queue's current filters and search (``query``, its query string) as ``name``;
    the same name again replaces the agent's earlier view."""
    name = " ".join((name or "").split())
    if not name:
        raise BadView("Give the view a name.")
    if len(name) > VIEW_NAME_MAX:
        raise BadView(f"A view's name can be at most {VIEW_NAME_MAX} characters long.")
    if not name.isprintable():
        raise BadView("A view's name can only hold printable characters.")
    if len(query) > SavedView.query.type.length:
        raise BadView("These filters are too long to save; shorten the search.")
    with transaction():
        view = db.session.scalar(sa.select(SavedView).where(SavedView.agent_id == agent.id,
                                                            SavedView.name == name))
        if view is None:
            count = db.session.scalar(sa.select(sa.func.count()).select_from(SavedView)
                                      .where(SavedView.agent_id == agent.id))
            if count >= MAX_VIEWS_PER_AGENT:
                raise BadView(f"You have {MAX_VIEWS_PER_AGENT} saved views already: delete "
                              "one first.")
            view = SavedView(agent_id=agent.id, name=name)
            db.session.add(view)
        view.query, view.shared = query, shared
    return view


def delete_view(agent: Agent, view_id: int) -> str:
    """Delete one of the agent's own views; returns its name."""
    with transaction():
        view = db.session.get(SavedView, view_id) if 1 <= view_id <= MAX_ID else None
        if view is None or view.agent_id != agent.id:
            raise BadView("There is no view of yours with that number.")
        name = view.name
        db.session.delete(view)
    return name


# --- bulk actions --------------------------------------------------------------------------

@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk action did to one case: ``done`` or not, and why in plain words."""

    case_id: int
    done: bool
    message: str


def _each(selected: dict[int, int | None], agent: Agent, act, done: str) -> list[BulkOutcome]:
    """Run ``act(case_id, version)`` for every selected case in its own transaction."""
    if not selected:
        raise ActionRefused("Select at least one case.")
    if len(selected) > MAX_BULK:
        raise ActionRefused(f"Select at most {MAX_BULK} cases at once.")
    outcomes = []
    for case_id, version in sorted(selected.items()):
        try:
            check_case_access(case_id, agent)
            act(case_id, version)
        except StaleCase:
            outcomes.append(BulkOutcome(case_id, False, "it changed since the queue was "
                                        "loaded: open it, or reload the queue and try again."))
        except ReasonRequired:
            outcomes.append(BulkOutcome(case_id, False, "it needs a reason."))
        except (ActionRefused, CaseNotFound, LeadsOnly, CaseClaimed,
                TransitionNotAllowed) as err:
            outcomes.append(BulkOutcome(case_id, False, str(err)))
        else:
            outcomes.append(BulkOutcome(case_id, True, done))
    return outcomes


def bulk_assign(agent: Agent, selected: dict[int, int | None],
                assignee: str) -> list[BulkOutcome]:
    """Assign each selected case (id -> the version the agent saw) to ``assignee``: "me"
    claims them, "nobody" releases them, an agent's id gives them to that agent (leads)."""
    if assignee == "me":
        return _each(selected, agent, lambda case_id, version: claim_case(
            case_id, agent, version), f"assigned to {agent.name}.")
    if assignee == "nobody":
        return _each(selected, agent, lambda case_id, version: assign_case(
            case_id, agent, None, version), "released.")
    if not (assignee.isascii() and assignee.isdigit() and 1 <= int(assignee) <= MAX_ID):
        raise ActionRefused("Choose whom to assign the cases to.")
    target = db.session.get(Agent, int(assignee))
    if target is None or not target.active:
        raise ActionRefused("That agent does not exist or is deactivated.")
    return _each(selected, agent, lambda case_id, version: assign_case(
        case_id, agent, target.id, version), f"assigned to {target.name}.")


def _close_as_duplicate(case_id: int, version: int | None, agent: Agent, original_id: int,
                        reason: str) -> None:
    with transaction():
        case = load_case(case_id)
        check_version(case, version)
        case.duplicate_of = db.session.get(RecoveryCase, original_id)
        apply_event(case, "mark_duplicate", agent.actors, actor=Actor(agent.role), agent=agent,
                    reason=reason)


def bulk_close_duplicates(agent: Agent, selected: dict[int, int | None], original: str,
                          note: str = "") -> list[BulkOutcome]:
    """Close each selected case as a duplicate of case ``original`` (its number as typed),
    through the state machine: each case on its own, with its own event."""
    number = _CASE_NUMBER.fullmatch((original or "").strip())
    if not number or not 1 <= int(number.group(1)) <= MAX_ID:
        raise ActionRefused("Give the number of the case they repeat, like 1234.")
    original_id = int(number.group(1))
    # A case this agent may not open is answered like one that does not exist: the outcome
    # of the duplicate rule would otherwise tell whose request a leads-only case is.
    try:
        check_case_access(original_id, agent)
    except LeadsOnly:
        raise ActionRefused(f"There is no case #{original_id}.") from None
    if db.session.get(RecoveryCase, original_id) is None:
        raise ActionRefused(f"There is no case #{original_id}.")
    reason = f"Duplicate of case #{original_id}."
    if (note or "").strip():
        reason += f" {note.strip()}"
    return _each(selected, agent, lambda case_id, version: _close_as_duplicate(
        case_id, version, agent, original_id, reason),
        f"closed as a duplicate of case #{original_id}.")
