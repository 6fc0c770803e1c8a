"""Hazards indexed in the hazard list's order

The list shows the overdue hazards, then the other unverified ones, then the verified ones,
each by deadline then code (hazards.services.overdue_first_parts). A partial index of the
unverified hazards by (deadline, code) gives the first two parts in order, and
(status, deadline, code) the verified ones, so a page reads its own rows instead of sorting
every hazard. The latter also serves every lookup ix_hazards_status_deadline served, so it
replaces it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 12:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

UNVERIFIED = sa.text("status != 'verified'")


def upgrade():
    op.create_index(
        'ix_hazards_open_deadline_code',
        'hazards',
        ['deadline', 'code'],
        postgresql_where=UNVERIFIED,
        sqlite_where=UNVERIFIED,
    )
    op.create_index('ix_hazards_status_deadline_code', 'hazards', ['status', 'deadline', 'code'])
    op.drop_index('ix_hazards_status_deadline', 'hazards')


def downgrade():
    op.create_index('ix_hazards_status_deadline', 'hazards', ['status', 'deadline'])
    op.drop_index('ix_hazards_status_deadline_code', 'hazards')
    op.drop_index('ix_hazards_open_deadline_code', 'hazards')
