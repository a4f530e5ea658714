"""The desk under load and faults, from set-up to tear-down (``make loadtest``).

    .venv/bin/python -m bench.loadtest.run [--duration 150] [--users 10]
        [--db-url postgresql+psycopg://postgres@127.0.0.1:5432/recovery_load]
        [--redis-url redis://127.0.0.1:6379/14] [--json bench-results/loadtest.json]

1. Set-up: a database of its own (dropped and recreated), a Redis database and queue of its
   own, the schema, an agent and a security lead, gunicorn with 4 workers as the README's
   production command runs it, and two RQ workers (``flask worker``).
2. Load: locust, headless on loopback, for ``--duration`` seconds (``locustfile.py``).
3. Faults: PostgreSQL is restarted at a third of the run; one RQ worker is SIGKILLed at two
   thirds and a replacement started at once, as a process supervisor would.
4. Afterwards: waits for the verification backlog to drain (``--drain-timeout``), then checks
   every accepted submission in the database (``verify.py``) and explains every 5xx from the
   logs. Results: a JSON file and a printed table.
5. Tear-down: the processes stopped, the database dropped, the Redis database emptied,
   PostgreSQL checked to be up (started again if the restart left it down).
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import suppress
from pathlib import Path

import psycopg
import redis

from . import photos, verify

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The cluster's directory name is its PostgreSQL version (Debian's layout).
PG_CLUSTER = ["main"]
# At two thirds of the run the first RQ worker is killed as soon as it is running a job.
KILL_WAIT = 20
# Settings the load test changes from the defaults, and why (reported with the results):
OVERRIDES = {
    # Served over plain HTTP on loopback: a production (Secure) cookie would never come back.
    "RECOVERY_SESSION_COOKIE_SECURE": "false",
    # Every request comes from 127.0.0.1: at the documented 10 submissions per hour per
    # address, nearly every submission would be a 429.
    "RECOVERY_RATELIMIT_SUBMISSION": "100000 per hour",
    "RECOVERY_RATELIMIT_SUBMISSION_PER_EMAIL": "100000 per hour",
    "RECOVERY_RATELIMIT_STATUS": "100000 per minute",
    # The same address filing hundreds of requests is a farm to the risk assessment: every
    # case would go to the security leads. Raised so the cases take their ordinary paths.
    "RECOVERY_RISK_THRESHOLDS": json.dumps({"ip_requests_medium": 100000,
                                            "ip_requests_high": 200000}),
    # A job lost with a killed worker is queued again by the sweep once its photos are this
    # old (default 600 s, sweep every 300 s): shortened so the run sees the recovery.
    "RECOVERY_VERIFICATION_STUCK_AFTER": "120",
    "RECOVERY_VERIFICATION_SWEEP_SECONDS": "30",
    "RECOVERY_DEMO": "0",
}


def log(message: str) -> None:
    """One line of progress, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def admin_url(db_url: str) -> tuple[str, str]:
    """The libpq URL of the server's ``postgres`` database, and the load test's database name."""
    plain = re.sub(r"^postgresql\+psycopg://", "postgresql://", db_url)
    base, name = plain.rsplit("/", 1)
    if not re.fullmatch(r"[a-z0-9_]*load[a-z0-9_]*", name):
        # A guard: this database is dropped, so it must be one made for the load test.
        raise SystemExit(f"the database name must contain 'load' (it is dropped): {name!r}")
    return f"{base}/postgres", name


