"""Data versions (``core.versions``): the map's answers are revalidated by ETag on a number
that every committed write to assets, inspections, hazards or grids moves.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 07:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    # No row yet: a missing row reads as version 0 and the first write creates it (an empty
    # database stays empty, as ``backup restore`` requires).
    op.create_table('data_versions',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_data_versions'))
    )


def downgrade():
    op.drop_table('data_versions')
