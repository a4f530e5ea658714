"""Shared fixtures: an app on SQLite (default) or on the PostgreSQL named by DATABASE_URL."""

import base64
import functools
import hashlib
import io
import itertools
import os
import secrets
import uuid
from contextlib import contextmanager
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
import werkzeug.test
from PIL import Image

from app import create_app
from config import normalise_database_url
from extensions import db
from workflow import service
from workflow.models import Account

PG_URL = normalise_database_url(os.environ.get("DATABASE_URL", "")) or None

# Werkzeug's test client spools a multipart body over 500 KB to a temporary file that it
# closes only when the test closes the response, which few tests do: the garbage collector
# then closes it with a ResourceWarning that fails whichever later test it happens in. Test
# request bodies stay in memory instead.
werkzeug.test.stream_encode_multipart = functools.partial(
    werkzeug.test.stream_encode_multipart, use_tempfile=False)
STRONG_PASSWORD = "correct horse battery staple"
# One encryption key for every test app: apps built one after the other on one database (and
# the PostgreSQL schema shared by the run) read what the others sealed. Fixed rather than
# random, since this module is loaded twice (as pytest's conftest and as tests.conftest).
TEST_KEYS = {"test": base64.b64encode(hashlib.sha256(b"recovery-desk tests").digest()).decode()}


def pytest_report_header(config):
    if PG_URL is None:
        return "database: SQLite (temporary file per test)"
    return f"database: a new PostgreSQL database per run, on the server of {PG_URL}"


@pytest.fixture(scope="session")
def _postgres_schema():
    """On PostgreSQL, a database of this run's own, built once; tests empty its tables after.

    The run creates it beside the one DATABASE_URL names and drops it at the end, so two runs
    on one server (a local run and CI, say) never lock or empty each other's tables.
    """
    if PG_URL is None:
        yield None
        return
    name = f"recovery_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url,
                      "ENCRYPTION_KEYS": TEST_KEYS})
    try:
        with app.app_context():
            db.create_all()
            db.engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def new_database(directory: Path, prefix: str = "recovery_empty"):
    """The URL of a database with no tables: a new SQLite file, or a new PostgreSQL database.

    The PostgreSQL one is created beside the one DATABASE_URL names and dropped afterwards.
    """
    if PG_URL is None:
        yield f"sqlite:///{directory / 'empty.sqlite'}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_config(database_url: str, **overrides) -> dict:
    """The configuration every test app starts from."""
    return {
        "TESTING": True,
        "SECRET_KEY": secrets.token_hex(16),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "ENCRYPTION_KEYS": TEST_KEYS,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "DEMO": False,
        # Most tests drive the workflow with small placeholder photos, which the automated
        # document checks would refuse; tests of those checks turn them on with generated
        # documents (see tests/integration/test_document_checks.py).
        "QUALITY_GATE": False,
        "VERIFICATION_EXECUTOR": "off",
        # Jobs that fail for a passing reason are retried at once in tests.
        "VERIFICATION_RETRY_DELAYS": [0, 0],
        "VERIFICATION_SWEEP_SECONDS": 0,
        "SLA_CHECK_SECONDS": 0,
        "RECOVERY_ACTION_SWEEP_SECONDS": 0,
        # Challenge selfies are tested on their own (tests/functional/test_challenge.py).
        "CHALLENGE_ISSUE_TYPES": [],
        # Approved recoveries run at once; the cooling-off period is tested on its own
        # (tests/integration/test_owner_stop.py), with the shipped setting.
        "RECOVERY_HOLD": {},
        **overrides,
    }


@pytest.fixture
def app_config():
    """Per-test overrides; a test may parametrize or override this fixture."""
    return {}