def recreate_database(db_url: str) -> None:
    """Drop and create the load test's database (and only it)."""
    url, name = admin_url(db_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(db_url: str) -> None:
    """Drop the load test's database."""
    url, name = admin_url(db_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_up(db_url: str, timeout: float) -> bool:
    """Whether the server answers within ``timeout`` seconds."""
    url, _ = admin_url(db_url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


def pg_ctl(action: str) -> subprocess.CompletedProcess:
    """``pg_ctlcluster`` on this machine's cluster (Debian), bypassing systemd."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, *PG_CLUSTER,
                           action], capture_output=True, text=True, timeout=120)


def flask(env: dict, *args: str, stdin: str | None = None) -> str:
    """Run a ``flask --app app`` command; its standard output."""
    done = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start(env: dict, argv: list[str], logfile: Path) -> subprocess.Popen:
    """Start a process of the desk in its own process group, its output to ``logfile``."""
    handle = logfile.open("ab")
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (what a killed process left behind)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            # Fields after the command's closing parenthesis: state, ppid, pgrp, ...
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return sorted(members)


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to the process's group, then SIGKILL after ``timeout`` seconds.

    The whole group: a `flask worker` runs RQ's scheduler in a child process, which outlives
    its worker when the worker alone is killed.
    """
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout)


def wait_http(url: str, timeout: float) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout} s")
        time.sleep(0.5)


def rq_workers(conn: redis.Redis, queue: str) -> dict[str, str | None]:
    """Worker name -> the job it is running (None when idle) for the workers of ``queue``."""
    from rq import Queue, Worker

    return {w.name: w.get_current_job_id()
            for w in Worker.all(queue=Queue(queue, connection=conn))}


def wait_workers(conn: redis.Redis, queue: str, names: list[str], timeout: float) -> None:
    """Poll until every worker in ``names`` has registered (its models are loaded)."""
    deadline = time.monotonic() + timeout
    while not set(names) <= set(rq_workers(conn, queue)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"RQ workers {names} did not start in {timeout} s")
        time.sleep(1)


def _number(row: dict, key: str) -> float | None:
    value = row.get(key, "")
    return float(value) if value not in ("", "N/A") else None


def locust_stats(path: Path) -> dict:
    """Per request kind: count, failures, throughput and percentiles, from locust's CSV."""
    kinds = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            kinds[row["Name"]] = {
                "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "requests_per_s": _number(row, "Requests/s"), "p50_ms": _number(row, "50%"),
                "p95_ms": _number(row, "95%"), "p99_ms": _number(row, "99%"),
                "max_ms": _number(row, "Max Response Time"),
            }
    return kinds


def run(args: argparse.Namespace) -> dict:
    """Set up, load, break, check and tear down; the results."""
    work = Path(tempfile.mkdtemp(prefix="recovery-loadtest-"))
    out = work / "out"
    out.mkdir()
    log(f"logs and files in {work}")
    photo_dir = work / "photos"
    pairs = photos.build(photo_dir)
    log(f"{len(pairs)} photo pairs: documents "
        f"{min(p.document_bytes for p in pairs) / 1e6:.1f}-"
        f"{max(p.document_bytes for p in pairs) / 1e6:.1f} MB, selfies "
        f"{min(p.selfie_bytes for p in pairs) / 1e6:.1f}-"
        f"{max(p.selfie_bytes for p in pairs) / 1e6:.1f} MB")

    queue = f"loadtest-{secrets.token_hex(4)}"
    # Production: the photos are encrypted with a key of the run's own.
    keys = {"loadtest": base64.b64encode(secrets.token_bytes(32)).decode()}
    env = {**os.environ, "DATABASE_URL": args.db_url, "REDIS_URL": args.redis_url,
           "RECOVERY_ENV_NAME": "production", "RECOVERY_SECRET_KEY": secrets.token_hex(32),
           "RECOVERY_ENCRYPTION_KEYS": json.dumps(keys),
           "RECOVERY_VERIFICATION_QUEUE": queue, **OVERRIDES}
    conn = redis.Redis.from_url(args.redis_url)
    processes: dict[str, subprocess.Popen] = {}
    faults: dict = {}
    result: dict = {}
    try:
        recreate_database(args.db_url)
        conn.flushdb()  # the load test's own database number only
        flask(env, "db", "upgrade")
        tokens = {}
        for role in ("agent", "security_lead"):
            output = flask(env, "create-agent", "--email", f"{role}@load.test", "--name",
                           f"Load {role}", "--role", role, stdin=secrets.token_urlsafe(16) + "\n")
            tokens[role] = output.strip().splitlines()[-1]
        host = f"http://127.0.0.1:{args.port}"
        processes["gunicorn"] = start(env, [
            str(BIN / "gunicorn"), "-w", "4", "-b", f"127.0.0.1:{args.port}",
            "--access-logfile", str(work / "access.log"), "app:create_app()"],
            work / "gunicorn.log")
        names = ["loadtest-worker-1", "loadtest-worker-2"]
        for name in names:
            processes[name] = start(env, [str(BIN / "flask"), "--app", "app", "worker",
                                          "--name", name], work / f"{name}.log")
        wait_http(f"{host}/api/v1/openapi.json", 120)
        wait_workers(conn, queue, names, 180)
        log(f"gunicorn (4 workers) on {host}, RQ workers {', '.join(names)} on queue {queue}")

        locust_env = {**env, "LOADTEST_PHOTOS": str(photo_dir), "LOADTEST_OUT": str(out),
                      "LOADTEST_AGENT_TOKEN": tokens["agent"],
                      "LOADTEST_LEAD_TOKEN": tokens["security_lead"]}
        started = time.time()
        load_before = os.getloadavg()
        processes["locust"] = start(locust_env, [
            str(BIN / "locust"), "-f", str(Path(__file__).with_name("locustfile.py")),
            "--headless", "-u", str(args.users), "-r", str(args.users),
            "--run-time", f"{args.duration}s", "--host", host, "--csv", str(work / "locust"),
            "--only-summary", "--stop-timeout", "60"], work / "locust.log")
        log(f"locust: {args.users} users for {args.duration} s")

        time.sleep(max(0.0, started + args.duration / 3 - time.time()))
        log("fault: restarting PostgreSQL")
        restart_from = time.time()
        done = pg_ctl("restart")
        faults["postgres_restart"] = {
            "at_s": round(restart_from - started, 1),
            "took_s": round(time.time() - restart_from, 1), "returncode": done.returncode,
            "from": restart_from, "to": time.time(), "output": (done.stdout + done.stderr)[-500:]}
        log(f"PostgreSQL restarted in {faults['postgres_restart']['took_s']} s "
            f"(exit {done.returncode})")

        time.sleep(max(0.0, started + 2 * args.duration / 3 - time.time()))
        # Killed in the middle of a job when it has one within KILL_WAIT seconds.
        deadline = time.monotonic() + KILL_WAIT
        while not (busy := rq_workers(conn, queue).get(names[0])) \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        processes[names[0]].kill()
        processes[names[0]].wait()
        killed_at = time.time()
        replacement = "loadtest-worker-3"
        processes[replacement] = start(env, [str(BIN / "flask"), "--app", "app", "worker",
                                             "--name", replacement], work / f"{replacement}.log")
        # RQ's scheduler, when this worker held it, runs in a child that survives the kill.
        faults["worker_kill"] = {"at_s": round(killed_at - started, 1), "worker": names[0],
                                 "job_running": busy, "replacement": replacement,
                                 "left_running": group_members(processes[names[0]].pid)}
        log(f"fault: SIGKILL {names[0]} (running {busy or 'nothing'}); {replacement} started")

        processes["locust"].wait(timeout=args.duration + 180)
        ended = time.time()
        load_after = os.getloadavg()
        log(f"locust done (exit {processes['locust'].returncode}); waiting for the checks")

        accepted = verify.read_accepted(out / "accepted.jsonl")
        drain = verify.wait_for_drain(args.db_url, [a["case_id"] for a in accepted],
                                      args.drain_timeout, log)
        drain["seconds_after_load"] = round(time.time() - ended, 1)
        findings = verify.check(args.db_url, accepted, photo_dir, keys)
        outcomes = json.loads((out / "outcomes.json").read_text())
        shutil.copy(out / "accepted.jsonl", Path(args.json).with_suffix(".accepted.jsonl"))
        result = {
            "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                        "load_average_before": load_before, "load_average_after": load_after},
            "duration_s": args.duration, "users": args.users, "queue": queue,
            "settings_changed": OVERRIDES,
            "photos": [vars(p) for p in pairs],
            "faults": faults,
            "requests": locust_stats(work / "locust_stats.csv"),
            "outcomes": outcomes["outcomes"],
            "server_errors": verify.explain_errors(outcomes["server_errors"], faults, work),
            "drain": drain,
            "verification": findings,
            "rq": verify.queue_state(conn, queue),
            "worker_logs": verify.worker_logs(work),
            "logs": {p.name: str(p) for p in sorted(work.glob("*.log"))},
            "work_dir": str(work),
        }
    finally:
        for name in reversed(list(processes)):
            stop(processes[name])
        if not postgres_up(args.db_url, 30):
            log("PostgreSQL is down after the run: starting it")
            pg_ctl("start")
        result["postgres_up_at_end"] = postgres_up(args.db_url, 60)
        with suppress(psycopg.Error):
            drop_database(args.db_url)
        with suppress(redis.RedisError):
            conn.flushdb()
        log(f"torn down; PostgreSQL up: {result['postgres_up_at_end']}")
    return result


def print_table(result: dict) -> None:
    """The numbers that matter, as a table."""
    print(f"\n{'request kind':<40} {'n':>6} {'fail':>5} {'req/s':>6} {'p50':>7} {'p95':>7} "
          f"{'p99':>7}  (ms)")
    for name, row in result["requests"].items():
        print(f"{name:<40} {row['requests']:>6} {row['failures']:>5} "
              f"{row['requests_per_s'] or 0:>6.2f} {row['p50_ms'] or 0:>7.0f} "
              f"{row['p95_ms'] or 0:>7.0f} {row['p99_ms'] or 0:>7.0f}")
    print("\noutcomes by kind:")
    for kind, counts in result["outcomes"].items():
        print(f"  {kind:<40} " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    errors = result["server_errors"]
    print(f"\nserver errors (5xx or no answer): {errors['count']}")
    for cause, count in errors["by_cause"].items():
        print(f"  {count:>4}  {cause}")
    v = result["verification"]
    print(f"\naccepted submissions: {v['accepted']}; lost: {len(v['lost'])}; "
          f"evidence wrong: {len(v['evidence_wrong'])}; verified exactly once: "
          f"{v['verified_exactly_once']}; not exactly once: {len(v['not_exactly_once'])}; "
          f"cases nobody was told of: {len(v['unreported_cases'])}")
    print(f"drain: {result['drain']}")
    print(f"PostgreSQL up at the end: {result['postgres_up_at_end']}")


def main() -> None:
    """Parse the options, run, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=150, help="seconds of load")
    parser.add_argument("--users", type=int, default=10, help="locust users")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/recovery_load")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--drain-timeout", type=float, default=1800,
                        help="seconds to wait for the verification backlog after the load")
    parser.add_argument("--json", default="bench-results/loadtest.json")
    args = parser.parse_args()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    result = run(args)
    Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    print_table(result)
    print(f"\nresults: {args.json}")
    v = result["verification"]
    sys.exit(0 if not v["lost"] and not v["not_exactly_once"] and not v["evidence_wrong"]
             else 1)


if __name__ == "__main__":
    main()
