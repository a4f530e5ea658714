"""What support needs to know: device, app version, when it began, what was tried; screenshots

Revision ID: d15a0c000005
Revises: d15a0c000006
Create Date: 2026-12-06 12:00:00.000000

recovery_case gains the optional details a person gives with their request. Error
screenshots are evidence rows of their own kind; evidence gains the id of the user's message
a screenshot came with. Plain ADD COLUMN on both databases (nullable, no default: SQLite adds
them in place, no table is rebuilt).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd15a0c000005'
down_revision = 'd15a0c000006'
branch_labels = None
depends_on = None

CASE_COLUMNS = (
    ('device', sa.String(length=200)),
    ('app_version', sa.String(length=100)),
    ('began_on', sa.Date()),
    ('began_time', sa.Time()),
    ('tried_fixes', sa.JSON()),
    ('tried_other', sa.Text()),
)


def upgrade():
    for name, type_ in CASE_COLUMNS:
        op.add_column('recovery_case', sa.Column(name, type_, nullable=True))
    op.add_column('evidence', sa.Column('message_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_evidence_message_id'), 'evidence', ['message_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_evidence_message_id'), table_name='evidence')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite 3.35+ drops a column in place: a copy of the table (batch mode) is refused
        # by the rows that refer to cases and evidence.
        op.execute('ALTER TABLE evidence DROP COLUMN message_id')
        for name, _ in reversed(CASE_COLUMNS):
            op.execute(f'ALTER TABLE recovery_case DROP COLUMN {name}')
        return
    op.drop_column('evidence', 'message_id')
    for name, _ in reversed(CASE_COLUMNS):
        op.drop_column('recovery_case', name)
