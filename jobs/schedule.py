"""The schedule: the sweep of lost jobs, and the SLA check with the retention purge and the
outbox.

On threads of a serving process, or through RQ's scheduler when workers run the jobs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, current_app

# Imported with the module, not at the first job: a first import inside a request, after its
# commit, once took a loaded web worker past gunicorn's timeout and lost the job's queueing.
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus

from notify import outbox
from workflow import service

from .executors import EXECUTORS
from .recovery import action_executor, sweep_actions
from .redis_queue import rq_queue

SCHEDULES = "recovery_schedules"


class Schedules:
    """The background threads of a serving process, started by the first request it serves.

    Not at start-up: every `flask` command builds the app too, and a one-off command
    (``db upgrade``, ``calibrate-faces``) must not run the SLA check on a thread, least of all
    before the schema exists. The first request proves this process serves the desk; until
    the schema is there (a fresh clone before ``db upgrade``), it looks again at most every
    SCHEMA_RETRY_SECONDS.
    """

    SCHEMA_RETRY_SECONDS = 30.0

    def __init__(self, app: Flask):
        self.app = app
        self.started = False
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._next_look = 0.0

    def start(self) -> None:
        """Start the sweep and the SLA check on threads of this process, once."""
        if self.started:
            return
        with self._lock:
            if self.started or time.monotonic() < self._next_look:
                return
            name = self.app.config["VERIFICATION_EXECUTOR"]
            # In the embedded set-up the web process is also the worker: it sweeps for jobs
            # lost when a previous process stopped (RQ workers sweep in `flask worker`).
            # Without RQ workers this process is the only one to check the SLA clocks and
            # send the outbox, whether the checks run on a thread, inline or not at all.
            wanted = [start for start, needed in (
                (start_sweeper, name == "thread"
                 and self.app.config["VERIFICATION_SWEEP_SECONDS"]),
                (start_sla_checks, name != "rq" and self.app.config["SLA_CHECK_SECONDS"]),
                (start_action_sweeps, action_executor(self.app) != "rq"
                 and self.app.config["RECOVERY_ACTION_SWEEP_SECONDS"]),
            ) if needed]
            if wanted and not service.schema_ready():
                self._next_look = time.monotonic() + self.SCHEMA_RETRY_SECONDS
                self.app.logger.warning("the database has no schema yet: run `flask --app app "
                                        "db upgrade`; scheduled checks wait for it")
                return
            self.threads = [thread for thread in (start(self.app) for start in wanted)
                            if thread is not None]
            self.started = True


def sweep(app: Flask, *, older_than: float | None = None) -> list[tuple[int, int]]:
    """Queue again the checks of open cases whose photos are still unread after a while.

    Their job died with its process (or was never queued). Jobs are idempotent and the
    executors skip jobs still queued, so a sweep never causes double work that matters.
    """
    seconds = app.config["VERIFICATION_STUCK_AFTER"] if older_than is None else older_than
    with app.app_context():
        stuck = service.cases_needing_verification(timedelta(seconds=seconds))
        start = EXECUTORS[app.config["VERIFICATION_EXECUTOR"]]
        for case_id, attempt in stuck:
            if start(app, case_id, attempt):
                app.logger.info("sweep: checks of case %s attempt %s queued again", case_id,
                                attempt)
            else:
                app.logger.debug("sweep: checks of case %s attempt %s still queued or "
                                 "running", case_id, attempt)
    return stuck


def sla_tick(app: Flask) -> list:
    """One tick of the schedule: record SLA warnings and breaches, purge the evidence whose
    retention period has passed and the form's kept photos whose time is up, send the
    tracking links asked for, send the outbox, and log the audit trail's head as an anchor."""
    with app.app_context():
        try:
            marks = service.check_sla()
            purge = service.purge_expired()
            if purge.purged:
                app.logger.info("retention: evidence of %s case(s) purged: %s",
                                len(purge.purged), purge.purged)
            service.purge_kept_uploads()
            return marks
        finally:
            # Tracking links asked for since the last tick, whatever became of the check.
            try:
                service.send_tracking_links()
            except Exception:
                app.logger.exception("tracking links: the queued asks wait for the next tick")
            # After the check's commits, and even when it failed: older emails still go out.
            outbox.send_outbox()
            service.audit.log_anchor()


def sla_job_id(app: Flask) -> str:
    """The fixed RQ id of the SLA check: one is queued, scheduled or running at a time."""
    return f"sla-check-{app.config['VERIFICATION_QUEUE']}"


