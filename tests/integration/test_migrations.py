"""The Alembic migrations build exactly the schema the models describe."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from extensions import db
from tests.conftest import make_config, new_database


@pytest.fixture
def empty_database(tmp_path):
    """A database with no tables: a new SQLite file, or a new PostgreSQL database."""
    with new_database(tmp_path, "recovery_migrations") as url:
        yield url


def test_upgrade_matches_models_and_downgrade_empties(empty_database):
    app = create_app(make_config(empty_database))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
        downgrade(revision="base")
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        db.session.remove()
        db.engine.dispose()


def test_bootstrap_creates_schema_and_demo_data_once(empty_database):
    app = create_app(make_config(empty_database, DEMO=True))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["bootstrap"])
    assert first.exit_code == 0, first.output
    assert "admin@demo.test" in first.output and "password:" in first.output
    with app.app_context():
        cases = db.session.scalar(sa.text("SELECT count(*) FROM recovery_case"))
    again = runner.invoke(args=["bootstrap"])
    assert again.exit_code == 0, again.output
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM recovery_case")) == cases > 0
        db.session.remove()
        db.engine.dispose()


def test_bootstrap_without_demo_explains_how_to_create_an_admin(empty_database):
    app = create_app(make_config(empty_database, DEMO=False))
    result = app.test_cli_runner().invoke(args=["bootstrap"])
    assert result.exit_code == 0, result.output
    assert "create-agent" in result.output and "demo.test" not in result.output
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM recovery_case")) == 0
        db.session.remove()
        db.engine.dispose()


def test_the_sla_report_columns_are_copied_from_existing_cases(empty_database):
    """Upgrading a desk with cases fills the SLA rows' copies of the case columns."""
    from datetime import UTC, date, datetime

    from workflow.models import RecoveryCase

    app = create_app(make_config(empty_database))
    filed = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
    with app.app_context():
        upgrade(revision="1e03b9be4cb3")  # the schema before the copies
        old_agent = sa.table("agent", *(sa.column(name) for name in (
            "id", "email", "name", "role", "password_hash", "api_token_hash", "active",
            "created_at")))
        db.session.execute(sa.insert(old_agent).values(
            id=7, email="sam@example.test", name="Sam", role="agent", password_hash="x",
            api_token_hash="y", active=True, created_at=filed))
        db.session.execute(sa.insert(RecoveryCase.__table__).values(
            id=1, email="anna@example.test", full_name="Anna", date_of_birth=date(1974, 8, 12),
            issue_type="lost_2fa", priority="high", consent_at=filed, tracking_token_hash="t",
            created_at=filed, updated_at=filed, assignee_id=7))
        old_sla = sa.table("case_sla", *(sa.column(name) for name in (
            "case_id", "policy", "calendar", "first_response_target", "next_update_target",
            "resolution_target", "id_check_seconds", "selfie_check_seconds",
            "escalated_seconds", "awaiting_user_seconds", "state", "state_since", "paused")))
        db.session.execute(sa.insert(old_sla).values(
            case_id=1, policy="default", calendar="24x7", first_response_target=1.0,
            next_update_target=1.0, resolution_target=1.0, id_check_seconds=0.0,
            selfie_check_seconds=0.0, escalated_seconds=0.0, awaiting_user_seconds=0.0,
            state="submitted", state_since=filed, paused=False))
        db.session.commit()
        upgrade()
        row = db.session.execute(sa.text(
            "SELECT filed_at, issue_type, priority, assignee_id FROM case_sla")).one()
        assert tuple(row[1:]) == ("lost_2fa", "high", 7)
        filed_at = row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(row[0])
        assert filed_at.replace(tzinfo=filed_at.tzinfo or UTC) == filed
        db.session.remove()
        db.engine.dispose()


