"""The (contractor, asset) pairs of the inspections, kept by triggers

A contractor sees an asset when it has an inspection of it. That was asked per asset as an
EXISTS over the asset's inspections, reading their rows: at 1M assets and 10M inspections a
contractor's first page of assets in code order probed 158,000 assets (3 s), and its map
views one probe per asset in view. ``contractor_assets`` holds each pair once; triggers on
``inspections`` keep it whatever writes them (the ORM, bulk inserts, ``COPY``, deletes, a
changed contractor or asset). PostgreSQL's are statement triggers with transition tables
(one statement's work per statement: generation inserts thousands of rows at once), taking
row locks so that racing writers leave the pairs exact; SQLite has row triggers and one
writer at a time.

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


# The updated inspections whose contractor or asset changed, their pairs before and after.
MOVED = (
    "SELECT before_rows.contractor_id AS old_contractor_id, before_rows.asset_id AS old_asset_id,"
    " after_rows.contractor_id AS new_contractor_id, after_rows.asset_id AS new_asset_id"
    " FROM before_rows JOIN after_rows ON after_rows.id = before_rows.id"
    " WHERE (after_rows.contractor_id, after_rows.asset_id)"
    " IS DISTINCT FROM (before_rows.contractor_id, before_rows.asset_id)"
)

POSTGRESQL_TRIGGERS = """
-- Inserted inspections: their pairs already there get a share lock (so that a writer
-- removing the last inspection of one waits for this transaction, then sees its rows), then
-- the missing pairs are added. Two writers adding to the same pairs do not wait for each
-- other (share locks), unless both add the same new pair.
CREATE FUNCTION contractor_assets_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM contractor_assets
    WHERE (contractor_id, asset_id) IN (SELECT contractor_id, asset_id FROM added)
    ORDER BY contractor_id, asset_id
    FOR KEY SHARE;
    INSERT INTO contractor_assets (contractor_id, asset_id, asset_code)
    SELECT DISTINCT added.contractor_id, added.asset_id, assets.code
    FROM added JOIN assets ON assets.id = added.asset_id
    ORDER BY added.contractor_id, added.asset_id
    ON CONFLICT (contractor_id, asset_id) DO NOTHING;
    RETURN NULL;
END $$;

-- Deleted inspections: their pairs are locked first (waiting for the writers adding to
-- them), then, in a statement of its own (a new snapshot: it sees what they committed),
-- each pair left without an inspection goes.
CREATE FUNCTION contractor_assets_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM contractor_assets
    WHERE (contractor_id, asset_id) IN (SELECT contractor_id, asset_id FROM removed)
    ORDER BY contractor_id, asset_id
    FOR UPDATE;
    DELETE FROM contractor_assets
    WHERE (contractor_id, asset_id) IN (SELECT contractor_id, asset_id FROM removed)
      AND NOT EXISTS (
        SELECT 1 FROM inspections
        WHERE inspections.asset_id = contractor_assets.asset_id
          AND +inspections.contractor_id = contractor_assets.contractor_id
      );
    RETURN NULL;
END $$;

-- Updated inspections: only those whose contractor or asset changed (logging a result
-- changes neither) add their new pairs, then let their old ones go, as above.
CREATE FUNCTION contractor_assets_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ({MOVED}) moved) THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM contractor_assets
    WHERE (contractor_id, asset_id) IN (SELECT new_contractor_id, new_asset_id FROM ({MOVED}) m)
    ORDER BY contractor_id, asset_id
    FOR KEY SHARE;
    INSERT INTO contractor_assets (contractor_id, asset_id, asset_code)
    SELECT DISTINCT moved.new_contractor_id, moved.new_asset_id, assets.code
    FROM ({MOVED}) moved JOIN assets ON assets.id = moved.new_asset_id
    ORDER BY moved.new_contractor_id, moved.new_asset_id
    ON CONFLICT (contractor_id, asset_id) DO NOTHING;
    PERFORM 1 FROM contractor_assets
    WHERE (contractor_id, asset_id) IN (SELECT old_contractor_id, old_asset_id FROM ({MOVED}) m)
    ORDER BY contractor_id, asset_id
    FOR UPDATE;
    DELETE FROM contractor_assets
    WHERE (contractor_id, asset_id) IN (SELECT old_contractor_id, old_asset_id FROM ({MOVED}) m)
      AND NOT EXISTS (
        SELECT 1 FROM inspections
        WHERE inspections.asset_id = contractor_assets.asset_id
          AND +inspections.contractor_id = contractor_assets.contractor_id
      );
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
""".replace("{MOVED}", MOVED)

POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS inspections_add_contractor_assets ON inspections;
DROP TRIGGER IF EXISTS inspections_remove_contractor_assets ON inspections;
DROP TRIGGER IF EXISTS inspections_move_contractor_assets ON inspections;
DROP FUNCTION IF EXISTS contractor_assets_add();
DROP FUNCTION IF EXISTS contractor_assets_remove();
DROP FUNCTION IF EXISTS contractor_assets_move();
"""

# "+inspections.contractor_id" (here and above): a pair's inspections are found through the
# asset's index (ten or so rows), never the contractor's (all its rows): without statistics
# SQLite chose the contractor's, and deleting 135,000 scheduled inspections at 100k assets
# ran for minutes.
# SQLite has one writer at a time: no locks to take. One statement per execute; "AND true"
# keeps the upsert's ON from reading as a join's (SQLite's documented parsing ambiguity).
SQLITE_ADD = """
    INSERT INTO contractor_assets (contractor_id, asset_id, asset_code)
    SELECT NEW.contractor_id, NEW.asset_id, assets.code FROM assets
    WHERE assets.id = NEW.asset_id AND true
    ON CONFLICT (contractor_id, asset_id) DO NOTHING;
"""
SQLITE_REMOVE = """
    DELETE FROM contractor_assets
    WHERE contractor_id = OLD.contractor_id AND asset_id = OLD.asset_id
      AND NOT EXISTS (
        SELECT 1 FROM inspections
        WHERE inspections.asset_id = OLD.asset_id AND +inspections.contractor_id = OLD.contractor_id
      );
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
INSERT INTO contractor_assets (contractor_id, asset_id, asset_code)
SELECT DISTINCT inspections.contractor_id, inspections.asset_id, assets.code
FROM inspections JOIN assets ON assets.id = inspections.asset_id
"""


def upgrade():
    op.create_table(
        "contractor_assets",
        sa.Column("contractor_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("asset_code", sa.String(length=40), nullable=False),
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
