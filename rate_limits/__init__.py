"""Rate limits that every process of a desk shares: Redis when configured, else the database.

Flask-Limiter counts through a `limits` storage named by RATELIMIT_STORAGE_URI. Its own
``memory://`` counts inside one process, so under ``gunicorn -w 4`` every limit would allow four
times its number. ``database://`` (registered here) keeps the counters in the desk's own
database, which every process of the desk already shares.
"""

import hashlib
import logging
import sqlite3
import time
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app, request
from limits.storage import Storage
from sqlalchemy.dialects import postgresql, sqlite

from extensions import db, limiter

log = logging.getLogger(__name__)

# One row per limit, client and window: Flask-Limiter's key, the hits counted so far and the
# end of the window (seconds since the epoch).
rate_limit_counter = sa.Table(
    "rate_limit_counter", db.metadata,
    sa.Column("key_name", sa.Text, primary_key=True),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)

# The dialects whose INSERT takes ON CONFLICT ... DO UPDATE ... RETURNING, the one statement
# that counts a hit atomically however many processes count at once.
UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
SQLITE_UPSERT_RETURNING = (3, 35, 0)

# Counters of windows that ended are deleted by the process that counts a hit at most this
# often: the table holds about one row per client and limit of the longest window (an hour),
# never the history of every window.
CLEANUP_SECONDS = 300.0

SCOPE_SUBMISSION = "submission"
SCOPE_SUBMISSION_EMAIL = "submission-email"
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
SCOPE_TRACKING_TOKEN = "tracking-token"
SCOPE_TRACKING_LINK = "tracking-link"
SCOPE_TRACKING_LINK_EMAIL = "tracking-link-email"


class DatabaseStorage(Storage):
    """Fixed-window counters in the desk's database (SQLite or PostgreSQL), one row a key."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 cleanup_seconds: float = CLEANUP_SECONDS, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.cleanup_seconds = float(cleanup_seconds)
        self._next_cleanup = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return sa.exc.SQLAlchemyError

    @staticmethod
    def _engine() -> sa.Engine:
        # The application's own engine and pool: a counter costs no connection of its own,
        # and it is never part of the request's transaction.
        return db.engine

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Count ``amount`` hits on ``key``, starting a window of ``expiry`` s if none runs."""
        now = time.time()
        engine = self._engine()
        table = rate_limit_counter
        insert = UPSERTS[engine.dialect.name](table).values(
            key_name=key, hits=amount, expires_at=now + expiry)
        ended = table.c.expires_at <= now
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.key_name],
            set_={"hits": sa.case((ended, insert.excluded.hits),
                                  else_=table.c.hits + insert.excluded.hits),
                  "expires_at": sa.case((ended, insert.excluded.expires_at),
                                        else_=table.c.expires_at)},
        ).returning(table.c.hits)
        with engine.begin() as conn:
            hits = conn.execute(upsert).scalar_one()
        self._clean_up(engine, now)
        return hits

    def _clean_up(self, engine: sa.Engine, now: float) -> None:
        """Delete the counters of ended windows, at most every ``cleanup_seconds`` per process."""
        if time.monotonic() < self._next_cleanup:
            return
        self._next_cleanup = time.monotonic() + self.cleanup_seconds
        try:
            with engine.begin() as conn:
                conn.execute(sa.delete(rate_limit_counter)
                             .where(rate_limit_counter.c.expires_at <= now))
        except sa.exc.OperationalError:
            # Another process cleaning up at the same moment (a lock or a deadlock victim):
            # the hit is already counted, and the next clean-up deletes what is left.
            log.warning("rate limit clean-up skipped", exc_info=True)

    def _live(self, column: sa.Column, key: str):
        now = time.time()
        with self._engine().connect() as conn:
            return conn.scalar(sa.select(column).where(rate_limit_counter.c.key_name == key,
                                                       rate_limit_counter.c.expires_at > now))

    def get(self, key: str) -> int:
        """Hits counted on ``key`` in its running window (0 when none runs)."""
        return self._live(rate_limit_counter.c.hits, key) or 0

    def get_expiry(self, key: str) -> float:
        """When the running window of ``key`` ends (now when none runs)."""
        return self._live(rate_limit_counter.c.expires_at, key) or time.time()

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with self._engine().connect() as conn:
                conn.execute(sa.select(1))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Delete every counter."""
        with self._engine().begin() as conn:
            return conn.execute(sa.delete(rate_limit_counter)).rowcount

    def clear(self, key: str) -> None:
        """Delete the counter of ``key``."""
        with self._engine().begin() as conn:
            conn.execute(sa.delete(rate_limit_counter)
                         .where(rate_limit_counter.c.key_name == key))


def storage_uri(config) -> str:
    """Where the limits count: the setting when given, else Redis when configured, else the
    desk's database."""
    return config.get("RATELIMIT_STORAGE_URI") or config.get("REDIS_URL") or "database://"


