"""Recovery actions can be cancelled (the owner of record stopped the recovery)

Revision ID: b7d41c0e9a10
Revises: a13f0e1a2b01
Create Date: 2026-12-06 06:30:00.000000

The status check of recovery_action takes 'cancelled', and the sweep's partial index covers
only the actions that may still run. SQLite cannot alter a CHECK constraint: the table is
rebuilt (batch mode), and dropping the old table would set every reset link's action_id to
NULL (ON DELETE SET NULL), so those references are kept and written back.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d41c0e9a10'
down_revision = 'a13f0e1a2b01'
branch_labels = None
depends_on = None

NAME = 'recovery_action_status'
WITH_CANCELLED = "status IN ('pending', 'running', 'done', 'failed', 'cancelled')"
WITHOUT = "status IN ('pending', 'running', 'done', 'failed')"
INDEX = 'ix_recovery_action_open'
OPEN = "status IN ('pending', 'running', 'failed')"
NOT_DONE = "status <> 'done'"


def _index(where):
    op.create_index(INDEX, 'recovery_action', ['status', 'next_attempt_at'], unique=False,
                    postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def _replace_check(condition):
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.drop_constraint(NAME, 'recovery_action', type_='check')
        op.create_check_constraint(NAME, 'recovery_action', condition)
        return
    links = bind.execute(sa.text(
        'SELECT id, action_id FROM reset_link WHERE action_id IS NOT NULL')).all()
    with op.batch_alter_table('recovery_action', recreate='always') as batch_op:
        batch_op.drop_constraint(NAME, type_='check')
        batch_op.create_check_constraint(NAME, condition)
    for link_id, action_id in links:
        bind.execute(sa.text('UPDATE reset_link SET action_id = :action WHERE id = :id'),
                     {'action': action_id, 'id': link_id})


def upgrade():
    _replace_check(WITH_CANCELLED)
    op.drop_index(INDEX, table_name='recovery_action')
    _index(OPEN)


def downgrade():
    # The old schema has no word for a step the owner stopped: "failed" would let an agent's
    # Retry perform it. Refused while there are any.
    cancelled = op.get_bind().scalar(sa.text(
        "SELECT count(*) FROM recovery_action WHERE status = 'cancelled'"))
    if cancelled:
        raise RuntimeError(f"{cancelled} recovery action(s) were cancelled by their owner's "
                           "stop; the schema before this revision cannot hold them. Delete "
                           "them (or their cases) first if the downgrade is really wanted.")
    op.drop_index(INDEX, table_name='recovery_action')
    _index(NOT_DONE)
    _replace_check(WITHOUT)
