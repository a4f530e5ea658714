"""Redis unreachable when a job is queued: the request still succeeds, the sweep queues it later.

The RQ executor is pointed at a closed port; every enqueue after a commit then fails to
connect. The case is already filed, so the caller gets its normal answer and the case waits,
photos unread, for the sweep of stuck cases.
"""

import io
import logging
import os
import uuid
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa

import jobs.redis_queue
import jobs.schedule
from extensions import db
from tests.conftest import image_bytes
from workflow import service
from workflow.models import RecoveryCase

CLOSED_PORT = "redis://127.0.0.1:1/0"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def app_config():
    return {"VERIFICATION_EXECUTOR": "rq", "REDIS_URL": CLOSED_PORT,
            "VERIFICATION_QUEUE": f"test-verification-{uuid.uuid4().hex[:12]}"}


@pytest.fixture
def queue_errors(caplog):
    """The log lines of jobs that could not be queued."""
    caplog.set_level(logging.ERROR)

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if "could not be queued" in r.getMessage()]

    return lines


def submit(client):
    data = {
        "email": "anna@example.test", "full_name": "Anna Eriksson", "date_of_birth": "1974-08-12",
        "issue_type": "forgot_password", "description": "", "consent": "true",
        "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
        "selfie": (io.BytesIO(image_bytes()), "selfie.jpg"),
    }
    return client.post("/api/v1/recovery-requests", data=data,
                       content_type="multipart/form-data")


def cases() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase))


def test_a_request_is_filed_once_when_the_queue_cannot_be_reached(client, queue_errors):
    response = submit(client)
    assert response.status_code == 201, response.get_data(as_text=True)
    case_id = response.get_json()["case_id"]
    assert cases() == 1
    [line] = queue_errors()
    assert f"checks of case {case_id} attempt 1 could not be queued" in line
    assert "left to the sweep" in line
    # Nothing recorded a failure: the case waits, photos unread, for the sweep.
    case = service.get_case(case_id)
    assert case.state == "submitted" and service.verification_failure(case) is None
    assert service.cases_needing_verification(timedelta(0)) == [(case_id, 1)]


def test_retry_and_resubmission_answer_as_usual_when_the_queue_cannot_be_reached(
        client, make_case, make_agent, queue_errors):
    case, tracking = make_case("id_check")
    _agent, token = make_agent()
    service.record_verification_failure(case.id, 1, "the worker's disk filled up")
    response = client.post(f"/api/v1/cases/{case.id}/verification-retry",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["verification_failure"] is None

    case = service.get_case(case.id)
    service.fire_event(case.id, "request_resubmission", agent=make_agent("security_lead")[0],
                       expected_version=case.version, reason="The photo is too dark.")
    response = client.post(f"/status/{tracking}/resubmit", content_type="multipart/form-data",
                           data={"id_document": (io.BytesIO(image_bytes()), "new.jpg"),
                                 "selfie": (io.BytesIO(image_bytes()), "new.jpg")})
    assert response.status_code == 302
    assert service.case_for_token(tracking).state == "id_check"

    # Filing, the retry and the new photos: each failed to queue and is left to the sweep.
    assert [line.split(" could")[0] for line in queue_errors()] == [
        f"checks of case {case.id} attempt 1", f"checks of case {case.id} attempt 1",
        f"checks of case {case.id} attempt 2"]
    assert service.cases_needing_verification(timedelta(0)) == [(case.id, 2)]


@pytest.mark.redis
def test_the_sweep_queues_the_case_once_redis_answers_again(app, client, queue_errors):
    case_id = submit(client).get_json()["case_id"]
    assert queue_errors()
    # Redis is back: the next sweep queues the checks the request could not.
    app.config["REDIS_URL"] = REDIS_URL
    app.extensions.pop("verification_redis", None)
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as err:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {err}")
    try:
        assert jobs.schedule.sweep(app, older_than=0) == [(case_id, 1)]
        assert jobs.redis_queue.rq_queue(app).job_ids == [jobs.redis_queue.job_id(app, case_id, 1)]
    finally:
        for key in connection.scan_iter(f"*{app.config['VERIFICATION_QUEUE']}*"):
            connection.delete(key)
