"""recent account activity (deposits, purchases) that a recovery request may describe

Revision ID: a13f0e1a2b03
Revises: c3f9a1d27e54
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a13f0e1a2b03'
down_revision = 'c3f9a1d27e54'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.Numeric(precision=38, scale=18), nullable=False),
    sa.Column('asset', sa.String(length=20), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('deposit', 'purchase')", name='account_activity_kind'),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('account_activity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_activity_account_id'), ['account_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_account_activity_occurred_at'), ['occurred_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('account_activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_activity_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_account_activity_account_id'))

    op.drop_table('account_activity')
