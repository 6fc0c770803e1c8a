"""Data versions: a number that grows with every committed write to a set of tables, for
answers that can be revalidated cheaply (the map's ETag: ``maps.api``) or reused while it stays
(``cached_by_version``: the dashboard's numbers).

A version is one row of ``data_versions``. A transaction that wrote to a watched table ends
with one upsert of its row (``version = version + 1``) just before it commits, in its own
transaction: the version moves exactly when the data does (a rollback takes both back), and
concurrent writers only queue on the row for the instant between their last statement and
their commit (they take its lock last, so no two can wait on each other: no deadlock).

What counts as a write, noted on the session (``Session.info``):
- an ORM flush with a new, changed or deleted object of a watched table (``before_flush``);
- an INSERT, UPDATE or DELETE statement on a watched table run through ``Session.execute``
  (``do_orm_execute``: the bulk steps of inspections and hazards, generation);
- ``core.spatial.bulk_insert`` into a watched table (PostgreSQL's COPY bypasses both);
- anything else that writes behind the session's back calls ``note_map_write()``.

A missing row reads as version 0 and is created by the first write (a database emptied by
TRUNCATE, a schema made by ``create_all``), at a random number (``first_version``).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import BigInteger, String, Table, event, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.extensions import db

MAP = "map"
# The tables whose writes can change what the map draws.
MAP_TABLES = frozenset({"assets", "inspections", "hazards", "grids"})
_CHANGED = "sar_data_versions_changed"
T = TypeVar("T")


class DataVersion(db.Model):
    """How many committed transactions have written to the data behind ``name``."""

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


def current_version(session: Session, name: str = MAP) -> int:
    """The version of ``name`` as this session sees it (0 before any write)."""
    value = session.execute(select(DataVersion.version).where(DataVersion.name == name)).scalar()
    return int(value or 0)


_CACHE = "sar_version_cache"
CACHE_SIZE = 64
_cache_lock = threading.Lock()


def cached_by_version(key: tuple, compute: Callable[[], T], name: str = MAP) -> T:
    """``compute()``'s answer, reused while the version of ``name`` stays what it was when it
    was computed: for aggregates of the watched tables (``MAP_TABLES``) that ``key`` makes
    exact (the district's day, the asker's scope, the language…). Kept in this process, per
    app (a test's app starts empty), the ``CACHE_SIZE`` latest.

    The version is read first, so a write committed meanwhile can only file a newer answer
    under an older version, never the reverse; a request that begins after the commit reads
    the new version and computes again."""
    from flask import current_app

    version = current_version(db.session, name)
    if version == 0:  # nothing counted yet (a new or emptied database): nothing to tell apart
        return compute()
    cache: OrderedDict = current_app.extensions.setdefault(_CACHE, OrderedDict())
    full_key = (name, version, *key)
    with _cache_lock:
        if full_key in cache:
            cache.move_to_end(full_key)
            return cache[full_key]
    value = compute()
    with _cache_lock:
        cache[full_key] = value
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return value


def build_is_current(state: Any, version: int, today: Any, only_if_changed: bool) -> bool:
    """Whether the state row of a build counted ahead (the map's roll-up, the dashboard's
    snapshot: ``data_version``, ``built_for``, ``built_at``) already holds a build as new as
    ``version`` for ``today`` (with ``only_if_changed``), or a newer one (another refresh
    committed while this one counted)."""
    if state.built_at is None or state.built_for != today or state.data_version is None:
        return False
    if only_if_changed:
        return state.data_version >= version
    return state.data_version > version


def note_map_write(session: Session | None = None) -> None:
    """This session's transaction wrote map data in a way the listeners cannot see; its
    commit moves the map's version."""
    session = db.session() if session is None else session
    session.info.setdefault(_CHANGED, set()).add(MAP)


def note_table_write(session: Session, table_name: str) -> None:
    if table_name in MAP_TABLES:
        note_map_write(session)


def _has_versions(connection) -> bool:
    """Whether the schema has the table (not before migration 0013: a migration's own test
    writing its rows); remembered per database connection once it has."""
    if connection.info.get(_CHANGED):
        return True
    found = inspect(connection).has_table(DataVersion.__tablename__)
    if found:
        connection.info[_CHANGED] = True
    return found


def _bump(session: Session, name: str) -> None:
    from core.spatial import backend_insert  # core.spatial imports this module

    connection = session.connection()
    if not _has_versions(connection):
        return
    table: Table = DataVersion.__table__  # type: ignore[assignment]
    statement = backend_insert(table, session).values(name=name, version=first_version())
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.name], set_={"version": table.c.version + 1}
    )
    connection.execute(statement)


def first_version() -> int:
    """Where a new row's count starts: at random, far from 0, so that a database emptied
    (TRUNCATE, a restored backup) does not count the same numbers again for other data, which
    answers kept by version (an ETag, ``cached_by_version``) would take for the old data."""
    return secrets.randbelow(2**52) + 1


def _table_name(target: Any) -> str | None:
    table = getattr(target, "table", None)
    if table is None:
        return None
    name = getattr(table, "name", None)
    if name is None:  # an ORM entity (``update(Hazard)``)
        mapper = getattr(table, "__table__", None)
        name = getattr(mapper, "name", None)
    return name


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        name = _table_name(state.statement)
        if name is not None:
            note_table_write(state.session, name)


def _watched(instances) -> bool:
    return any(
        getattr(getattr(type(record), "__table__", None), "name", None) in MAP_TABLES
        for record in instances
    )


@event.listens_for(Session, "before_flush")
def _note_flush(session: Session, _flush_context, _instances) -> None:
    if _watched(session.new) or _watched(session.dirty) or _watched(session.deleted):
        note_map_write(session)


@event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    if _watched(session.new) or _watched(session.dirty) or _watched(session.deleted):
        note_map_write(session)  # the commit's own flush comes after this event
    names = session.info.pop(_CHANGED, None)
    if not names:
        return
    for name in sorted(names):
        _bump(session, name)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # the root transaction (not a savepoint) committed or not
        session.info.pop(_CHANGED, None)
