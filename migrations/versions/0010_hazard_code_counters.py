"""Hazard codes from a counter per year

``hazard_code_counters`` holds the last number given in each year (``HZ-<year>-<number>``);
a report takes the next with one atomic ``UPDATE … SET last = last + 1 … RETURNING``, so
concurrent reports no longer collide on "highest + 1". Seeded here from the hazards there
are: each year's highest number.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 04:00:00

"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

CODE = re.compile(r'HZ-(\d+)-(\d+)')


def upgrade():
    counters = op.create_table(
        'hazard_code_counters',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_hazard_code_counters')),
    )
    highest: dict[int, int] = {}
    for (code,) in op.get_bind().execute(sa.text('SELECT code FROM hazards')):
        match = CODE.fullmatch(code or '')
        if match:
            year, number = int(match[1]), int(match[2])
            highest[year] = max(highest.get(year, 0), number)
    if highest:
        op.bulk_insert(
            counters, [{'year': year, 'last': last} for year, last in sorted(highest.items())]
        )


def downgrade():
    op.drop_table('hazard_code_counters')
