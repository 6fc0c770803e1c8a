"""The one place that knows how SpatiaLite and PostGIS differ.

Feature code asks this module for engine options, point values, coordinate columns and
index-backed bounding-box filters, and never checks the dialect itself.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import select as select_module
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from flask import Flask, current_app, g, request
from geoalchemy2 import Geometry, WKTElement
from geoalchemy2.admin.dialects.sqlite import init_spatialite
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Engine,
    Select,
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
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
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
# Settings of every PostgreSQL session the app opens (libpq's ``options``; see engine_options).
POSTGRES_SESSION_OPTIONS = "-c jit=off"
# analyze_tables waits this long for a table's lock (another ANALYZE or VACUUM holding it),
# then leaves the statistics to autovacuum or the next ANALYZE.
ANALYZE_LOCK_TIMEOUT_MS = 5_000


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
    # No pre-ping: it costs every request a round trip, which under load cost more than the
    # statement it guards; a pooled connection the server ended is refused at checkout
    # instead, by what its socket says (``_refuse_connection_the_server_ended``).
    # JIT off: at 100k assets the map's query is costed above jit_above_cost, and compiling it
    # took 340 of its 440 ms; mixed throughput rose 1.4-2.1x without JIT (issue 14). Our
    # queries are index probes and short scans, which JIT never pays back.
    return {
        "pool_pre_ping": False,
        "connect_args": {
            "connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS,
            "options": POSTGRES_SESSION_OPTIONS,
        },
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


READS_ONLY = "reads_only"


def reads_only(view: Any) -> Any:
    """Mark a view whose statements only read: on PostgreSQL its request's session runs in
    autocommit, each statement its own snapshot, without the two round trips of a
    transaction (BEGIN, ROLLBACK); with the token's lookup, the count and the page, that was
    three of a bbox request's six (issue 14). The times a request notes (a token's last use)
    are written after it, in a transaction of their own (``accounts.sessions``). Only for
    views that write nothing: in autocommit a failed unit of work could not roll back. Put it
    nearest the function, under the blueprint's decorators (they copy the mark)."""
    setattr(view, READS_ONLY, True)
    return view


def locked_row(column: Any, value: Any, **defaults: Any) -> Any:
    """The row whose key ``column`` (a model's attribute) is ``value``, created (with
    ``defaults``) if missing, locked for this transaction: ``FOR UPDATE`` on PostgreSQL;
    SQLite holds its write lock already (``writing``)."""
    model = column.class_
    db.session.execute(
        backend_insert(model.__table__)
        .values({column.key: value, **defaults})
        .on_conflict_do_nothing()
    )
    return db.session.execute(select(model).where(column == value).with_for_update()).scalar_one()


def _begin_sqlite_transaction(connection) -> None:
    """The engine's "begin": a writing unit of work begins IMMEDIATE; any other is left to
    pysqlite (DEFERRED, before its first write)."""
    if _writes.get():
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _refuse_connection_the_server_ended(dbapi_connection, _record, _proxy) -> None:
    """Checkout from the pool: a PostgreSQL connection the server has ended (a restart, an
    administrator's ``pg_terminate_backend``, an idle timeout) is replaced before use.

    The server says so on the socket (its last message, then end of file), and a healthy idle
    connection has nothing to read: a look at the socket, not a round trip (go-sql-driver's
    connection check does the same). ``DisconnectionError`` makes the pool discard it and try
    a new one. A host gone without a word is not seen here; its statement fails and the
    request answers 503 (``core.errors``), as it would have after a ping."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    readable, _writable, _failed = select_module.select([dbapi_connection.fileno()], [], [], 0)
    if readable:
        raise DisconnectionError("the server ended the connection")


def configure_engine(engine: Engine) -> None:
    """Attach what a backend needs on every new connection and transaction, and the check of
    a PostgreSQL connection taken from the pool."""
    if engine.dialect.name != "sqlite":
        if not event.contains(engine, "checkout", _refuse_connection_the_server_ended):
            event.listen(engine, "checkout", _refuse_connection_the_server_ended)
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

    @app.before_request
    def read_without_a_transaction() -> None:
        """A ``reads_only`` view's session, on PostgreSQL: autocommit (see there)."""
        if request.method not in SAFE_METHODS or is_sqlite(db.engine):
            return
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, READS_ONLY, False) and not db.session().in_transaction():
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            g.reads_in_autocommit = True

    @app.teardown_request
    def end_autocommit(_error: BaseException | None) -> None:
        """The connection goes back to the pool (which restores its transactions) with the
        request, even when an app context outlives it (a test's, a CLI command's)."""
        if g.pop("reads_in_autocommit", False):
            db.session.close()

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


def _postgis_envelope(bbox: BBox):
    return func.ST_MakeEnvelope(bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat, SRID)


