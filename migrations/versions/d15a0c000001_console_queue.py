"""The console's queue: search keys, duplicates, saved views

Revision ID: d15a0c000001
Revises: c5e1a0d4b2f1
Create Date: 2026-12-06 12:00:00.000000

recovery_case.name_key is the requester's name as the search compares it (case-folded,
spaces collapsed; filled here from full_name in batches, by the same rule as the model's
name_key(), so names outside ASCII and with odd spacing are found too), indexed for prefix searches (varchar_pattern_ops on PostgreSQL, so
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
    _fill_name_keys()
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


def _name_key(name):
    # The model's name_key() as of this revision (a migration does not import the models).
    return " ".join(name.casefold().split())[:200] if name is not None else None


def _fill_name_keys(batch=1000):
    connection = op.get_bind()
    case = sa.table('recovery_case', sa.column('id', sa.Integer),
                    sa.column('full_name', sa.String), sa.column('name_key', sa.String))
    last = 0
    while True:
        rows = connection.execute(sa.select(case.c.id, case.c.full_name)
                                  .where(case.c.id > last).order_by(case.c.id)
                                  .limit(batch)).all()
        if not rows:
            return
        connection.execute(case.update().where(case.c.id == sa.bindparam('row_id'))
                           .values(name_key=sa.bindparam('key')),
                           [{'row_id': row.id, 'key': _name_key(row.full_name)} for row in rows])
        last = rows[-1].id


def downgrade():
    op.drop_index('ix_saved_view_agent_id', table_name='saved_view')
    op.drop_table('saved_view')
    op.drop_index('ix_document_reading_number', table_name='document_reading')
    op.drop_index('ix_recovery_case_name_key', table_name='recovery_case')
    op.drop_column('recovery_case', 'duplicate_of_id')
    op.drop_column('recovery_case', 'name_key')
