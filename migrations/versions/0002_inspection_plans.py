"""Inspection plans and inspections

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inspection_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('contractor_id', sa.Integer(), nullable=False),
    sa.Column('asset_kind', sa.String(length=40), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('asset_codes', sa.JSON(), nullable=True),
    sa.Column('cadence_unit', sa.String(length=10), nullable=False),
    sa.Column('cadence_every', sa.Integer(), nullable=False),
    sa.Column('start_on', sa.Date(), nullable=False),
    sa.Column('end_on', sa.Date(), nullable=True),
    sa.Column('checklist', sa.JSON(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("cadence_unit IN ('day', 'week', 'month', 'quarter', 'year')", name=op.f('ck_inspection_plans_cadence_unit')),
    sa.CheckConstraint('cadence_every >= 1', name=op.f('ck_inspection_plans_cadence_every')),
    sa.CheckConstraint('end_on IS NULL OR end_on >= start_on', name=op.f('ck_inspection_plans_end_after_start')),
    sa.ForeignKeyConstraint(['contractor_id'], ['contractors.id'], name=op.f('fk_inspection_plans_contractor_id_contractors'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_inspection_plans_grid_id_grids')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_plans'))
    )
    op.create_index(op.f('ix_inspection_plans_contractor_id'), 'inspection_plans', ['contractor_id'], unique=False)
    op.create_index(op.f('ix_inspection_plans_grid_id'), 'inspection_plans', ['grid_id'], unique=False)

    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('contractor_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('inspector_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.String(length=10), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'completed', 'cancelled')", name=op.f('ck_inspections_status')),
    sa.CheckConstraint("result IS NULL OR result IN ('pass', 'fail')", name=op.f('ck_inspections_result')),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_inspections_asset_id_assets')),
    sa.ForeignKeyConstraint(['contractor_id'], ['contractors.id'], name=op.f('fk_inspections_contractor_id_contractors'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['inspector_id'], ['users.id'], name=op.f('fk_inspections_inspector_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['inspection_plans.id'], name=op.f('fk_inspections_plan_id_inspection_plans'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections')),
    sa.UniqueConstraint('plan_id', 'asset_id', 'due_on', name=op.f('uq_inspections_plan_id_asset_id_due_on'))
    )
    op.create_index(op.f('ix_inspections_asset_id'), 'inspections', ['asset_id'], unique=False)
    op.create_index('ix_inspections_contractor_status_due', 'inspections', ['contractor_id', 'status', 'due_on'], unique=False)
    op.create_index(op.f('ix_inspections_inspector_id'), 'inspections', ['inspector_id'], unique=False)
    op.create_index('ix_inspections_status_due', 'inspections', ['status', 'due_on'], unique=False)


def downgrade():
    op.drop_index('ix_inspections_status_due', 'inspections')
    op.drop_index(op.f('ix_inspections_inspector_id'), 'inspections')
    op.drop_index('ix_inspections_contractor_status_due', 'inspections')
    op.drop_index(op.f('ix_inspections_asset_id'), 'inspections')
    op.drop_table('inspections')
    op.drop_index(op.f('ix_inspection_plans_grid_id'), 'inspection_plans')
    op.drop_index(op.f('ix_inspection_plans_contractor_id'), 'inspection_plans')
    op.drop_table('inspection_plans')
