"""SLA report figures, aggregated in SQL from the stored per-case SLA rows (``case_sla``).

A report covers the cases *created* in [start, end], whole UTC days. Durations are business
hours of each case's own policy calendar (what its clocks count). The "agent" grouping puts a
case under its current assignee (unassigned cases form one group): the person accountable
for it now, which may differ from whoever answered first.

Every figure is computed by the database; Python only fills in empty days and buckets and
divides the counts it got back. Percentiles interpolate linearly between the two nearest
ranks, as PostgreSQL's ``percentile_cont`` does; on SQLite the same arithmetic is done with
window functions, so both databases give the same numbers.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from extensions import db
from workflow.models import Agent, CaseSla, RecoveryCase
from workflow.sla import CLOCKS, STAGES
from workflow.states import ISSUE_TYPES, State

GROUP_BY = ("issue_type", "agent", "stage", "priority")
DEFAULT_GROUP_BY = "issue_type"
# The default window: the last month, enough cases for steady percentiles on a small desk.
DEFAULT_DAYS = 30
# At most a year (a leap year too): the throughput has a row per day, and longer spans are a
# job for an export of the raw rows rather than an interactive page.
MAX_DAYS = 366
PERCENTILES = (0.5, 0.9)
# Open cases by calendar age (from filing to now): label and lower bound in days, inclusive.
BACKLOG_BUCKETS = (("<1d", 0), ("1-3d", 1), ("3-7d", 3), ("7-14d", 7), (">14d", 14))
# Clocks whose business time and within-target share are reported (next update restarts with
# every user message, so only its breaches are counted).
TIMED_CLOCKS = ("first_response", "resolution")
HOUR = 3600.0
DECIMALS = 4

# group_by -> the cohort's (key, label) columns; "stage" rows come from the stage columns.
GROUP_COLUMNS = {
    "issue_type": (RecoveryCase.issue_type, RecoveryCase.issue_type),
    "priority": (RecoveryCase.priority, RecoveryCase.priority),
    "agent": (RecoveryCase.assignee_id, Agent.name),
    "stage": (sa.null(), sa.null()),
}
UNASSIGNED = "unassigned"

STANDARD_COLUMNS = (
    "key", "label", "cases", "resolved", "open",
    *(f"{clock}_{figure}" for clock in TIMED_CLOCKS
      for figure in ("met", "within", "within_share", "p50_hours", "p90_hours")),
    *(f"breached_{clock}" for clock in CLOCKS), "breaches",
)
STAGE_COLUMNS = ("key", "label", "cases", "total_hours", "mean_hours", "p50_hours", "p90_hours",
                 "breaches_attributed")


class BadReportRequest(ValueError):
    """A report parameter that cannot be used; ``field`` names it, ``code`` says why."""

    def __init__(self, field: str, code: str, message: str):
        self.field, self.code = field, code
        super().__init__(message)


@dataclass(frozen=True)
class ReportRequest:
    """Validated report parameters."""

    start: date
    end: date
    group_by: str


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_day(raw: str, field: str) -> date:
    if not _DATE.fullmatch(raw):
        raise BadReportRequest(field, "invalid_date",
                               f"'{field}' must be a date written YYYY-MM-DD, like 2024-03-31.")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadReportRequest(field, "invalid_date",
                               f"'{field}' is not a date that exists: {raw}.") from None


def report_request(start: str | None, end: str | None, group_by: str | None,
                   today: date) -> ReportRequest:
    """Parameters from text; missing ones mean the last DEFAULT_DAYS days by issue type."""
    group_by = group_by or DEFAULT_GROUP_BY
    if group_by not in GROUP_BY:
        raise BadReportRequest("group_by", "invalid_group_by",
                               f"'group_by' must be one of: {', '.join(GROUP_BY)}.")
    end_day = _parse_day(end, "to") if end else today
    outside = BadReportRequest("to", "invalid_date",
                               "The dates are outside the calendar this desk can count.")
    try:
        start_day = (_parse_day(start, "from") if start
                     else end_day - timedelta(days=DEFAULT_DAYS - 1))
    except OverflowError:
        raise outside from None
    if start_day > end_day:
        raise BadReportRequest("from", "invalid_range", "'from' must be on or before 'to'.")
    days = (end_day - start_day).days + 1
    if days > MAX_DAYS:
        raise BadReportRequest("to", "range_too_long",
                               f"A report covers at most {MAX_DAYS} days; this range has {days}.")
    try:
        _bounds(start_day, end_day)
    except OverflowError:
        raise outside from None
    return ReportRequest(start_day, end_day, group_by)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in UTC."""
    return (datetime.combine(start, time(), UTC),
            datetime.combine(end + timedelta(days=1), time(), UTC))


