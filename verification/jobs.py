"""Verification jobs: run the checks for a case outside any request and any row lock.

A job reads what it needs in one short transaction (``service.start_document_check``), runs
the slow checks with no transaction open, and stores the findings in another short
transaction (``service.record_document_check``) that re-checks the case: a job for an old
attempt, or one that runs twice, stores nothing. One job checks one evidence attempt: the
document first, then the selfie against the document's portrait, then the risk.

Where jobs run is configured by VERIFICATION_EXECUTOR: "thread" (the embedded default: one
background thread per process), "rq" (Redis Queue, for `flask worker` processes on any number
of machines), "inline" (right after the commit, in the caller), "off".

Failures: an error that passes by itself (the database or Redis unreachable for a moment) is
retried after VERIFICATION_RETRY_DELAYS; any other error, or the last retry's, is recorded on
the case (event ``verification_failed``), where an agent sees it and can run the checks again.
A job lost with its process, or never queued because Redis could not be reached, is found by
the sweep (``sweep``), which runs when a worker starts and every VERIFICATION_SWEEP_SECONDS.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor, wait
from contextlib import nullcontext, suppress
from datetime import UTC, date, datetime, timedelta

import redis
import sqlalchemy.exc
from flask import Flask, current_app, has_app_context

# Imported with the module, not at the first job: a first import inside a request, after its
# commit, once took a loaded web worker past gunicorn's timeout and lost the job's queueing.
from rq import Queue, Retry, SimpleWorker, get_current_job
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from notify import outbox
from workflow import service

from . import challenge
from .documents import check_document
from .faces import FaceEngineUnavailable, face_engine
from .ocr import OcrUnavailable, ocr_engine
from .selfie import check_selfie, reference_encoding

_EXTENSION = "verification_executor"
log = logging.getLogger(__name__)

# Errors that pass by themselves: worth a retry after a pause.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` may pass by itself, so the job is worth retrying."""
    return isinstance(err, TRANSIENT_ERRORS)


def run_document_job(case_id: int, attempt: int) -> str:
    """Check the ID document of ``attempt`` of a case and record the outcome; safe to repeat."""
    job = service.start_document_check(case_id, attempt)
    if job is None:
        return "skipped"
    report = check_document(
        service.open_image(job.front),
        service.open_image(job.back) if job.back is not None else None,
        account=job.account, typed=job.typed, exif_software=job.exif_software,
        policy=service.document_policy(), today=date.today(),
    )
    return service.record_document_check(job, report)


def _reference(data: bytes | None):
    """The encoding of the account's reference portrait; None when there is none usable."""
    if not data:
        return None
    try:
        return reference_encoding(service.open_image(data))
    except (OSError, ValueError):
        log.warning("the account's reference portrait cannot be read; compared without it")
        return None


def run_selfie_job(case_id: int, attempt: int) -> str:
    """Check the selfie of ``attempt`` against the document portrait; safe to repeat."""
    job = service.start_selfie_check(case_id, attempt)
    if job is None:
        return "skipped"
    image = service.open_image(job.selfie)
    report = check_selfie(image, document=job.document, reference=_reference(job.reference),
                          challenge=job.challenge_code is not None,
                          policy=service.selfie_policy())
    extra = []
    if job.challenge_code is not None:
        try:
            reading = challenge.read_code(image, job.challenge_code)
            report.timings_ms["challenge_code"] = reading.elapsed_ms
            extra.append(challenge.code_check(reading))
        except OcrUnavailable as err:
            # The code is compared by an agent anyway; the automatic read is only a signal.
            extra.append(challenge.code_check(None, str(err)))
    return service.record_selfie_check(job, report, extra)


def run_verification(case_id: int, attempt: int) -> dict[str, str]:
    """Every automated check of one evidence attempt, each step skipped when already done."""
    return {"document": run_document_job(case_id, attempt),
            "selfie": run_selfie_job(case_id, attempt)}


def _describe(err: BaseException) -> str:
    if isinstance(err, FaceEngineUnavailable | OcrUnavailable):
        return str(err)
    return f"{type(err).__name__}: {err}"


