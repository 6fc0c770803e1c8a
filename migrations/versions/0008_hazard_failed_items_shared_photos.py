"""A hazard keeps the checklist items its failed inspection failed; photo files may be shared

- ``hazards.failed_items``: the checklist keys a failed inspection failed (JSON list); the
  labels are looked up when the hazard is read, in the reader's language.
- ``photos.stored_name`` is no longer unique (indexed instead): the photos of a failed
  inspection are also the "before" photos of the hazard it opened, one file behind two rows.

Existing hazards opened by a failed inspection get their failed items from the inspection's
answers, lose the description line that named them by key ("Failed items: …", in the
language of the moment; "Inspection failed." alone becomes empty), and share the
inspection's photos as "before" photos. The downgrade removes the shared rows (the files
stay, still the inspection's) and the column; it does not write the old description back.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:00:00

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = "0007"
branch_labels = None
depends_on = None

# The description lines 0003–0006 wrote for a failed inspection, in both languages.
FAILED_ITEMS_PREFIXES = ("Failed items: ", "不合格项：")
INSPECTION_FAILED = ("Inspection failed.", "巡检不合格。")

hazards = sa.table(
    'hazards',
    sa.column('id', sa.Integer),
    sa.column('inspection_id', sa.Integer),
    sa.column('description', sa.Text),
    sa.column('failed_items', sa.JSON),
)
inspections = sa.table(
    'inspections',
    sa.column('id', sa.Integer),
    sa.column('answers', sa.JSON),
)
photos = sa.table(
    'photos',
    sa.column('id', sa.Integer),
    sa.column('stored_name', sa.String),
    sa.column('content_type', sa.String),
    sa.column('size_bytes', sa.Integer),
    sa.column('width', sa.Integer),
    sa.column('height', sa.Integer),
    sa.column('inspection_id', sa.Integer),
    sa.column('hazard_id', sa.Integer),
    sa.column('stage', sa.String),
    sa.column('uploaded_by_id', sa.Integer),
    sa.column('uploaded_at', sa.DateTime(timezone=True)),
)


def upgrade():
    op.add_column('hazards', sa.Column('failed_items', sa.JSON(), nullable=True))
    with op.batch_alter_table('photos') as batch:
        batch.drop_constraint('uq_photos_stored_name', type_='unique')
        batch.create_index('ix_photos_stored_name', ['stored_name'], unique=False)
    backfill()


def _description_without_keys(description):
    lines = (description or "").split("\n")
    if lines and lines[0].startswith(FAILED_ITEMS_PREFIXES):
        lines = lines[1:]
    text = "\n".join(lines).strip()
    return "" if text in INSPECTION_FAILED else text


def backfill():
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(hazards.c.id, hazards.c.inspection_id, hazards.c.description, inspections.c.answers)
        .join(inspections, inspections.c.id == hazards.c.inspection_id)
        .where(hazards.c.failed_items.is_(None))
    ).all()
    for hazard_id, inspection_id, description, answers in rows:
        if isinstance(answers, str):
            answers = json.loads(answers)
        failed = [key for key, answer in (answers or {}).items() if answer == "fail"]
        connection.execute(
            hazards.update()
            .where(hazards.c.id == hazard_id)
            .values(failed_items=failed, description=_description_without_keys(description))
        )
        shared = set(
            connection.scalars(
                sa.select(photos.c.stored_name).where(photos.c.hazard_id == hazard_id)
            )
        )
        for photo in connection.execute(
            sa.select(photos).where(photos.c.inspection_id == inspection_id).order_by(photos.c.id)
        ).mappings():
            if photo['stored_name'] in shared:
                continue
            values = {key: photo[key] for key in photo.keys() if key != 'id'}
            values.update(inspection_id=None, hazard_id=hazard_id, stage='before')
            connection.execute(photos.insert().values(**values))


def downgrade():
    inspection_files = sa.select(photos.c.stored_name).where(photos.c.inspection_id.is_not(None))
    op.execute(
        photos.delete().where(
            photos.c.hazard_id.is_not(None), photos.c.stored_name.in_(inspection_files)
        )
    )
    with op.batch_alter_table('photos') as batch:
        batch.drop_index('ix_photos_stored_name')
        batch.create_unique_constraint('uq_photos_stored_name', ['stored_name'])
    op.drop_column('hazards', 'failed_items')
