"""Configuration from the environment: production refuses to start without a secret."""

import json

import pytest

from app import create_app
from config import normalise_database_url
from tests.conftest import TEST_KEYS, make_config


def test_production_needs_a_secret_key(monkeypatch):
    monkeypatch.setenv("RECOVERY_ENV_NAME", "production")
    monkeypatch.delenv("RECOVERY_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app()


def test_production_has_no_demo_data_unless_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("RECOVERY_ENV_NAME", "production")
    monkeypatch.setenv("RECOVERY_SECRET_KEY", "s3cret")
    monkeypatch.setenv("RECOVERY_ENCRYPTION_KEYS", json.dumps(TEST_KEYS))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.sqlite'}")
    monkeypatch.delenv("RECOVERY_DEMO", raising=False)
    assert create_app().config["DEMO"] is False
    monkeypatch.setenv("RECOVERY_DEMO", "1")
    assert create_app().config["DEMO"] is True


@pytest.mark.parametrize("url,expected", [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_urls_use_the_installed_driver(url, expected):
    assert normalise_database_url(url) == expected


def test_demo_chosen_in_the_instance_config_counts(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from app import _demo_chosen

    monkeypatch.delenv("RECOVERY_DEMO", raising=False)
    fake = SimpleNamespace(instance_path=str(tmp_path))
    assert _demo_chosen(fake) is False
    (tmp_path / "config.py").write_text("DEMO = True\n")
    assert _demo_chosen(fake) is True


@pytest.mark.parametrize(("settings", "message"), [
    ({"SLA_REPORT_WORK_MEM": "64 MB"}, "SLA report settings are not valid"),
    ({"SLA_REPORT_WORK_MEM": "999999GB"}, "SLA report settings are not valid"),
    ({"SLA_POLICIES": {"default": {"calendar": "24x7", "first_response": "1h"}}},
     "SLA settings are not valid: policy 'default': no target for next_update, resolution"),
    ({"SLA_REPORT_STATEMENTS": 0}, "SLA_REPORT_STATEMENTS must be a whole number from 1 to 8"),
    ({"SLA_REPORT_STATEMENTS": "2"}, "SLA_REPORT_STATEMENTS must be a whole number from 1 to 8"),
    ({"VERIFICATION_QUEUE": "desk:eu"}, "VERIFICATION_QUEUE must be 1-100 letters"),
    ({"VERIFICATION_QUEUE": ""}, "VERIFICATION_QUEUE must be 1-100 letters"),
])
def test_bad_settings_stop_the_start_not_a_request(tmp_path, settings, message):
    with pytest.raises(RuntimeError, match=message):
        create_app(make_config(f"sqlite:///{tmp_path / 'x.sqlite'}", **settings))