def _run_once(app: Flask, case_id: int, attempt: int, *, final: bool) -> dict[str, str] | None:
    """One try of a job in an app context.

    A transient error is raised again unless this is the ``final`` try (the caller retries);
    any other error is recorded on the case for an agent, logged and swallowed.
    Inline jobs reuse the caller's context, so the caller's session sees what the job stored.
    """
    context = nullcontext() if has_app_context() and current_app._get_current_object() is app \
        else app.app_context()
    with context:
        try:
            return run_verification(case_id, attempt)
        except Exception as err:
            if is_transient(err) and not final:
                app.logger.warning("checks of case %s attempt %s failed, will retry: %s",
                                   case_id, attempt, err)
                raise
            app.logger.exception("checks of case %s attempt %s failed", case_id, attempt)
            try:
                service.record_verification_failure(case_id, attempt, _describe(err))
            except Exception:
                app.logger.exception("could not record the failure on case %s", case_id)
            return None


class _ThreadExecutor:
    """One background thread per process; a future per job, done after its last try.

    A try that fails for a passing reason is tried again after the next of
    VERIFICATION_RETRY_DELAYS, by a timer: the thread goes on with the other jobs meanwhile
    instead of waiting the delay out (which, during an outage, made every queued job wait
    all of them in turn). Jobs waiting for a retry when the process stops are lost with it,
    like running ones, and the sweep finds them.
    """

    def __init__(self, app: Flask):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verification")
        self.jobs: dict[tuple[int, int], Future] = {}
        self.timers: dict[tuple[int, int], threading.Timer] = {}
        self.lock = threading.Lock()

    def submit(self, case_id: int, attempt: int) -> Future | None:
        """Start a job; None when the same one is already queued, running or waiting here."""
        key = (case_id, attempt)
        with self.lock:
            if key in self.jobs:
                return None
            outcome = self.jobs[key] = Future()
        outcome.add_done_callback(lambda _: self._forget(key))
        self._try(key, 0)
        return outcome

    def _try(self, key: tuple[int, int], number: int) -> None:
        with self.lock:
            self.timers.pop(key, None)
        try:
            self.pool.submit(self._run, key, number)
        except RuntimeError:  # the pool was shut down: the process is stopping
            self._finish(key, None)

    def _run(self, key: tuple[int, int], number: int) -> None:
        delays = list(self.app.config["VERIFICATION_RETRY_DELAYS"])
        try:
            result = _run_once(self.app, *key, final=number == len(delays))
        except Exception:  # transient, and tries are left: _run_once logged it
            timer = threading.Timer(delays[number], self._try, (key, number + 1))
            timer.daemon = True
            with self.lock:
                self.timers[key] = timer
            timer.start()
            return
        self._finish(key, result)

    def _finish(self, key: tuple[int, int], result) -> None:
        with self.lock:
            outcome = self.jobs.get(key)
        if outcome is not None:
            with suppress(InvalidStateError):  # already ended by close()
                outcome.set_result(result)

    def _forget(self, key: tuple[int, int]) -> None:
        with self.lock:
            self.jobs.pop(key, None)

    def pending(self) -> list[Future]:
        """The futures of the jobs not finished yet (queued, running or waiting to retry)."""
        with self.lock:
            return list(self.jobs.values())

    def close(self) -> None:
        """Stop: retries not yet due are dropped (the sweep finds them), queued jobs too."""
        with self.lock:
            timers, self.timers = list(self.timers.values()), {}
        for timer in timers:
            timer.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            keys = list(self.jobs)
        for key in keys:
            self._finish(key, None)


def _thread(app: Flask, case_id: int, attempt: int) -> bool:
    executor = app.extensions.get(_EXTENSION)
    if executor is None:
        executor = app.extensions[_EXTENSION] = _ThreadExecutor(app)
    return executor.submit(case_id, attempt) is not None


def _inline(app: Flask, case_id: int, attempt: int) -> bool:
    # No waiting inside a request: a failure is recorded at once for an agent to retry.
    _run_once(app, case_id, attempt, final=True)
    return True


def _off(app: Flask, case_id: int, attempt: int) -> bool:
    return False


# --- RQ -----------------------------------------------------------------------------------

def redis_connection(app: Flask) -> redis.Redis:
    """The Redis connection of REDIS_URL (one per app)."""
    url = app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError("REDIS_URL is not set: the RQ executor and `flask worker` need it.")
    connection = app.extensions.get("verification_redis")
    if connection is None:
        connection = app.extensions["verification_redis"] = redis.Redis.from_url(url)
    return connection


