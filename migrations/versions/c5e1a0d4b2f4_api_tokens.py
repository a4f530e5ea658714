"""API tokens of their own: named, expiring, revocable; agent.api_token_hash goes

Revision ID: c5e1a0d4b2f4
Revises: c5e1a0d4b2f3
Create Date: 2026-12-06 08:40:00.000000

Each agent's one token moves to the new table (named "Token from before expiry dates", no
prefix: the token itself was never stored), expiring API_TOKEN_TTL_DAYS after the upgrade.

SQLite cannot drop a UNIQUE column, so the agent table is rebuilt from what it holds now
(reflected: columns added by other revisions stay). Dropping it with its rows still referenced
by cases and events would break their foreign keys, so the checks are deferred to the commit
and the rows are put back into the new table under the same ids before it.

The downgrade gives each agent back the hash of its newest working token (none when it has
none) and drops the table; names, expiry dates and the other tokens are lost.
"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = 'c5e1a0d4b2f4'
down_revision = 'c5e1a0d4b2f3'
branch_labels = None
depends_on = None

MIGRATED_NAME = 'Token from before expiry dates'
DEFAULT_TTL_DAYS = 90


def _ttl_days() -> int:
    try:
        return int(current_app.config.get('API_TOKEN_TTL_DAYS', DEFAULT_TTL_DAYS))
    except RuntimeError:  # run outside the application
        return DEFAULT_TTL_DAYS


def upgrade():
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revoke_reason', sa.String(length=200), nullable=True),
    sa.Column('reveal', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], ),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['agent.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_agent_id'), ['agent_id'], unique=False)

    bind = op.get_bind()
    now = datetime.now(UTC)
    moment = sa.DateTime(timezone=True)
    tokens = sa.table('api_token', sa.column('agent_id'), sa.column('name'),
                      sa.column('token_hash'), sa.column('created_at', moment),
                      sa.column('expires_at', moment))
    held = bind.execute(sa.text(
        'SELECT id, api_token_hash FROM agent WHERE api_token_hash IS NOT NULL')).all()
    if held:
        bind.execute(sa.insert(tokens), [
            {'agent_id': agent_id, 'name': MIGRATED_NAME, 'token_hash': hashed,
             'created_at': now, 'expires_at': now + timedelta(days=_ttl_days())}
            for agent_id, hashed in held])

    if bind.dialect.name == 'sqlite':
        _rebuild_agent_without_token_sqlite(bind)
    else:
        op.drop_column('agent', 'api_token_hash')


def _rebuild_agent_without_token_sqlite(bind):
    # Checked at the commit instead of at the DROP; the rows are back by then.
    bind.execute(sa.text('PRAGMA defer_foreign_keys = ON'))
    old = sa.Table('agent', sa.MetaData(), autoload_with=bind)
    kept = [column for column in old.columns if column.name != 'api_token_hash']
    names = ', '.join(f'"{column.name}"' for column in kept)
    new = sa.Table(
        'agent', sa.MetaData(),
        *(column._copy() for column in kept),
        *(sa.CheckConstraint(check.sqltext, name=check.name) for check in old.constraints
          if isinstance(check, sa.CheckConstraint)),
        *(sa.UniqueConstraint(*unique.columns.keys(), name=unique.name)
          for unique in old.constraints if isinstance(unique, sa.UniqueConstraint)
          and 'api_token_hash' not in unique.columns.keys()),
        *(sa.Index(index.name, *index.columns.keys(), unique=index.unique)
          for index in old.indexes if 'api_token_hash' not in index.columns.keys()),
    )
    bind.execute(sa.text(f'CREATE TEMPORARY TABLE _agent_kept AS SELECT {names} FROM agent'))
    bind.execute(sa.text('DROP TABLE agent'))
    new.create(bind)
    bind.execute(sa.text(f'INSERT INTO agent ({names}) SELECT {names} FROM _agent_kept'))
    bind.execute(sa.text('DROP TABLE _agent_kept'))


def downgrade():
    bind = op.get_bind()
    op.add_column('agent', sa.Column('api_token_hash', sa.String(length=64), nullable=True))
    if bind.dialect.name == 'sqlite':  # ALTER TABLE cannot add a UNIQUE constraint there
        op.create_index('agent_api_token_hash_key', 'agent', ['api_token_hash'], unique=True)
    else:
        op.create_unique_constraint('agent_api_token_hash_key', 'agent', ['api_token_hash'])
    now = datetime.now(UTC)
    newest = bind.execute(sa.text(
        'SELECT agent_id, token_hash FROM api_token '
        'WHERE revoked_at IS NULL AND expires_at > :now ORDER BY created_at, id')
        .bindparams(sa.bindparam('now', type_=sa.DateTime(timezone=True))),
        {'now': now}).all()
    for agent_id, hashed in dict(newest).items():  # the last row of each agent is its newest
        bind.execute(sa.text('UPDATE agent SET api_token_hash = :hash WHERE id = :id'),
                     {'hash': hashed, 'id': agent_id})
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_agent_id'))
    op.drop_table('api_token')
