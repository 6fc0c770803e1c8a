"""Weekly alerts and job runs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:15:29

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alert_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('running', 'done', 'skipped')", name=op.f('ck_alert_runs_status')),
    sa.CheckConstraint("trigger IN ('schedule', 'cli')", name=op.f('ck_alert_runs_trigger')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_runs')),
    sa.UniqueConstraint('week', 'trigger', name=op.f('uq_alert_runs_week_trigger'))
    )

    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=80), nullable=False),
    sa.Column('run_key', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job_id', 'run_key', name=op.f('uq_job_runs_job_id_run_key'))
    )

    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=True),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('claim_token', sa.String(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('inspection_count', sa.Integer(), nullable=False),
    sa.Column('hazard_count', sa.Integer(), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('district', 'contractor', 'grid')", name=op.f('ck_alert_deliveries_kind')),
    sa.CheckConstraint("status IN ('claimed', 'sent', 'failed')", name=op.f('ck_alert_deliveries_status')),
    sa.ForeignKeyConstraint(['run_id'], ['alert_runs.id'], name=op.f('fk_alert_deliveries_run_id_alert_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('week', 'recipient', name=op.f('uq_alert_deliveries_week_recipient'))
    )
    op.create_index(op.f('ix_alert_deliveries_run_id'), 'alert_deliveries', ['run_id'], unique=False)
    op.create_index('ix_alert_deliveries_status_next_attempt', 'alert_deliveries', ['status', 'next_attempt_at'], unique=False)


def downgrade():
    op.drop_index('ix_alert_deliveries_status_next_attempt', 'alert_deliveries')
    op.drop_index(op.f('ix_alert_deliveries_run_id'), 'alert_deliveries')

    op.drop_table('alert_deliveries')
    op.drop_table('job_runs')
    op.drop_table('alert_runs')
