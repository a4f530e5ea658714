"""After the load: every accepted submission in the database, verified exactly once; 5xx explained.

"Verified exactly once" for a case filed with one evidence attempt (attempt 1), from the job
in the job runner (``jobs/``) and the rows of ``workflow/models.py``:

- exactly one ``DocumentReading`` and one ``SelfieReading`` for (case, 1) (the unique pairs
  that make a second run of a job store nothing);
- exactly one ``document_checked`` and one ``selfie_checked`` event (each written in the same
  transaction as its reading);
- every automated ``VerificationCheck`` of the document and the selfie (``document.*``,
  ``selfie.*``, no agent) for attempt 1 present once, none twice;
- no ``verification_failed`` event (a job that gave up).

Its evidence: an ``id_document`` and a ``selfie`` row for attempt 1 whose ``original_bytes`` and
``original_sha256`` are those of the file sent, and whose stored copy, decrypted with the
desk's keys, hashes to its ``sha256``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg

from sealing import Keyring
from workflow.models import seal_context

from .photos import load


def _libpq(db_url: str) -> str:
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", db_url)


def read_accepted(path: Path) -> list[dict]:
    """The submissions answered 201, one per case (a replayed key names the same case)."""
    if not path.exists():
        return []
    seen = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        seen.setdefault(record["case_id"], record)
    return list(seen.values())


def _unfinished(conn, case_ids: list[int]) -> int:
    """Cases among ``case_ids`` whose attempt-1 readings are not both stored (and not failed)."""
    return conn.execute("""
        SELECT count(*) FROM recovery_case c
        WHERE c.id = ANY(%s)
          AND (NOT EXISTS (SELECT 1 FROM document_reading r WHERE r.case_id = c.id
                           AND r.attempt = c.evidence_attempt)
               OR NOT EXISTS (SELECT 1 FROM selfie_reading s WHERE s.case_id = c.id
                              AND s.attempt = c.evidence_attempt))
          AND NOT EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id
                          AND e.event = 'verification_failed')
    """, (case_ids,)).fetchone()[0]


def wait_for_drain(db_url: str, case_ids: list[int], timeout: float,
                   say: Callable[[str], None]) -> dict:
    """Poll until every accepted case is checked (or gave up), at most ``timeout`` seconds."""
    started = time.monotonic()
    last_said = 0.0
    with psycopg.connect(_libpq(db_url), autocommit=True) as conn:
        while True:
            left = _unfinished(conn, case_ids)
            waited = time.monotonic() - started
            if left == 0 or waited > timeout:
                return {"drained": left == 0, "waited_s": round(waited, 1),
                        "unfinished": left, "timeout_s": timeout}
            if waited - last_said >= 30:
                say(f"{left} of {len(case_ids)} cases still being checked")
                last_said = waited
            time.sleep(2)


def _photo(keyring: Keyring, case_id: int, kind: str, data: bytes, key_id: str | None) -> bytes:
    """A stored photo of attempt 1 as the desk reads it (decrypted; as is when in the clear)."""
    if key_id is None:
        return bytes(data)
    return keyring.open(data, key_id, seal_context("evidence", "data", (case_id, 1, kind)))


def check(db_url: str, accepted: list[dict], photo_dir: Path, keys: dict[str, str]) -> dict:
    """Compare the database with what the clients were told; the findings."""
    pairs = load(photo_dir)
    keyring = Keyring(keys)
    ids = [a["case_id"] for a in accepted]
    with psycopg.connect(_libpq(db_url)) as conn:
        cases = {row[0]: row[1:] for row in conn.execute(
            "SELECT id, state, evidence_attempt, resolution FROM recovery_case")}
        evidence: dict[int, dict] = {}
        for case_id, kind, size, original, stored, data, key_id in conn.execute("""
                SELECT case_id, kind, original_bytes, original_sha256, sha256, data,
                       data_key_id
                FROM evidence WHERE attempt = 1 AND case_id = ANY(%s)""", (ids,)):
            computed = hashlib.sha256(_photo(keyring, case_id, kind, data, key_id)).hexdigest()
            evidence.setdefault(case_id, {})[kind] = (size, original, stored, computed)
        readings = Counter(row[0] for row in conn.execute(
            "SELECT case_id FROM document_reading WHERE attempt = 1"))
        selfies = Counter(row[0] for row in conn.execute(
            "SELECT case_id FROM selfie_reading WHERE attempt = 1"))
        events = Counter((row[0], row[1]) for row in conn.execute("""
            SELECT case_id, event FROM case_event WHERE event IN
            ('document_checked', 'selfie_checked', 'verification_failed')"""))
        checks = Counter((row[0], row[1]) for row in conn.execute("""
            SELECT case_id, "check" FROM verification_check
            WHERE attempt = 1 AND actor_agent_id IS NULL
              AND ("check" LIKE 'document.%%' OR "check" LIKE 'selfie.%%')"""))
        states = Counter(row[0] for row in conn.execute(
            "SELECT state FROM recovery_case WHERE id = ANY(%s)", (ids,)))
        outcomes = Counter(f"document {row[0]}" for row in conn.execute(
            "SELECT outcome FROM document_reading WHERE case_id = ANY(%s)", (ids,)))
        outcomes.update(f"selfie {row[0]}" for row in conn.execute(
            "SELECT outcome FROM selfie_reading WHERE case_id = ANY(%s)", (ids,)))
        timings = conn.execute("""
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r.created_at - c.created_at),
                   max(r.created_at - c.created_at)
            FROM selfie_reading r JOIN recovery_case c ON c.id = r.case_id""").fetchone()
    checks_by_case: dict[int, list[int]] = {}
    for (case_id, _name), count in checks.items():
        checks_by_case.setdefault(case_id, []).append(count)

    lost, evidence_wrong, not_once = [], [], []
    for record in accepted:
        case_id = record["case_id"]
        if case_id not in cases:
            lost.append(record)
            continue
        pair = pairs[record["pair"]]
        sent = {"id_document": (pair["document_bytes"], pair["document_sha256"]),
                "selfie": (pair["selfie_bytes"], pair["selfie_sha256"])}
        stored = evidence.get(case_id, {})
        problems = [kind for kind, (size, digest) in sent.items()
                    if kind not in stored or stored[kind][:2] != (size, digest)
                    or stored[kind][2] != stored[kind][3]]
        if problems or set(stored) != set(sent):
            evidence_wrong.append({"case_id": case_id, "kinds": problems or sorted(stored)})
        counts = {"document_reading": readings[case_id], "selfie_reading": selfies[case_id],
                  "document_checked": events[case_id, "document_checked"],
                  "selfie_checked": events[case_id, "selfie_checked"],
                  "verification_failed": events[case_id, "verification_failed"],
                  "automated_checks": len(checks_by_case.get(case_id, [])),
                  "duplicated_checks": sum(1 for c in checks_by_case.get(case_id, []) if c > 1)}
        once = (counts["document_reading"] == counts["selfie_reading"] == 1
                and counts["document_checked"] == counts["selfie_checked"] == 1
                and counts["verification_failed"] == 0 and counts["automated_checks"] > 0
                and counts["duplicated_checks"] == 0 and cases[case_id][1] == 1)
        if not once:
            not_once.append({"case_id": case_id, "attempt": cases[case_id][1], **counts})
    told = set(ids)
    return {
        "accepted": len(accepted),
        "cases_in_database": len(cases),
        "lost": lost,
        "evidence_wrong": evidence_wrong,
        "verified_exactly_once": len(accepted) - len(lost) - len(not_once),
        "not_exactly_once": not_once,
        # Filed, but every try of the client failed: it was never told of them.
        "unreported_cases": sorted(set(cases) - told),
        "replayed_submissions": sum(1 for a in accepted if a.get("replayed")),
        "retried_submissions": sum(1 for a in accepted if a.get("tries", 1) > 1),
        "states": dict(states),
        "reading_outcomes": dict(outcomes),
        "filing_to_selfie_reading_s": {
            "p50": timings[0].total_seconds() if timings[0] else None,
            "max": timings[1].total_seconds() if timings[1] else None},
    }


# A log line of Flask's default handler: "[2026-12-05 23:59:01,123] ERROR in errors: ...".
FLASK_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+\] (\w+) in \w+: (.*)$")
# gunicorn's own: "[2026-12-05 23:59:01 +0000] [1234] [CRITICAL] WORKER TIMEOUT (pid:1240)".
GUNICORN_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) [+-]\d{4}\] \[\d+\] "
                           r"\[(\w+)\] (.*)$")
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout)[\w.]*): ?(.*)$")


def _tracebacks(path: Path) -> list[dict]:
    """Each logged error of a Flask log file: its time, message and final exception line."""
    found: list[dict] = []
    current: dict | None = None
    for line in path.read_text(errors="replace").splitlines():
        head = FLASK_LINE.match(line) or GUNICORN_LINE.match(line)
        if head:
            current = {"time": time.mktime(time.strptime(head[1], "%Y-%m-%d %H:%M:%S")),
                       "level": head[2], "message": head[3], "exception": None}
            if head[2] in ("ERROR", "CRITICAL"):
                found.append(current)
            continue
        if current is not None and EXCEPTION_LINE.match(line):
            current["exception"] = line[:300]
    return found


# Seconds after the restart command returned during which a failed connection is its doing:
# the pool's connections opened before the restart fail their ping and are replaced.
RESTART_TAIL = 3.0
# A logged error this close to a failed answer is taken as its cause.
LOG_MATCH = 5.0


def explain_errors(errors: list[dict], faults: dict, work: Path) -> dict:
    """Each 5xx (or missing answer) with its cause: the fault it fell in and the logged error.

    A missing answer is matched to gunicorn's WORKER TIMEOUT when there is one (the request
    ran past gunicorn's 30 s and its worker was stopped); otherwise to the nearest logged error.
    """
    restart = faults.get("postgres_restart", {})
    window = (restart.get("from", 0) - 1, restart.get("to", 0) + RESTART_TAIL)
    logged = _tracebacks(work / "gunicorn.log") if (work / "gunicorn.log").exists() else []
    timeouts = [e for e in logged if "WORKER TIMEOUT" in e["message"]]
    explained = []
    for error in errors:
        pool = timeouts if error["status"] in (0, 500, 502) and any(
            abs(t["time"] - error["at"]) < LOG_MATCH for t in timeouts) else logged
        nearest = min(pool, key=lambda e: abs(e["time"] - error["at"]), default=None)
        during = window[0] <= error["at"] <= window[1]
        exception = (nearest["exception"] or nearest["message"]) \
            if nearest and abs(nearest["time"] - error["at"]) < LOG_MATCH else None
        cause = ("PostgreSQL restart: " if during else "outside the restart: ") + \
            (exception.split(":")[0].split(" (pid")[0][:80] if exception
             else f"HTTP {error['status']}")
        explained.append({**error, "during_postgres_restart": during,
                          "logged_exception": exception, "cause": cause})
    exceptions = Counter((e["exception"] or e["message"])[:200] for e in logged)
    return {"count": len(errors), "by_cause": dict(Counter(e["cause"] for e in explained)),
            "errors": explained, "logged_errors": dict(exceptions),
            "restart_window": window}


def queue_state(conn, queue: str) -> dict:
    """What RQ holds for the queue at the end: waiting, running, failed jobs."""
    from rq import Queue

    rq_queue = Queue(queue, connection=conn)
    return {"queued": rq_queue.count, "started": rq_queue.started_job_registry.count,
            "failed": rq_queue.failed_job_registry.count,
            "failed_ids": rq_queue.failed_job_registry.get_job_ids()[:20]}


# What the workers' logs say about the faults: retries, sweeps, abandoned jobs. The app's lines
# are counted in Flask's format only (the worker logs each of them twice, in two formats).
WORKER_SIGNS = {
    "retry_after_transient_error": re.compile(r"^\[.*\] WARNING in \w+: .*will retry"),
    "queued_again_by_sweep": re.compile(r"^\[.*\] INFO in \w+: sweep: checks of case"),
    "gave_up": re.compile(r"^\[.*\] ERROR in \w+: checks of case"),
    "abandoned_job": re.compile(r"AbandonedJobError"),
    "verification_job_ok": re.compile(r"rq\.worker .*Job OK \(verify-"),
}


def worker_logs(work: Path) -> dict:
    """Per worker log: how many lines show each of WORKER_SIGNS."""
    found = {}
    for path in sorted(work.glob("loadtest-worker-*.log")):
        lines = path.read_text(errors="replace").splitlines()
        found[path.stem] = {sign: sum(1 for line in lines if pattern.search(line))
                            for sign, pattern in WORKER_SIGNS.items()}
    return found
