"""Service levels: business calendars, policies, and the SLA clocks derived from a case's log.

Everything here is a pure function of a case's events and messages, a policy and a calendar:
the stored figures (``CaseSla``) are a cache of ``derive()`` for fast queries, and
``flask sla-recompute`` rebuilds them from the log.

Three clocks run per case: **first response** (until the first user-visible message or
decision by a person on staff), **next update** (from the user's oldest unanswered message
until staff answer it) and **resolution**. They count business time only, in the calendar's timezone
(daylight-saving changes included), and stand still while the case awaits the user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .states import ROLES, Actor, State

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# States whose time is measured per case, so a breach can be put down to the stage that used it.
STAGES: tuple[str, ...] = tuple(
    s.value for s in (State.ID_CHECK, State.SELFIE_CHECK, State.ESCALATED, State.AWAITING_USER))
PAUSED = frozenset({State.AWAITING_USER.value})
STOPPED = State.RESOLVED.value
STAFF = frozenset(ROLES)
# Staff events the user sees as an answer or a decision (claims, notes and escalations are
# internal and do not stop the first-response clock).
USER_VISIBLE_DECISIONS = frozenset({
    "confirm_document", "approve", "decline", "request_info", "request_resubmission",
    "mark_duplicate", "return_to_stage",
})
USER_MESSAGES = frozenset({"user_replied", "user_resubmitted"})
CLOCKS = ("first_response", "next_update", "resolution")
# A calendar without a working hour in this many days is refused (no due time would exist).
MAX_CALENDAR_DAYS = 3660
# A target beyond a year of round-the-clock time is a typing error, and its due time could
# fall past the calendar's search horizon.
MAX_TARGET_SECONDS = 365 * 86400.0


class BadCalendar(ValueError):
    """A calendar or policy setting that cannot be used."""


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours per weekday in a timezone, minus holidays; 24/7 is a calendar too."""

    timezone: str = "UTC"
    # weekday (0 = Monday) -> (opens, closes); closes == time(0) means midnight at the end.
    hours: dict[int, tuple[time, time]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self):
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise BadCalendar(f"unknown timezone {self.timezone!r}") from err
        if not self.hours:
            raise BadCalendar("a calendar needs at least one working day")
        for day, (opens, closes) in self.hours.items():
            if day not in range(7):
                raise BadCalendar(f"weekday {day} is not 0-6")
            if closes != time(0) and closes <= opens:
                raise BadCalendar(f"{WEEKDAYS[day]}: closes at {closes} before it opens")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessCalendar:
        """Every hour of every day."""
        return cls(timezone, {day: (time(0), time(0)) for day in range(7)})

    @classmethod
    def from_mapping(cls, values: dict) -> BusinessCalendar:
        """A calendar from configuration: timezone, hours {"mon": ["09:00", "17:00"]}, holidays."""
        unknown = set(values) - {"timezone", "hours", "holidays"}
        if unknown:
            raise BadCalendar(f"unknown calendar setting(s): {', '.join(sorted(unknown))}")
        hours = {}
        for name, span in (values.get("hours") or {}).items():
            if name not in WEEKDAYS:
                raise BadCalendar(f"unknown weekday {name!r}; use {', '.join(WEEKDAYS)}")
            if span in (None, []):
                continue
            try:
                opens, closes = (_clock(text) for text in span)
            except (TypeError, ValueError) as err:
                raise BadCalendar(f"{name}: hours must be two times like [\"09:00\", "
                                  f"\"17:00\"], not {span!r}") from err
            hours[WEEKDAYS.index(name)] = (opens, closes)
        try:
            holidays = frozenset(date.fromisoformat(d) for d in values.get("holidays") or ())
        except (TypeError, ValueError) as err:
            raise BadCalendar(f"holidays must be YYYY-MM-DD dates: {err}") from err
        return cls(values.get("timezone", "UTC"), hours, holidays)

    def _open_spans(self, day: date) -> tuple[datetime, datetime] | None:
        """The working span of a local date, as UTC instants; None on a closed day."""
        if day in self.holidays or day.weekday() not in self.hours:
            return None
        opens, closes = self.hours[day.weekday()]
        zone = self.zone
        start = datetime.combine(day, opens, tzinfo=zone)
        end_day = day + timedelta(days=1) if closes == time(0) else day
        end = datetime.combine(end_day, closes, tzinfo=zone)
        # Wall-clock times become instants through UTC, so a day with a DST change is 23 or
        # 25 hours long, as it is for the people working it.
        return _utc(start), _utc(end)

    def spans(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working intervals inside [start, end), in UTC, in order."""
        if end <= start:
            return
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        while day <= last:
            found = self._open_spans(day)
            if found is not None:
                lo, hi = max(found[0], start), min(found[1], end)
                if lo < hi:
                    yield lo, hi
            day += timedelta(days=1)

    def seconds(self, start: datetime, end: datetime) -> float:
        """Business seconds between two instants (0 when ``end`` is not after ``start``)."""
        return sum((hi - lo).total_seconds() for lo, hi in self.spans(start, end))

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of business time have passed since ``start``."""
        remaining = max(0.0, seconds)
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(MAX_CALENDAR_DAYS):
            found = self._open_spans(day)
            day += timedelta(days=1)
            if found is None or found[1] <= start:
                continue
            lo = max(found[0], start)
            length = (found[1] - lo).total_seconds()
            if remaining <= length and (remaining > 0 or lo >= start):
                return lo + timedelta(seconds=remaining)
            remaining -= length
        raise BadCalendar("no working time within ten years of this date")


def _clock(text: str) -> time:
    if text in ("24:00", "24:00:00"):
        return time(0)
    return time.fromisoformat(text)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value, limit: float = MAX_TARGET_SECONDS) -> float:
    """Seconds from 45m, 4h, 2d (business time) or a number of seconds, at most ``limit``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match or float(match.group(1)) <= 0:
            raise BadCalendar(f"durations are like 30m, 4h or 2d, not {value!r}")
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if seconds > limit:
        if limit == MAX_TARGET_SECONDS:
            raise BadCalendar(f"a target of {value!r} is longer than a year of business time")
        raise BadCalendar(f"{value!r} is longer than {limit / 86400:g} days")
    return seconds


@dataclass(frozen=True)
class Policy:
    """The targets of the three clocks, in business seconds, and the calendar they count in."""

    name: str
    calendar: str
    first_response: float
    next_update: float
    resolution: float
    warn_share: float = 0.75

    def target(self, clock: str) -> float:
        return getattr(self, clock)


@dataclass(frozen=True)
class Entry:
    """One line of a case's log as the SLA sees it."""

    at: datetime
    kind: str  # "event" or "message"
    name: str  # the event's name, or "message"
    actor: str  # user, system, agent, security_lead, admin
    to_state: str | None = None
    internal: bool = False