# --- the queries --------------------------------------------------------------------------

def _flag(condition) -> sa.ColumnElement:
    """1 where ``condition`` holds, else NULL: count() of it counts the rows that match."""
    return sa.case((condition, 1))


def _breached(clock: str, now: datetime) -> sa.ColumnElement:
    """Met late, or not met and past due at ``now``."""
    met = getattr(CaseSla, f"{clock}_at")
    seconds, target = getattr(CaseSla, f"{clock}_seconds"), getattr(CaseSla, f"{clock}_target")
    due = getattr(CaseSla, f"{clock}_due_at")
    return sa.or_(sa.and_(met.is_not(None), seconds > target),
                  sa.and_(met.is_(None), due.is_not(None), due < now))


def _largest_stage() -> sa.ColumnElement:
    """The stage with the most business time (the first of STAGES on a tie); NULL with none."""
    columns = {stage: getattr(CaseSla, f"{stage}_seconds") for stage in STAGES}
    whens = []
    for stage, column in columns.items():
        others = [column >= other for name, other in columns.items() if name != stage]
        whens.append((sa.and_(column > 0, *others), stage))
    return sa.case(*whens)  # WHENs are tried in order, so ties go to the earlier stage


def _backlog_bucket(now: datetime) -> sa.ColumnElement:
    created = RecoveryCase.created_at
    whens = [(created <= now - timedelta(days=days), label)
             for label, days in reversed(BACKLOG_BUCKETS[1:])]
    return sa.case(*whens, else_=BACKLOG_BUCKETS[0][0])


def _utc_day(column, dialect: str) -> sa.ColumnElement:
    """The UTC calendar day of a timestamp column."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)  # SQLite keeps UTC timestamps as ISO text


def _cohort(start: date, end: date, group_by: str, now: datetime, dialect: str) -> sa.Subquery:
    """One row per case created in the range, with the per-case figures the reports add up."""
    key, label = GROUP_COLUMNS[group_by]
    lo, hi = _bounds(start, end)
    breaches = {clock: _breached(clock, now) for clock in CLOCKS}
    columns = [
        key.label("key"), label.label("label"),
        _flag(RecoveryCase.state == State.RESOLVED.value).label("resolved"),
        _utc_day(RecoveryCase.created_at, dialect).label("day"),
        sa.case((RecoveryCase.state != State.RESOLVED.value, _backlog_bucket(now)))
        .label("bucket"),
        *(_flag(condition).label(f"breached_{clock}") for clock, condition in breaches.items()),
        _flag(sa.or_(*breaches.values())).label("breached"),
        _largest_stage().label("largest_stage"),
        *((getattr(CaseSla, f"{stage}_seconds") / HOUR).label(f"{stage}_hours")
          for stage in STAGES),
    ]
    for clock in TIMED_CLOCKS:
        seconds, target = getattr(CaseSla, f"{clock}_seconds"), getattr(CaseSla, f"{clock}_target")
        columns += [(seconds / HOUR).label(f"{clock}_hours"),
                    _flag(seconds <= target).label(f"{clock}_within")]
    return (sa.select(*columns).select_from(RecoveryCase)
            .outerjoin(CaseSla, CaseSla.case_id == RecoveryCase.id)
            .outerjoin(Agent, Agent.id == RecoveryCase.assignee_id)
            .where(RecoveryCase.created_at >= lo, RecoveryCase.created_at < hi)
            .subquery("cohort"))


def percentiles(values: sa.Subquery, dialect: str) -> dict:
    """{key: (p50, p90)} of ``values.c.value`` per ``values.c.key`` (None: no key column)."""
    # PostgreSQL interpolates with percentile_cont; elsewhere window functions rank the values
    # and the same interpolation between the two nearest ranks is done in SQL: both agree.
    keys = [values.c.key] if "key" in values.c else []
    if dialect == "postgresql":
        figures = [sa.func.percentile_cont(p).within_group(values.c.value) for p in PERCENTILES]
        query = sa.select(*keys, *figures).group_by(*keys)
    else:
        partition = keys or None
        ranked = sa.select(
            *keys, values.c.value,
            (sa.func.row_number().over(partition_by=partition, order_by=values.c.value) - 1)
            .label("idx"),
            sa.func.count().over(partition_by=partition).label("n"),
        ).subquery("ranked")
        r = ranked.c
        figures = []
        for p in PERCENTILES:
            # The fractional rank p * (n - 1), 0-based; floor() without a floor function
            # (SQLite may lack it): the row whose index is at or just below the rank.
            rank = sa.literal(p, sa.Float) * (r.n - 1)
            at_low = sa.and_(r.idx <= rank, rank < r.idx + 1)
            at_high = sa.and_(r.idx - 1 <= rank, rank < r.idx)
            low = sa.func.max(sa.case((at_low, r.value)))
            high = sa.func.coalesce(sa.func.max(sa.case((at_high, r.value))), low)
            fraction = sa.func.max(sa.case((at_low, rank - r.idx)))
            figures.append(low + fraction * (high - low))
        ranked_keys = [r.key] if keys else []
        query = sa.select(*ranked_keys, *figures).select_from(ranked).group_by(*ranked_keys)
    found = {}
    for row in db.session.execute(query):
        key = row[0] if keys else None
        found[key] = tuple(row[len(keys):])
    return found


def _clock_percentiles(cohort: sa.Subquery, dialect: str, grouped: bool) -> dict:
    """clock -> {key: (p50, p90)} of the business hours of met clocks."""
    found = {}
    for clock in TIMED_CLOCKS:
        hours = cohort.c[f"{clock}_hours"]
        keys = [cohort.c.key] if grouped else []
        values = sa.select(*keys, hours.label("value")).where(hours.is_not(None))
        found[clock] = percentiles(values.subquery("vals"), dialect)
    return found


def _round(value) -> float | None:
    return None if value is None else round(float(value), DECIMALS)


def _share(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, DECIMALS)


def _label(group_by: str, key, label) -> tuple[str, str]:
    """A group's key and the name people read."""
    if group_by == "agent":
        return (UNASSIGNED, "Unassigned") if key is None else (str(key), label)
    if group_by == "issue_type":
        return key, ISSUE_TYPES.get(key, key)
    return key, key


