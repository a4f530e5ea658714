"""The agent queue's first page and the SLA report, timed on the database bench.sla_data fills.

    .venv/bin/python -m bench.sla_bench \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/sla_bench \
        --json bench-results/sla_bench.json

(a) The queue: the console's own query (``service.queue_query(states=ACTIVE_STATES,
    by_due=True)``: open cases by the earliest due time of their running clocks, cases
    without one last, then filing time and id), 25 a page; QUEUE_WARMUP untimed runs, then
    QUEUE_RUNS timed ones through the ORM, as the console loads it; p50/p95 and the plan of
    EXPLAIN (ANALYZE, BUFFERS). Then, for comparison, the same page without the SLA row's own
    state filter (the plain outer join, which must join every open case before it sorts);
    the two pages must be the same cases.
(b) The SLA report (``reports.queries.sla_report``) over the last 30 days and the last 12
    months, for each grouping, REPORT_RUNS runs each; p50 and max seconds. Reported as not
    available when the module is missing.

Row counts and table sizes are part of the output, so the numbers can be read against the
data they were measured on.
"""

import argparse
import importlib
import json
import platform
import statistics
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.sla_data import bench_app

QUEUE_WARMUP = 10
QUEUE_RUNS = 200
# The console's page size (config QUEUE_PAGE_SIZE).
QUEUE_PAGE = 25
REPORT_RUNS = 5
# The report's longest window is MAX_DAYS (366) days: the whole year of generated data.
REPORT_RANGES = {"30 days": 30, "12 months": 366}
TABLES = ("recovery_case", "case_event", "message", "case_sla", "agent")
def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def queue_page(console: bool = True):
    """The first page of the agent queue in due order: the console's query, or the plain one."""
    from workflow import service
    from workflow.models import CaseSla, RecoveryCase
    from workflow.states import ACTIVE_STATES

    if console:
        return service.queue_query(states=ACTIVE_STATES, by_due=True).limit(QUEUE_PAGE)
    return (sa.select(RecoveryCase).outerjoin(CaseSla)
            .where(RecoveryCase.state.in_([s.value for s in ACTIVE_STATES]))
            .order_by(CaseSla.next_due_at.asc().nulls_last(), RecoveryCase.created_at,
                      RecoveryCase.id)
            .limit(QUEUE_PAGE))


def data_facts(db) -> dict:
    """Rows and on-disk sizes of the tables the queue and the report read."""
    facts = {}
    for table in TABLES:
        rows = db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))
        heap, total, indexes = db.session.execute(sa.text(
            "SELECT pg_relation_size(:t), pg_total_relation_size(:t), pg_indexes_size(:t)"),
            {"t": table}).one()
        facts[table] = {"rows": rows, "heap_bytes": heap, "indexes_bytes": indexes,
                        "total_bytes": total}
    facts["open_cases"] = db.session.scalar(sa.text(
        "SELECT count(*) FROM recovery_case WHERE state <> 'resolved'"))
    facts["cases_with_next_due"] = db.session.scalar(sa.text(
        "SELECT count(*) FROM case_sla WHERE next_due_at IS NOT NULL"))
    facts["indexes"] = list(db.session.scalars(sa.text(
        "SELECT indexdef FROM pg_indexes WHERE tablename IN ('recovery_case', 'case_sla') "
        "ORDER BY tablename, indexname")))
    return facts


def bench_queue(db, stmt) -> dict:
    """Time the queue's first page and explain its plan."""
    timings = []
    for run in range(QUEUE_WARMUP + QUEUE_RUNS):
        started = time.perf_counter()
        page = db.session.scalars(stmt).all()
        spent = (time.perf_counter() - started) * 1000
        ids = [case.id for case in page]
        db.session.rollback()
        db.session.expunge_all()
        if run >= QUEUE_WARMUP:
            timings.append(spent)
    sql = str(stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    plan = [row[0] for row in db.session.execute(
        sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))]
    db.session.rollback()
    return {"runs": QUEUE_RUNS, "rows": len(ids), "ids": ids,
            "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(percentile(timings, 0.95), 2),
            "max_ms": round(max(timings), 2), "sql": sql, "plan": plan}