def rq_queue(app: Flask):
    """The RQ queue verification jobs go to."""
    return Queue(app.config["VERIFICATION_QUEUE"], connection=redis_connection(app))


def job_id(app: Flask, case_id: int, attempt: int) -> str:
    """The RQ job id of one evidence attempt: the same attempt is never queued twice.

    It names the queue, so desks that share one Redis (each with its own queue) never take
    each other's jobs for their own.
    """
    return f"verify-{app.config['VERIFICATION_QUEUE']}-{case_id}-{attempt}"


def _rq(app: Flask, case_id: int, attempt: int) -> bool:
    queue = rq_queue(app)
    try:
        existing = Job.fetch(job_id(app, case_id, attempt), connection=queue.connection)
        status = existing.get_status(refresh=False)
    except NoSuchJobError:
        existing, status = None, None
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return False
    if status == JobStatus.STARTED and existing.started_at is not None:
        started = existing.started_at
        started = started if started.tzinfo else started.replace(tzinfo=UTC)
        if datetime.now(UTC) - started < timedelta(seconds=app.config["VERIFICATION_STUCK_AFTER"]):
            return False  # still running on a live worker (a dead one's is older than this)
    delays = list(app.config["VERIFICATION_RETRY_DELAYS"])
    queue.enqueue(
        rq_verify, case_id, attempt, job_id=job_id(app, case_id, attempt),
        job_timeout=app.config["VERIFICATION_JOB_TIMEOUT"],
        retry=Retry(max=len(delays), interval=delays) if delays else None,
        result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600,
        description=f"checks of case {case_id} attempt {attempt}")
    return True


def rq_verify(case_id: int, attempt: int) -> dict[str, str] | None:
    """The RQ job: runs in `flask worker`, in the worker's app."""
    job = get_current_job()
    final = job is None or not job.retries_left
    app = current_app._get_current_object()
    with app.app_context():  # a fresh session for every job of a long-lived worker
        return _run_once(app, case_id, attempt, final=final)


# Executor name -> how a job is started (True: queued or run; False: left alone). One entry each.
EXECUTORS: dict[str, Callable[[Flask, int, int], bool]] = {
    "thread": _thread,
    "rq": _rq,
    "inline": _inline,
    "off": _off,
}


_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


def init_app(app: Flask) -> None:
    """Refuse to start with an unknown executor or bad check settings, not at a request."""
    name = app.config["VERIFICATION_EXECUTOR"]
    if name not in EXECUTORS:
        raise RuntimeError(f"VERIFICATION_EXECUTOR must be one of {', '.join(EXECUTORS)}, "
                           f"not {name!r}")
    if name == "rq" and not app.config.get("REDIS_URL"):
        raise RuntimeError("VERIFICATION_EXECUTOR is 'rq' but REDIS_URL is not set.")
    queue = app.config["VERIFICATION_QUEUE"]
    if not isinstance(queue, str) or not _QUEUE_NAME.fullmatch(queue):
        # The queue's name is part of RQ job ids, which take only these characters.
        raise RuntimeError("VERIFICATION_QUEUE must be 1-100 letters, digits, '_' or '-', "
                           f"not {queue!r}")
    from reports.queries import report_settings

    with app.app_context():
        for what, build in (("Document check", service.document_policy),
                            ("Selfie check", service.selfie_policy),
                            ("Risk", service.risk_policy),
                            ("SLA", service.sla_settings),
                            ("SLA report", report_settings)):
            try:
                build()
            except (TypeError, ValueError) as err:
                raise RuntimeError(f"{what} settings are not valid: {err}") from err
    app.extensions[SCHEDULES] = schedules = Schedules(app)
    app.before_request(schedules.start)


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
            ) if needed]
            if wanted and not service.schema_ready():
                self._next_look = time.monotonic() + self.SCHEMA_RETRY_SECONDS
                self.app.logger.warning("the database has no schema yet: run `flask --app app "
                                        "db upgrade`; scheduled checks wait for it")
                return
            self.threads = [thread for thread in (start(self.app) for start in wanted)
                            if thread is not None]
            self.started = True


