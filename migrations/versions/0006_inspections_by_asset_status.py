"""Inspections indexed by asset, status and due date

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_inspections_asset_status_due', 'inspections', ['asset_id', 'status', 'due_on']
    )
    op.drop_index('ix_inspections_asset_id', 'inspections')


def downgrade():
    op.create_index('ix_inspections_asset_id', 'inspections', ['asset_id'])
    op.drop_index('ix_inspections_asset_status_due', 'inspections')
