"""Requests for the tracking links of an email address, queued until the tick sends them;
the self-help guides' answers, counted per issue type, outcome and day

Revision ID: d15a0c000006
Revises: d15a0c000004
Create Date: 2026-12-06 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd15a0c000006'
down_revision = 'd15a0c000004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tracking_link_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('locale', sa.String(length=16), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'self_help_answer',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('issue_type', sa.String(length=40), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'issue_type', 'outcome'),
    )


def downgrade():
    op.drop_table('self_help_answer')
    op.drop_table('tracking_link_request')
