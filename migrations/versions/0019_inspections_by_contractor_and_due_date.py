"""A contractor's inspections indexed in the lists' order: contractor, due date, then id

A contractor's unfiltered inspection list (the API's, ``/inspections/?sort=due`` and
``-due``: every status, ``ORDER BY due_on, id``) had only ``ix_inspections_due_on_id`` to
give its order: PostgreSQL walked it and dropped every other company's inspection. At 10M
inspections the biggest contractor's first page and its capped count read 435,000 rows
(1.5 s); with this index they read their own.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 20:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_inspections_contractor_due_on_id', 'inspections', ['contractor_id', 'due_on', 'id']
    )


def downgrade():
    op.drop_index('ix_inspections_contractor_due_on_id', 'inspections')
