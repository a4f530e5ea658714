"""Retries of verification jobs on RQ, on a real Redis, in a worker in this process.

A passing error (the database gone for a moment) is raised to RQ, which runs the job again
per VERIFICATION_RETRY_DELAYS; the last try's error is recorded on the case for an agent.
"""

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy.exc
from rq import SimpleWorker
from rq.job import Job, JobStatus

import jobs.executors
import jobs.redis_queue
import jobs.tasks
from workflow import service

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def app_config():
    # No waits between tries (RQ queues a retry with no interval at once), so one burst of
    # the worker runs every try.
    return {"VERIFICATION_EXECUTOR": "rq", "REDIS_URL": REDIS_URL,
            "VERIFICATION_QUEUE": f"test-retries-{uuid.uuid4().hex[:12]}",
            "VERIFICATION_RETRY_DELAYS": [0, 0]}


@pytest.fixture
def failing(monkeypatch):
    """run_verification fails with a passing database error for the first ``times`` calls."""
    calls = []

    def arrange(times: int):
        def run(case_id, attempt):
            calls.append((case_id, attempt))
            if len(calls) <= times:
                raise sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionError("gone"))
            return {"document": "recorded", "selfie": "recorded"}

        monkeypatch.setattr(jobs.tasks, "run_verification", run)
        return calls

    return arrange


def work(app, queue, case_id: int) -> Job:
    """Work the queue until it is empty; the case's job, as RQ keeps it."""
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    return Job.fetch(jobs.redis_queue.job_id(app, case_id, 1), connection=queue.connection)


def test_a_passing_error_is_retried_and_the_job_then_succeeds(app, make_case, redis_queue,
                                                              failing):
    case, _ = make_case("submitted")
    calls = failing(times=1)
    job = work(app, redis_queue, case.id)
    assert calls == [(case.id, 1), (case.id, 1)]
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"document": "recorded", "selfie": "recorded"}
    assert service.verification_failure(service.get_case(case.id)) is None


def test_the_last_try_records_the_failure_on_the_case_once(app, make_case, redis_queue,
                                                           failing):
    case, _ = make_case("submitted")
    calls = failing(times=10)
    job = work(app, redis_queue, case.id)
    assert len(calls) == 1 + len(app.config["VERIFICATION_RETRY_DELAYS"])
    # The last try's error is the case's, for an agent to see and retry; RQ sees it handled.
    assert job.get_status() == JobStatus.FINISHED and job.retries_left == 0
    failure = service.verification_failure(service.get_case(case.id))
    assert failure is not None and "OperationalError" in failure.reason
    events = [e.event for e in service.get_case(case.id).events]
    assert events.count("verification_failed") == 1


def test_a_job_running_on_a_live_worker_is_not_queued_again_until_it_looks_dead(
        app, make_case, redis_queue):
    app.config["VERIFICATION_STUCK_AFTER"] = 600
    case, _ = make_case("submitted")
    job = Job.fetch(jobs.redis_queue.job_id(app, case.id, 1), connection=redis_queue.connection)
    # A worker took the job (off the queue) and is running it.
    redis_queue.remove(job)
    job.set_status(JobStatus.STARTED)
    job.started_at = datetime.now(UTC) - timedelta(seconds=60)
    job.save()
    jobs.executors.EXECUTORS["rq"](app, case.id, 1)  # a sweep or an agent's retry click
    assert redis_queue.job_ids == []
    # Started longer ago than VERIFICATION_STUCK_AFTER: its worker died; queued again.
    job.started_at = datetime.now(UTC) - timedelta(seconds=601)
    job.save()
    jobs.executors.EXECUTORS["rq"](app, case.id, 1)
    assert redis_queue.job_ids == [job.id]
