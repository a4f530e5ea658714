"""The console's queue: search keys, duplicates, saved views

Revision ID: d15a0c000001
Revises: c5e1a0d4b2f1
Create Date: 2026-12-06 12:00:00.000000

recovery_case.name_key is the requester's name as the search compares it (case-folded,
spaces collapsed; filled here from full_name, lower-cased: what Python's casefold gives for
the names seen so far), indexed for prefix searches (varchar_pattern_ops on PostgreSQL, so
LIKE 'ann%' walks it whatever the database's collation). document_reading gets an index on
the number alone. recovery_case.duplicate_of_id names the case a duplicate repeats.
saved_view holds each agent's named searches.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd15a0c000001'
down_revision = 'c5e1a0d4b2f1'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('recovery_case', sa.Column('name_key', sa.String(length=200), nullable=True))
    op.add_column('recovery_case', sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
    op.execute("UPDATE recovery_case SET name_key = lower(full_name)")
    op.create_index('ix_recovery_case_name_key', 'recovery_case', ['name_key'], unique=False,
                    postgresql_ops={'name_key': 'varchar_pattern_ops'})
    op.create_index('ix_document_reading_number', 'document_reading', ['document_number'],
                    unique=False)
    op.create_table('saved_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('query', sa.String(length=600), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('agent_id', 'name', name='uq_saved_view_agent_name')
    )
    op.create_index('ix_saved_view_agent_id', 'saved_view', ['agent_id'], unique=False)


def downgrade():
    op.drop_index('ix_saved_view_agent_id', table_name='saved_view')
    op.drop_table('saved_view')
    op.drop_index('ix_document_reading_number', table_name='document_reading')
    op.drop_index('ix_recovery_case_name_key', table_name='recovery_case')
    op.drop_column('recovery_case', 'duplicate_of_id')
    op.drop_column('recovery_case', 'name_key')
