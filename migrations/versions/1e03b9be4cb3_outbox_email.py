"""email outbox: notifications written with their cause, sent after the commit

Revision ID: 1e03b9be4cb3
Revises: 4f0c2d7a9b31
Create Date: 2026-12-02 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1e03b9be4cb3'
down_revision = '4f0c2d7a9b31'
branch_labels = None
depends_on = None

UNSENT = sa.text("sent_at IS NULL")


def upgrade():
    op.create_table('outbox_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['recovery_case.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_email_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_outbox_email_unsent', ['next_attempt_at'], unique=False,
                              postgresql_where=UNSENT, sqlite_where=UNSENT)


def downgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_email_unsent', postgresql_where=UNSENT,
                            sqlite_where=UNSENT)
        batch_op.drop_index(batch_op.f('ix_outbox_email_case_id'))

    op.drop_table('outbox_email')
