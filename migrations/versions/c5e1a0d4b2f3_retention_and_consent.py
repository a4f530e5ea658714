"""Retention and consent: purge and erasure marks, the consent's version and digest

Revision ID: c5e1a0d4b2f3
Revises: c5e1a0d4b2f2
Create Date: 2026-12-06 08:30:00.000000

recovery_case gains purged_at and erased_at, and the version and SHA-256 of the consent text
agreed to; cases filed before hold version "1", the only text the form and the API had. A
check result's details may now be rewritten (the purge keeps their impersonal part): the
database still refuses an update of any other column of verification_check.
"""
import hashlib

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e1a0d4b2f3'
down_revision = 'c5e1a0d4b2f2'
branch_labels = None
depends_on = None

CONSENT_V1 = ("I agree that my ID and selfie are processed to verify my identity for this "
              "request.")
FIXED = ('id', 'case_id', 'attempt', 'check', 'result', 'reason_code', 'score', 'threshold',
         'engine', 'engine_version', 'actor_agent_id', 'created_at')
MESSAGE = 'verification check rows are append-only'


def _trigger(columns):
    """The append-only trigger of verification_check: any update, or one setting ``columns``."""
    dialect = op.get_bind().dialect.name
    of = ('OF ' + ', '.join(f'"{c}"' for c in columns) + ' ') if columns else ''
    if dialect == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS verification_check_append_only')
        op.execute(f'CREATE TRIGGER verification_check_append_only BEFORE UPDATE {of}'
                   f"ON verification_check BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
    elif dialect == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS verification_check_append_only ON verification_check')
        op.execute(f'CREATE TRIGGER verification_check_append_only BEFORE UPDATE {of}'
                   'ON verification_check '
                   'FOR EACH ROW EXECUTE FUNCTION verification_check_append_only()')


def upgrade():
    # Plain ADD COLUMN on both databases (nullable, no default: SQLite adds them in place).
    op.add_column('recovery_case', sa.Column('consent_version', sa.String(length=20),
                                             nullable=True))
    op.add_column('recovery_case', sa.Column('consent_sha256', sa.String(length=64),
                                             nullable=True))
    op.add_column('recovery_case', sa.Column('purged_at', sa.DateTime(timezone=True),
                                             nullable=True))
    op.add_column('recovery_case', sa.Column('erased_at', sa.DateTime(timezone=True),
                                             nullable=True))
    op.get_bind().execute(
        sa.text('UPDATE recovery_case SET consent_version = :version, consent_sha256 = :digest '
                'WHERE consent_version IS NULL'),
        {'version': '1', 'digest': hashlib.sha256(CONSENT_V1.encode('utf-8')).hexdigest()})
    _trigger(FIXED)


ADDED = ('erased_at', 'purged_at', 'consent_sha256', 'consent_version')


def downgrade():
    _trigger(None)
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite 3.35+ drops a column in place: a copy of the table (batch mode) is refused
        # by the rows that refer to cases.
        for column in ADDED:
            op.execute(f'ALTER TABLE recovery_case DROP COLUMN {column}')
        return
    for column in ADDED:
        op.drop_column('recovery_case', column)
