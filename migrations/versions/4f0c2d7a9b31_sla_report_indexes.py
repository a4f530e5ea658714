"""SLA queue and report: open cases' due times, resolution days, late next updates

Revision ID: 4f0c2d7a9b31
Revises: 9cd25cb9e6ce
Create Date: 2026-12-01 20:15:00.000000

Run `flask sla-recompute` after upgrading: it fills ``next_update_breaches`` from each
case's log (the column starts at 0).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4f0c2d7a9b31'
down_revision = '9cd25cb9e6ce'
branch_labels = None
depends_on = None

OPEN = sa.text("state <> 'resolved'")


def upgrade():
    with op.batch_alter_table('case_sla', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_update_breaches', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.create_index('ix_case_sla_open_due', ['next_due_at'], unique=False,
                              postgresql_where=OPEN, sqlite_where=OPEN)
    with op.batch_alter_table('recovery_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_case_resolved_at'), ['resolved_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('recovery_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_case_resolved_at'))
    with op.batch_alter_table('case_sla', schema=None) as batch_op:
        batch_op.drop_index('ix_case_sla_open_due', postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.drop_column('next_update_breaches')
