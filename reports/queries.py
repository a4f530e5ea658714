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
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import ARRAY

from extensions import db
from workflow.models import Agent, CaseSla, RecoveryCase, SelfHelpAnswer
from workflow.sla import CLOCKS, PAUSED, STAGES
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
# Stages a breach can be put down to: the running ones (clocks stand still while waiting).
BLAMED_STAGES = tuple(stage for stage in STAGES if stage not in PAUSED)
# The key of the whole cohort's figures among the groups' (GROUPING SETS' empty set).
TOTAL = ("__all__",)
# PostgreSQL memory sizes this desk accepts for a report's sorts: up to 9,999,999 kB or MB,
# or 99 GB (the server refuses more than 2 TB).
_MEMORY = re.compile(r"[1-9][0-9]{0,6}(kB|MB)|[1-9][0-9]?GB")

# group_by -> the cohort's (key, label) columns; "stage" rows come from the stage columns.
# The case's columns are read from their copies on its SLA row (see CaseSla).
GROUP_COLUMNS = {
    "issue_type": (CaseSla.issue_type, CaseSla.issue_type),
    "priority": (CaseSla.priority, CaseSla.priority),
    "agent": (CaseSla.assignee_id, Agent.name),
    "stage": (sa.null(), sa.null()),
}
UNASSIGNED = "unassigned"

