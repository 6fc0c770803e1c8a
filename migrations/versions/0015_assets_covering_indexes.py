"""Assets indexed for the dashboard's counts at province size

The dashboard counts assets by grid, kind and status, and overdue inspections by their
asset's grid. At 100k assets each read the whole assets table (45 MB at 100k rows); these
two indexes let PostgreSQL answer from an index alone (index-only scans). The composite
(grid_id, kind, status) also serves every lookup by grid, so it replaces ix_assets_grid_id.

Revision ID: 0015
Revises: 0012
Create Date: 2026-11-30 08:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_assets_grid_kind_status', 'assets', ['grid_id', 'kind', 'status'])
    op.create_index('ix_assets_id_grid', 'assets', ['id', 'grid_id'])
    op.drop_index('ix_assets_grid_id', 'assets')


def downgrade():
    op.create_index('ix_assets_grid_id', 'assets', ['grid_id'])
    op.drop_index('ix_assets_id_grid', 'assets')
    op.drop_index('ix_assets_grid_kind_status', 'assets')