def refusal(config) -> str | None:
    """Why the desk cannot count its limits where ``config`` says, or None."""
    scheme = urlsplit(storage_uri(config)).scheme
    if scheme == "memory" and config.get("ENV_NAME") == "production":
        return ("RATELIMIT_STORAGE_URI is memory://, which counts in each process on its own: "
                "under gunicorn -w N every limit would allow N times its number. Leave it unset "
                "to count in the desk's database, or set REDIS_URL.")
    if scheme != "database":
        return None
    backend = sa.engine.make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    if backend not in UPSERTS:
        return (f"Rate limits count in the database only on SQLite or PostgreSQL, not "
                f"{backend}: set REDIS_URL or RATELIMIT_STORAGE_URI.")
    strategy = config.get("RATELIMIT_STRATEGY") or "fixed-window"
    if strategy != "fixed-window":
        return (f"Rate limits count in the database in fixed windows only, not {strategy}: "
                f"leave RATELIMIT_STRATEGY unset or set REDIS_URL.")
    if backend == "sqlite" and sqlite3.sqlite_version_info < SQLITE_UPSERT_RETURNING:
        return (f"Rate limits count in the database with INSERT ... RETURNING, which needs "
                f"SQLite 3.35 or later; this Python has {sqlite3.sqlite_version}. Use a newer "
                f"Python or set REDIS_URL.")
    return None


def init_app(app: Flask) -> None:
    """Choose the limits' store at start-up and refuse one that processes would not share."""
    why = refusal(app.config)
    if why:
        raise RuntimeError(why)
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri(app.config)
    limiter.init_app(app)


def submission_rate() -> str:
    """RATELIMIT_SUBMISSION: new requests (and other uploads) per client address."""
    return current_app.config["RATELIMIT_SUBMISSION"]


def submission_email_rate() -> str:
    """RATELIMIT_SUBMISSION_PER_EMAIL: new requests per email address, from any address."""
    return current_app.config["RATELIMIT_SUBMISSION_PER_EMAIL"]


def _submitted_email() -> str:
    """The email address a new request is for (the form's and the API's field), normalised."""
    value = request.form.get("email", "") if request.mimetype in _FORM_TYPES else ""
    return value.strip().lower()[:254]


def _email_key() -> str:
    # Counters are keyed by a digest: the limits' store never holds the address itself.
    return "email:" + hashlib.sha256(_submitted_email().encode()).hexdigest()[:32]


def tracking_token_rate() -> str:
    """RATELIMIT_STATUS: look-ups of cases by tracking token per client address."""
    return current_app.config["RATELIMIT_STATUS"]


# One budget per client address for new requests, whether they come through the form or the
# API; and one for everything that looks a case up by its tracking token.
submission_limit = limiter.shared_limit(submission_rate, scope=SCOPE_SUBMISSION,
                                        methods=["POST"])
tracking_token_limit = limiter.shared_limit(tracking_token_rate, scope=SCOPE_TRACKING_TOKEN)
# And one per email address, wherever the requests come from: many addresses filing for one
# person's account (a botnet, or someone with a proxy list) still meet a limit.
submission_email_limit = limiter.shared_limit(
    submission_email_rate, scope=SCOPE_SUBMISSION_EMAIL, key_func=_email_key, methods=["POST"],
    exempt_when=lambda: not _submitted_email(),
    error_message=lambda: f"{submission_email_rate()} for one email address")


def tracking_link_rate() -> str:
    """RATELIMIT_TRACKING_LINK: asks to email the tracking links, per client address."""
    return current_app.config["RATELIMIT_TRACKING_LINK"]


def tracking_link_email_rate() -> str:
    """RATELIMIT_TRACKING_LINK_PER_EMAIL: asks about one email address, from any address."""
    return current_app.config["RATELIMIT_TRACKING_LINK_PER_EMAIL"]


# "Email me my tracking link": per client address, and per email address asked about (keyed
# by its digest), whether or not any request matches it.
tracking_link_limit = limiter.shared_limit(tracking_link_rate, scope=SCOPE_TRACKING_LINK,
                                           methods=["POST"])
tracking_link_email_limit = limiter.shared_limit(
    tracking_link_email_rate, scope=SCOPE_TRACKING_LINK_EMAIL, key_func=_email_key,
    methods=["POST"], exempt_when=lambda: not _submitted_email())
