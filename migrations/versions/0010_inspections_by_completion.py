"""Inspections indexed by completion time (the dashboard's overdue trend)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 02:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_inspections_completed_at', 'inspections', ['completed_at'])


def downgrade():
    op.drop_index('ix_inspections_completed_at', 'inspections')
