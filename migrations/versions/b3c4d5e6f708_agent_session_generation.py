"""Agents carry a session generation: raising it ends every console session of the agent

Revision ID: b3c4d5e6f708
Revises: 5a8d3e61c7f2
Create Date: 2026-12-02 00:00:00.000000

Sessions signed in before this revision stored the bare agent id; they no longer load, so
every agent signs in again once after the upgrade.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3c4d5e6f708'
down_revision = '5a8d3e61c7f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