def test_cancelled_actions_keep_their_reset_links_through_the_upgrade(empty_database):
    """The status check of recovery actions takes 'cancelled'; rebuilding the table on SQLite
    keeps the reset links' references to their actions."""
    from datetime import UTC, date, datetime

    from workflow.models import Account, RecoveryAction, RecoveryCase, ResetLink

    app = create_app(make_config(empty_database))
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with app.app_context():
        upgrade(revision="a13f0e1a2b01")  # before cancelled actions
        db.session.execute(sa.insert(Account.__table__).values(
            id=1, email="anna@example.test", full_name="Anna", date_of_birth=date(1974, 8, 12),
            two_factor_enabled=True, locked=False, frozen=False, created_at=now))
        db.session.execute(sa.insert(RecoveryCase.__table__).values(
            id=1, account_id=1, email="anna@example.test", full_name="Anna",
            date_of_birth=date(1974, 8, 12), issue_type="forgot_password", priority="normal",
            consent_at=now, tracking_token_hash="t", created_at=now, updated_at=now,
            state="resolved", resolution="approved", resolved_at=now))
        db.session.execute(sa.insert(RecoveryAction.__table__).values(
            id=5, case_id=1, position=1, kind="reset_link", adapter="local",
            idempotency_key="k", status="done", attempts=1, due_at=now, result={},
            created_at=now, done_at=now))
        db.session.execute(sa.insert(ResetLink.__table__).values(
            id=3, account_id=1, action_id=5, token_hash="h", second_factor_removed=False,
            expires_at=now, created_at=now))
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.text("UPDATE recovery_action SET status = 'cancelled'"))
        db.session.rollback()
        upgrade()
        assert db.session.scalar(sa.text("SELECT action_id FROM reset_link WHERE id = 3")) == 5
        db.session.execute(sa.text("UPDATE recovery_action SET status = 'cancelled'"))
        db.session.commit()
        # A step the owner stopped has no place in the old schema: refused, nothing changed.
        with pytest.raises(SystemExit):  # Flask-Migrate logs the RuntimeError and exits 1
            downgrade(revision="a13f0e1a2b01")
        db.session.rollback()
        db.session.execute(sa.text("UPDATE recovery_action SET status = 'done'"))
        db.session.commit()
        downgrade(revision="a13f0e1a2b01")
        assert db.session.scalar(sa.text("SELECT action_id FROM reset_link WHERE id = 3")) == 5
        db.session.remove()
        db.engine.dispose()


def test_an_agents_token_moves_to_the_token_table_and_back(empty_database):
    """Upgrading carries each agent's token over, expiring API_TOKEN_TTL_DAYS later, with the
    agent's cases still pointing at it; downgrading gives the agent its token back."""
    from datetime import UTC, date, datetime, timedelta

    from workflow import service
    from workflow.models import RecoveryCase, token_hash

    app = create_app(make_config(empty_database, API_TOKEN_TTL_DAYS=30))
    filed = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    with app.app_context():
        upgrade(revision="b7d41c0e9a10")  # agents hold one token each
        old_agent = sa.table("agent", *(sa.column(name) for name in (
            "id", "email", "name", "role", "password_hash", "api_token_hash", "active",
            "created_at", "session_generation")))
        db.session.execute(sa.insert(old_agent), [
            {"id": 7, "email": "sam@example.test", "name": "Sam", "role": "agent",
             "password_hash": "x", "api_token_hash": token_hash("sams-token"), "active": True,
             "created_at": filed, "session_generation": 3},
            {"id": 8, "email": "kim@example.test", "name": "Kim", "role": "admin",
             "password_hash": "x", "api_token_hash": None, "active": True,
             "created_at": filed, "session_generation": 0}])
        db.session.execute(sa.insert(RecoveryCase.__table__).values(
            id=1, email="anna@example.test", full_name="Anna", date_of_birth=date(1974, 8, 12),
            issue_type="lost_2fa", priority="high", consent_at=filed, tracking_token_hash="t",
            created_at=filed, updated_at=filed, assignee_id=7))
        db.session.commit()
        before = datetime.now(UTC)
        upgrade()
        after = datetime.now(UTC)

        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("agent")}
        assert "api_token_hash" not in columns
        rows = db.session.execute(sa.text(
            "SELECT agent_id, name, token_hash, prefix FROM api_token")).all()
        assert [tuple(r) for r in rows] == [
            (7, "Token from before expiry dates", token_hash("sams-token"), None)]
        agent = service.agent_for_token("sams-token")
        assert (agent.id, agent.email, agent.session_generation) == (7, "sam@example.test", 3)
        token = service.tokens_of(7)[0]
        assert before + timedelta(days=30) <= token.expires_at <= after + timedelta(days=30)
        assert db.session.scalar(sa.text("SELECT assignee_id FROM recovery_case")) == 7
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(sa.text("PRAGMA foreign_key_check")).all() == []
        # The rebuilt table keeps its constraints: one email, known roles.
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.text(
                "INSERT INTO agent (email, name, role, password_hash, active, created_at, "
                "session_generation) VALUES ('sam@example.test', 'S', 'agent', 'x', true, "
                "'2026-01-01', 0)"))
        db.session.rollback()
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.text("UPDATE agent SET role = 'king' WHERE id = 7"))
        db.session.rollback()
        db.session.remove()

        downgrade(revision="b7d41c0e9a10")
        held = dict(db.session.execute(sa.text("SELECT id, api_token_hash FROM agent")).all())
        assert held == {7: token_hash("sams-token"), 8: None}
        with pytest.raises(sa.exc.IntegrityError):  # still one agent per token
            db.session.execute(sa.text("UPDATE agent SET api_token_hash = :h WHERE id = 8"),
                               {"h": token_hash("sams-token")})
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
