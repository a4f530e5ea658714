"""The language a recovery request was filed in: its emails to the requester use it

Revision ID: d15a0c000007
Revises: d15a0c000003
Create Date: 2026-12-06 12:00:00.000000

Cases filed before languages were offered were filed in English.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd15a0c000007'
down_revision = 'd15a0c000003'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN with a server default: no table rebuild on SQLite.
    op.add_column('recovery_case', sa.Column('language', sa.String(length=8), nullable=False,
                                             server_default='en'))


def downgrade():
    # SQLite (3.35 and later) drops a plain column in place: no rebuild of a table that other
    # tables' rows point at.
    op.drop_column('recovery_case', 'language')
