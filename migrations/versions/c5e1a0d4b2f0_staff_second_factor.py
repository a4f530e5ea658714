"""Staff sign in with a second factor: TOTP secrets, recovery codes, failed sign-in back-off

Revision ID: c5e1a0d4b2f0
Revises: b7d41c0e9a10
Create Date: 2026-12-06 00:00:00.000000

Every agent enrols an authenticator app at their next sign-in.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e1a0d4b2f0'
down_revision = 'b7d41c0e9a10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agent', schema=None) as batch_op:
        # Encrypted like the evidence (AES-GCM, SealedColumn), with the id of its key.
        batch_op.add_column(sa.Column('totp_secret', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('totp_secret_key_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_agent_totp_secret_key_id'), ['totp_secret_key_id'],
                              unique=False)
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    op.create_table(
        'recovery_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_code_agent_id'), ['agent_id'], unique=False)
    op.create_table(
        'signin_failures',
        sa.Column('key', sa.String(length=320), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade():
    op.drop_table('signin_failures')
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_code_agent_id'))
    op.drop_table('recovery_code')
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild of the agent table would
    # drop it while cases and events still point at its rows.
    op.drop_index(op.f('ix_agent_totp_secret_key_id'), table_name='agent')
    for column in ('totp_last_step', 'totp_enabled_at', 'totp_secret_key_id', 'totp_secret'):
        op.drop_column('agent', column)
