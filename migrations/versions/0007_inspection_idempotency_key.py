"""The client's idempotency key of an inspection's result

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # On the inspection's own row: one key per inspection, as there is one result.
    op.add_column('inspections', sa.Column('idempotency_key', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('inspections') as batch_op:
        batch_op.drop_column('idempotency_key')
