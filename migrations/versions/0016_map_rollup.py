"""The map's roll-up: assets counted per cell of a few fixed grids (``maps.rollup``)

Zoomed-out views of a large registry read these cells instead of every asset. No geometry:
the same plain tables on SpatiaLite and PostGIS. Empty until the first refresh (``flask maps
rollup`` or the scheduler's job); until then every view is answered live.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 12:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('map_cells',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('grid_key', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('column', sa.BigInteger(), nullable=False),
    sa.Column('row', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('sum_lon', sa.Float(), nullable=False),
    sa.Column('sum_lat', sa.Float(), nullable=False),
    sa.Column('west', sa.Float(), nullable=False),
    sa.Column('south', sa.Float(), nullable=False),
    sa.Column('east', sa.Float(), nullable=False),
    sa.Column('north', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_map_cells'))
    )
    op.create_index('ix_map_cells_level_kind_grid', 'map_cells',
                    ['level', 'kind', 'grid_key', 'column', 'row'])
    op.create_table('map_rollups',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('data_version', sa.BigInteger(), nullable=True),
    sa.Column('built_for', sa.Date(), nullable=True),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assets', sa.Integer(), nullable=False),
    sa.Column('cells', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_map_rollups'))
    )


def downgrade():
    op.drop_table('map_rollups')
    op.drop_index('ix_map_cells_level_kind_grid', 'map_cells')
    op.drop_table('map_cells')
