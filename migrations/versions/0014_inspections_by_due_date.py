"""Inspections indexed by due date and id: the unfiltered lists' order

``/inspections/?sort=due`` (and ``-due``, read backwards), the API's inspection list, the
calendar feeds and the exports list inspections ``ORDER BY due_on, id``. With no filter
nothing narrowed the rows first: PostgreSQL read and sorted the whole table for a page of 50
(a parallel sequential scan, 204-256 ms at 1M inspections). This index gives the order, so a
page reads its own rows and stops.

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-30 08:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_inspections_due_on_id', 'inspections', ['due_on', 'id'])


def downgrade():
    op.drop_index('ix_inspections_due_on_id', 'inspections')
