"""The RQ worker on a real Redis: jobs survive a worker killed with SIGKILL mid-job.

The worker runs as its own process (`flask --app app worker`), on the same database as the
test, with a queue of its own so parallel runs never share jobs.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

import jobs.executors
import jobs.redis_queue
from extensions import db
from tests.conftest import document_photo, selfie_photo
from verification.specimen import SpecimenPerson
from workflow import service
from workflow.models import CaseEvent, DocumentReading, SelfieReading

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).with_name("flask")
QUEUE = f"test-verification-{uuid.uuid4().hex[:12]}"
PEOPLE = [
    SpecimenPerson(document_number="L898902C3"),
    SpecimenPerson(surname="KOVAC", given_names="BRUNO", date_of_birth=date(1981, 3, 2),
                   sex="M", document_number="X1234567Z"),
    SpecimenPerson(surname="OKAFOR", given_names="ADA", date_of_birth=date(1990, 11, 30),
                   document_number="K5551234"),
]


@pytest.fixture
def app_config():
    return {"QUALITY_GATE": True, "VERIFICATION_EXECUTOR": "rq", "REDIS_URL": REDIS_URL,
            "VERIFICATION_QUEUE": QUEUE, "VERIFICATION_STUCK_AFTER": 0}


@pytest.fixture
def queue(redis_queue):
    """The test's RQ queue on the real Redis (cleaned up by the redis_queue fixture)."""
    return redis_queue


def worker(app, tmp_path, *args) -> subprocess.Popen:
    """`flask --app app worker` on the test's database and queue, output to a log file."""
    env = {**os.environ,
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": REDIS_URL,
           "RECOVERY_SECRET_KEY": app.config["SECRET_KEY"], "RECOVERY_DEMO": "0",
           "RECOVERY_ENCRYPTION_KEYS": json.dumps(app.config["ENCRYPTION_KEYS"]),
           "RECOVERY_VERIFICATION_QUEUE": QUEUE, "RECOVERY_VERIFICATION_STUCK_AFTER": "0",
           "RECOVERY_VERIFICATION_SWEEP_SECONDS": "0", "RECOVERY_SLA_CHECK_SECONDS": "0",
           "RECOVERY_VERIFICATION_RETRY_DELAYS": "[1, 1]"}
    # The child keeps its own copy of the file descriptor.
    with open(tmp_path / f"worker-{time.monotonic_ns()}.log", "w") as log:
        # A session of its own: RQ's scheduler runs in a child of the worker, which outlives
        # a worker killed with SIGKILL unless the whole group is stopped (stop_group).
        return subprocess.Popen([str(FLASK), "--app", "app", "worker", *args], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_group(process: subprocess.Popen) -> None:
    """Kill what is left of a worker's process group (its scheduler child)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def logs(tmp_path) -> str:
    return "\n".join(p.read_text() for p in sorted(tmp_path.glob("worker-*.log")))


def submit_all(make_account) -> list[int]:
    ids = []
    for number, person in enumerate(PEOPLE):
        email = f"person{number}@example.test"
        name = f"{person.given_names.title()} {person.surname.title()}"
        make_account(email=email, full_name=name, date_of_birth=person.date_of_birth)
        sub = service.Submission(email=email, full_name=name,
                                 date_of_birth=person.date_of_birth,
                                 issue_type="forgot_password", description="", consent=True)
        portrait, selfie = [("obama_1.jpg", "obama_2.jpg"), ("biden_2.jpg", "biden_1.jpg"),
                            ("keanu_reeves_2.jpg", "keanu_reeves_1.jpg")][number]
        files = {"id_document": document_photo(person, portrait=portrait),
                 "selfie": selfie_photo(selfie)}
        ids.append(service.submit_request(sub, files).case.id)
    return ids


def count(model, case_id, **where) -> int:
    query = sa.select(sa.func.count()).select_from(model).where(model.case_id == case_id)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalar(query)


def wait_for(condition, timeout: float, what: str, tmp_path) -> None:
    """Poll ``condition`` until it holds; fail with the worker logs after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{logs(tmp_path)}")
        time.sleep(0.05)


def test_jobs_are_queued_on_redis_one_per_attempt(app, make_account, queue):
    case_ids = submit_all(make_account)
    assert sorted(queue.job_ids) == sorted(jobs.redis_queue.job_id(app, i, 1) for i in case_ids)
    # Queueing the same attempt again (a sweep, a retry click) does not add a second job.
    jobs.executors.EXECUTORS["rq"](app, case_ids[0], 1)
    assert len(queue.job_ids) == len(case_ids)


def test_a_worker_killed_mid_job_loses_nothing_and_checks_each_case_once(
        app, make_account, queue, tmp_path):
    from rq.registry import StartedJobRegistry

    case_ids = submit_all(make_account)
    started = StartedJobRegistry(queue=queue)
    first = worker(app, tmp_path)
    try:
        # Kill it while it works on a job: the job is registered as started and its case has
        # been moved into the document check, but nothing of the attempt is stored yet.
        def mid_job() -> bool:
            db.session.rollback()
            return bool(started.get_job_ids()) and any(
                service.get_case(i).state == "id_check" and count(DocumentReading, i) == 0
                for i in case_ids)

        wait_for(mid_job, 180, "the worker to start a job", tmp_path)
        killed_job = started.get_job_ids()[0]
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
        stop_group(first)
    db.session.rollback()
    unfinished = [i for i in case_ids if count(SelfieReading, i) == 0]
    assert unfinished, "the worker finished everything before it was killed"

    # A new worker's start-up sweep queues the killed job again; in burst mode it stops when
    # the queue is empty.
    second = worker(app, tmp_path, "--burst")
    try:
        assert second.wait(timeout=600) == 0, logs(tmp_path)
    finally:
        if second.poll() is None:
            second.kill()
        stop_group(second)
    db.session.rollback()
    assert killed_job in logs(tmp_path)
    for case_id in case_ids:
        case = service.get_case(case_id)
        assert case.state == "selfie_check", (case_id, case.state, logs(tmp_path))
        assert count(DocumentReading, case_id) == 1
        assert count(SelfieReading, case_id) == 1
        assert count(CaseEvent, case_id, event="document_checked") == 1
        assert count(CaseEvent, case_id, event="selfie_checked") == 1
        assert count(CaseEvent, case_id, event="risk_assessed") == 1
        assert count(CaseEvent, case_id, event="start_review") == 1
