"""tamper-evident audit trail: hash-chained audit records the database never changes or deletes

Revision ID: c5e1a0d4b2f2
Revises: c5e1a0d4b2f0
Create Date: 2026-12-06 08:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e1a0d4b2f2'
down_revision = 'c5e1a0d4b2f0'
branch_labels = None
depends_on = None

MESSAGE = 'audit record rows are append-only'
GUARDS = {
    'sqlite': [
        "CREATE TRIGGER audit_record_append_only BEFORE UPDATE ON audit_record "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
        "CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    ],
    'postgresql': [
        "CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$",
        "CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record "
        "FOR EACH ROW EXECUTE FUNCTION audit_record_append_only()",
    ],
}


def upgrade():
    op.create_table('audit_record',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_type', sa.String(length=20), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint("actor_type IN ('agent', 'system', 'user', 'owner', 'anonymous')",
                       name='audit_record_actor_type'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_record_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_record_created_at'), ['created_at'],
                              unique=False)
    for statement in GUARDS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_record_append_only ON audit_record")
        op.execute("DROP FUNCTION IF EXISTS audit_record_append_only()")
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_record_created_at'))
        batch_op.drop_index(batch_op.f('ix_audit_record_case_id'))

    op.drop_table('audit_record')
