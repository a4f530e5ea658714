"""The load test's users: people filing requests and checking on them, agents working the queue.

Run by ``bench.loadtest.run`` (locust headless on loopback); it reads, from the environment:
LOADTEST_PHOTOS (the folder of ``photos.build``), LOADTEST_OUT (where the accepted submissions
and the outcome counts go), LOADTEST_AGENT_TOKEN and LOADTEST_LEAD_TOKEN (API tokens).

Every answer is counted by request kind and status. A 409 (stale version) or a 422 (event not
allowed now) is the API's correct answer to an agent acting on a case that moved meanwhile:
counted apart, not as an error. A submission that gets a 5xx or no answer is sent again with
the same Idempotency-Key, as a client should, so a case filed before the failure is answered
from the key rather than filed twice.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from locust import HttpUser, between, events, task

PHOTOS = Path(os.environ.get("LOADTEST_PHOTOS", "bench-results/loadtest-photos"))
OUT = Path(os.environ.get("LOADTEST_OUT", "bench-results/loadtest"))
AGENT_TOKEN = os.environ.get("LOADTEST_AGENT_TOKEN", "")
LEAD_TOKEN = os.environ.get("LOADTEST_LEAD_TOKEN", "")

SUBMIT = "POST /api/v1/recovery-requests"
STATUS = "GET /api/v1/recovery-requests/[token]"
QUEUE = "GET /api/v1/cases"
CASE = "GET /api/v1/cases/[id]"
EVENT = "POST /api/v1/cases/[id]/events"
# Issue types without a challenge selfie (those need a code written on paper in the photo).
ISSUE_TYPES = ("forgot_password", "account_locked", "new_device", "other")
STATES = ("submitted", "id_check", "selfie_check", "escalated", "awaiting_user")
# Agent actions that leave a case open, so its automated checks still run and are counted.
AGENT_EVENTS = ("request_info", "escalate", "confirm_document", "request_resubmission")
LEAD_EVENTS = ("return_to_stage", "request_info", "escalate")
# Answers that are correct when a case moved under an agent: counted, not failed.
EXPECTED_REFUSALS = {409: "stale_version", 422: "not_allowed"}
SUBMIT_TRIES = 5
SUBMIT_RETRY_WAIT = 2.0

_pairs = json.loads((PHOTOS / "pairs.json").read_text()) if (PHOTOS / "pairs.json").exists() \
    else []
_files = {name: (PHOTOS / name).read_bytes()
          for pair in _pairs for name in (pair["document"], pair["selfie"])}
_lock = threading.Lock()
_tokens: list[str] = []
_outcomes: dict[str, Counter] = defaultdict(Counter)
_server_errors: list[dict] = []


def _outcome(kind: str, response) -> str:
    """Count one answer; returns its class (ok, stale_version, not_allowed, server_error ...)."""
    status = response.status_code or 0
    if 200 <= status < 300:
        label = "ok"
    elif status in EXPECTED_REFUSALS:
        label = EXPECTED_REFUSALS[status]
    elif status == 429:
        label = "rate_limited"
    elif status >= 500:
        label = "server_error"
    elif status == 0:
        label = "no_answer"
    else:
        label = "client_error"
    with _lock:
        _outcomes[kind][f"{status} {label}"] += 1
        if label in ("server_error", "no_answer"):
            _server_errors.append({"at": time.time(), "kind": kind, "status": status,
                                   "body": (response.text or str(response.error or ""))[:300]})
    if label in ("ok", "stale_version", "not_allowed"):
        response.success()
    else:
        response.failure(f"{status} {label}")
    return label


class Requester(HttpUser):
    """A locked-out person: files a request with a passport photo and a selfie."""

    weight = 3
    wait_time = between(1, 3)

    @task
    def submit(self) -> None:
        """File one request (retried with its key after a 5xx or no answer)."""
        number = random.randrange(len(_pairs))
        pair = _pairs[number]
        key = str(uuid.uuid4())
        form = {"email": f"load-{key[:13]}@example.test", "full_name": pair["full_name"],
                "date_of_birth": pair["date_of_birth"],
                "issue_type": random.choice(ISSUE_TYPES),
                "description": f"Load test request {key[:8]}.", "consent": "true"}
        files = {"id_document": (pair["document"], _files[pair["document"]], "image/jpeg"),
                 "selfie": (pair["selfie"], _files[pair["selfie"]], "image/jpeg")}
        for attempt in range(1, SUBMIT_TRIES + 1):
            with self.client.post("/api/v1/recovery-requests", data=form, files=files,
                                  headers={"Idempotency-Key": key}, name=SUBMIT,
                                  catch_response=True) as response:
                label = _outcome(SUBMIT, response)
            if label == "ok":
                body = response.json()
                record = {"case_id": body["case_id"], "tracking_token": body["tracking_token"],
                          "idempotency_key": key, "pair": number, "tries": attempt,
                          "replayed": response.headers.get("Idempotent-Replayed") == "true",
                          "at": time.time()}
                with _lock:
                    _tokens.append(body["tracking_token"])
                    with (OUT / "accepted.jsonl").open("a") as log:
                        log.write(json.dumps(record) + "\n")
                return
            if label not in ("server_error", "no_answer"):
                return
            time.sleep(SUBMIT_RETRY_WAIT)

class Watcher(HttpUser):
    """Someone who filed a request and comes back to its status page (by its tracking token)."""

    weight = 3
    wait_time = between(1, 3)

    @task
    def check_status(self) -> None:
        """Look at the status of a request filed earlier."""
        with _lock:
            token = random.choice(_tokens) if _tokens else None
        if token is None:
            return
        with self.client.get(f"/api/v1/recovery-requests/{token}", name=STATUS,
                             catch_response=True) as response:
            _outcome(STATUS, response)


class Agent(HttpUser):
    """A support agent (or a security lead): reads the queue, opens a case, acts on it."""

    weight = 4
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        """Sign in with an agent's token, or one in three users with a lead's."""
        self.lead = bool(LEAD_TOKEN) and random.random() < 1 / 3
        token = LEAD_TOKEN if self.lead else AGENT_TOKEN
        self.client.headers["Authorization"] = f"Bearer {token}"

    @task(3)
    def read_queue(self, state: str | None = None) -> list[dict]:
        """One queue page of one state."""
        params = {"limit": 25, "state": state or random.choice(STATES)}
        with self.client.get("/api/v1/cases", params=params, name=QUEUE,
                             catch_response=True) as response:
            label = _outcome(QUEUE, response)
        return response.json()["items"] if label == "ok" else []

    @task(2)
    def act(self) -> None:
        """Open a case from the queue and fire an event with the version just read."""
        items = self.read_queue(random.choice(
            ("escalated", "selfie_check") if self.lead else ("id_check", "selfie_check")))
        if not items:
            return
        case_id = random.choice(items)["id"]
        with self.client.get(f"/api/v1/cases/{case_id}", name=CASE,
                             catch_response=True) as response:
            if _outcome(CASE, response) != "ok":
                return
        case = response.json()
        choices = LEAD_EVENTS if self.lead else AGENT_EVENTS
        allowed = [e["event"] for e in case.get("allowed_events", []) if e["event"] in choices]
        # Mostly what the console offers; sometimes an event the case does not allow now.
        event = random.choice(allowed) if allowed and random.random() < 0.8 \
            else random.choice(choices)
        body = {"event": event, "version": case["version"],
                "reason": "Load test: please send a clearer photo of the page with your name."}
        with self.client.post(f"/api/v1/cases/{case_id}/events", json=body, name=EVENT,
                              catch_response=True) as response:
            _outcome(EVENT, response)


@events.test_start.add_listener
def _start(environment, **_kwargs) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if not _pairs:
        raise RuntimeError(f"no photos in {PHOTOS}: run bench.loadtest.run")


@events.test_stop.add_listener
def _stop(environment, **_kwargs) -> None:
    with _lock:
        summary = {"outcomes": {kind: dict(counts) for kind, counts in _outcomes.items()},
                   "server_errors": list(_server_errors)}
    (OUT / "outcomes.json").write_text(json.dumps(summary, indent=1))
