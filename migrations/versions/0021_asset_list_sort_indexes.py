"""Assets indexed in the asset list's sorts: name, kind, status, installation date

``/assets/`` and its export sort by code (the unique index's order), name, kind, status,
grid or installation date, either way. Every sort but the code's sorted every asset the user
may see for one page of 50: 1.15 s at 1M assets on PostGIS for an officer, by name. Each of
these indexes holds one sort's order (``assets.views.ordering``: ``lower(name)``, ties by
code; the installation date's empty values last), so a page reads its own rows. A
descending sort reads its index backwards, but the installation date's: its empty values
stay last both ways, so it has an index of its own. The grid's sort orders by another
table's column and is left as it was.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 22:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_assets_name_code', 'assets', [sa.text('lower(name)'), 'code'])
    op.create_index('ix_assets_kind_code', 'assets', ['kind', 'code'])
    op.create_index('ix_assets_status_code', 'assets', ['status', 'code'])
    op.create_index(
        'ix_assets_installed_on_code',
        'assets',
        [sa.text('(installed_on IS NULL)'), 'installed_on', 'code'],
    )
    op.create_index(
        'ix_assets_installed_on_desc_code',
        'assets',
        [sa.text('(installed_on IS NULL)'), sa.text('installed_on DESC'), 'code'],
    )


def downgrade():
    op.drop_index('ix_assets_installed_on_desc_code', 'assets')
    op.drop_index('ix_assets_installed_on_code', 'assets')
    op.drop_index('ix_assets_status_code', 'assets')
    op.drop_index('ix_assets_kind_code', 'assets')
    op.drop_index('ix_assets_name_code', 'assets')