@dataclass(frozen=True)
class Clock:
    """One clock of one case: its due time, when it was met, and whether it breached."""

    target: float
    started_at: datetime | None
    due_at: datetime | None  # None while paused, or when the clock does not run
    warn_at: datetime | None
    met_at: datetime | None
    elapsed: float  # business seconds counted so far (up to met_at or now)
    paused: bool = False

    def breached(self, now: datetime) -> bool:
        """Met late, or not met and past due."""
        if self.met_at is not None:
            return self.elapsed > self.target
        return self.due_at is not None and now > self.due_at

    def warning(self, now: datetime) -> bool:
        """Not met, past the warning point and not yet breached."""
        return (self.met_at is None and self.warn_at is not None and now >= self.warn_at
                and not self.breached(now))


@dataclass(frozen=True)
class CaseClocks:
    """Everything the SLA says about one case at ``now``."""

    clocks: dict[str, Clock]
    stage_seconds: dict[str, float]
    paused: bool
    resolved: bool
    # Earlier next-update cycles (answered, and the user wrote again) that ran past target.
    next_update_breaches: int = 0

    def next_due(self) -> datetime | None:
        """The earliest due time among the clocks still running (for queue order)."""
        dues = [c.due_at for c in self.clocks.values() if c.met_at is None and c.due_at]
        return min(dues) if dues else None


def _running_spans(entries: Sequence[Entry], created: datetime,
                   end: datetime) -> list[tuple[datetime, datetime, str]]:
    """(start, end, state) intervals of the case's life up to ``end``."""
    spans = []
    state, since = State.SUBMITTED.value, created
    for entry in entries:
        if entry.kind != "event" or entry.to_state is None or entry.at < since:
            continue
        if entry.at > end:
            break
        spans.append((since, entry.at, state))
        state, since = entry.to_state, entry.at
    spans.append((since, max(since, end), state))
    return spans


def _count(spans, calendar: BusinessCalendar, start: datetime, target: float, share: float,
           met_at: datetime | None) -> Clock:
    """Count business time in running states from ``start`` until ``met_at`` (or the end).

    The due and warning instants depend only on the log (a running clock's due time is
    projected from the start of the current running stretch), so stored figures computed at
    any moment agree with a recomputation later.
    """
    elapsed = 0.0
    due = warn = None
    current = None  # (start of the running stretch the log ends in, business time before it)
    paused = False
    for lo, hi, state in spans:
        if met_at is not None:
            if lo >= met_at:
                break
            hi = min(hi, met_at)
        lo = max(lo, start)
        running = state not in PAUSED and state != STOPPED
        paused = state in PAUSED
        current = (lo, elapsed) if running else None
        if not running or hi <= lo:
            continue
        before = elapsed
        elapsed += calendar.seconds(lo, hi)
        if warn is None and elapsed >= share * target:
            warn = calendar.add(lo, share * target - before)
        if due is None and elapsed >= target:
            due = calendar.add(lo, target - before)
    if current is not None:
        # Still running (or met while running): where the target falls from here on.
        lo, before = current
        due = due or calendar.add(lo, target - before)
        warn = warn or calendar.add(lo, share * target - before)
    return Clock(target=target, started_at=start, due_at=due, warn_at=warn, met_at=met_at,
                 elapsed=elapsed, paused=paused and met_at is None)


