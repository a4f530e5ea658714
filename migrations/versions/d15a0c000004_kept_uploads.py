"""Photos of the request form kept across a validation error

Revision ID: d15a0c000004
Revises: d15a0c000007
Create Date: 2026-12-06 12:00:00.000000

A photo that passed the intake gate is kept, encrypted like the evidence, against the form's
token and the browser session that sent it, for a short while (KEPT_UPLOAD_SECONDS): the
form comes back after an error without asking for it again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd15a0c000004'
down_revision = 'd15a0c000007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'kept_upload',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('holder', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('mime_type', sa.String(length=32), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('data_key_id', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('holder', 'kind'),
    )
    op.create_index(op.f('ix_kept_upload_data_key_id'), 'kept_upload', ['data_key_id'])
    op.create_index(op.f('ix_kept_upload_expires_at'), 'kept_upload', ['expires_at'])


def downgrade():
    op.drop_index(op.f('ix_kept_upload_expires_at'), table_name='kept_upload')
    op.drop_index(op.f('ix_kept_upload_data_key_id'), table_name='kept_upload')
    op.drop_table('kept_upload')
