"""append-only case events: the database refuses updates of the audit trail

Revision ID: 2b7e1c9d4a10
Revises: ccf0bda4569e
Create Date: 2026-11-22 02:10:00

"""
from alembic import op

revision = '2b7e1c9d4a10'
down_revision = 'ccf0bda4569e'
branch_labels = None
depends_on = None


STATEMENTS = {
    "sqlite": [
        "CREATE TRIGGER case_event_append_only BEFORE UPDATE ON case_event "
        "BEGIN SELECT RAISE(ABORT, 'case event rows are append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION case_event_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'case event rows are append-only'; END $$",
        "CREATE TRIGGER case_event_append_only BEFORE UPDATE ON case_event "
        "FOR EACH ROW EXECUTE FUNCTION case_event_append_only()",
    ],
}


def upgrade():
    for statement in STATEMENTS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_event_append_only ON case_event")
        op.execute("DROP FUNCTION IF EXISTS case_event_append_only()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS case_event_append_only")
