"""The models' indexes are the migrations' (both backends), and the unfiltered lists' order
comes from an index (migrations 0014, 0017), not from a sort of the whole table."""

from __future__ import annotations

import re
import warnings
from datetime import date
from typing import Any

from sqlalchemy import Column, Select, UniqueConstraint, event, inspect, select, text
from sqlalchemy.sql import visitors

from accounts.access import visible
from assets.models import Asset, Grid
from assets.views import ordering
from core.extensions import db
from hazards.models import Hazard
from hazards.services import overdue_first_parts
from inspections.models import Inspection, InspectionPlan
from inspections.plans.services import covered_asset_count_query
from inspections.results import InspectionFilters, inspection_query
from tests import factories


def key_part(text: str) -> str:
    """An index key as either side writes it, compared alike: ``lower(assets.name)`` and
    PostgreSQL's ``lower((name)::text)`` are ``lower(name)``; a direction other than the
    default is kept (``installed_on desc``)."""
    text = re.sub(r"::[a-z ]+", "", text.lower().replace('"', ""))
    text = re.sub(r"\b\w+\.(?=[a-z_])", "", text)  # the table's name
    text = re.sub(r"\s+asc$", "", " ".join(text.split()))
    while text.startswith("(") and text.endswith(")") and key_parts(text[1:-1]) == [text[1:-1]]:
        text = text[1:-1]
    return re.sub(r"\(\((\w+)\)\)", r"(\1)", text)


def key_parts(text: str) -> list[str]:
    """``text`` split at its commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for at, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:at].strip())
            start = at + 1
    return [*parts, text[start:].strip()]


def declared_indexes(table) -> dict[str, tuple[list[str], bool]]:
    """The model's indexes: the column names, or an expression's text (``key_part``)."""
    dialect = db.engine.dialect

    def keys(index) -> list[str]:
        return [
            key.name
            if isinstance(key, Column)
            else key_part(str(key.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))
            for key in index.expressions
        ]

    return {index.name: (keys(index), bool(index.unique)) for index in table.indexes}


def index_definitions(table) -> dict[str, tuple[list[str], bool]]:
    """The keys of ``table``'s indexes as the database wrote their ``CREATE INDEX`` (what the
    inspector gives of an expression index is partial on PostgreSQL, nothing on SQLite)."""
    connection = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        rows = connection.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :table"),
            {"table": table.name},
        )
    else:
        rows = connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                " AND tbl_name = :table"
            ),
            {"table": table.name},
        )
    definitions = {}
    for name, definition in rows:
        opened = re.search(r" ON \S+(?: USING \w+)? \(", definition, re.IGNORECASE).end()
        closed, depth = opened, 1
        while depth:
            depth += {"(": 1, ")": -1}.get(definition[closed], 0)
            closed += 1
        keys = [key_part(key) for key in key_parts(definition[opened : closed - 1])]
        definitions[name] = (keys, definition.upper().startswith("CREATE UNIQUE"))
    db.session.rollback()
    return definitions


def migrated_indexes(inspector, table) -> dict[str, tuple[list[str], bool]]:
    """The database's indexes of ``table``, less those that back a unique constraint (both
    dialects report them as indexes too); an expression index's keys from its definition."""
    constraints = {c.name for c in table.constraints if isinstance(c, UniqueConstraint)}
    with warnings.catch_warnings():
        # SQLite's reflection skips an expression index, saying so.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        reflected = {
            index["name"]: (index["column_names"], bool(index["unique"]))
            for index in inspector.get_indexes(table.name)
        }
    for name, (keys, unique) in index_definitions(table).items():
        if not all(re.fullmatch(r"\w+", key) for key in keys):
            reflected[name] = (keys, unique)
    return {name: index for name, index in reflected.items() if name not in constraints}


def test_every_models_indexes_are_the_migrated_ones(app):
    with app.app_context():
        inspector = inspect(db.engine)
        differing = {
            table.name: (declared_indexes(table), migrated_indexes(inspector, table))
            for table in db.metadata.sorted_tables
            if declared_indexes(table) != migrated_indexes(inspector, table)
        }
        assert differing == {}
        assert declared_indexes(Inspection.__table__)["ix_inspections_due_on_id"] == (
            ["due_on", "id"],
            False,
        )
        assets = migrated_indexes(inspector, Asset.__table__)  # expressions, a direction
        assert assets["ix_assets_name_code"] == (["lower(name)", "code"], False)
        assert assets["ix_assets_installed_on_desc_code"] == (
            ["installed_on is null", "installed_on desc", "code"],
            False,
        )


