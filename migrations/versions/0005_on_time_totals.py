"""On-time totals per past due date

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('on_time_days',
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('due_on', name=op.f('pk_on_time_days'))
    )
    op.create_table('on_time_totals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('contractor_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('counted', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contractor_id'], ['contractors.id'], name=op.f('fk_on_time_totals_contractor_id_contractors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['due_on'], ['on_time_days.due_on'], name=op.f('fk_on_time_totals_due_on_on_time_days'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_on_time_totals_grid_id_grids'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_on_time_totals'))
    )
    op.create_index(op.f('ix_on_time_totals_due_on'), 'on_time_totals', ['due_on'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_on_time_totals_due_on'), 'on_time_totals')
    op.drop_table('on_time_totals')
    op.drop_table('on_time_days')
