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


def upgrade():
    from workflow.models import APPEND_ONLY_DDL

    for statement in APPEND_ONLY_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_event_append_only ON case_event")
        op.execute("DROP FUNCTION IF EXISTS case_event_append_only()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS case_event_append_only")
