"""Inspections keep when they were cancelled (``inspections.cancelled_at``); the overdue
trend's past weeks are rolled up (``overdue_weeks``, ``overdue_week_totals``)

The dashboard's 12-week trend counts an inspection as overdue in the weeks before it was
cancelled; without the time it had to leave every cancelled inspection out of every week.

Existing cancelled inspections get the time of their latest ``cancel`` entry in the audit
log (each cancellation has been audited with the inspection's id as the entity key); those
with none (the demo's, rows imported from elsewhere) stay empty, and the trend leaves them
out as before.

A nullable column without a default: ``ALTER TABLE … ADD COLUMN`` on both backends, so
SQLite does not copy the table (batch mode would rewrite every inspection).

``overdue_weeks`` holds each past Sunday whose counts are rolled up (the claim one process
makes before computing it), ``overdue_week_totals`` the counts per grid: a cache, emptied
when past data changes (``dashboard.trend``) and filled again when next asked for.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        'inspections', sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE inspections SET cancelled_at = ("
        " SELECT max(audit_entries.at) FROM audit_entries"
        " WHERE audit_entries.entity_type = 'inspection'"
        " AND audit_entries.action = 'cancel'"
        " AND audit_entries.entity_key = CAST(inspections.id AS VARCHAR(100))"
        ") WHERE status = 'cancelled'"
    )
    op.create_table('overdue_weeks',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_overdue_weeks'))
    )
    op.create_table('overdue_week_totals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('inspections', sa.Integer(), nullable=False),
    sa.Column('hazards', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['day'], ['overdue_weeks.day'], name=op.f('fk_overdue_week_totals_day_overdue_weeks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_overdue_week_totals_grid_id_grids'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_overdue_week_totals'))
    )
    op.create_index(op.f('ix_overdue_week_totals_day'), 'overdue_week_totals', ['day'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_overdue_week_totals_day'), 'overdue_week_totals')
    op.drop_table('overdue_week_totals')
    op.drop_table('overdue_weeks')
    op.drop_column('inspections', 'cancelled_at')
