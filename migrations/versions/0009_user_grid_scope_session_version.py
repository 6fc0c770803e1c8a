"""Users: an officer's grid scope, and a session version that ends a user's sessions

- ``users.grid_id`` (nullable, a grid): the grid an officer's weekly email, dashboard, map
  and lists are about; none is the whole district, as before.
- ``users.session_version`` (default 1): part of every session's id, changed by a password
  reset or a deactivation. Existing users get 1, and sessions signed in before this
  migration (which hold the bare id) count as version 1, so nobody is signed out by it.

SQLite changes the table by copying it (Alembic's batch mode), with foreign keys off while
it does (SQLite's own procedure for changing a table): with them on, dropping the old
``users`` would first delete its rows, and the deletion would take every API token with it
(ON DELETE CASCADE) and clear the audit trail's user ids.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00

"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


@contextmanager
def foreign_keys_off():
    """SQLite: foreign keys off while the table is copied, checked after, and on again;
    each pragma outside any transaction (inside one SQLite ignores it), and read back."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        yield
        return
    set_foreign_keys(bind, 'OFF')
    try:
        yield
        problems = bind.exec_driver_sql('PRAGMA foreign_key_check').fetchall()
        if problems:
            raise RuntimeError(f'foreign keys broken by the migration: {problems}')
    finally:
        set_foreign_keys(bind, 'ON')


def set_foreign_keys(bind, value):
    with op.get_context().autocommit_block():
        bind.exec_driver_sql(f'PRAGMA foreign_keys = {value}')
        if bind.exec_driver_sql('PRAGMA foreign_keys').scalar() != (value == 'ON'):
            raise RuntimeError(f'SQLite did not turn foreign keys {value}')


def upgrade():
    with foreign_keys_off(), op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('grid_id', sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column('session_version', sa.Integer(), nullable=False, server_default='1')
        )
        batch.create_foreign_key(
            op.f('fk_users_grid_id_grids'), 'grids', ['grid_id'], ['id']
        )
        batch.create_index(op.f('ix_users_grid_id'), ['grid_id'], unique=False)


def downgrade():
    with foreign_keys_off(), op.batch_alter_table('users') as batch:
        batch.drop_index(op.f('ix_users_grid_id'))
        batch.drop_constraint(op.f('fk_users_grid_id_grids'), type_='foreignkey')
        batch.drop_column('session_version')
        batch.drop_column('grid_id')
