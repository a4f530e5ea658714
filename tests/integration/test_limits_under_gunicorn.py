"""The documented limits hold exactly under gunicorn with 4 workers, requests arriving at once.

Each run serves a freshly migrated database (SQLite, or PostgreSQL when DATABASE_URL names
one) with the README's production command, once counting in that database and once in Redis,
and sends every burst from 8 threads released together, so the workers count the same keys
at the same moment.
"""

import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from app import create_app
from tests import serving
from tests.conftest import (
    STRONG_PASSWORD,
    TEST_REDIS_URL,
    image_bytes,
    make_config,
    new_database,
    reachable_redis,
)

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
THREADS = 8
ATTEMPTS = 16
# Small limits, so a burst of ATTEMPTS crosses each of them well inside its window.
LOGIN_LIMIT = 5
SUBMISSION_LIMIT = 6
TRACKING_TOKEN_LIMIT = 7
BOOT_SECONDS = 180
# Deadline of one request: generous, as the machine may be busy with other work.
TIMEOUT = 120
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass
class Desk:
    """A desk served by gunicorn, and what a test needs to talk to it."""

    url: str
    database_url: str
    access_log: Path
    tracking_token: str
    store: str
    key_prefix: str

    def log_offset(self) -> int:
        return self.access_log.stat().st_size

    def workers_since(self, offset: int) -> set[str]:
        """The worker pids that answered a request since ``offset`` of the access log."""
        with self.access_log.open() as log:
            log.seek(offset)
            return {line.split()[0] for line in log if line.strip()}


def desk_environment(database_url: str, store: str, prefix: str) -> dict[str, str]:
    """The environment of the production set-up, with small limits and no background work."""
    env = serving.desk_environment(
        database_url,
        RECOVERY_ENV_NAME="production",
        # Served over plain HTTP on loopback: a Secure cookie would never come back.
        RECOVERY_SESSION_COOKIE_SECURE="false",
        RECOVERY_VERIFICATION_EXECUTOR="off",
        # Placeholder photos: the limits are under test here, not the photo checks.
        RECOVERY_QUALITY_GATE="false",
        RECOVERY_CHALLENGE_ISSUE_TYPES="[]",
        RECOVERY_RATELIMIT_LOGIN=f"{LOGIN_LIMIT} per 15 minutes",
        RECOVERY_RATELIMIT_SUBMISSION=f"{SUBMISSION_LIMIT} per hour",
        # Every request of the burst is for one email address: that budget is not under test.
        RECOVERY_RATELIMIT_SUBMISSION_PER_EMAIL="1000 per hour",
        RECOVERY_RATELIMIT_STATUS=f"{TRACKING_TOKEN_LIMIT} per hour",
    )
    if store == "redis":
        env["REDIS_URL"] = TEST_REDIS_URL
        # Runs that share this Redis (another checkout, CI) never count on each other's keys.
        env["RECOVERY_RATELIMIT_KEY_PREFIX"] = prefix
    return env


def flask_command(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                          env=env, input=stdin, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def filed_case(database_url: str) -> str:
    """A case filed straight through the service (no request counted); its tracking token."""
    from extensions import db
    from workflow import service

    app = create_app(make_config(database_url))
    with app.app_context():
        result = service.submit_request(
            service.Submission(email="anna@example.test", full_name="Anna Eriksson",
                               date_of_birth=date(1974, 8, 12), issue_type="lost_2fa",
                               description="", consent=True, client_ip="127.0.0.1"),
            {"id_document": image_bytes(), "selfie": image_bytes()})
        db.session.remove()
        db.engine.dispose()
    return result.tracking_token


def wait_for_every_worker(url: str, access_log: Path, server: subprocess.Popen) -> None:
    """Poll until each of the WORKERS processes has answered a request (or fail at a deadline)."""
    deadline = time.monotonic() + BOOT_SECONDS
    seen: set[str] = set()
    with ThreadPoolExecutor(THREADS) as pool:
        while time.monotonic() < deadline:
            assert server.poll() is None, ("gunicorn exited while starting:\n"
                                           + (access_log.parent / "gunicorn.log").read_text())
            try:
                list(pool.map(lambda _: requests.get(f"{url}/api/v1/openapi.json",
                                                     timeout=TIMEOUT), range(THREADS)))
            except requests.RequestException:  # nobody listening yet, or every worker booting
                time.sleep(0.2)
                continue
            seen = {line.split()[0] for line in access_log.read_text().splitlines() if line}
            if len(seen) == WORKERS:
                return
    pytest.fail(f"only {len(seen)} of {WORKERS} gunicorn workers answered in {BOOT_SECONDS} s")


@pytest.fixture(scope="module", params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def desk(request, tmp_path_factory):
    """gunicorn -w 4 serving a migrated database, its limits counted in the parametrized store."""
    store = request.param
    if store == "redis":
        reachable_redis(TEST_REDIS_URL).close()
    directory = tmp_path_factory.mktemp(f"gunicorn-{store}")
    prefix = f"limits-test-{secrets.token_hex(6)}"
    with new_database(directory, "recovery_limits") as database_url:
        env = desk_environment(database_url, store, prefix)
        flask_command(env, "db", "upgrade")
        flask_command(env, "create-agent", "--email", "sam@example.test", "--name", "Sam",
                      "--role", "agent", stdin=STRONG_PASSWORD + "\n")
        token = filed_case(database_url)
        port, access_log = serving.free_port(), directory / "access.log"
        access_log.touch()
        with (directory / "gunicorn.log").open("w") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
                 "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s",
                 "app:create_app()"],
                cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_every_worker(url, access_log, server)
            yield Desk(url, database_url, access_log, token, store, prefix)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=TIMEOUT)
            if store == "redis":
                connection = reachable_redis(TEST_REDIS_URL)
                for key in connection.scan_iter(f"*LIMITER/{prefix}/*"):
                    connection.delete(key)
                connection.close()