@pytest.fixture
def app(tmp_path, _postgres_schema, app_config):
    """A fresh application with an empty database."""
    url = _postgres_schema or f"sqlite:///{tmp_path / 'test.sqlite'}"
    app = create_app(make_config(url, **app_config))
    with app.app_context():
        if _postgres_schema is None:
            db.create_all()
        yield app
        db.session.remove()
        if _postgres_schema is not None:
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def image_bytes(fmt: str = "JPEG", size=(640, 480), color=(120, 130, 140)) -> bytes:
    """A small valid photo in ``fmt``."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def photos(**overrides) -> dict[str, bytes | None]:
    """The files of a valid submission."""
    return {"id_document": image_bytes(color=(200, 190, 170)), "selfie": image_bytes(),
            **overrides}


FACES = Path(__file__).parent / "fixtures" / "faces"


def document_photo(person=None, *, kind: str = "passport", portrait: str | None = "obama_1.jpg",
                   degradation: str = "clean", seed: int = 0, quality: int = 90) -> bytes:
    """A generated ID document photographed on a table, as JPEG bytes (see specimen.py)."""
    from verification.degrade import degrade
    from verification.specimen import (
        SpecimenPerson,
        render_id_card,
        render_passport,
        to_jpeg_bytes,
    )

    render = {"passport": render_passport, "id_card": render_id_card}[kind]
    face = Image.open(FACES / portrait) if portrait else None
    page = render(person or SpecimenPerson(), face, seed=seed)
    return to_jpeg_bytes(degrade(page, degradation, seed), quality=quality)


def selfie_photo(name: str = "obama_2.jpg") -> bytes:
    """A real photo of a face from the fixtures, as uploaded."""
    return (FACES / name).read_bytes()


@pytest.fixture
def make_agent(app):
    """Builder: ``make_agent(role="agent")`` -> (agent, api_token)."""
    counter = iter(range(1, 10_000))

    def build(role: str = "agent", email: str | None = None, name: str | None = None,
              password: str = STRONG_PASSWORD):
        n = next(counter)
        return service.create_agent(email or f"{role}{n}@example.test", name or f"{role} {n}",
                                    role, password)

    return build


@pytest.fixture
def make_account(app):
    """Builder for an account of record."""
    from datetime import date

    def build(email="anna@example.test", full_name="Anna Maria Eriksson",
              date_of_birth=date(1974, 8, 12), **overrides):
        account = Account(email=email, full_name=full_name, date_of_birth=date_of_birth,
                          **overrides)
        db.session.add(account)
        db.session.commit()
        return account

    return build


# Events that take a fresh case to each state (the staff actor is a security lead).
PATH_TO = {
    "submitted": [],
    "id_check": [("start_review", None)],
    "selfie_check": [("start_review", None), ("confirm_document", None)],
    "awaiting_user": [("start_review", None), ("request_info", "Which phone did you lose?")],
    "escalated": [("start_review", None), ("escalate", "Documents look edited.")],
    "resolved": [("start_review", None), ("decline", "Not the account holder.")],
}

# The states a case built by ``make_case`` reaches past the id check: the risk of its photos
# is assessed, as the automated checks do once they end (an approval needs it).
ASSESSED = {"selfie_check", "escalated"}
ADDRESSES = itertools.count()


@pytest.fixture
def make_case(app, make_agent):
    """Builder: ``make_case(state="selfie_check", email=...)`` -> (case, tracking_token)."""
    from datetime import date

    lead = {}

    def build(state: str = "submitted", files=None, **overrides):
        fields = {"email": "anna@example.test", "full_name": "Anna Maria Eriksson",
                  "date_of_birth": date(1974, 8, 12), "issue_type": "lost_2fa",
                  "description": "Lost my phone.", "consent": True,
                  # An address of its own: the cases a test builds are no velocity risk to
                  # each other's assessment (unless the test says so).
                  "client_ip": f"198.51.100.{next(ADDRESSES) % 254 + 1}",
                  **overrides}
        result = service.submit_request(service.Submission(**fields), files or photos())
        if "agent" not in lead and PATH_TO[state]:
            lead["agent"], _ = make_agent("security_lead")
        for trigger, reason in PATH_TO[state]:
            case = service.get_case(result.case.id)
            service.fire_event(case.id, trigger, agent=lead["agent"],
                               expected_version=case.version, reason=reason)
        if state in ASSESSED:
            # The automated checks are off: their risk assessment, as when they end.
            service.reassess_risk(result.case.id)
        return service.get_case(result.case.id), result.tracking_token

    return build


def fresh_totp_code(app, email: str) -> str:
    """A code from the agent's authenticator app, as a test's phone would show it now.

    An agent not enrolled yet is enrolled first, as the enrolment page would. Tests sign the
    same agent in faster than once a TOTP step (30 s), which the replay rule refuses: the last
    step used is forgotten first. The replay tests themselves do not use this.
    """
    from workflow.service import second_factor

    now = second_factor.utcnow()  # the service's clock, which a test may have moved
    with app.app_context():
        agent = service.agent_by_email(email)
        if agent.totp_enabled_at is None:
            secret = service.enrolment_secret(agent.id)
            assert service.enable_second_factor(agent.id, pyotp.TOTP(secret).at(now))
            agent = service.agent_by_email(email)
        agent.totp_last_step = None
        db.session.commit()
        return pyotp.TOTP(agent.totp_secret).at(now)


def sign_in(client, email: str, password: str = STRONG_PASSWORD, path: str = "/agent/login",
            **form):
    """Sign an agent in through both steps of the form: the password, then a code from their
    app (enrolled first if need be). Returns the first answer that is not the way on to the
    second step."""
    with client.application.app_context():
        known = service.agent_by_email(email) is not None
    code = fresh_totp_code(client.application, email) if known else None
    first = client.post(path, data={"email": email, "password": password, **form})
    if first.status_code != 302 or not first.location.startswith("/agent/login/"):
        return first
    return client.post(first.location, data={"code": code, **form})


def csrf_token_in(page: str) -> str:
    """The CSRF token of the (first) form on a page."""
    return page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def csrf_sign_in(client, email: str, password: str = STRONG_PASSWORD):
    """Sign in through both steps with CSRF on, each form's token read from its page."""
    code = fresh_totp_code(client.application, email)
    token = csrf_token_in(client.get("/agent/login").get_data(as_text=True))
    first = client.post("/agent/login", data={"email": email, "password": password,
                                              "csrf_token": token})
    assert first.status_code == 302, first.status_code
    token = csrf_token_in(client.get(first.location).get_data(as_text=True))
    return client.post(first.location, data={"code": code, "csrf_token": token})


