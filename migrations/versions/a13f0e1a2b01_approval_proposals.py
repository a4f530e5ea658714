"""Cases carry the standing proposal to approve them (four eyes)

Revision ID: a13f0e1a2b01
Revises: a13f0e1a2b02
Create Date: 2026-12-10 00:00:00.000000

Who proposed approving the case, when, why, and the photo attempt and risk level the proposal
was made on: new photos or another risk level withdraw it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a13f0e1a2b01'
down_revision = 'a13f0e1a2b02'
branch_labels = None
depends_on = None


def upgrade():
    # SQLite adds the foreign key with its column (a copy of the table, which batch mode would
    # make, is refused by the rows that refer to cases); PostgreSQL adds it as a constraint.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE recovery_case ADD COLUMN proposal_agent_id INTEGER '
                   'REFERENCES agent (id)')
    else:
        op.add_column('recovery_case', sa.Column('proposal_agent_id', sa.Integer(),
                                                 nullable=True))
        op.create_foreign_key('fk_recovery_case_proposal_agent_id_agent', 'recovery_case',
                              'agent', ['proposal_agent_id'], ['id'])
    with op.batch_alter_table('recovery_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposal_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('proposal_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('proposal_attempt', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('proposal_risk', sa.String(length=10), nullable=True))


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('fk_recovery_case_proposal_agent_id_agent', 'recovery_case',
                           type_='foreignkey')
    with op.batch_alter_table('recovery_case', schema=None) as batch_op:
        batch_op.drop_column('proposal_risk')
        batch_op.drop_column('proposal_attempt')
        batch_op.drop_column('proposal_reason')
        batch_op.drop_column('proposal_at')
        batch_op.drop_column('proposal_agent_id')
