"""The (contractor, asset) pairs of the inspections, kept by triggers

A contractor sees an asset when it has an inspection of it. That was asked per asset as an
EXISTS over the asset's inspections, reading their rows: at 1M assets and 10M inspections a
contractor's first page of assets in code order probed 158,000 assets (3 s), and its map
views one probe per asset in view. ``contractor_assets`` holds each pair once with its
number of inspections; triggers on ``inspections`` keep it whatever writes them (the ORM,
bulk inserts, ``COPY``, deletes, a changed contractor). PostgreSQL's are statement triggers
with transition tables (one grouped upsert per statement: generation inserts thousands of
rows at once); SQLite has row triggers only.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 22:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


POSTGRESQL_TRIGGERS = """
CREATE FUNCTION contractor_assets_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contractor_assets (contractor_id, asset_id, asset_code, inspections)
    SELECT added.contractor_id, added.asset_id, assets.code, count(*)
    FROM added JOIN assets ON assets.id = added.asset_id
    GROUP BY added.contractor_id, added.asset_id, assets.code
    ORDER BY added.contractor_id, added.asset_id
    ON CONFLICT (contractor_id, asset_id)
    DO UPDATE SET inspections = contractor_assets.inspections + EXCLUDED.inspections;
    RETURN NULL;
END $$;

CREATE FUNCTION contractor_assets_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH gone AS (
        SELECT contractor_id, asset_id, count(*) AS inspections FROM removed
        GROUP BY contractor_id, asset_id ORDER BY contractor_id, asset_id
    )
    UPDATE contractor_assets SET inspections = contractor_assets.inspections - gone.inspections
    FROM gone
    WHERE contractor_assets.contractor_id = gone.contractor_id
      AND contractor_assets.asset_id = gone.asset_id;
    DELETE FROM contractor_assets
    USING (SELECT DISTINCT contractor_id, asset_id FROM removed) gone
    WHERE contractor_assets.contractor_id = gone.contractor_id
      AND contractor_assets.asset_id = gone.asset_id
      AND contractor_assets.inspections <= 0;
    RETURN NULL;
END $$;

-- An update moves only the rows whose contractor or asset changed (logging a result changes
-- neither): it adds their new pairs, then takes their old ones away.
CREATE FUNCTION contractor_assets_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM before_rows JOIN after_rows ON after_rows.id = before_rows.id
        WHERE (after_rows.contractor_id, after_rows.asset_id)
            IS DISTINCT FROM (before_rows.contractor_id, before_rows.asset_id)
    ) THEN
        RETURN NULL;
    END IF;
    WITH moved AS (
        SELECT after_rows.contractor_id, after_rows.asset_id
        FROM after_rows JOIN before_rows ON before_rows.id = after_rows.id
        WHERE (after_rows.contractor_id, after_rows.asset_id)
            IS DISTINCT FROM (before_rows.contractor_id, before_rows.asset_id)
    )
    INSERT INTO contractor_assets (contractor_id, asset_id, asset_code, inspections)
    SELECT moved.contractor_id, moved.asset_id, assets.code, count(*)
    FROM moved JOIN assets ON assets.id = moved.asset_id
    GROUP BY moved.contractor_id, moved.asset_id, assets.code
    ORDER BY moved.contractor_id, moved.asset_id
    ON CONFLICT (contractor_id, asset_id)
    DO UPDATE SET inspections = contractor_assets.inspections + EXCLUDED.inspections;
    WITH gone AS (
        SELECT before_rows.contractor_id, before_rows.asset_id, count(*) AS inspections
        FROM before_rows JOIN after_rows ON after_rows.id = before_rows.id
        WHERE (after_rows.contractor_id, after_rows.asset_id)
            IS DISTINCT FROM (before_rows.contractor_id, before_rows.asset_id)
        GROUP BY before_rows.contractor_id, before_rows.asset_id
        ORDER BY before_rows.contractor_id, before_rows.asset_id
    )
    UPDATE contractor_assets SET inspections = contractor_assets.inspections - gone.inspections
    FROM gone
    WHERE contractor_assets.contractor_id = gone.contractor_id
      AND contractor_assets.asset_id = gone.asset_id;
    DELETE FROM contractor_assets
    USING (SELECT DISTINCT contractor_id, asset_id FROM before_rows) gone
    WHERE contractor_assets.contractor_id = gone.contractor_id
      AND contractor_assets.asset_id = gone.asset_id
      AND contractor_assets.inspections <= 0;
    RETURN NULL;