def is_response(entry: Entry) -> bool:
    """A user-visible message or decision by a person on staff."""
    if entry.actor not in STAFF:
        return False
    if entry.kind == "message":
        return not entry.internal
    return entry.name in USER_VISIBLE_DECISIONS


def is_user_message(entry: Entry) -> bool:
    """Something the user said or sent after filing (a reply, new photos)."""
    return entry.actor == Actor.USER and (
        (entry.kind == "message" and not entry.internal) or entry.name in USER_MESSAGES)


def derive(entries: Iterable[Entry], *, created: datetime, policy: Policy,
           calendar: BusinessCalendar, now: datetime) -> CaseClocks:
    """The case's three clocks and its business time per stage, from its log, at ``now``."""
    log = sorted(entries, key=lambda e: e.at)
    resolved_at = next((e.at for e in log if e.kind == "event" and e.to_state == STOPPED), None)
    end = resolved_at or max(now, created)
    spans = _running_spans(log, created, end)
    share = policy.warn_share
    responses = [e.at for e in log if is_response(e)]
    clocks = {
        "first_response": _count(spans, calendar, created, policy.first_response, share,
                                 responses[0] if responses else None),
        "resolution": _count(spans, calendar, created, policy.resolution, share, resolved_at),
    }
    asked = [e.at for e in log if is_user_message(e) and (resolved_at is None
                                                          or e.at <= resolved_at)]
    # Next-update cycles: one starts at the user's oldest unanswered message (writing again
    # before the answer does not restart it) and ends with the first answer after it.
    cycles: list[tuple[datetime, datetime | None]] = []
    for at in asked:
        if cycles and (cycles[-1][1] is None or cycles[-1][1] > at):
            continue
        cycles.append((at, next((r for r in responses if r >= at), None)))
    if cycles:
        since, answer = cycles[-1]
        clocks["next_update"] = _count(spans, calendar, since, policy.next_update, share,
                                       answer)
    else:
        clocks["next_update"] = Clock(policy.next_update, None, None, None, None, 0.0)
    late_updates = 0
    for since, answer in cycles[:-1]:
        cycle = _count(spans, calendar, since, policy.next_update, share, answer)
        late_updates += cycle.elapsed > cycle.target
    stage_seconds = dict.fromkeys(STAGES, 0.0)
    for lo, hi, state in spans:
        if state in stage_seconds:
            stage_seconds[state] += calendar.seconds(lo, hi)
    last_state = spans[-1][2]
    return CaseClocks(clocks=clocks, stage_seconds=stage_seconds,
                      paused=last_state in PAUSED, resolved=resolved_at is not None,
                      next_update_breaches=late_updates)


def figures(entries: Iterable[Entry], *, created: datetime, policy: Policy,
            calendar: BusinessCalendar) -> dict:
    """The stored figures of a case (CaseSla columns): what its log alone fixes.

    Derived at the moment of the log's last entry, so the stretch the case is in has not
    begun to count, and a clock not yet met has no elapsed time stored: the result is the
    same whenever it is computed, which is what lets `sla-recompute` equal the live figures.
    """
    log = sorted(entries, key=lambda e: e.at)
    last = max([created, *(e.at for e in log)])
    found = derive(log, created=created, policy=policy, calendar=calendar, now=last)
    row = {"policy": policy.name, "calendar": policy.calendar, "paused": found.paused}
    for name, clock in found.clocks.items():
        row[f"{name}_target"] = clock.target
        row[f"{name}_due_at"] = clock.due_at
        row[f"{name}_warn_at"] = clock.warn_at
        row[f"{name}_at"] = clock.met_at
        row[f"{name}_seconds"] = clock.elapsed if clock.met_at is not None else None
    row["next_update_started_at"] = found.clocks["next_update"].started_at
    row["next_update_breaches"] = found.next_update_breaches
    for stage, seconds in found.stage_seconds.items():
        row[f"{stage}_seconds"] = seconds
    spans = _running_spans(log, created, last)
    row["state"], row["state_since"] = spans[-1][2], spans[-1][0]
    running = [c.due_at for c in found.clocks.values()
               if c.met_at is None and c.due_at is not None]
    row["next_due_at"] = None if found.resolved or found.paused or not running else min(running)
    return row