def page_keys(query: Select) -> Select:
    return query.with_only_columns(Inspection.id).limit(50)


def query_plan(statement: Select) -> str:
    """The plan of ``statement``; on PostgreSQL with sequential and bitmap scans priced out, as
    the planner prices them for a page of a big table (on a table of a few rows it reads it
    whole, or fetches its few rows and sorts them, rightly: which it did depended on the
    statistics an earlier test of the worker left, and a list's test once failed on it)."""
    compiled = statement.compile(dialect=db.engine.dialect)
    connection = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
    else:
        params = tuple(compiled.params[name] for name in compiled.positiontup)
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params)
    return "\n".join(str(row[-1]) for row in rows)


def test_the_unfiltered_lists_read_the_due_date_index_in_order(app, district, officer):
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        for day in range(1, 20):
            factories.gen_inspection("CS-001", date(2026, 3, day))
        db.session.commit()
        user = factories.user_by_email(officer)
        query = inspection_query(user, InspectionFilters())  # ORDER BY due_on, id
        latest = query.order_by(None).order_by(Inspection.due_on.desc(), Inspection.id.desc())
        for statement in (page_keys(query), page_keys(latest)):
            found = query_plan(statement)
            assert "ix_inspections_due_on_id" in found, found
            assert "Sort" not in found and "TEMP B-TREE" not in found, found
        db.session.rollback()


def test_a_contractors_unfiltered_list_reads_its_own_index_in_order(app, district, contractor_user):
    """Every status, by due date: the company's index, not the due-date index filtered (at 10M
    inspections the biggest company's page walked 435,000 other rows: migration 0019)."""
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        user = factories.user_by_email(contractor_user)
        for day in range(1, 20):
            factories.gen_inspection("CS-001", date(2026, 3, day))  # Fixers Ltd, the user's
        db.session.commit()
        query = inspection_query(user, InspectionFilters())  # ORDER BY due_on, id
        latest = query.order_by(None).order_by(Inspection.due_on.desc(), Inspection.id.desc())
        for statement in (page_keys(query), page_keys(latest)):
            found = query_plan(statement)
            assert "ix_inspections_contractor_due_on_id" in found, found
            assert "Sort" not in found and "TEMP B-TREE" not in found, found
        db.session.rollback()


def test_the_hazard_lists_parts_read_their_indexes_in_order(app, district, officer):
    """Overdue, other unverified, verified (``overdue_first_parts``): each part's page comes
    from an index in the part's order (migration 0017), not from sorting every hazard."""
    with app.app_context():
        user = factories.user_by_email(officer)
        parts = overdue_first_parts(visible(user, Hazard), date(2026, 3, 10))
        expected = ["ix_hazards_open_deadline_code"] * 2 + ["ix_hazards_status_deadline_code"]
        if db.engine.dialect.name == "postgresql":
            # On an empty table the costs nearly tie, and PostgreSQL may pick another index
            # and a sort: with sorting priced out, a plan without one exists only if an index
            # gives the part's order (the assertions below then hold or fail on that alone).
            connection = db.session.connection()
            connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            connection.exec_driver_sql("SET LOCAL enable_sort = off")
        for part, index in zip(parts, expected, strict=True):
            found = query_plan(part.with_only_columns(Hazard.id).limit(50))
            assert index in found, found
            assert "Sort" not in found and "TEMP B-TREE" not in found, found
        db.session.rollback()


def test_the_asset_lists_default_order_reads_the_code_index(app, district, officer):
    """By code (the default, and the tie-breaker of every sort): a page's keys come from the
    unique index on the code, not from sorting every asset the user may see."""
    with app.app_context():
        user = factories.user_by_email(officer)
        listed = visible(user, Asset).outerjoin(Grid, Asset.grid_id == Grid.id)
        for sort in ("code", "-code"):
            keys = listed.order_by(*ordering(sort)).with_only_columns(Asset.id)
            found = query_plan(keys.limit(50))
            assert "Sort" not in found and "TEMP B-TREE" not in found, (sort, found)
            # The code's unique index: uq_assets_code, SQLite's sqlite_autoindex_assets_1.
            assert re.search(r"uq_assets_code|USING INDEX sqlite_autoindex_assets", found), (
                sort,
                found,
            )
        db.session.rollback()