def _rtree_candidates(table_name: str, geometry_column, bbox: BBox) -> Select:
    """The ids whose box in SpatiaLite's R*Tree (``idx_<table>_<column>``) meets ``bbox``."""
    return (
        select(literal_column("pkid"))
        .select_from(text(f"idx_{table_name}_{geometry_column.key}"))
        .where(
            literal_column("xmin") <= bbox.max_lon,
            literal_column("xmax") >= bbox.min_lon,
            literal_column("ymin") <= bbox.max_lat,
            literal_column("ymax") >= bbox.min_lat,
        )
    )


def bbox_filter(bind, table_name: str, id_column, geometry_column, bbox: BBox) -> ColumnElement:
    """A WHERE clause for points inside ``bbox`` that uses the spatial index on each backend.

    PostGIS plans ``ST_Intersects`` through its GiST index. SpatiaLite does not use its
    R*Tree by itself, so the ``idx_<table>_<column>`` virtual table is queried explicitly;
    the R*Tree keeps 32-bit boxes rounded outwards, so the exact test is kept as well.
    """
    if not is_sqlite(bind):
        envelope = _postgis_envelope(bbox)
        return func.ST_Intersects(geometry_column, envelope)
    candidates = _rtree_candidates(table_name, geometry_column, bbox)
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
        envelope = _postgis_envelope(bbox)
        return geometry_column.op("&&")(envelope)
    return bbox_filter(bind, table_name, id_column, geometry_column, bbox)


def shapes_in_box(bind, table_name: str, id_column, geometry_column, bbox: BBox) -> ColumnElement:
    """A WHERE clause for shapes (polygons) that intersect ``bbox``, through the spatial
    index on each backend: PostGIS plans ``ST_Intersects`` through its GiST index; SpatiaLite
    is given the R*Tree's candidates (as in ``bbox_filter``) before the exact test."""
    if not is_sqlite(bind):
        envelope = _postgis_envelope(bbox)
        return func.ST_Intersects(geometry_column, envelope)
    candidates = _rtree_candidates(table_name, geometry_column, bbox)
    envelope = func.BuildMbr(bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat, SRID)
    return id_column.in_(candidates) & (func.ST_Intersects(geometry_column, envelope) == 1)


def extent_columns(bind, geometry_column) -> list[ColumnElement]:
    """(west, south, east, north) of every value of ``geometry_column``, as aggregate columns:
    one row read from the database instead of every shape (PostGIS's ``ST_Extent`` is a box,
    SpatiaLite's ``Extent`` a polygon, and their corner functions are named differently)."""
    if not is_sqlite(bind):
        extent = func.ST_Extent(geometry_column)
        corners = (func.ST_XMin, func.ST_YMin, func.ST_XMax, func.ST_YMax)
    else:
        extent = func.Extent(geometry_column)
        corners = (func.MbrMinX, func.MbrMinY, func.MbrMaxX, func.MbrMaxY)
    return [corner(extent) for corner in corners]


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


# --- Filling empty tables with many rows ----------------------------------------------------
# What each inserted row pays for (index entries, foreign-key checks, SpatiaLite's R*Tree
# trigger) is set aside and done once at the end, in the same transaction: a failure rolls
# back the rows and the DDL together. Tables of the models only, never names from input.

_POSTGRES_DEFERRABLE = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)),
       CASE c.contype WHEN 'f' THEN 2 ELSE 1 END
  FROM pg_constraint c
 WHERE c.conrelid = ANY(CAST(:tables AS regclass[]))
   AND (c.contype = 'f' OR (c.contype = 'u' AND NOT EXISTS (
        SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)))
UNION ALL
SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), 0
  FROM pg_index i
 WHERE i.indrelid = ANY(CAST(:tables AS regclass[])) AND NOT i.indisprimary
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


@contextmanager
def bulk_load(session, tables: list[Table]) -> Iterator[None]:
    """Around filling ``tables`` (empty, in foreign-key order) with many rows carrying their
    ids, in the session's transaction.

    PostgreSQL (the manual's "Populating a Database"): the tables' secondary indexes, unique
    constraints and foreign keys are dropped, and made again after the rows are in (an index
    built in one sort, a foreign key checked in one join, instead of row by row); then each
    table's id sequence is moved past its ids and the tables are analysed. SQLite: each
    spatial index's trigger is deferred (``deferred_spatial_index``) and the other indexes
    made afterwards; its foreign keys are checked per row (they cannot be switched off inside
    a transaction) and its ids need no sequence.
    """
    connection = session.connection()
    names = [table.name for table in tables]
    if is_sqlite(connection):
        with _sqlite_bulk_load(session, tables):
            yield
        return
    rows = connection.execute(text(_POSTGRES_DEFERRABLE), {"tables": names}).all()
    for drop, _create, _order in rows:
        connection.execute(text(drop))
    yield
    for _drop, create, _order in sorted(rows, key=lambda row: row[2]):
        connection.execute(text(create))
    for name in names:
        if "id" in db.metadata.tables[name].c:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "  # noqa: S608
                    f'coalesce(max(id), 1), max(id) IS NOT NULL) FROM "{name}"'
                )
            )


