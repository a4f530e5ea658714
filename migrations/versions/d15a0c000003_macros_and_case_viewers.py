"""canned replies (macro) and who has a case open (case_viewer)

Revision ID: d15a0c000003
Revises: d15a0c000001
Create Date: 2026-12-06 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd15a0c000003'
down_revision = 'd15a0c000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('macro',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['agent.id'], ),
    sa.ForeignKeyConstraint(['updated_by_id'], ['agent.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('case_viewer',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['recovery_case.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'agent_id')
    )
    with op.batch_alter_table('case_viewer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_viewer_last_seen'), ['last_seen'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('case_viewer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_viewer_last_seen'))

    op.drop_table('case_viewer')
    op.drop_table('macro')
