"""The identity service adapter against a real HTTP server that checks every signature."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta

import pytest
from werkzeug.wrappers import Request, Response

import jobs.recovery
from accounts.http import IdentityService as Adapter
from app import create_app
from tests.clock import set_service_clock
from tests.conftest import make_config
from tests.recovery import Clock, actions_of, approve, events_of, link_count
from tests.serving import served_in_thread
from workflow import service
from workflow.models import utcnow
from workflow.service.hooks import hooks_of

SECRET = "identity-service-shared-secret"
DELAY = 60


class IdentityService:
    """A small identity service: verifies signatures, performs each key once, fails on demand.

    ``fail_before`` answers 503 that many times without doing anything; ``fail_after``
    performs the action and then answers 503 (the answer is lost, not the effect).
    """

    def __init__(self, secret: str = SECRET):
        self.secret = secret
        self.requests = []
        self.effects = []
        self.answers = {}
        self.fail_before = 0
        self.fail_after = 0
        self.refuse = 0
        self.lock = threading.Lock()

    def verified(self, request: Request) -> bool:
        stamp = request.headers.get("X-Recovery-Desk-Timestamp", "")
        sent = request.headers.get("X-Recovery-Desk-Signature", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return False
        mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + request.get_data(),
                       hashlib.sha256)
        return hmac.compare_digest(sent, f"sha256={mac.hexdigest()}")

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            response = self.answer(request)
        return response(environ, start_response)

    def answer(self, request: Request) -> Response:
        body = request.get_data()
        self.requests.append((request.path, dict(request.headers), body))
        if request.path != "/api/recovery-actions" or request.method != "POST":
            return Response("not found", 404)
        if not self.verified(request):
            return Response("bad signature", 401)
        key = request.headers.get("Idempotency-Key")
        order = json.loads(body)
        if key != order["idempotency_key"]:
            return Response("key mismatch", 400)
        if key in self.answers:
            return self.answers[key]
        if self.fail_before:
            self.fail_before -= 1
            return Response("busy", 503)
        if self.refuse:
            self.refuse -= 1
            # An idempotent service answers this key's repeats with the same refusal.
            self.answers[key] = Response("account under legal hold", 422)
            return self.answers[key]
        self.effects.append((order["action"], order["account"]["email"], key))
        self.answers[key] = Response(json.dumps({"status": "performed", "key": key}), 200,
                                     content_type="application/json")
        if self.fail_after:
            self.fail_after -= 1
            return Response("lost answer", 503)
        return self.answers[key]


@pytest.fixture
def identity():
    return IdentityService()


@pytest.fixture
def server(identity):
    """The identity service on a free localhost port, in a thread."""
    with served_in_thread(identity) as url:
        yield f"{url}/api"


@pytest.fixture
def app_config(server):
    return {"ACCOUNT_SERVICE_URL": server, "ACCOUNT_SERVICE_SECRET": SECRET,
            "ACCOUNT_SERVICE_TIMEOUT_SECONDS": 5, "RECOVERY_ACTION_EXECUTOR": "inline",
            "RECOVERY_ACTION_RETRY_DELAYS": [DELAY, DELAY]}


@pytest.fixture
def clock(app, monkeypatch):
    found = Clock(utcnow())
    set_service_clock(monkeypatch, found)
    return found


@pytest.fixture
def lead(make_agent):
    agent, _ = make_agent("security_lead")
    return agent


def test_failures_are_retried_with_backoff_and_the_action_happens_once(
        app, identity, clock, make_account, make_case, lead):
    make_account(locked=True)
    case, _ = make_case("selfie_check", issue_type="account_locked")
    identity.fail_before = 2
    approve(case, lead)  # the first try, right after the commit: 503
    (action,) = actions_of(case.id)
    assert (action.adapter, action.status, action.attempts) == ("http", "failed", 1)
    assert "HTTP 503" in action.last_error
    assert action.next_attempt_at == clock.now + timedelta(seconds=DELAY)
    assert jobs.recovery.sweep_actions(app) == []  # not due yet

    clock.now += timedelta(seconds=DELAY + 1)
    assert jobs.recovery.sweep_actions(app) == [case.id]  # the second try: 503 again
    clock.now += timedelta(seconds=DELAY + 1)
    assert jobs.recovery.sweep_actions(app) == [case.id]  # the third: performed
    (action,) = actions_of(case.id)
    assert (action.status, action.attempts, action.last_error) == ("done", 3, None)
    assert action.result["answer"] == {"status": "performed", "key": action.idempotency_key}
    assert identity.effects == [("unlock", "anna@example.test", action.idempotency_key)]
    assert {headers["Idempotency-Key"] for _, headers, _ in identity.requests} == {
        action.idempotency_key}
    assert len(identity.requests) == 3
    assert [e.event for e in events_of(case.id)] == [
        "recovery_action_failed", "recovery_action_failed", "recovery_action_done"]
    assert "(http)" in events_of(case.id)[-1].reason
    assert jobs.recovery.sweep_actions(app) == []
    # The remote service acted: the local directory was not touched, and sent no link.
    assert link_count() == 0


def test_a_lost_answer_is_retried_under_the_same_key_without_a_second_effect(
        app, identity, clock, make_account, make_case, lead):
    make_account(frozen=True)
    case, _ = make_case("selfie_check", issue_type="suspicious_activity")
    identity.fail_after = 1
    approve(case, lead)
    unfreeze, link = actions_of(case.id)
    assert (unfreeze.status, link.status) == ("failed", "pending")  # the link waits its turn
    clock.now += timedelta(seconds=DELAY + 1)
    assert jobs.recovery.sweep_actions(app) == [case.id]
    assert [a.status for a in actions_of(case.id)] == ["done", "done"]
    assert [effect[0] for effect in identity.effects] == ["unfreeze", "reset_link"]


def test_a_refusal_is_not_retried_by_itself(app, identity, clock, make_account, make_case,
                                            lead):
    identity.secret = "not the desk's secret"
    make_account()
    case, _ = make_case("selfie_check", issue_type="forgot_password")
    approve(case, lead)
    (action,) = actions_of(case.id)
    assert (action.status, action.next_attempt_at) == ("failed", None)
    assert action.last_error.startswith("the identity service answered HTTP 401")
    clock.now += timedelta(days=1)
    assert jobs.recovery.sweep_actions(app) == []
    assert identity.effects == []


def test_an_unreachable_service_is_a_passing_failure(app, clock, make_account, make_case,
                                                     lead):
    # Nothing listens on the discard port.
    hooks_of(app).account_services["http"] = Adapter("http://127.0.0.1:9", SECRET, timeout=2)
    make_account()
    case, _ = make_case("selfie_check", issue_type="forgot_password")
    approve(case, lead)
    (action,) = actions_of(case.id)
    assert action.status == "failed" and action.next_attempt_at is not None
    assert "did not answer" in action.last_error


def test_the_desk_refuses_to_start_with_a_url_and_no_secret(tmp_path, server):
    config = make_config(f"sqlite:///{tmp_path / 'x.sqlite'}", ACCOUNT_SERVICE_URL=server)
    with pytest.raises(RuntimeError, match="ACCOUNT_SERVICE_SECRET"):
        create_app(config)


def test_an_agents_retry_after_a_refusal_is_a_new_request(app, identity, clock, make_account,
                                                         make_case, lead):
    identity.refuse = 1
    make_account()
    case, _ = make_case("selfie_check", issue_type="forgot_password")
    approve(case, lead)
    (action,) = actions_of(case.id)
    assert action.status == "failed" and "HTTP 422" in action.last_error
    refused_key = identity.requests[-1][1]["Idempotency-Key"]
    assert action.idempotency_key != refused_key
    service.retry_recovery_action(case.id, action.id, lead)
    service.run_case_actions(case.id)
    (action,) = actions_of(case.id)
    assert action.status == "done"
    assert identity.effects == [("reset_link", "anna@example.test", action.idempotency_key)]