def all_at_once(attempt, count: int = ATTEMPTS) -> list:
    """Run ``attempt(i)`` for i < count on THREADS threads; each thread's first starts together."""
    start = threading.Barrier(THREADS)

    def run(worker: int):
        prepared = [attempt(i) for i in range(worker, count, THREADS)]
        start.wait()
        return [send() for send in prepared]

    with ThreadPoolExecutor(THREADS) as pool:
        return [answer for batch in pool.map(run, range(THREADS)) for answer in batch]


def form_session(url: str, path: str) -> tuple[requests.Session, str]:
    """A browser-like session that has loaded the form at ``path``, and the form's CSRF token."""
    session = requests.Session()
    page = session.get(url + path, timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    return session, CSRF.search(page.text).group(1)


def photos() -> dict:
    return {"id_document": ("id.jpg", image_bytes(), "image/jpeg"),
            "selfie": ("me.jpg", image_bytes(), "image/jpeg")}


def request_fields(**extra) -> dict:
    return {"email": "anna@example.test", "full_name": "Anna Eriksson",
            "date_of_birth": "1974-08-12", "issue_type": "lost_2fa", "description": "", **extra}


def assert_refused(answers: list[requests.Response], api: bool) -> None:
    for answer in answers:
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) > 0
        if api:
            assert answer.json()["error"]["code"] == "rate_limited"


def scalar(desk: Desk, query: str):
    """One value read from the desk's database."""
    engine = sa.create_engine(desk.database_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text(query))
    finally:
        engine.dispose()


def test_the_counts_live_in_the_chosen_store(desk):
    # A challenge code has a budget of its own, apart from the ones measured below.
    answer = requests.post(f"{desk.url}/api/v1/challenges", timeout=TIMEOUT)
    assert answer.status_code == 201 and answer.headers["X-RateLimit-Limit"]
    rows = scalar(desk, "SELECT count(*) FROM rate_limit_counter")
    if desk.store == "redis":
        connection = reachable_redis(TEST_REDIS_URL)
        keys = list(connection.scan_iter(f"*LIMITER/{desk.key_prefix}/*"))
        connection.close()
        assert keys and rows == 0
    else:
        assert rows > 0


def test_wrong_passwords_get_exactly_the_sign_in_limit(desk):
    offset = desk.log_offset()

    def attempt(i: int):
        session, csrf = form_session(desk.url, "/agent/login")
        data = {"csrf_token": csrf, "email": "sam@example.test", "password": f"guess {i}"}
        return lambda: session.post(f"{desk.url}/agent/login", data=data, timeout=TIMEOUT)

    answers = all_at_once(attempt)
    codes = Counter(a.status_code for a in answers)
    assert codes == {401: LOGIN_LIMIT, 429: ATTEMPTS - LOGIN_LIMIT}
    assert_refused([a for a in answers if a.status_code == 429], api=False)
    session, csrf = form_session(desk.url, "/agent/login")
    right = session.post(f"{desk.url}/agent/login", timeout=TIMEOUT, data={
        "csrf_token": csrf, "email": "sam@example.test", "password": STRONG_PASSWORD})
    assert right.status_code == 429  # the right password waits as well
    assert len(desk.workers_since(offset)) > 1


def test_submissions_through_the_form_and_the_api_share_exactly_one_budget(desk):
    offset = desk.log_offset()

    def attempt(i: int):
        if i % 2:
            return lambda: requests.post(f"{desk.url}/api/v1/recovery-requests",
                                         data=request_fields(consent="true"), files=photos(),
                                         timeout=TIMEOUT)
        session, csrf = form_session(desk.url, "/recover")
        data = request_fields(consent="y", csrf_token=csrf)
        # The form answers an accepted request with a redirect to its confirmation (303).
        return lambda: session.post(f"{desk.url}/recover", data=data, files=photos(),
                                    timeout=TIMEOUT, allow_redirects=False)

    answers = all_at_once(attempt)
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {201, 303, 429}
    assert statuses[201] + statuses[303] == SUBMISSION_LIMIT
    assert statuses[429] == ATTEMPTS - SUBMISSION_LIMIT
    refused = [a for a in answers if a.status_code == 429]
    assert_refused([a for a in refused if "/api/" in a.url], api=True)
    assert_refused([a for a in refused if "/api/" not in a.url], api=False)
    # The case filed before the burst, and exactly the limit's.
    assert scalar(desk, "SELECT count(*) FROM recovery_case") == 1 + SUBMISSION_LIMIT
    assert len(desk.workers_since(offset)) > 1


def test_tracking_token_lookups_get_exactly_their_limit(desk):
    offset = desk.log_offset()
    paths = [f"/status/{desk.tracking_token}", f"/api/v1/recovery-requests/{desk.tracking_token}",
             f"/api/v1/recovery-requests/{secrets.token_urlsafe(32)}"]

    def attempt(i: int):
        return lambda: requests.get(desk.url + paths[i % len(paths)], timeout=TIMEOUT)

    answers = all_at_once(attempt)
    codes = Counter(a.status_code for a in answers)
    assert codes[429] == ATTEMPTS - TRACKING_TOKEN_LIMIT
    assert set(codes) <= {200, 404, 429}
    assert_refused([a for a in answers if a.status_code == 429 and "/api/" in a.url], api=True)
    assert len(desk.workers_since(offset)) > 1