def _standard_rows(cohort: sa.Subquery, dialect: str, group_by: str | None) -> list[dict]:
    """Cases, resolutions, clock percentiles, within-target shares and breaches per group."""
    c = cohort.c
    keys = [c.key, c.label] if group_by else []
    counts = [sa.func.count().label("cases"), sa.func.count(c.resolved).label("resolved"),
              *(sa.func.count(c[f"breached_{clock}"]).label(f"breached_{clock}")
                for clock in CLOCKS),
              sa.func.count(c.breached).label("breaches")]
    for clock in TIMED_CLOCKS:
        counts += [sa.func.count(c[f"{clock}_hours"]).label(f"{clock}_met"),
                   sa.func.count(c[f"{clock}_within"]).label(f"{clock}_within")]
    query = sa.select(*keys, *counts).select_from(cohort)
    if group_by:
        query = query.group_by(*keys)
    spread = _clock_percentiles(cohort, dialect, grouped=bool(group_by))
    rows = []
    for found in db.session.execute(query).mappings():
        key = found["key"] if group_by else None
        row = dict(zip(("key", "label"), _label(group_by, key, found["label"]) if group_by
                       else ("all", "All cases"), strict=True))
        row.update(cases=found["cases"], resolved=found["resolved"],
                   open=found["cases"] - found["resolved"])
        for clock in TIMED_CLOCKS:
            met, within = found[f"{clock}_met"], found[f"{clock}_within"]
            p50, p90 = spread[clock].get(key, (None, None))
            row.update({f"{clock}_met": met, f"{clock}_within": within,
                        f"{clock}_within_share": _share(within, met),
                        f"{clock}_p50_hours": _round(p50), f"{clock}_p90_hours": _round(p90)})
        row.update({f"breached_{clock}": found[f"breached_{clock}"] for clock in CLOCKS})
        row["breaches"] = found["breaches"]
        rows.append({name: row[name] for name in STANDARD_COLUMNS})
    return sorted(rows, key=lambda r: (-r["cases"], r["label"] or ""))


