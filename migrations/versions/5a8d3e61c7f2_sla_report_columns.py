"""SLA rows keep copies of the case columns the report reads: filing time, issue type,
priority, assignee (the report then reads case_sla alone)

Revision ID: 5a8d3e61c7f2
Revises: 1e03b9be4cb3
Create Date: 2026-12-01 23:00:00.000000

The copies are filled from recovery_case here, in one statement; after that every flush that
touches a case keeps them in step (workflow.service._keep_sla_in_step).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5a8d3e61c7f2'
down_revision = '1e03b9be4cb3'
branch_labels = None
depends_on = None

COPIES = (("filed_at", "created_at"), ("issue_type", "issue_type"),
          ("priority", "priority"), ("assignee_id", "assignee_id"))


def upgrade():
    with op.batch_alter_table('case_sla', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('issue_type', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('priority', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
    sets = ", ".join(
        f"{copy} = (SELECT recovery_case.{column} FROM recovery_case "
        f"WHERE recovery_case.id = case_sla.case_id)" for copy, column in COPIES)
    op.execute(f"UPDATE case_sla SET {sets}")
    with op.batch_alter_table('case_sla', schema=None) as batch_op:
        batch_op.alter_column('filed_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column('issue_type', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('priority', existing_type=sa.String(length=10), nullable=False)
        batch_op.create_index(batch_op.f('ix_case_sla_filed_at'), ['filed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('case_sla', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_sla_filed_at'))
        batch_op.drop_column('assignee_id')
        batch_op.drop_column('priority')
        batch_op.drop_column('issue_type')
        batch_op.drop_column('filed_at')
