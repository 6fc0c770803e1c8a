"""The dashboard's snapshot: the staff dashboard's numbers counted in advance (``dashboard.snapshot``)

A large registry's staff dashboard reads its numbers from these rows (one for the whole
district, one per first-level grid) instead of counting millions of rows per request. Plain
columns and JSON, the same on SpatiaLite and PostGIS. Empty until the first build (``flask
dashboard snapshot`` or the scheduler's job); until then every dashboard is counted live.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 16:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dashboard_snapshots',
    sa.Column('grid', sa.String(length=40), nullable=False),
    sa.Column('data_version', sa.BigInteger(), nullable=True),
    sa.Column('built_for', sa.Date(), nullable=True),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('inspections', sa.BigInteger(), nullable=False),
    sa.Column('numbers', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('grid', name=op.f('pk_dashboard_snapshots'))
    )


def downgrade():
    op.drop_table('dashboard_snapshots')