def _stage_rows(cohort: sa.Subquery, dialect: str) -> tuple[list[dict], int]:
    """Business hours per stage and breaches put down to it; and the breaches with no stage."""
    c = cohort.c
    values = sa.union_all(*(
        sa.select(sa.literal(stage, sa.String).label("key"), c[f"{stage}_hours"].label("value"))
        .where(c[f"{stage}_hours"] > 0)
        for stage in STAGES)).subquery("stage_hours")
    totals = {row.key: row for row in db.session.execute(
        sa.select(values.c.key, sa.func.count().label("cases"),
                  sa.func.sum(values.c.value).label("total"),
                  sa.func.avg(values.c.value).label("mean")).group_by(values.c.key))}
    spread = percentiles(values, dialect)
    blamed = dict(db.session.execute(
        sa.select(c.largest_stage, sa.func.count()).where(c.breached.is_not(None))
        .group_by(c.largest_stage)).all())
    rows = []
    for stage in STAGES:
        found = totals.get(stage)
        p50, p90 = spread.get(stage, (None, None))
        rows.append({"key": stage, "label": stage.replace("_", " "),
                     "cases": found.cases if found else 0,
                     "total_hours": _round(found.total) if found else 0.0,
                     "mean_hours": _round(found.mean) if found else None,
                     "p50_hours": _round(p50), "p90_hours": _round(p90),
                     "breaches_attributed": blamed.get(stage, 0)})
    return rows, blamed.get(None, 0)


def _backlog(cohort: sa.Subquery) -> list[dict]:
    """Open cases of the cohort per age bucket, every bucket listed."""
    c = cohort.c
    found = dict(db.session.execute(
        sa.select(c.bucket, sa.func.count()).where(c.bucket.is_not(None))
        .group_by(c.bucket)).all())
    return [{"bucket": label, "cases": found.get(label, 0)} for label, _ in BACKLOG_BUCKETS]


def _throughput(cohort: sa.Subquery, start: date, end: date, dialect: str) -> list[dict]:
    """Per day: cases filed (the cohort) and cases resolved that day, whenever filed."""
    lo, hi = _bounds(start, end)
    created = dict(db.session.execute(
        sa.select(cohort.c.day, sa.func.count()).group_by(cohort.c.day)).all())
    resolved_days = (sa.select(_utc_day(RecoveryCase.resolved_at, dialect).label("day"))
                     .where(RecoveryCase.resolved_at >= lo, RecoveryCase.resolved_at < hi)
                     .subquery("resolved_days"))
    resolved = dict(db.session.execute(
        sa.select(resolved_days.c.day, sa.func.count()).group_by(resolved_days.c.day)).all())
    created = {str(day): n for day, n in created.items()}
    resolved = {str(day): n for day, n in resolved.items()}
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [{"day": day, "created": created.get(day.isoformat(), 0),
             "resolved": resolved.get(day.isoformat(), 0)} for day in days]


def sla_report(start: date, end: date, group_by: str, now: datetime) -> dict:
    """The SLA report of the cases created in [start, end] (UTC days), grouped, at ``now``."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    dialect = db.session.get_bind().dialect.name
    cohort = _cohort(start, end, group_by, now, dialect)
    report = {"from": start, "to": end, "group_by": group_by, "generated_at": now}
    if group_by == "stage":
        report["groups"], report["unattributed_breaches"] = _stage_rows(cohort, dialect)
    else:
        report["groups"] = _standard_rows(cohort, dialect, group_by)
    report["totals"] = _standard_rows(cohort, dialect, None)[0]
    report["backlog_age"] = _backlog(cohort)
    report["throughput"] = _throughput(cohort, start, end, dialect)
    return report


def report_for(start: str | None, end: str | None, group_by: str | None,
               now: datetime) -> dict:
    """The report for parameters as typed (BadReportRequest when they cannot be used)."""
    asked = report_request(start, end, group_by, now.date())
    return sla_report(asked.start, asked.end, asked.group_by, now)


# --- output -------------------------------------------------------------------------------

def report_json(report: dict) -> dict:
    """The report with its dates and times as ISO 8601 text."""
    def convert(value):
        if isinstance(value, date):  # datetimes too
            return value.isoformat()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return convert(report)


def report_columns(group_by: str) -> tuple[str, ...]:
    """The figures of a group row, in order."""
    return STAGE_COLUMNS if group_by == "stage" else STANDARD_COLUMNS


# Cells a spreadsheet would run as a formula (CSV injection): group names come from data.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def report_csv(report: dict) -> str:
    """One row per group with every figure, under a header row."""
    columns = report_columns(report["group_by"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in report["groups"]:
        writer.writerow([_cell(row[name]) for name in columns])
    return out.getvalue()


def csv_filename(report: dict) -> str:
    """The download's file name."""
    return f"sla-report_{report['from']}_{report['to']}_{report['group_by']}.csv"