# Each sort of the asset list (but the grid's: see ``assets.views.ordering``), both ways, and
# the index whose order is the list's (migration 0021).
SORT_INDEXES = {
    "name": "ix_assets_name_code",
    "-name": "ix_assets_name_code",
    "kind": "ix_assets_kind_code",
    "-kind": "ix_assets_kind_code",
    "status": "ix_assets_status_code",
    "-status": "ix_assets_status_code",
    "installed_on": "ix_assets_installed_on_code",
    "-installed_on": "ix_assets_installed_on_desc_code",
}


def test_the_asset_lists_sorts_read_their_indexes_in_order(app, district, officer):
    """By name, kind, status or installation date, either way: a page's keys come from the
    sort's index in the list's order, not from sorting every asset the user may see (1.15 s
    at 1M assets on PostGIS, by name)."""
    with app.app_context():
        for number in (1, 2):
            factories.gen_asset(factories.charging_station_data(number))
        db.session.commit()
        user = factories.user_by_email(officer)
        listed = visible(user, Asset).outerjoin(Grid, Asset.grid_id == Grid.id)
        if db.engine.dialect.name == "postgresql":
            # Sorting priced out: a plan without a sort exists only if an index gives the order.
            connection = db.session.connection()
            connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            connection.exec_driver_sql("SET LOCAL enable_sort = off")
        for sort, index in SORT_INDEXES.items():
            keys = listed.order_by(*ordering(sort)).with_only_columns(Asset.id)
            found = query_plan(keys.limit(50))
            assert index in found, (sort, found)
            assert "Sort" not in found and "TEMP B-TREE" not in found, (sort, found)
        db.session.rollback()


def test_a_plans_asset_count_needs_only_what_an_index_holds(app, district):
    """The plan pages and API count the assets each plan covers. The count asks for no column
    that ``ix_assets_grid_kind_status`` lacks, so PostgreSQL answers it from that index alone
    (an index-only scan) instead of reading every covered asset's row: ``count(assets.id)``
    did: 72 ms against 15 ms for a plan of 42,000 assets (EXPLAIN ANALYZE, a vacuumed copy of
    the 100k-asset province)."""
    with app.app_context():
        contractor = factories.gen_contractor("Fixers Ltd")
        g1 = db.session.scalar(select(Grid.id).where(Grid.code == "G1"))
        plan = InspectionPlan(
            name="Stations in G1",
            contractor_id=contractor.id,
            asset_kind="charging_station",
            grid_id=g1,
            cadence_unit="month",
            cadence_every=1,
            start_on=date(2026, 1, 10),
        )
        statement = covered_asset_count_query(plan)
        asked = {
            element.name
            for element in visitors.iterate(statement)
            if isinstance(element, Column) and element.table is Asset.__table__
        }
        (index,) = (i for i in Asset.__table__.indexes if i.name == "ix_assets_grid_kind_status")
        indexed = {column.name for column in index.columns}
        assert asked and asked <= indexed, asked
        db.session.rollback()


def test_the_asset_lists_count_sorts_nothing_whatever_its_order(
    app, client, auth, officer, district
):
    """/assets/ and the assets API count up to LIST_COUNT_CAP without their order: in it, by
    name or of a filtered list, the count sorted every match (core.paging.page_by_one_more)."""
    with app.app_context():
        for number in (1, 2):
            factories.gen_asset(factories.charging_station_data(number, status="faulty"))
        db.session.commit()
    auth.login(officer)
    counts: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT COUNT(") and "assets" in statement:
            counts.append((statement, parameters))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", capture)
    try:
        for query in (
            "/assets/?per_page=1",
            "/assets/?per_page=1&sort=name",
            "/assets/?per_page=1&sort=-grid",
            "/assets/?per_page=1&sort=-code&status=faulty",
            "/api/v1/assets?per_page=1&status=faulty",
        ):
            counts.clear()  # counted when a next page exists
            assert client.get(query).status_code == 200
            assert len(counts) == 1, (query, counts)
            with app.app_context():
                found = driver_plan(*counts[0])
            assert "Sort" not in found and "TEMP B-TREE" not in found, (query, found)
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", capture)


def driver_plan(statement: str, parameters: Any) -> str:
    """``query_plan`` of a statement as the driver was sent it."""
    connection = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
    else:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    plan = "\n".join(str(row[-1]) for row in rows)
    db.session.rollback()
    return plan
