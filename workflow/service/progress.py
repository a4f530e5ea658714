"""Where a request stands, for the person who filed it: the step it is at, whether the
automatic checks are running, and how long requests like it usually take."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from extensions import db

from .. import sla
from ..models import RecoveryCase
from ..states import Resolution, State
from .job_records import verification_complete, verification_failure
from .policies import sla_settings
from .unit import utcnow

# The steps a person sees, in order. Their words live in the templates (translatable).
STEPS: tuple[str, ...] = ("received", "document", "selfie", "review", "done")

# The step of a stage the case waits in (for an answer, or for a person).
_STAGE_STEP = {State.SUBMITTED: "received", State.ID_CHECK: "document",
               State.SELFIE_CHECK: "selfie"}

# Resolutions a person decided: their time is the desk's time to resolve. Withdrawn, expired
# and duplicate requests ended for other reasons and would flatter (or darken) the figure.
DECIDED = (Resolution.APPROVED.value, Resolution.DECLINED.value)


@dataclass(frozen=True)
class Progress:
    """The step a request is at (one of STEPS) and what goes with it."""

    step: str
    # The automatic checks are working on it now: the page refreshes itself.
    checks_running: bool
    # The desk waits for the person (an answer, new photos).
    waiting_for_you: bool

    @property
    def index(self) -> int:
        return STEPS.index(self.step)


def _checks_running(case: RecoveryCase) -> bool:
    """Whether the automatic checks of the current photos are still to report."""
    if current_app.config["VERIFICATION_EXECUTOR"] == "off":
        return False
    if case.state == State.SUBMITTED:
        return True
    if case.state not in (State.ID_CHECK, State.SELFIE_CHECK):
        return False
    if verification_failure(case) is not None:
        return False
    if case.state == State.ID_CHECK:
        return case.current_reading() is None
    return not verification_complete(case)


def case_progress(case: RecoveryCase) -> Progress:
    """The step ``case`` is at, as its status page shows it."""
    state = State(case.state)
    if state == State.RESOLVED:
        return Progress("done", False, False)
    if state == State.ESCALATED:
        return Progress("review", False, False)
    if state == State.AWAITING_USER:
        left = State(case.awaiting_from) if case.awaiting_from else State.ID_CHECK
        return Progress(_STAGE_STEP.get(left, "review"), False, True)
    running = _checks_running(case)
    if state == State.SUBMITTED or running:
        return Progress(_STAGE_STEP[state], running, False)
    # The checks have had their say and the case waits in its stage for an agent.
    return Progress("review", False, False)


@dataclass(frozen=True)
class Expectation:
    """How long a request like this one usually takes, in whole hours."""

    hours: int
    # "desk": the median of recent requests of its type; "policy": the SLA target.
    source: str
    # The policy counts working hours only (not a 24/7 calendar).
    working_hours: bool = False


def _hours(seconds: float) -> int:
    return max(1, round(seconds / 3600 + 0.4999))


def _recent_median(issue_type: str) -> float | None:
    """The median resolution time (seconds) of recent decided requests of ``issue_type``,
    or None when there are too few; cached a while per app, so a polling page costs nothing."""
    config = current_app.config
    cache = current_app.extensions.setdefault("typical_resolution", {})
    now = time.monotonic()
    hit = cache.get(issue_type)
    if hit is not None and now - hit[0] < config["STATUS_TYPICAL_CACHE_SECONDS"]:
        return hit[1]
    since = utcnow() - timedelta(days=config["STATUS_TYPICAL_DAYS"])
    rows = db.session.execute(
        sa.select(RecoveryCase.created_at, RecoveryCase.resolved_at)
        .where(RecoveryCase.issue_type == issue_type,
               RecoveryCase.state == State.RESOLVED.value,
               RecoveryCase.resolution.in_(DECIDED),
               RecoveryCase.resolved_at >= since)
        .order_by(RecoveryCase.resolved_at.desc())
        .limit(config["STATUS_TYPICAL_MAX_CASES"])).all()
    median = None
    if len(rows) >= config["STATUS_TYPICAL_MIN_CASES"]:
        median = statistics.median((done - created).total_seconds() for created, done in rows)
    cache[issue_type] = (now, median)
    return median


def expected_time(case: RecoveryCase) -> Expectation:
    """How long requests of the case's type usually take: the desk's recent median, or the
    SLA policy's resolution target when there are too few recent requests to tell."""
    median = _recent_median(case.issue_type)
    if median is not None:
        return Expectation(_hours(median), "desk")
    settings = sla_settings()
    policy = settings.policy_for(case.issue_type, case.priority)
    calendar = settings.calendars[policy.calendar]
    always = calendar.hours == sla.BusinessCalendar.always().hours and not calendar.holidays
    return Expectation(_hours(policy.resolution), "policy", working_hours=not always)