END $$;

CREATE TRIGGER inspections_add_contractor_assets AFTER INSERT ON inspections
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION contractor_assets_add();
CREATE TRIGGER inspections_remove_contractor_assets AFTER DELETE ON inspections
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION contractor_assets_remove();
CREATE TRIGGER inspections_move_contractor_assets AFTER UPDATE ON inspections
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contractor_assets_move();
"""

POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS inspections_add_contractor_assets ON inspections;
DROP TRIGGER IF EXISTS inspections_remove_contractor_assets ON inspections;
DROP TRIGGER IF EXISTS inspections_move_contractor_assets ON inspections;
DROP FUNCTION IF EXISTS contractor_assets_add();
DROP FUNCTION IF EXISTS contractor_assets_remove();
DROP FUNCTION IF EXISTS contractor_assets_move();
"""

# SQLite: one statement per execute; "WHERE true" keeps the upsert's ON from reading as a
# join's (SQLite's documented parsing ambiguity).
SQLITE_ADD = """
    INSERT INTO contractor_assets (contractor_id, asset_id, asset_code, inspections)
    SELECT NEW.contractor_id, NEW.asset_id, assets.code, 1 FROM assets
    WHERE assets.id = NEW.asset_id AND true
    ON CONFLICT (contractor_id, asset_id) DO UPDATE SET inspections = inspections + 1;
"""
SQLITE_REMOVE = """
    UPDATE contractor_assets SET inspections = inspections - 1
    WHERE contractor_id = OLD.contractor_id AND asset_id = OLD.asset_id;
    DELETE FROM contractor_assets
    WHERE contractor_id = OLD.contractor_id AND asset_id = OLD.asset_id AND inspections <= 0;
"""
SQLITE_TRIGGERS = (
    "CREATE TRIGGER inspections_add_contractor_assets AFTER INSERT ON inspections"
    f" BEGIN {SQLITE_ADD} END",
    "CREATE TRIGGER inspections_remove_contractor_assets AFTER DELETE ON inspections"
    f" BEGIN {SQLITE_REMOVE} END",
    "CREATE TRIGGER inspections_move_contractor_assets"
    " AFTER UPDATE OF contractor_id, asset_id ON inspections"
    " WHEN NEW.contractor_id IS NOT OLD.contractor_id OR NEW.asset_id IS NOT OLD.asset_id"
    f" BEGIN {SQLITE_ADD} {SQLITE_REMOVE} END",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS inspections_add_contractor_assets",
    "DROP TRIGGER IF EXISTS inspections_remove_contractor_assets",
    "DROP TRIGGER IF EXISTS inspections_move_contractor_assets",
)

BACKFILL = """
INSERT INTO contractor_assets (contractor_id, asset_id, asset_code, inspections)
SELECT inspections.contractor_id, inspections.asset_id, assets.code, count(*)
FROM inspections JOIN assets ON assets.id = inspections.asset_id
GROUP BY inspections.contractor_id, inspections.asset_id, assets.code
"""


def upgrade():
    op.create_table(
        "contractor_assets",
        sa.Column("contractor_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("asset_code", sa.String(length=40), nullable=False),
        sa.Column("inspections", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_contractor_assets_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["contractor_id"],
            ["contractors.id"],
            name=op.f("fk_contractor_assets_contractor_id_contractors"),
        ),
        sa.PrimaryKeyConstraint("contractor_id", "asset_id", name=op.f("pk_contractor_assets")),
    )
    op.execute(BACKFILL)
    op.create_index(
        "ix_contractor_assets_contractor_code", "contractor_assets", ["contractor_id", "asset_code"]
    )
    op.create_index("ix_contractor_assets_asset_id", "contractor_assets", ["asset_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_TRIGGERS)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_DROP)
    else:
        for statement in SQLITE_DROP:
            op.execute(statement)
    op.drop_index("ix_contractor_assets_asset_id", "contractor_assets")
    op.drop_index("ix_contractor_assets_contractor_code", "contractor_assets")
    op.drop_table("contractor_assets")