def quoted_table_list(names: Iterable[str]) -> str:
    """``"a", "b"``: the tables ``names`` (our own, never input) once each, in name order."""
    return ", ".join(f'"{name}"' for name in sorted(set(names)))


def analyze_tables(names: Iterable[str]) -> bool:
    """Gather the planner's statistics of the tables ``names`` after a bulk write committed
    (``demo province``, a large import); True if they were gathered.

    PostgreSQL: ``ANALYZE`` on a connection and in a transaction of its own, after the
    write's (the rows it samples are committed). Autovacuum may be off or late, and a planner
    without statistics scanned whole tables: 3,961 ms instead of 67 ms for a map view of 10k
    assets. The rows are committed whatever happens here: a failure (say a lock held longer than
    ``ANALYZE_LOCK_TIMEOUT_MS``) is logged, not raised. SQLite: nothing. Its planner without
    ``sqlite_stat1`` is the one our SQLite queries were written and measured against; with
    statistics (``ANALYZE``, 0.26 s at 200k inspections) the province's lists measured no
    better, most of them slower (README, "Production").
    """
    if is_sqlite(db.engine):
        return False
    tables = quoted_table_list(names)
    try:
        with db.engine.begin() as connection:
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {ANALYZE_LOCK_TIMEOUT_MS}")
            connection.exec_driver_sql(f"ANALYZE {tables}")
    except SQLAlchemyError:
        current_app.logger.exception("ANALYZE %s failed (the rows are committed)", tables)
        return False
    return True


def analyze_in_session(names: Iterable[str]) -> None:
    """PostgreSQL: ``ANALYZE`` the tables ``names`` in the session's transaction, after a bulk
    write the same transaction goes on to query (it samples the transaction's own rows). A
    planner that has never seen the tables guesses: the demo district's four plans took 2.2 s
    to check for overlaps on fresh tables, 0.3 s after. SQLite: nothing (as
    ``analyze_tables``)."""
    if is_sqlite(db.engine):
        return
    db.session.flush()
    tables = quoted_table_list(names)
    db.session.execute(text(f"ANALYZE {tables}"))


@contextmanager
def _sqlite_bulk_load(session, tables: list[Table]) -> Iterator[None]:
    connection = session.connection()
    indexes = connection.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN (SELECT value FROM json_each(:tables))"
        ),
        {"tables": json.dumps([table.name for table in tables])},
    ).all()
    with ExitStack() as stack:
        for table in tables:
            for column in table.columns:
                if isinstance(column.type, Geometry):
                    stack.enter_context(deferred_spatial_index(session, table.name, column.name))
        for name, _sql in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
        yield
        for _name, sql in indexes:
            connection.execute(text(sql))


def _ewkt(value: Any) -> Any:
    return f"SRID={value.srid};{value.data}" if isinstance(value, WKTElement) else value


def _json_writer() -> Any:
    """JSON as text; a document shared by many rows (the same object) is written once."""
    written: dict[int, tuple[Any, str]] = {}

    def write(value: Any) -> Any:
        if value is None:
            return None
        known = written.get(id(value))
        if known is None or known[0] is not value:
            known = written[id(value)] = (value, json.dumps(value, ensure_ascii=False))
        return known[1]

    return write


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
    # Only geometries (as EWKT) and JSON (as text) need converting; each column once.
    converters = [
        (position, _json_writer() if isinstance(table.c[name].type, JSON) else _ewkt)
        for position, name in enumerate(names)
        if isinstance(table.c[name].type, JSON | Geometry)
    ]
    values_of = itemgetter(*names)
    driver_connection = connection.connection.driver_connection
    with (
        driver_connection.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
    ):
        for row in rows:
            values = list(values_of(row)) if len(names) > 1 else [row[names[0]]]
            for position, convert in converters:
                values[position] = convert(values[position])
            copy.write_row(values)


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


def backend_insert(table: Table, session=None) -> Insert:
    """The backend's own ``INSERT`` (with ``ON CONFLICT``) for ``session`` (default: the
    request's)."""
    bind = (session or db.session).get_bind()
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# The rolled-up caches a read fills as it goes (on-time totals per due date, overdue weeks).
ROLLUP_FILL = "rollup fill"


def wait_for_other_fillers(name: str = ROLLUP_FILL) -> None:
    """Wait until no other transaction is filling the caches named ``name``: on PostgreSQL a
    transaction-level advisory lock, held until this transaction ends (taking it again in the
    same transaction does not wait). Two fillers that claim a cache's rows in different
    orders, one statement after another, otherwise each wait on a row the other inserted:
    "deadlock detected" (two dashboards after a write, under load at 10M inspections: a
    503). SQLite lets one writer at a time in anyway."""
    if is_sqlite(db.session.get_bind()):
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    db.session.execute(select(func.pg_advisory_xact_lock(key)))


def insert_ignoring_duplicates(table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for the session's backend: what makes generation,
    job runs and alert deliveries idempotent across processes."""
    return backend_insert(table).on_conflict_do_nothing()


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
