"""The Alembic migrations build exactly the schema the models describe."""

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from extensions import db
from tests.conftest import PG_URL, make_config


@pytest.fixture
def empty_database(tmp_path):
    """A database with no tables: a new SQLite file, or a new PostgreSQL database."""
    if PG_URL is None:
        yield f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        return
    name = f"recovery_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
