"""recovery actions planned on approval, reset links and the local directory's account fields

Revision ID: a13f0e1a2b02
Revises: a13f0e1a2b03
Create Date: 2026-12-06 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'a13f0e1a2b02'
down_revision = 'a13f0e1a2b03'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frozen', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('password_hash', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(timezone=True),
                                      nullable=True))

    op.create_table('recovery_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('adapter', sa.String(length=20), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')",
                       name='recovery_action_status'),
    sa.ForeignKeyConstraint(['case_id'], ['recovery_case.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'position', name='uq_recovery_action_case_position'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('recovery_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_action_case_id'), ['case_id'],
                              unique=False)
        batch_op.create_index('ix_recovery_action_open', ['status', 'next_attempt_at'],
                              unique=False, postgresql_where=sa.text("status <> 'done'"),
                              sqlite_where=sa.text("status <> 'done'"))

    op.create_table('reset_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('second_factor_removed', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['action_id'], ['recovery_action.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('reset_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reset_link_account_id'), ['account_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_reset_link_action_id'), ['action_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('reset_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reset_link_action_id'))
        batch_op.drop_index(batch_op.f('ix_reset_link_account_id'))
    op.drop_table('reset_link')
    with op.batch_alter_table('recovery_action', schema=None) as batch_op:
        batch_op.drop_index('ix_recovery_action_open', postgresql_where=sa.text("status <> 'done'"),
                            sqlite_where=sa.text("status <> 'done'"))
        batch_op.drop_index(batch_op.f('ix_recovery_action_case_id'))
    op.drop_table('recovery_action')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('password_hash')
        batch_op.drop_column('frozen')