def _sla_job_options(app: Flask) -> dict:
    # After a run RQ keeps the job's key for result_ttl (failure_ttl), and the next run,
    # scheduled under the same id, lives in that key: it must outlast the wait for it.
    keep = max(24 * 3600, 10 * app.config["SLA_CHECK_SECONDS"])
    # At the front of the queue: a backlog of verification jobs must not hold warnings back.
    return {"job_id": sla_job_id(app), "result_ttl": keep, "failure_ttl": keep,
            "at_front": True,
            "job_timeout": app.config["VERIFICATION_JOB_TIMEOUT"],
            "description": "SLA check and outbox"}


def check_sla_job() -> list:
    """The SLA tick as an RQ job (in a worker's app); when it ends it schedules its next run."""
    app = current_app._get_current_object()
    try:
        return sla_tick(app)
    finally:
        schedule_next_sla_check(app)


def schedule_next_sla_check(app: Flask):
    """Put the next SLA check in RQ's scheduler, SLA_CHECK_SECONDS from now (0: none).

    Under the fixed id, so it replaces a run already scheduled instead of adding one; the
    worker's scheduler (``with_scheduler=True``) queues it when it is due.
    """
    seconds = app.config["SLA_CHECK_SECONDS"]
    if not seconds:
        return None
    return rq_queue(app).enqueue_in(timedelta(seconds=seconds), check_sla_job,
                                    **_sla_job_options(app))


def ensure_sla_check(app: Flask) -> bool:
    """Queue the SLA check now unless it is queued, scheduled or running; True if queued.

    Runs when a worker starts, and with each of its sweeps: a run lost with a worker killed
    mid-check (which therefore scheduled no next run) is started again.
    """

    if not app.config["SLA_CHECK_SECONDS"]:
        return False
    queue = rq_queue(app)
    sla_id = sla_job_id(app)
    if Job.exists(sla_id, connection=queue.connection):
        if sla_id in queue.scheduled_job_registry:
            return False
        if Job.fetch(sla_id, connection=queue.connection).get_status() == JobStatus.QUEUED:
            return False
        # Jobs of workers that died drop out of this registry when their heartbeat expires.
        if sla_id in queue.started_job_registry.get_job_ids():
            return False
    else:
        # A schedule whose job's key expired (no worker for a day): the run below replaces it.
        queue.scheduled_job_registry.remove(sla_id)
    try:
        # unique: two workers starting together both found none; only one may queue it.
        queue.enqueue(check_sla_job, unique=True, **_sla_job_options(app))
    except DuplicateJobError:
        return False
    return True


def every(app: Flask, seconds: float, name: str, work: Callable[[], object]) -> threading.Thread:
    """Run ``work`` every ``seconds`` on a daemon thread, logging (not raising) failures."""
    def loop() -> None:
        while not threading.Event().wait(seconds):
            try:
                work()
            except Exception:
                app.logger.exception("%s failed; trying again in %s s", name, seconds)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread


def start_sla_checks(app: Flask) -> threading.Thread | None:
    """The SLA tick every SLA_CHECK_SECONDS on a thread of this process (0: never).

    For the set-ups without RQ workers; with RQ, the workers run it through RQ's scheduler
    (``check_sla_job``), one run at a time between them.
    """
    seconds = app.config["SLA_CHECK_SECONDS"]
    if not seconds:
        return None
    return every(app, seconds, "sla-check", lambda: sla_tick(app))


def start_sweeper(app: Flask, then: Callable[[Flask], object] | None = None
                  ) -> threading.Thread | None:
    """Sweep every VERIFICATION_SWEEP_SECONDS on a daemon thread (0: never), then ``then``."""
    interval = app.config["VERIFICATION_SWEEP_SECONDS"]
    if not interval:
        return None

    def work() -> None:
        sweep(app)
        if then is not None:
            then(app)

    return every(app, interval, "verification sweep", work)


def start_action_sweeps(app: Flask) -> threading.Thread | None:
    """Run the due recovery actions every RECOVERY_ACTION_SWEEP_SECONDS on a thread (0: never).

    In the web process without RQ; `flask worker` processes run it with RQ.
    """
    seconds = app.config["RECOVERY_ACTION_SWEEP_SECONDS"]
    if not seconds:
        return None
    return every(app, seconds, "recovery actions", lambda: sweep_actions(app))
