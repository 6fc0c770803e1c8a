"""Inspection results, hazards, photos and calendar feeds

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:00:00

"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contractor_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contractor_id'], ['contractors.id'], name=op.f('fk_calendar_feeds_contractor_id_contractors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_calendar_feeds_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash'))
    )
    op.create_index(op.f('ix_calendar_feeds_contractor_id'), 'calendar_feeds', ['contractor_id'], unique=False)

    op.create_geospatial_table('hazards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('inspection_id', sa.Integer(), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('found_on', sa.Date(), nullable=False),
    sa.Column('found_by_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_contractor_id', sa.Integer(), nullable=True),
    sa.Column('responsible_company_id', sa.Integer(), nullable=True),
    sa.Column('responsible_contractor_id', sa.Integer(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IN ('flying_wire_charging', 'ebike_in_corridor', 'ebike_in_lift', 'extinguisher_missing', 'extinguisher_expired', 'charger_fault', 'blocker_fault', 'blocked_exit', 'other')", name=op.f('ck_hazards_category')),
    sa.CheckConstraint("severity IN ('general', 'major')", name=op.f('ck_hazards_severity')),
    sa.CheckConstraint("status IN ('open', 'rectifying', 'rectified', 'verified')", name=op.f('ck_hazards_status')),
    sa.CheckConstraint('deadline >= found_on', name=op.f('ck_hazards_deadline_after_found')),
    sa.CheckConstraint('responsible_company_id IS NULL OR responsible_contractor_id IS NULL', name=op.f('ck_hazards_one_responsible_party')),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_hazards_asset_id_assets')),
    sa.ForeignKeyConstraint(['found_by_id'], ['users.id'], name=op.f('fk_hazards_found_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_hazards_grid_id_grids')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_hazards_inspection_id_inspections'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reported_by_contractor_id'], ['contractors.id'], name=op.f('fk_hazards_reported_by_contractor_id_contractors'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['responsible_company_id'], ['property_companies.id'], name=op.f('fk_hazards_responsible_company_id_property_companies')),
    sa.ForeignKeyConstraint(['responsible_contractor_id'], ['contractors.id'], name=op.f('fk_hazards_responsible_contractor_id_contractors'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_hazards_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazards')),
    sa.UniqueConstraint('code', name=op.f('uq_hazards_code'))
    )
    op.create_geospatial_index('idx_hazards_location', 'hazards', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_hazards_asset_id'), 'hazards', ['asset_id'], unique=False)
    op.create_index(op.f('ix_hazards_grid_id'), 'hazards', ['grid_id'], unique=False)
    op.create_index(op.f('ix_hazards_inspection_id'), 'hazards', ['inspection_id'], unique=False)
    op.create_index(op.f('ix_hazards_reported_by_contractor_id'), 'hazards', ['reported_by_contractor_id'], unique=False)
    op.create_index(op.f('ix_hazards_responsible_company_id'), 'hazards', ['responsible_company_id'], unique=False)
    op.create_index(op.f('ix_hazards_responsible_contractor_id'), 'hazards', ['responsible_contractor_id'], unique=False)
    op.create_index(op.f('ix_hazards_site_id'), 'hazards', ['site_id'], unique=False)
    op.create_index('ix_hazards_status_deadline', 'hazards', ['status', 'deadline'], unique=False)

    op.create_table('hazard_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_hazard_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_hazard_events_hazard_id_hazards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_events'))
    )
    op.create_index(op.f('ix_hazard_events_hazard_id'), 'hazard_events', ['hazard_id'], unique=False)

    op.create_table('photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=80), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=True),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=10), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("stage IS NULL OR stage IN ('before', 'after')", name=op.f('ck_photos_stage')),
    sa.CheckConstraint('(inspection_id IS NULL) <> (hazard_id IS NULL)', name=op.f('ck_photos_one_owner')),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_photos_hazard_id_hazards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_photos_inspection_id_inspections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_photos_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photos')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_photos_stored_name'))
    )
    op.create_index(op.f('ix_photos_hazard_id'), 'photos', ['hazard_id'], unique=False)
    op.create_index(op.f('ix_photos_inspection_id'), 'photos', ['inspection_id'], unique=False)

    op.add_column('inspections', sa.Column('stood_longitude', sa.Float(), nullable=True))
    op.add_column('inspections', sa.Column('stood_latitude', sa.Float(), nullable=True))
    op.add_column('inspections', sa.Column('stood_accuracy_m', sa.Float(), nullable=True))
    op.add_column('inspections', sa.Column('distance_m', sa.Float(), nullable=True))
    op.add_column('inspections', sa.Column('flagged', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('inspections', sa.Column('logged_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('inspections', sa.Column('cancelled_reason', sa.Text(), nullable=True))



def downgrade():
    op.drop_column('inspections', 'cancelled_reason')
    op.drop_column('inspections', 'logged_at')
    op.drop_column('inspections', 'flagged')
    op.drop_column('inspections', 'distance_m')
    op.drop_column('inspections', 'stood_accuracy_m')
    op.drop_column('inspections', 'stood_latitude')
    op.drop_column('inspections', 'stood_longitude')

    op.drop_index(op.f('ix_photos_inspection_id'), 'photos')
    op.drop_index(op.f('ix_photos_hazard_id'), 'photos')

    op.drop_table('photos')
    op.drop_index(op.f('ix_hazard_events_hazard_id'), 'hazard_events')

    op.drop_table('hazard_events')
    op.drop_index('ix_hazards_status_deadline', 'hazards')
    op.drop_index(op.f('ix_hazards_site_id'), 'hazards')
    op.drop_index(op.f('ix_hazards_responsible_contractor_id'), 'hazards')
    op.drop_index(op.f('ix_hazards_responsible_company_id'), 'hazards')
    op.drop_index(op.f('ix_hazards_reported_by_contractor_id'), 'hazards')
    op.drop_index(op.f('ix_hazards_inspection_id'), 'hazards')
    op.drop_index(op.f('ix_hazards_grid_id'), 'hazards')
    op.drop_index(op.f('ix_hazards_asset_id'), 'hazards')
    op.drop_geospatial_index('idx_hazards_location', 'hazards', postgresql_using='gist', column_name='location')

    op.drop_geospatial_table('hazards')
    op.drop_index(op.f('ix_calendar_feeds_contractor_id'), 'calendar_feeds')

    op.drop_table('calendar_feeds')
