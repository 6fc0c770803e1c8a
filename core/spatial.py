"""The one place that knows how SpatiaLite and PostGIS differ.

Feature code asks this module for engine options, point values, coordinate columns and
index-backed bounding-box filters, and never checks the dialect itself.
"""

from __future__ import annotations

import importlib
import json
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, request
from geoalchemy2 import WKTElement
from geoalchemy2.admin.dialects.sqlite import init_spatialite
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Engine,
    Table,
    Text,
    event,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.functions import FunctionElement

from core.extensions import db
from core.versions import note_table_write

SRID = 4326
SQLITE_BUSY_TIMEOUT_MS = 10_000
# A PostgreSQL host that accepts the connection but never answers (gone, or a firewall that
# drops packets) fails a new connection after this many seconds, and the request answers 503,
# instead of holding it for minutes (libpq waits for ever by default).
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def sqlite_module():
    """A DB-API sqlite module that can load extensions.

    The interpreter's own ``sqlite3`` is often built without ``enable_load_extension``;
    pysqlite3 (a wheel with its own SQLite) is used then. Only one is ever used in a process.
    """
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    return importlib.import_module("pysqlite3.dbapi2")


def normalise_database_url(url: str) -> str:
    """Accept the ``postgres://`` and ``postgresql://`` spellings and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(database_url: str) -> dict[str, Any]:
    if make_url(database_url).get_backend_name() == "sqlite":
        return {
            "module": sqlite_module(),
            "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        }
    # pre-ping: a pooled connection the server dropped (a restart) is replaced, not used.
    return {
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
    }


def _prepare_spatialite_connection(dbapi_connection, _connection_record) -> None:
    dbapi_connection.enable_load_extension(True)
    dbapi_connection.load_extension("mod_spatialite")
    dbapi_connection.enable_load_extension(False)
    dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    dbapi_connection.execute("PRAGMA foreign_keys = ON")
    if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "memory":
        dbapi_connection.execute("PRAGMA journal_mode = WAL")
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")
    # WGS84 mode: the full EPSG table costs ~10 s and 6 MB, and we only use SRID 4326.
    init_spatialite(dbapi_connection, transaction=True, init_mode="WGS84")
    dbapi_connection.commit()


# --- Write transactions on SQLite ----------------------------------------------------------
# SQLite has one writer at a time. pysqlite begins a transaction only before the first
# INSERT/UPDATE/DELETE, as DEFERRED: fine for a lone statement (it waits for the lock within
# the busy timeout), but a transaction that has read first and then writes must upgrade its
# read snapshot, and when another connection wrote meanwhile SQLite answers "database is
# locked" at once, busy timeout or not (the import's trigger juggling did that), and reads
# made before the first write are not protected by it (check-then-write races).
#
# So a unit of work that writes says so (``writing()``), and its transactions begin with
# ``BEGIN IMMEDIATE``: the write lock is taken (waiting up to the busy timeout) before the
# first read, so what it reads cannot change before it commits. Every request with an unsafe
# method (POST, PUT, PATCH, DELETE) is such a unit of work; GET requests keep reading without
# the lock, concurrently. Commands and jobs that read then write declare it themselves
# (``assets import``). PostgreSQL is unaffected: its writers lock rows, and the services
# make their status steps compare-and-set (``UPDATE … WHERE status = :from``).

_writes: ContextVar[bool] = ContextVar("writes", default=False)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@contextmanager
def writing() -> Iterator[None]:
    """Declare that the unit of work inside writes: on SQLite each transaction it begins
    takes the write lock first (``BEGIN IMMEDIATE``). Enter it before the unit's first
    statement (a transaction already begun keeps its mode)."""
    token = _writes.set(True)
    try:
        yield
    finally:
        _writes.reset(token)


def _begin_sqlite_transaction(connection) -> None:
    """The engine's "begin": a writing unit of work begins IMMEDIATE; any other is left to
    pysqlite (DEFERRED, before its first write)."""
    if _writes.get():
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def configure_engine(engine: Engine) -> None:
    """Attach what a backend needs on every new connection and transaction (SpatiaLite only)."""
    if engine.dialect.name != "sqlite":
        return
    if not event.contains(engine, "connect", _prepare_spatialite_connection):
        event.listen(engine, "connect", _prepare_spatialite_connection)
    if not event.contains(engine, "begin", _begin_sqlite_transaction):
        event.listen(engine, "begin", _begin_sqlite_transaction)


def init_app(app: Flask) -> None:
    """Requests with an unsafe method are writing units of work (see ``writing``)."""

    @app.before_request
    def declare_writes() -> None:
        if request.method not in SAFE_METHODS:
            g.writes_token = _writes.set(True)

    @app.teardown_request
    def end_writes(_error: BaseException | None) -> None:
        token = g.pop("writes_token", None)
        if token is not None:
            try:
                _writes.reset(token)
            except ValueError:  # torn down in another context than it was set in
                _writes.set(False)


def is_sqlite(bind) -> bool:
    return bind.dialect.name == "sqlite"


def point_value(longitude: float, latitude: float) -> WKTElement:
    return WKTElement(f"POINT({longitude!r} {latitude!r})", srid=SRID)


def longitude_of(geometry_column) -> ColumnElement:
    return func.ST_X(geometry_column)


def latitude_of(geometry_column) -> ColumnElement:
    return func.ST_Y(geometry_column)


def bbox_filter(bind, table_name: str, id_column, geometry_column, bbox: BBox) -> ColumnElement:
    """A WHERE clause for points inside ``bbox`` that uses the spatial index on each backend.

    PostGIS plans ``ST_Intersects`` through its GiST index. SpatiaLite does not use its
    R*Tree by itself, so the ``idx_<table>_<column>`` virtual table is queried explicitly;
    the R*Tree keeps 32-bit boxes rounded outwards, so the exact test is kept as well.
    """
    if not is_sqlite(bind):
        envelope = func.ST_MakeEnvelope(
            bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat, SRID
        )
        return func.ST_Intersects(geometry_column, envelope)
    index_table = f"idx_{table_name}_{geometry_column.key}"
    candidates = (
        select(literal_column("pkid"))
        .select_from(text(index_table))
        .where(
            literal_column("xmin") <= bbox.max_lon,
            literal_column("xmax") >= bbox.min_lon,
            literal_column("ymin") <= bbox.max_lat,
            literal_column("ymax") >= bbox.min_lat,
        )
    )
    return (
        id_column.in_(candidates)
        & longitude_of(geometry_column).between(bbox.min_lon, bbox.max_lon)
        & latitude_of(geometry_column).between(bbox.min_lat, bbox.max_lat)
    )


def points_in_box(bind, table_name: str, id_column, geometry_column, bbox: BBox) -> ColumnElement:
    """``bbox_filter`` for a column of points: on PostGIS the index's own test (``&&``, the
    boxes overlap), which for a point is exact and skips ``ST_Intersects``'s geometry test
    per row (a zoomed-out map view reads every asset of a city)."""
    if not is_sqlite(bind):
        envelope = func.ST_MakeEnvelope(
            bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat, SRID
        )
        return geometry_column.op("&&")(envelope)
    return bbox_filter(bind, table_name, id_column, geometry_column, bbox)


@contextmanager
def deferred_spatial_index(session, table_name: str, column_name: str) -> Iterator[None]:
    """Around a bulk insert: SpatiaLite's per-row R*Tree trigger costs ~60 µs a row, so it is
    dropped and the index filled in one statement afterwards, in the same transaction (DDL is
    transactional in SQLite; a rollback restores the trigger). PostGIS: nothing to do."""
    connection = session.connection()
    trigger = f"gii_{table_name}_{column_name}"
    create_sql = None
    if is_sqlite(connection):
        create_sql = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
            {"name": trigger},
        ).scalar()
    if create_sql is None:
        yield
        return
    dbapi_connection = connection.connection.dbapi_connection
    if not dbapi_connection.in_transaction:  # pysqlite begins only before DML, not DDL
        # The write lock first (waiting within the busy timeout): a DEFERRED transaction that
        # reads below and then drops the trigger would fail at once if another wrote between.
        dbapi_connection.execute("BEGIN IMMEDIATE")
    # Identifiers come from the models, never from input.
    max_rowid = f'SELECT coalesce(max(rowid), 0) FROM "{table_name}"'  # noqa: S608
    last_id = connection.execute(text(max_rowid)).scalar()
    connection.execute(text(f'DROP TRIGGER "{trigger}"'))
    try:
        yield
        column = f'"{column_name}"'
        fill_index = (
            f'INSERT INTO "idx_{table_name}_{column_name}" (pkid, xmin, xmax, ymin, ymax) '  # noqa: S608
            f"SELECT rowid, MbrMinX({column}), MbrMaxX({column}), MbrMinY({column}), "
            f'MbrMaxY({column}) FROM "{table_name}" '
            f"WHERE rowid > :last_id AND {column} IS NOT NULL"
        )
        connection.execute(text(fill_index), {"last_id": last_id})
    finally:
        connection.execute(text(create_sql))


def _copy_value(value: Any, column) -> Any:
    if isinstance(value, WKTElement):
        return f"SRID={value.srid};{value.data}"
    if value is not None and isinstance(column.type, JSON):
        return json.dumps(value, ensure_ascii=False)
    return value


def bulk_insert(session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many complete rows in the session's transaction.

    PostGIS takes them through COPY (about ten times faster than executemany through
    psycopg); SQLite through one executemany. Rows must carry every column they need:
    COPY applies no Python-side defaults.
    """
    if not rows:
        return
    note_table_write(session, table.name)  # COPY bypasses the session's listeners
    connection = session.connection()
    if is_sqlite(connection):
        session.execute(table.insert(), rows)
        return
    names = list(rows[0])
    quoted = ", ".join(f'"{name}"' for name in names)
    driver_connection = connection.connection.driver_connection
    with (
        driver_connection.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row([_copy_value(row[name], table.c[name]) for name in names])


EARTH_RADIUS_M = 6_371_008.8


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres; within a district it is off by < 0.5 %."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


# --- JSON built by the database ------------------------------------------------------------
# A GeoJSON page is built row by row inside the database and handed to the client as text:
# no per-row Python objects. SQLite writes REALs with 15 significant digits, which is
# nanometres at these coordinates.


class json_object(FunctionElement):
    """``json_object(k1, v1, …)`` on SQLite, ``json_build_object`` on PostgreSQL; the keys are
    names written into the statement (constants of the code, never input)."""

    inherit_cache = True

    def __init__(self, **members: Any):
        arguments = []
        for key, value in members.items():
            arguments.extend((literal_column(f"'{key}'"), value))
        super().__init__(*arguments)


class json_array(FunctionElement):
    inherit_cache = True


class embedded_json(FunctionElement):
    """A JSON column's stored document, embedded as JSON (not as a string)."""

    inherit_cache = True


class json_text(FunctionElement):
    """A JSON value as its text, for the client to pass on without parsing."""

    type = Text()
    inherit_cache = True


@compiles(json_object, "sqlite")
def _json_object_sqlite(element, compiler, **kw) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_object_postgresql(element, compiler, **kw) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


@compiles(json_array, "sqlite")
def _json_array_sqlite(element, compiler, **kw) -> str:
    return f"json_array({compiler.process(element.clauses, **kw)})"


@compiles(json_array, "postgresql")
def _json_array_postgresql(element, compiler, **kw) -> str:
    return f"json_build_array({compiler.process(element.clauses, **kw)})"


@compiles(embedded_json, "sqlite")
def _embedded_json_sqlite(element, compiler, **kw) -> str:
    return f"json(coalesce({compiler.process(element.clauses, **kw)}, '{{}}'))"


@compiles(embedded_json, "postgresql")
def _embedded_json_postgresql(element, compiler, **kw) -> str:
    return f"coalesce(({compiler.process(element.clauses, **kw)})::json, '{{}}'::json)"


@compiles(json_text, "sqlite")
def _json_text_sqlite(element, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(json_text, "postgresql")
def _json_text_postgresql(element, compiler, **kw) -> str:
    return f"({compiler.process(element.clauses, **kw)})::text"


def insert_ignoring_duplicates(table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for the session's backend: what makes generation,
    job runs and alert deliveries idempotent across processes."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


class floor_of(FunctionElement):
    """The largest integer not above a NON-NEGATIVE number (a map cell's index): ``floor``
    on PostgreSQL; SQLite has ``floor`` only when built with its math functions, and its
    ``CAST(… AS INTEGER)`` truncates, which is the floor for non-negative numbers."""

    type = BigInteger()
    inherit_cache = True


@compiles(floor_of, "sqlite")
def _floor_of_sqlite(element, compiler, **kw) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(floor_of, "postgresql")
def _floor_of_postgresql(element, compiler, **kw) -> str:
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS BIGINT)"