@contextmanager
def statements(engine):
    """Collect (seconds, SQL) of every statement run on ``engine`` meanwhile."""
    spent = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        spent.append((time.perf_counter() - conn.info.pop("bench_started"), statement))

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


def bench_report(db, now: datetime) -> dict:
    """Time the SLA report per window and grouping (or say why it could not be)."""
    try:
        queries = importlib.import_module("reports.queries")
    except ImportError as err:
        return {"available": False, "reason": f"reports.queries not available: {err}"}
    today = now.date()
    results = []
    for window, days in REPORT_RANGES.items():
        start = today - timedelta(days=days - 1)
        for group_by in queries.GROUP_BY:
            timings = []
            for _ in range(REPORT_RUNS):
                with statements(db.engine) as spent:
                    started = time.perf_counter()
                    report = queries.sla_report(start, today, group_by, now)
                    timings.append(time.perf_counter() - started)
                db.session.rollback()
            slowest = max(spent, key=lambda s: s[0])
            results.append({"window": window, "from": start.isoformat(),
                            "to": today.isoformat(), "group_by": group_by,
                            "cases": report["totals"]["cases"],
                            "groups": len(report["groups"]),
                            "p50_s": round(statistics.median(timings), 3),
                            "max_s": round(max(timings), 3),
                            # Of the last run: the statements, their time, the slowest.
                            "statements": len(spent),
                            "sql_s": round(sum(s[0] for s in spent), 3),
                            "slowest_statement_s": round(slowest[0], 3),
                            "slowest_statement": slowest[1]})
            print(f"  report {window:>9} by {group_by:<10} p50 {results[-1]['p50_s']:.3f} s  "
                  f"max {results[-1]['max_s']:.3f} s  ({results[-1]['cases']:,} cases; "
                  f"{len(spent)} statements, slowest {slowest[0]:.3f} s)", flush=True)
    return {"available": True, "runs": REPORT_RUNS, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the bench database")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-report", action="store_true")
    args = parser.parse_args()

    from extensions import db

    app = bench_app(args.url)
    now = datetime.now(UTC)
    with app.app_context():
        server = db.session.scalar(sa.text("SHOW server_version"))
        settings = {name: db.session.scalar(sa.text(f"SHOW {name}")) for name in
                    ("shared_buffers", "work_mem", "effective_cache_size",
                     "max_parallel_workers_per_gather", "jit")}
        facts = data_facts(db)
        for table in TABLES:
            print(f"  {table:<14} {facts[table]['rows']:>11,} rows  "
                  f"{facts[table]['total_bytes'] / 2**20:>8,.0f} MiB "
                  f"({facts[table]['indexes_bytes'] / 2**20:,.0f} MiB indexes)")
        print(f"  open cases {facts['open_cases']:,}, with a due time "
              f"{facts['cases_with_next_due']:,}", flush=True)
        queue = bench_queue(db, queue_page())
        plain = bench_queue(db, queue_page(console=False))
        queue["same_page_as_plain_join"] = plain["ids"] == queue["ids"]
        for name, found in (("queue first page", queue), ("plain outer join", plain)):
            print(f"  {name}: p50 {found['p50_ms']} ms, p95 {found['p95_ms']} ms, "
                  f"max {found['max_ms']} ms over {found['runs']} runs", flush=True)
            print("\n".join("    " + line for line in found["plan"]), flush=True)
        print(f"  same page: {queue['same_page_as_plain_join']}")
        report = ({"available": False, "reason": "skipped"} if args.skip_report
                  else bench_report(db, now))
        if not report["available"]:
            print(f"  SLA report: {report['reason']}")
    result = {"measured_at": now.isoformat(), "python": platform.python_version(),
              "machine": platform.machine(), "postgresql": server, "settings": settings,
              "data": facts, "queue": queue, "queue_plain_join": plain, "report": report}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