def browser_sign_in(page, live_server: str, app, email: str) -> None:
    """Sign in in a real browser. An agent not enrolled yet enrols on the way: the key is read
    off the enrolment page into an authenticator, as a person types it into their app."""
    page.goto(f"{live_server}/agent/login")
    page.fill("#email", email)
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    if "/agent/login/enrol" in page.url:
        secret = page.text_content("#totp-secret").replace(" ", "")
        page.fill("#code", pyotp.TOTP(secret).now())
        page.click("button[type=submit]")
        page.wait_for_selector("#recovery-codes")
        page.click("text=I have saved them")
    else:
        page.fill("#code", fresh_totp_code(app, email))
        page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/agent/**")


TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable_redis(url: str):
    """A connection to the Redis at ``url``; the test fails, saying why, when it does not answer."""
    import redis

    connection = redis.Redis.from_url(url)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as err:
        connection.close()
        pytest.fail(f"Redis is not reachable at {url}: {err}")
    return connection


@pytest.fixture
def redis_queue(app):
    """The app's RQ queue on the real Redis; every key of its queue is deleted afterwards."""
    import jobs.redis_queue

    connection = reachable_redis(app.config["REDIS_URL"])
    yield jobs.redis_queue.rq_queue(app)
    for key in connection.scan_iter(f"*{app.config['VERIFICATION_QUEUE']}*"):
        connection.delete(key)
