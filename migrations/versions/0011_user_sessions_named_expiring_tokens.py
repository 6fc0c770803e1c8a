"""Sessions that can be revoked, and API tokens with a name and an end

- ``user_sessions``: one row per sign-in. The session cookie and the remember-me cookie hold
  a random secret, the row its SHA-256; a sign-in counts while its row is neither revoked nor
  expired. Logging out revokes the row, a new password, a deactivation, a reactivation or a
  role change revoke all of the user's. Sessions signed in before this migration held
  "<id>:<version>" and have no row: everyone signs in once more after it.
- ``api_tokens.name`` (what its owner calls it) and ``api_tokens.expires_at``. Tokens issued
  before this migration never expired; they now expire 90 days after it (the default life
  of a new token), so programs keep working while their owners replace them.

SQLite adds the two columns in place (ALTER TABLE … ADD COLUMN: no copy of the table).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 12:00:00

"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

LEGACY_TOKEN_DAYS = 90


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_user_sessions_secret_hash'))
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)

    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('name', sa.String(length=100), nullable=False, server_default=''))
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))

    bind = op.get_bind()
    ends = datetime.now(UTC) + timedelta(days=LEGACY_TOKEN_DAYS)
    if bind.dialect.name == 'sqlite':
        ends = ends.replace(tzinfo=None)  # stored as naive UTC there (core.types.UTCDateTime)
    tokens = sa.table('api_tokens', sa.column('expires_at', sa.DateTime(timezone=True)))
    bind.execute(tokens.update().where(tokens.c.expires_at.is_(None)).values(expires_at=ends))


def downgrade():
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('expires_at')
        batch.drop_column('name')
    op.drop_index(op.f('ix_user_sessions_user_id'), 'user_sessions')
    op.drop_table('user_sessions')
