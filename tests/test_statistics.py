"""The planner's statistics after a bulk write (``core.spatial.analyze_tables``): PostgreSQL
analyses the tables `demo province` and a large asset import wrote, once committed; SQLite
gathers none (its planner is the one our queries were measured against without them)."""

from __future__ import annotations

import io
import logging
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text

from core import spatial
from core.extensions import db
from demo.province import Province, load_province
from tests import factories
from tests.test_import_export import BLOCKER, STATION, write_csv
from tests.test_province import NOW, SEED, TODAY

ROWS = [STATION, BLOCKER]


@pytest.fixture
def harbour_garden(app, district):
    with app.app_context():
        factories.gen_site()
        db.session.commit()


def server_now(app) -> datetime | None:
    """The database server's clock (PostgreSQL), to compare ``last_analyze`` with."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            return None
        return db.session.scalar(text("SELECT clock_timestamp()"))


def analysed_since(app, since: datetime | None, tables: list[str]) -> dict[str, bool]:
    """Whether each table was analysed (``ANALYZE``, not autovacuum) after ``since`` and has
    column statistics; on SQLite, whether ``sqlite_stat1`` holds rows of it. Read on a new
    connection: the statistics a fresh session sees."""
    with app.app_context():
        engine = create_engine(db.engine.url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                stat_table = connection.scalar(
                    text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
                )
                found = set()
                if stat_table:
                    found = set(connection.scalars(text("SELECT DISTINCT tbl FROM sqlite_stat1")))
                return {table: table in found for table in tables}
            analysed = {}
            for table in tables:
                last = connection.scalar(
                    text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :table"),
                    {"table": table},
                )
                columns = connection.scalar(
                    text("SELECT count(*) FROM pg_stats WHERE tablename = :table"),
                    {"table": table},
                )
                analysed[table] = last is not None and last >= since and columns > 0
            return analysed
    finally:
        engine.dispose()


def import_by_command(runner, tmp_path):
    return runner.invoke(args=["assets", "import", str(write_csv(tmp_path / "a.csv", ROWS))])


def test_demo_province_leaves_its_tables_analysed(app, frozen_clock, backend):
    frozen_clock.set(NOW)
    started = server_now(app)
    with app.app_context():
        load_province(Province(60, 600, SEED, TODAY), assets_per_batch=25)
    tables = ["grids", "sites", "assets", "inspections", "hazards", "hazard_events"]
    analysed = analysed_since(app, started, tables)
    expected = backend == "postgis"
    assert analysed == dict.fromkeys(tables, expected)


def test_an_import_of_analyze_after_rows_assets_is_analysed(
    app, runner, harbour_garden, tmp_path, backend
):
    app.config["ANALYZE_AFTER_ROWS"] = len(ROWS)
    started = server_now(app)
    result = import_by_command(runner, tmp_path)
    assert result.exit_code == 0, result.output
    analysed = analysed_since(app, started, ["assets", "audit_entries"])
    assert set(analysed.values()) == {backend == "postgis"}


def test_a_smaller_import_is_not(app, runner, harbour_garden, tmp_path):
    app.config["ANALYZE_AFTER_ROWS"] = len(ROWS) + 1
    started = server_now(app)
    result = import_by_command(runner, tmp_path)
    assert result.exit_code == 0, result.output
    assert "imported 2 assets" in result.output
    analysed = analysed_since(app, started, ["assets", "audit_entries"])
    assert analysed == {"assets": False, "audit_entries": False}


def test_an_import_through_the_page_is_analysed(
    app, client, auth, admin, harbour_garden, tmp_path, backend
):
    app.config["ANALYZE_AFTER_ROWS"] = len(ROWS)
    auth.login(admin)
    path = write_csv(tmp_path / "assets.csv", ROWS)
    data = {"importer": "assets", "file": (io.BytesIO(path.read_bytes()), path.name)}
    uploaded = client.post("/imports/", data=data, content_type="multipart/form-data")
    assert uploaded.status_code == 303
    token = uploaded.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    started = server_now(app)
    assert client.post(f"/imports/{token}/apply").status_code == 303
    analysed = analysed_since(app, started, ["assets", "audit_entries"])
    assert set(analysed.values()) == {backend == "postgis"}


@pytest.mark.postgis_only  # SQLite gathers no statistics: nothing to fail
def test_a_failed_analyze_leaves_the_import_committed(
    app, runner, harbour_garden, tmp_path, backend, monkeypatch, caplog
):
    """ANALYZE waits for a table's lock ``ANALYZE_LOCK_TIMEOUT_MS`` at most; the import it
    follows stays done, and the failure is logged."""
    app.config["ANALYZE_AFTER_ROWS"] = len(ROWS)
    monkeypatch.setattr(spatial, "ANALYZE_LOCK_TIMEOUT_MS", 200)
    with app.app_context():
        other = create_engine(db.engine.url)
    try:
        with other.begin() as holder, caplog.at_level(logging.ERROR):
            # What another ANALYZE or a VACUUM holds, which our ANALYZE waits for.
            holder.execute(text("LOCK TABLE assets IN SHARE UPDATE EXCLUSIVE MODE"))
            started = server_now(app)
            result = import_by_command(runner, tmp_path)
    finally:
        other.dispose()
    assert result.exit_code == 0, result.output
    assert "imported 2 assets" in result.output
    with app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM assets")) == len(ROWS)
    assert any("ANALYZE" in record.getMessage() for record in caplog.records)
    assert analysed_since(app, started, ["assets"]) == {"assets": False}
