"""Redis Queue: the connection, the job ids, and the job as a `flask worker` runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from flask import Flask, current_app

# Imported with the module, not at the first job: a first import inside a request, after its
# commit, once took a loaded web worker past gunicorn's timeout and lost the job's queueing.
from rq import Queue, Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from .tasks import run_once


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


def run_on_rq(app: Flask, case_id: int, attempt: int) -> bool:
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
        return run_once(app, case_id, attempt, final=final)
