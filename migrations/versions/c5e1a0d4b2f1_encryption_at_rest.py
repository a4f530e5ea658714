"""Evidence photos and face encodings encrypted at rest: a key id on each value

Revision ID: c5e1a0d4b2f1
Revises: c5e1a0d4b2f4
Create Date: 2026-12-06 08:30:00.000000

Each encrypted column gets the id of the key that sealed its value (NULL: in the clear, as
every value written before this revision is; `flask rotate-key` encrypts those), indexed for
rotate-key's "not on the current key" query and the start-up check's key ids in use. The
encryption_key table keeps a check value per key id (service.keys). The append-only readings
let rotate-key rewrite their encrypted value and its key id, and nothing else. Downgrading is
refused while any value is encrypted: the old schema would read ciphertext as a photo.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e1a0d4b2f1'
down_revision = 'c5e1a0d4b2f4'
branch_labels = None
depends_on = None

# (table, encrypted column)
SEALED = [('account', 'reference_portrait'), ('evidence', 'data'),
          ('document_reading', 'portrait_encoding'), ('selfie_reading', 'encoding')]
APPEND_ONLY = {'document_reading': 'portrait_encoding', 'selfie_reading': 'encoding'}


def _drop_trigger(table):
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON {table}')
    else:
        op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only')


def _create_trigger(table, columns=None):
    """The append-only trigger of ``table``, guarding ``columns`` (None: the whole row)."""
    message = f"{table.replace('_', ' ')} rows are append-only"
    of = f" OF {', '.join(columns)}" if columns else ''
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger '
                   f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$")
        op.execute(f'CREATE TRIGGER {table}_append_only BEFORE UPDATE{of} ON {table} '
                   f'FOR EACH ROW EXECUTE FUNCTION {table}_append_only()')
    else:
        op.execute(f'CREATE TRIGGER {table}_append_only BEFORE UPDATE{of} ON {table} '
                   f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def upgrade():
    op.create_table(
        'encryption_key',
        sa.Column('key_id', sa.String(length=32), nullable=False),
        sa.Column('check_value', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key_id'),
    )
    for table, column in SEALED:
        op.add_column(table, sa.Column(f'{column}_key_id', sa.String(length=32), nullable=True))
        op.create_index(f'ix_{table}_{column}_key_id', table, [f'{column}_key_id'],
                        unique=False)
    inspector = sa.inspect(op.get_bind())
    for table, column in APPEND_ONLY.items():
        rewritable = {column, f'{column}_key_id'}
        guarded = [c['name'] for c in inspector.get_columns(table) if c['name'] not in rewritable]
        _drop_trigger(table)
        _create_trigger(table, guarded)


def downgrade():
    bind = op.get_bind()
    for table, column in SEALED:
        sealed = bind.scalar(sa.text(
            f'SELECT count(*) FROM {table} WHERE {column}_key_id IS NOT NULL'))
        if sealed:
            raise RuntimeError(
                f'{sealed} values of {table}.{column} are encrypted; the schema before '
                'encryption cannot hold them.')
    for table in APPEND_ONLY:
        _drop_trigger(table)
    for table, column in reversed(SEALED):
        op.drop_index(f'ix_{table}_{column}_key_id', table_name=table)
        if bind.dialect.name == 'sqlite':
            # Natively (SQLite 3.35+): batch mode would rebuild the table, and dropping the
            # old account table would reach every row referring to it.
            op.execute(f'ALTER TABLE {table} DROP COLUMN {column}_key_id')
        else:
            op.drop_column(table, f'{column}_key_id')
    for table in APPEND_ONLY:
        _create_trigger(table)
    op.drop_table('encryption_key')