STANDARD_COLUMNS = (
    "key", "label", "cases", "resolved", "open",
    *(f"{clock}_{figure}" for clock in TIMED_CLOCKS
      for figure in ("met", "overdue", "within", "within_share", "p50_hours", "p90_hours")),
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


def _overdue(clock: str, now: datetime) -> sa.ColumnElement:
    """Not met, and past due at ``now``."""
    met, due = getattr(CaseSla, f"{clock}_at"), getattr(CaseSla, f"{clock}_due_at")
    return sa.and_(met.is_(None), due.is_not(None), due < now)


def _breached(clock: str, now: datetime) -> sa.ColumnElement:
    """Met late, or not met and past due at ``now`` (or, for next update, an earlier cycle)."""
    met = getattr(CaseSla, f"{clock}_at")
    seconds, target = getattr(CaseSla, f"{clock}_seconds"), getattr(CaseSla, f"{clock}_target")
    late = [sa.and_(met.is_not(None), seconds > target), _overdue(clock, now)]
    if clock == "next_update":
        late.append(CaseSla.next_update_breaches > 0)
    return sa.or_(*late)


def _largest_stage() -> sa.ColumnElement:
    """The running stage with the most business time (the first on a tie); NULL with none.

    Waiting for the user is not a candidate: no clock runs then, so it cannot use SLA time.
    """
    columns = {stage: getattr(CaseSla, f"{stage}_seconds") for stage in BLAMED_STAGES}
    whens = []
    for stage, column in columns.items():
        others = [column >= other for name, other in columns.items() if name != stage]
        whens.append((sa.and_(column > 0, *others), stage))
    return sa.case(*whens)  # WHENs are tried in order, so ties go to the earlier stage


def _backlog_bucket(now: datetime) -> sa.ColumnElement:
    created = CaseSla.filed_at
    whens = [(created <= now - timedelta(days=days), label)
             for label, days in reversed(BACKLOG_BUCKETS[1:])]
    return sa.case(*whens, else_=BACKLOG_BUCKETS[0][0])


def _per_utc_day(column, lo: datetime, hi: datetime, dialect: str) -> sa.Select:
    """(day, rows) of a timestamp column in [lo, hi), per UTC calendar day."""
    where = (column >= lo, column < hi)
    if dialect != "postgresql":
        day = sa.func.date(column)  # SQLite keeps UTC timestamps as ISO text
        return sa.select(day, sa.func.count()).where(*where).group_by(day)
    # Grouping on date_bin's instants and naming the day of each group afterwards is half
    # the work of grouping on each row's converted date (a million rows: 0.10 s, not 0.17 s).
    start = sa.func.date_bin(sa.text("interval '1 day'"), column, _EPOCH)
    bins = (sa.select(start.label("start"), sa.func.count().label("rows")).where(*where)
            .group_by(start).subquery("bins"))
    return sa.select(sa.cast(sa.func.timezone("UTC", bins.c.start), sa.Date), bins.c.rows)


_EPOCH = sa.literal(datetime(2000, 1, 1, tzinfo=UTC), sa.DateTime(timezone=True))


def _cohort(start: date, end: date, group_by: str, now: datetime) -> sa.Subquery:
    """One row per case created in the range, with the per-case figures the reports add up."""
    key, label = GROUP_COLUMNS[group_by]
    lo, hi = _bounds(start, end)
    breaches = {clock: _breached(clock, now) for clock in CLOCKS}
    columns = [
        key.label("key"), label.label("label"),
        _flag(CaseSla.state == State.RESOLVED.value).label("resolved"),
        sa.case((CaseSla.state != State.RESOLVED.value, _backlog_bucket(now)))
        .label("bucket"),
        *(_flag(condition).label(f"breached_{clock}") for clock, condition in breaches.items()),
        _flag(sa.or_(*breaches.values())).label("breached"),
        _largest_stage().label("largest_stage"),
        # Only stretches with time in them count for a stage (NULL otherwise).
        *(sa.case((getattr(CaseSla, f"{stage}_seconds") > 0,
                   getattr(CaseSla, f"{stage}_seconds") / HOUR)).label(f"{stage}_hours")
          for stage in STAGES),
    ]
    for clock in TIMED_CLOCKS:
        seconds, target = getattr(CaseSla, f"{clock}_seconds"), getattr(CaseSla, f"{clock}_target")
        columns += [(seconds / HOUR).label(f"{clock}_hours"),
                    _flag(seconds <= target).label(f"{clock}_within"),
                    _flag(_overdue(clock, now)).label(f"{clock}_overdue")]
    # One table: the SLA rows keep copies of the case columns used here, so a year of cases
    # is read without joining recovery_case (docs/benchmarks.md); agents only for names.
    query = sa.select(*columns).select_from(CaseSla)
    if group_by == "agent":
        query = query.outerjoin(Agent, Agent.id == CaseSla.assignee_id)
    return query.where(CaseSla.filed_at >= lo, CaseSla.filed_at < hi).subquery("cohort")


def _counts(cohort: sa.Subquery, stages: bool) -> list[sa.ColumnElement]:
    """The counting aggregates of a group (or of the whole cohort), labelled."""
    c = cohort.c
    counts = [sa.func.count().label("cases"), sa.func.count(c.resolved).label("resolved"),
              *(sa.func.count(c[f"breached_{clock}"]).label(f"breached_{clock}")
                for clock in CLOCKS),
              sa.func.count(c.breached).label("breaches"),
              *(sa.func.count(_flag(c.bucket == label)).label(f"bucket_{n}")
                for n, (label, _) in enumerate(BACKLOG_BUCKETS))]
    for clock in TIMED_CLOCKS:
        counts += [sa.func.count(c[f"{clock}_hours"]).label(f"{clock}_met"),
                   sa.func.count(c[f"{clock}_within"]).label(f"{clock}_within"),
                   sa.func.count(c[f"{clock}_overdue"]).label(f"{clock}_overdue")]
    if stages:
        blamed = c.breached.is_not(None)
        for stage in STAGES:
            hours = c[f"{stage}_hours"]
            counts += [sa.func.count(hours).label(f"{stage}_cases"),
                       sa.func.sum(hours).label(f"{stage}_total"),
                       sa.func.avg(hours).label(f"{stage}_mean"),
                       sa.func.count(_flag(sa.and_(blamed, c.largest_stage == stage)))
                       .label(f"{stage}_blamed")]
        counts.append(sa.func.count(_flag(sa.and_(blamed, c.largest_stage.is_(None))))
                      .label("unattributed"))
    return counts


def _spread_columns(stages: bool) -> list[str]:
    """The cohort columns whose p50 and p90 the report shows."""
    return ([f"{clock}_hours" for clock in TIMED_CLOCKS]
            + ([f"{stage}_hours" for stage in STAGES] if stages else []))


def report_work_mem() -> str:
    """SLA_REPORT_WORK_MEM, checked (ValueError when PostgreSQL could not take it)."""
    memory = current_app.config["SLA_REPORT_WORK_MEM"]
    if not isinstance(memory, str) or not _MEMORY.fullmatch(memory):
        raise ValueError(f"SLA_REPORT_WORK_MEM must be a size like 64MB, not {memory!r}")
    return memory


def report_statements() -> int:
    """SLA_REPORT_STATEMENTS, checked (ValueError unless a whole number from 1 to 8)."""
    statements = current_app.config["SLA_REPORT_STATEMENTS"]
    if isinstance(statements, bool) or not isinstance(statements, int) or not 1 <= statements <= 8:
        raise ValueError(f"SLA_REPORT_STATEMENTS must be a whole number from 1 to 8, "
                         f"not {statements!r}")
    return statements


def report_settings() -> tuple[str, int]:
    """The report's PostgreSQL settings, checked: sort memory and statements at once."""
    return report_work_mem(), report_statements()


def _summary_postgresql(cohort: sa.Subquery, grouped: bool, stages: bool) -> dict:
    """{key: figures} of every group and (key ``TOTAL``) the cohort.

    GROUPING SETS give the groups and the totals in one pass over the cohort, and
    percentile_cont (which skips NULLs) sorts each figure's values within that pass. Each
    percentile is a sort that runs on one core, so the figures are split between
    SLA_REPORT_STATEMENTS statements that run at once, on connections of their own that share
    one snapshot: together they read the same rows one statement would.
    """
    c = cohort.c
    spread_names = _spread_columns(stages)
    spread = [sa.func.percentile_cont(sa.literal(list(PERCENTILES), ARRAY(sa.Float)))
              .within_group(c[name]).label(f"{name}_spread") for name in spread_names]
    parts = max(1, min(report_statements(), len(spread)))
    # The counts go with the first statement; the percentiles are dealt out from the last.
    shares = [[] for _ in range(parts)]
    for n, column in enumerate(reversed(spread)):
        shares[n % parts].append(column)
    shares[0] = [*_counts(cohort, stages), *shares[0]]
    queries = []
    for columns in shares:
        if grouped:
            queries.append(sa.select(c.key, c.label, sa.func.grouping(c.key).label("is_total"),
                                     *columns)
                           .group_by(sa.func.grouping_sets(sa.tuple_(c.key, c.label),
                                                           sa.tuple_())))
        else:
            queries.append(sa.select(*columns))
    found: dict = {}
    for rows in _run_together(queries):
        for row in rows:
            key = TOTAL if not grouped or row["is_total"] else (row["key"], row["label"])
            found.setdefault(key, {}).update(row)
    for figures in found.values():
        for name in spread_names:
            figures[f"{name}_spread"] = tuple(figures[f"{name}_spread"] or (None, None))
    return found


_SNAPSHOT = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


def _report_settings(connection, memory: str) -> None:
    """This transaction's memory and JIT settings for a report statement (PostgreSQL)."""
    connection.execute(sa.text(f"SET LOCAL work_mem = '{memory}'"))
    # A year's statement costs enough for PostgreSQL to inline and optimise its JIT code,
    # which took 0.6 s of a 2 s stage report here; plain JIT code runs about as fast.
    connection.execute(sa.text("SET LOCAL jit_inline_above_cost = -1"))
    connection.execute(sa.text("SET LOCAL jit_optimize_above_cost = -1"))


def _run_together(queries: list) -> list[list[dict]]:
    """The rows of each query, run at once on connections that share one snapshot.

    The first connection exports its REPEATABLE READ snapshot (pg_export_snapshot); the
    others import it before their first statement, so all of them see the same rows, as
    pg_dump's parallel jobs do. Every connection is taken from the pool before any statement
    runs, so a report never holds some while it waits for the rest. One query runs in the
    session's own transaction.
    """
    memory = report_work_mem()  # read here: the other threads have no app context
    if len(queries) == 1:
        _report_settings(db.session, memory)
        return [[dict(row) for row in db.session.execute(queries[0]).mappings()]]

    def run(connection: sa.Connection, query, snapshot: str) -> list[dict]:
        with connection.begin():
            connection.execute(sa.text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            _report_settings(connection, memory)
            return [dict(row) for row in connection.execute(query).mappings()]

    with ExitStack() as stack:
        first, *others = [stack.enter_context(
            db.engine.connect().execution_options(isolation_level="REPEATABLE READ"))
            for _ in queries]
        with first.begin():
            snapshot = first.scalar(sa.text("SELECT pg_export_snapshot()"))
            if not _SNAPSHOT.fullmatch(snapshot):
                raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
            with ThreadPoolExecutor(len(others), thread_name_prefix="sla-report") as pool:
                futures = [pool.submit(run, connection, query, snapshot)
                           for connection, query in zip(others, queries[1:], strict=True)]
                _report_settings(first, memory)
                own = [dict(row) for row in first.execute(queries[0]).mappings()]
                return [own, *(future.result() for future in futures)]


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


def _summary_portable(cohort: sa.Subquery, grouped: bool, stages: bool) -> dict:
    """The same figures as _summary_postgresql, in standard SQL (SQLite): a statement each.

    No GROUPING SETS nor percentile_cont here: the counts are read per group and for the
    cohort, and each percentile is interpolated by window functions.
    """
    c = cohort.c
    counts = _counts(cohort, stages)
    found = {TOTAL: dict(db.session.execute(sa.select(*counts)).mappings().one())}
    labels = {}
    if grouped:
        for row in db.session.execute(sa.select(c.key, c.label, *counts)
                                      .group_by(c.key, c.label)).mappings():
            found[(row["key"], row["label"])] = dict(row)
            labels[row["key"]] = row["label"]
    for name in _spread_columns(stages):
        value = c[name]
        for keyed in ((False, True) if grouped else (False,)):
            keys = [c.key] if keyed else []
            values = sa.select(*keys, value.label("value")).where(value.is_not(None))
            for key, spread in percentiles(values.subquery("vals"), "sqlite").items():
                target = found[(key, labels[key]) if keyed else TOTAL]
                target[f"{name}_spread"] = spread
    for figures in found.values():
        for name in _spread_columns(stages):
            figures.setdefault(f"{name}_spread", (None, None))
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


def _standard_row(key: str, label: str, found: dict) -> dict:
    """A group's (or the totals') figures as the report shows them."""
    row = {"key": key, "label": label, "cases": found["cases"], "resolved": found["resolved"],
           "open": found["cases"] - found["resolved"]}
    for clock in TIMED_CLOCKS:
        met, within = found[f"{clock}_met"], found[f"{clock}_within"]
        overdue = found[f"{clock}_overdue"]
        p50, p90 = found[f"{clock}_hours_spread"]
        # The share of the clocks decided so far: met (late or not) or already past due.
        row.update({f"{clock}_met": met, f"{clock}_overdue": overdue, f"{clock}_within": within,
                    f"{clock}_within_share": _share(within, met + overdue),
                    f"{clock}_p50_hours": _round(p50), f"{clock}_p90_hours": _round(p90)})
    row.update({f"breached_{clock}": found[f"breached_{clock}"] for clock in CLOCKS})
    row["breaches"] = found["breaches"]
    return {name: row[name] for name in STANDARD_COLUMNS}


def _stage_rows(found: dict) -> list[dict]:
    """Business hours per stage and the breaches put down to it."""
    rows = []
    for stage in STAGES:
        p50, p90 = found[f"{stage}_hours_spread"]
        rows.append({"key": stage, "label": stage.replace("_", " "),
                     "cases": found[f"{stage}_cases"],
                     "total_hours": _round(found[f"{stage}_total"]) or 0.0,
                     "mean_hours": _round(found[f"{stage}_mean"]),
                     "p50_hours": _round(p50), "p90_hours": _round(p90),
                     "breaches_attributed": found[f"{stage}_blamed"]})
    return rows


def _throughput(start: date, end: date, dialect: str) -> list[dict]:
    """Per day: cases filed and cases resolved that day, whenever filed (indexed ranges)."""
    lo, hi = _bounds(start, end)
    counted = {}
    for column in ("created_at", "resolved_at"):
        counted[column] = {str(d): n for d, n in db.session.execute(
            _per_utc_day(getattr(RecoveryCase, column), lo, hi, dialect))}
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [{"day": day, "created": counted["created_at"].get(day.isoformat(), 0),
             "resolved": counted["resolved_at"].get(day.isoformat(), 0)} for day in days]


SUMMARIES = {"postgresql": _summary_postgresql}


def sla_report(start: date, end: date, group_by: str, now: datetime) -> dict:
    """The SLA report of the cases created in [start, end] (UTC days), grouped, at ``now``."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    dialect = db.session.get_bind().dialect.name
    cohort = _cohort(start, end, group_by, now)
    stages = group_by == "stage"
    summary = SUMMARIES.get(dialect, _summary_portable)(cohort, not stages, stages)
    totals = summary.pop(TOTAL)
    report = {"from": start, "to": end, "group_by": group_by, "generated_at": now}
    if stages:
        report["groups"] = _stage_rows(totals)
        report["unattributed_breaches"] = totals["unattributed"]
    else:
        rows = [_standard_row(*_label(group_by, key, label), found)
                for (key, label), found in summary.items()]
        report["groups"] = sorted(rows, key=lambda r: (-r["cases"], r["label"] or ""))
    report["totals"] = _standard_row("all", "All cases", totals)
    report["backlog_age"] = [{"bucket": label, "cases": totals[f"bucket_{n}"]}
                             for n, (label, _) in enumerate(BACKLOG_BUCKETS)]
    report["throughput"] = _throughput(start, end, dialect)
    report["deflection"] = deflection(start, end)
    return report


def deflection(start: date, end: date) -> list[dict]:
    """Per issue type, the self-help guide's answers on the UTC days [start, end]: solved,
    still needing help, and the deflection rate solved / (solved + need_help)."""
    rows = db.session.execute(
        sa.select(SelfHelpAnswer.issue_type, SelfHelpAnswer.outcome,
                  sa.func.sum(SelfHelpAnswer.count))
        .where(SelfHelpAnswer.day >= start, SelfHelpAnswer.day <= end)
        .group_by(SelfHelpAnswer.issue_type, SelfHelpAnswer.outcome)).all()
    found = {(issue, outcome): int(total) for issue, outcome, total in rows}
    table = []
    for issue, label in ISSUE_TYPES.items():
        solved, need = found.get((issue, "solved"), 0), found.get((issue, "need_help"), 0)
        table.append({"issue_type": issue, "label": label, "solved": solved,
                      "need_help": need, "deflection_rate": _share(solved, solved + need)})
    return table


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
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _group_table(report: dict) -> tuple[tuple[str, ...], list[dict]]:
    """The group rows, then the totals (or, by stage, the breaches put down to no stage)."""
    columns = report_columns(report["group_by"])
    if report["group_by"] == "stage":
        extra = {"key": "unattributed", "label": "no stage yet",
                 "breaches_attributed": report["unattributed_breaches"]}
    else:
        extra = report["totals"]
    return columns, [*report["groups"], extra]


# CSV downloads: one table each (a spreadsheet reads one table per file).
CSV_TABLES = {
    "groups": _group_table,
    "backlog_age": lambda report: (("bucket", "cases"), report["backlog_age"]),
    "throughput": lambda report: (("day", "created", "resolved"), report["throughput"]),
    "deflection": lambda report: (("issue_type", "solved", "need_help", "deflection_rate"),
                                  report["deflection"]),
}


def report_csv(report: dict, table: str = "groups") -> str:
    """One of the report's tables as CSV, under a header row."""
    columns, rows = CSV_TABLES[table](report)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in columns])
    return out.getvalue()


def csv_filename(report: dict, table: str = "groups") -> str:
    """The download's file name."""
    suffix = "" if table == "groups" else f"_{table}"
    return f"sla-report_{report['from']}_{report['to']}_{report['group_by']}{suffix}.csv"


def export_facts(report: dict, fmt: str, *, via: str, table: str | None = None) -> dict:
    """What the audit record of an export of ``report`` says: the period, the grouping, the
    format and table, and where it was asked."""
    facts = {"from": report["from"].isoformat(), "to": report["to"].isoformat(),
             "group_by": report["group_by"], "format": fmt, "via": via}
    if table is not None:
        facts["table"] = table
    return facts
