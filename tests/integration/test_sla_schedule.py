"""The SLA check on RQ's scheduler, on a real Redis: each run schedules the next under one id."""

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from rq.job import Job

import jobs.schedule
import jobs.worker
import notify
from extensions import db
from tests.clock import set_service_clock
from workflow.models import CaseEvent, OutboxEmail

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
QUEUE = f"test-sla-{uuid.uuid4().hex[:12]}"
INTERVAL = 3600
FILED = datetime(2026, 12, 21, 9, tzinfo=UTC)  # Monday 09:00 UTC, in office hours


@pytest.fixture
def app_config():
    # No sweeps (the case's placeholder photos are never read), no mail server: the emails
    # stay in the outbox, where the test finds them.
    return {"VERIFICATION_EXECUTOR": "rq", "REDIS_URL": REDIS_URL, "VERIFICATION_QUEUE": QUEUE,
            "VERIFICATION_STUCK_AFTER": 10**9, "SLA_CHECK_SECONDS": INTERVAL,
            "MAIL_SERVER": ""}


@pytest.fixture
def queue(redis_queue):
    """The test's RQ queue on the real Redis (cleaned up by the redis_queue fixture)."""
    return redis_queue


@pytest.fixture
def breached(app, make_case, make_agent, monkeypatch, queue):
    """An unassigned case past its first-response target (its verification job taken off the
    queue), and a security lead to tell."""
    make_agent("security_lead")
    # The SLA emails alone: filing's tracking-link email is tested on its own.
    monkeypatch.delitem(notify.NOTIFICATIONS, "request_received")
    now = {"at": FILED}
    set_service_clock(monkeypatch, lambda: now["at"])
    case, _ = make_case("submitted", issue_type="forgot_password")
    queue.empty()
    now["at"] = FILED + timedelta(hours=5)
    return case


def events(case_id: int) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(CaseEvent.event).where(
        CaseEvent.case_id == case_id, CaseEvent.event.like("sla_%"))))


def test_the_worker_runs_the_check_and_schedules_the_next_run_in_rq(app, queue, breached):
    sla_id = jobs.schedule.sla_job_id(app)
    registry = queue.scheduled_job_registry

    # A starting worker finds no SLA check anywhere: it queues one, which runs at once ...
    jobs.worker.run_worker(app, burst=True)
    assert events(breached.id) == ["sla_breached"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)) == 1
    # ... and schedules its next run in RQ's scheduler, under the fixed id.
    assert registry.get_job_ids() == [sla_id]
    due = registry.get_scheduled_time(sla_id)
    assert abs((due - datetime.now(UTC)).total_seconds() - INTERVAL) < 60
    job = Job.fetch(sla_id, connection=queue.connection)
    assert job.func is jobs.schedule.check_sla_job
    # The key outlives the wait (RQ expires it after a run), so the run is not lost.
    assert queue.connection.ttl(job.key) > INTERVAL
    assert queue.job_ids == []

    # Another worker starting finds it scheduled and adds nothing.
    assert jobs.schedule.ensure_sla_check(app) is False
    jobs.worker.run_worker(app, burst=True)
    assert registry.get_job_ids() == [sla_id] and queue.job_ids == []
    assert len(Job.fetch(sla_id, connection=queue.connection).results()) == 1

    # When it is due, the worker's scheduler queues it; it runs and schedules the one after.
    queue.connection.zadd(registry.key, {sla_id: time.time() - 1})
    jobs.worker.run_worker(app, burst=True)
    assert len(Job.fetch(sla_id, connection=queue.connection).results()) == 2
    assert registry.get_job_ids() == [sla_id] and queue.job_ids == []
    assert registry.get_scheduled_time(sla_id) > datetime.now(UTC) + timedelta(
        seconds=INTERVAL - 60)
    assert events(breached.id) == ["sla_breached"]  # marked once, however often it runs


def test_a_schedule_whose_job_expired_is_replaced_by_a_run_now(app, queue):
    sla_id = jobs.schedule.sla_job_id(app)
    jobs.schedule.schedule_next_sla_check(app)
    queue.connection.delete(Job.key_for(sla_id))
    assert jobs.schedule.ensure_sla_check(app) is True
    assert queue.job_ids == [sla_id]
    assert sla_id not in queue.scheduled_job_registry
    assert jobs.schedule.ensure_sla_check(app) is False  # queued already