# Errors of a job queue that cannot take a job now (Redis down, too slow to answer, out of
# memory, or a read-only replica after a failover): the sweep queues the job later.
QUEUE_UNREACHABLE: tuple[type[BaseException], ...] = (redis.exceptions.RedisError,)


def enqueue_document_check(case_id: int, attempt: int) -> None:
    """Start the document check of ``attempt`` where the configuration says jobs run.

    Called after the commit: a queue that cannot be reached is logged and leaves the case
    to the sweep, never fails the caller.
    """
    app = current_app._get_current_object()
    try:
        EXECUTORS[app.config["VERIFICATION_EXECUTOR"]](app, case_id, attempt)
    except QUEUE_UNREACHABLE as err:
        # The case is already committed: an error here would make a client file it again.
        # Its photos stay unread, which is what the sweep of stuck cases looks for.
        app.logger.error("checks of case %s attempt %s could not be queued, left to the "
                         "sweep: %s", case_id, attempt, err)


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
    """One tick of the schedule: record SLA warnings and breaches, then send the outbox."""
    with app.app_context():
        try:
            return service.check_sla()
        finally:
            # After the check's commits, and even when it failed: older emails still go out.
            outbox.send_outbox()


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


def _every(app: Flask, seconds: float, name: str, work: Callable[[], object]) -> threading.Thread:
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
    return _every(app, seconds, "sla-check", lambda: sla_tick(app))


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

    return _every(app, interval, "verification sweep", work)


# Executors whose jobs run in the web process itself, which then reads MRZs there too.
IN_PROCESS = ("thread", "inline")


def load_engines(app: Flask) -> None:
    """Load the engines a web process uses before it serves (gunicorn's post_worker_init).

    The upload gate detects faces in the request; loading dlib's models there made a web
    worker's first upload take longer than gunicorn's timeout on a busy machine. With the
    checks in this process (thread, inline), the OCR models as well. A missing engine is
    logged: the gate lets uploads through without the portrait check, the job records it.
    """

    engines = [face_engine]
    if app.config["VERIFICATION_EXECUTOR"] in IN_PROCESS:
        engines.append(ocr_engine)
    for load in engines:
        try:
            load()
        except (FaceEngineUnavailable, OcrUnavailable):
            app.logger.exception("an engine could not be loaded at start-up")


def run_worker(app: Flask, *, burst: bool = False, name: str | None = None) -> None:
    """Work the RQ verification queue in this process until stopped (or, ``burst``, emptied).

    The engines load once, before the first job (and a missing one stops the worker at
    once rather than failing every job). Jobs run in this process (RQ's SimpleWorker): the
    models stay loaded between jobs, and a worker killed mid-job leaves a job the sweep
    queues again. The sweep runs first, then every VERIFICATION_SWEEP_SECONDS; each makes
    sure the SLA check is queued or scheduled in RQ's scheduler, which this worker runs.
    """


    if app.config["VERIFICATION_EXECUTOR"] != "rq":
        raise RuntimeError("The worker takes jobs from Redis: set REDIS_URL (and leave "
                           "VERIFICATION_EXECUTOR unset or 'rq').")
    face_engine()
    ocr_engine()
    swept = sweep(app)
    app.logger.info("worker: %d case(s) queued again by the start-up sweep", len(swept))
    if ensure_sla_check(app):
        app.logger.info("worker: SLA check queued (none was queued, scheduled or running)")
    sweeping = not burst and start_sweeper(app, then=ensure_sla_check) is not None
    if not burst and not sweeping and app.config["SLA_CHECK_SECONDS"]:
        # Without sweeps, a watch of its own restarts an SLA check lost with a worker.
        _every(app, app.config["SLA_CHECK_SECONDS"], "sla-check watch",
               lambda: ensure_sla_check(app))
    worker = SimpleWorker([rq_queue(app)], connection=redis_connection(app), name=name)
    worker.work(burst=burst, with_scheduler=True)


def wait_for_jobs(app: Flask, timeout: float | None = None) -> bool:
    """Wait until the in-process jobs started so far have finished; False on timeout."""
    executor = app.extensions.get(_EXTENSION)
    if executor is None:
        return True
    pending = executor.pending()
    done, not_done = wait(pending, timeout=timeout)
    return not not_done
