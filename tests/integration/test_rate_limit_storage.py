"""The database store of the rate limits: atomic counts, windows that end, ended rows deleted."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from limits.storage import storage_from_string

import rate_limits
from app import create_app
from extensions import db
from rate_limits import DatabaseStorage, rate_limit_counter, refusal, storage_uri
from tests.conftest import make_config


class Clock:
    """A stand-in for the ``time`` module whose wall clock the test moves."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now
        self.ticks = 0.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        self.ticks += 1.0
        return self.ticks


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(rate_limits, "time", fake)
    return fake


def keys() -> set[str]:
    return set(db.session.scalars(sa.select(rate_limit_counter.c.key_name)))


def test_the_scheme_names_the_database_store(app):
    assert isinstance(storage_from_string("database://"), DatabaseStorage)


@pytest.mark.parametrize(("config", "expected"), [
    ({}, "database://"),
    ({"REDIS_URL": "redis://cache:6379/2"}, "redis://cache:6379/2"),
    ({"REDIS_URL": "redis://cache:6379/2", "RATELIMIT_STORAGE_URI": "database://"},
     "database://"),
    ({"RATELIMIT_STORAGE_URI": "memory://"}, "memory://"),
])
def test_where_the_limits_count(config, expected):
    assert storage_uri(config) == expected


def test_hits_are_counted_once_each_under_contention(app):
    """Eight threads counting on one key see every count from 1 to 200 exactly once."""
    storage = DatabaseStorage(cleanup_seconds=0)
    start = threading.Barrier(8)

    def count(_):
        with app.app_context():
            start.wait()
            return [storage.incr("LIMITER/10.0.0.1/submission/9/1/hour", 3600)
                    for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        seen = sorted(n for batch in pool.map(count, range(8)) for n in batch)
    assert seen == list(range(1, 201))
    assert storage.get("LIMITER/10.0.0.1/submission/9/1/hour") == 200


def test_a_window_ends_and_the_next_starts_from_one(app, clock):
    storage = DatabaseStorage()
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.get_expiry("k") == clock.now + 60
    clock.now += 59.5
    assert storage.incr("k", 60, amount=2) == 5
    clock.now += 0.5
    assert storage.get("k") == 0 and storage.get_expiry("k") == clock.now
    assert storage.incr("k", 60) == 1
    assert storage.get_expiry("k") == clock.now + 60


def test_counters_of_ended_windows_are_deleted(app, clock):
    storage = DatabaseStorage(cleanup_seconds=0)
    storage.incr("minute", 60)
    storage.incr("hour", 3600)
    clock.now += 61
    storage.incr("other", 60)
    assert keys() == {"hour", "other"}


def test_clean_up_waits_its_interval(app, clock):
    storage = DatabaseStorage(cleanup_seconds=300)
    storage.incr("minute", 60)  # the first count cleans up, then not for 300 ticks
    clock.now += 61
    storage.incr("other", 60)
    assert keys() == {"minute", "other"}
    clock.ticks += 300
    storage.incr("other", 60)
    assert keys() == {"other"}


def test_clear_reset_and_check(app):
    storage = DatabaseStorage()
    storage.incr("a", 60)
    storage.incr("b", 60)
    storage.clear("a")
    assert storage.get("a") == 0 and storage.get("b") == 1
    assert storage.reset() == 1 and keys() == set()
    assert storage.check() is True


def test_memory_counts_are_refused_in_production(tmp_path):
    config = make_config(f"sqlite:///{tmp_path / 'x.sqlite'}", ENV_NAME="production",
                         RATELIMIT_STORAGE_URI="memory://")
    with pytest.raises(RuntimeError, match="counts in each process on its own"):
        create_app(config)
    config["ENV_NAME"] = "development"
    assert create_app(config).config["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.parametrize(("config", "message"), [
    ({"SQLALCHEMY_DATABASE_URI": "mysql://desk@db/desk"}, "only on SQLite or PostgreSQL"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite://", "ENV_NAME": "production",
      "RATELIMIT_STORAGE_URI": "memory://"}, "under gunicorn -w N every limit would allow N"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite://", "RATELIMIT_STRATEGY": "moving-window"},
     "in fixed windows only, not moving-window"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite://", "RATELIMIT_STRATEGY": "moving-window",
      "REDIS_URL": "redis://cache"}, None),
    ({"SQLALCHEMY_DATABASE_URI": "mysql://desk@db/desk", "REDIS_URL": "redis://cache"}, None),
    ({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://desk@db/desk"}, None),
])
def test_stores_the_processes_would_not_share_are_refused(config, message):
    found = refusal(config)
    assert found == message if message is None else message in found
