"""One suite over both databases.

Each backend gets a schema built by the real migrations and one app on it, once per
session (per xdist worker); each test starts from that empty schema (the template copied
back for SpatiaLite, emptied tables for PostGIS), with the app's configuration as
created, and commits for real. Tests that need another configuration at creation (mail, tiles …)
create their own app on ``database_url``. Set SAR_TEST_BACKENDS=spatialite to run one
backend locally; CI runs both, and a backend that cannot be reached fails the run.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import accounts.services
from app import create_app
from core import clock, extensions, spatial
from core.extensions import db
from tests import factories
from tests.helpers import SmtpServer, alert_config, free_port, test_config

BACKENDS = [
    name.strip()
    for name in os.environ.get("SAR_TEST_BACKENDS", "spatialite,postgis").split(",")
    if name.strip()
]
SQLITE_RESET_TIMEOUT_SECONDS = 10


def worker_database(url: str) -> str:
    """Under pytest-xdist each worker has its own databases (sar_test_gw0, sar_test_gw0_demo …)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    target = make_url(url)
    return target.set(database=f"{target.database}_{worker}").render_as_string(hide_password=False)


POSTGIS_URL = worker_database(
    os.environ.get("SAR_TEST_POSTGIS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/sar_test")
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Tests marked ``one_database`` keep only their first backend's run. Slow tests first
    (their order otherwise kept): under pytest-xdist they then overlap with the rest instead
    of finishing the run on one worker while the others idle."""
    alternated = alternated_away(items)
    dropped = [item for item in items if runs_on_another_database(item) or item in alternated]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        left_out = set(dropped)
        items[:] = [item for item in items if item not in left_out]
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def alternated_away(items) -> set:
    """The runs ``alternate_databases`` tests leave out: the marked tests and their variants
    (devices, languages, cases), in the order of their modules, names and parameters, take
    the backends in turn; so each runs once and each backend runs about half of them (with
    one backend, all). For browser journeys: what the browser does differs between them, not
    what the database does. What each stores is read back on its backend, and the views and
    services behind the pages are tested on both."""
    if len(BACKENDS) < 2:
        return set()
    runs = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        if backend is None or item.get_closest_marker("alternate_databases") is None:
            continue
        if item.get_closest_marker("one_database") or item.get_closest_marker("postgis_only"):
            continue  # its backend is decided already (runs_on_another_database)
        runs.append(item)
    turn = {key: place for place, key in enumerate(sorted({variant_id(item) for item in runs}))}
    return {
        item
        for item in runs
        if BACKENDS[turn[variant_id(item)] % len(BACKENDS)] != item.callspec.params["backend"]
    }


def variant_id(item) -> tuple[str, str, str]:
    """The test's module, name and parameters but the backend (its place in the turns)."""
    params = item.callspec.params
    others = sorted((name, repr(value)) for name, value in params.items() if name != "backend")
    return (item.module.__name__, item.originalname, repr(others))


def runs_on_another_database(item) -> bool:
    """A ``one_database`` test's run on any backend but the first: what it checks is what the
    browser makes of a page (layout, print, accessibility, the security policy), the same
    whichever database filled the page; the data behind those pages is tested on both. A
    ``postgis_only`` test's run on SpatiaLite: a deployment only PostgreSQL serves (several
    hosts on one database)."""
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("backend") if callspec else None
    if backend is None:
        return False
    if item.get_closest_marker("postgis_only") is not None:
        return backend != "postgis"
    return item.get_closest_marker("one_database") is not None and backend != BACKENDS[0]


def pytest_report_header(config):
    postgis = make_url(POSTGIS_URL).render_as_string()
    return f"database backends: {', '.join(BACKENDS)} (PostGIS at {postgis})"


def recreate_postgis_database(url: str, name_suffix: str = "") -> str:
    """An empty database with PostGIS at ``url`` (+suffix); the server must be running."""
    target = make_url(url)
    if name_suffix:
        target = target.set(database=target.database + name_suffix)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = create_engine(target, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    return target.render_as_string(hide_password=False)


def migrated_database(backend: str, directory: Path, name_suffix: str = "") -> str:
    if backend == "spatialite":
        url = f"sqlite:///{directory / 'template.sqlite'}"
    elif backend == "postgis":
        url = recreate_postgis_database(POSTGIS_URL, name_suffix)
    else:
        raise pytest.UsageError(f"unknown backend {backend!r}")
    app = create_app(test_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


class BackendState:
    """One backend for the whole session (per xdist worker): a migrated database that every
    test empties again, and one app on it that every test shares.

    SpatiaLite: the migrated ``template.sqlite`` is copied into ``registry.sqlite`` before
    each test with SQLite's backup API (safe with connections open, unlike replacing the
    file under them). PostGIS: the migrated database itself, the tables a test wrote
    emptied and the sequences restarted before the next (``empty_postgis_tables``).
    """

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.template_url = migrated_database(name, directory)
        if name == "spatialite":
            self.template_path = Path(make_url(self.template_url).database)
            self.working_path = directory / "registry.sqlite"
            shutil.copyfile(self.template_path, self.working_path)
            self.url = f"sqlite:///{self.working_path}"
        else:
            self.url = self.template_url
            self.reset_engine = create_engine(self.url)
        self.app = create_app(test_config(self.url))
        self.config = {key: copied(value) for key, value in self.app.config.items()}
        self.api_binding = (extensions.api._app, extensions.api.spec, extensions.api.config)
        self.extension_names = set(self.app.extensions)
        self._demo_app: Flask | None = None
        self._directory = directory
        self._demo_copies: set[str] = set()

    def empty_database(self) -> str:
        """The shared database back to the empty migrated schema; its URL."""
        with self.app.app_context():
            db.session.remove()
        if self.name == "spatialite":
            # New connections after the restore, as with a new app: a statement pysqlite had
            # cached on a pooled connection failed with "no such table" after a restore
            # that followed DDL (the bulk import drops and recreates a spatial index trigger).
            with self.app.app_context():
                db.engine.dispose()
            self._sqlite_backup(self.template_path, self.working_path)
        else:
            empty_postgis_tables(self.reset_engine)
        return self.url

    def demo_district(self, app: Flask) -> None:
        """``load_demo_district()`` into the emptied database and ``PHOTO_DIR``: loaded once per
        day (the demo depends on the clock's day), then copied back (~0.1 s instead of ~4 s):
        SpatiaLite's file with the backup API; PostGIS's rows from a schema of copies, with
        triggers off (their tables are copied too) and the sequences where the load left them."""
        from demo.district import load_demo_district

        with app.app_context():
            key = clock.district_today().strftime("%Y%m%d")
        copy_directory = self._directory / f"demo-{key}"
        photos = Path(app.config["PHOTO_DIR"])
        tables = [table.name for table in db.metadata.sorted_tables]
        schema = f"test_demo_{key}"
        if key not in self._demo_copies:
            with app.app_context():
                load_demo_district()
                db.session.remove()
            shutil.rmtree(copy_directory, ignore_errors=True)
            copy_directory.mkdir()
            if photos.exists():
                shutil.copytree(photos, copy_directory / "photos")
            if self.name == "spatialite":
                self._sqlite_backup(self.working_path, copy_directory / "demo.sqlite")
            else:
                with self.reset_engine.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                    for name in tables:
                        connection.execute(
                            text(f'CREATE TABLE "{schema}"."{name}" AS TABLE public."{name}"')
                        )
                    connection.execute(
                        text(
                            f'CREATE TABLE "{schema}".sequences AS SELECT sequencename AS name,'  # noqa: S608 (our names)
                            " last_value FROM pg_sequences WHERE schemaname = 'public'"
                            " AND last_value IS NOT NULL"
                        )
                    )
            self._demo_copies.add(key)
            return
        if (copy_directory / "photos").exists():
            shutil.copytree(copy_directory / "photos", photos, dirs_exist_ok=True)
        if self.name == "spatialite":
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            self._sqlite_backup(copy_directory / "demo.sqlite", self.working_path)
            return
        with self.reset_engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for name in tables:
                connection.execute(
                    text(f'INSERT INTO public."{name}" SELECT * FROM "{schema}"."{name}"')  # noqa: S608
                )
            connection.execute(
                text(
                    "SELECT setval(format('public.%I', name), last_value)"  # noqa: S608
                    f' FROM "{schema}".sequences'
                )
            )

    def _sqlite_backup(self, source_path: Path, target_path: Path) -> None:
        module = spatial.sqlite_module()
        source = module.connect(str(source_path))
        target = module.connect(str(target_path), timeout=SQLITE_RESET_TIMEOUT_SECONDS)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()

    def fresh_app(self, **overrides) -> Flask:
        """The shared app with its configuration as created, plus ``overrides``."""
        self.app.config.clear()
        self.app.config.update({key: copied(value) for key, value in self.config.items()})
        self.app.config.update(overrides)
        # flask-smorest keeps one spec on the module-level Api: the last app created wins.
        smorest = extensions.api
        smorest._app, smorest.spec, smorest.config = self.api_binding
        # Failed sign-ins counted by an earlier test never lock this one out (accounts.limits).
        self.app.extensions["login_limiter"].reset()
        # What the app kept in memory since (caches keyed by what a database holds, which a
        # copied database holds again) is another app's.
        for name in set(self.app.extensions) - self.extension_names:
            del self.app.extensions[name]
        return self.app

    def demo_app(self) -> Flask:
        if self._demo_app is None:
            from demo.district import load_demo_district

            directory = self._directory / "demo"
            directory.mkdir()
            url = migrated_database(self.name, directory, "_demo")
            self._demo_app = create_app(test_config(url))
            with self._demo_app.app_context():
                load_demo_district()
                db.session.remove()
        return self._demo_app

    def close(self) -> None:
        for each in (self.app, self._demo_app):
            if each is not None:
                with each.app_context():
                    db.session.remove()
                    db.engine.dispose()
        if self.name == "postgis":
            self.reset_engine.dispose()


def copied(value):
    """A deep copy where one can be made (not of the engine options' DB-API module)."""
    try:
        return copy.deepcopy(value)
    except TypeError:
        return value


# A table a test left bigger than this is truncated; a smaller one is emptied by DELETE.
TRUNCATE_ABOVE_BYTES = 64 * 1024


def empty_postgis_tables(engine) -> None:
    """Every table a test wrote emptied, and every sequence restarted (an insert that failed
    still took a number).

    ``TRUNCATE`` gives a table new files, ~10 ms each, most of a small test's time on a slow
    machine; ``DELETE`` of a few pages costs well under one. So only the tables left bigger
    than ``TRUNCATE_ABOVE_BYTES`` are truncated (a fresh heap: no dead pages for the planner
    or a later scan to read); the others are deleted from with triggers and foreign keys off
    (``session_replication_role``: every table goes, in any order). A table read without
    ORDER BY may give its rows in any order: a page pruned of deleted rows takes new ones in
    the freed slots."""
    tables = [table.name for table in db.metadata.sorted_tables]
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        sizes = connection.execute(
            text(
                "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relkind = 'r'"
                " AND relnamespace = 'public'::regnamespace AND relname = ANY(:tables)"
                " AND pg_relation_size(oid) > 0"
            ),
            {"tables": tables},
        ).all()
        large = [name for name, size in sizes if size > TRUNCATE_ABOVE_BYTES]
        if large:
            names = ", ".join(f'"{name}"' for name in large)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for name, size in sizes:
            if size <= TRUNCATE_ABOVE_BYTES:
                connection.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 (a table's name)
        connection.execute(text("SET LOCAL session_replication_role = DEFAULT"))
        connection.execute(
            text(
                "SELECT setval(d.objid, s.seqstart, false) FROM pg_depend d"
                " JOIN pg_sequence s ON s.seqrelid = d.objid"
                " JOIN pg_class owner ON owner.oid = d.refobjid"
                " WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
                " AND owner.relnamespace = 'public'::regnamespace AND owner.relname = ANY(:tables)"
            ),
            {"tables": tables},
        )


class BackendStates:
    """Each backend's state, made when a test first needs it and kept to the end of the
    session, whatever order the tests come in (a session fixture parametrized by backend
    would be torn down and set up again every time the backend changes)."""

    def __init__(self, tmp_path_factory) -> None:
        self._tmp_path_factory = tmp_path_factory
        self._states: dict[str, BackendState] = {}

    def __getitem__(self, name: str) -> BackendState:
        if name not in self._states:
            if name not in ("spatialite", "postgis"):
                raise pytest.UsageError(f"unknown backend {name!r}")
            directory = self._tmp_path_factory.mktemp(name)
            self._states[name] = BackendState(name, directory)
        return self._states[name]

    def close(self) -> None:
        for state in self._states.values():
            state.close()


@pytest.fixture(scope="session", autouse=True)
def password_scores_remembered() -> Iterator[None]:
    """zxcvbn's score is a function of the password and the hints alone, ~8 ms a call on a
    slow machine, and every user a test makes is scored (most of them the same few): the test
    process remembers the scores it was given."""
    score = accounts.services.zxcvbn

    @functools.lru_cache(maxsize=4096)
    def remembered(password: str, hints: tuple[str, ...]) -> dict:
        return score(password, user_inputs=list(hints))

    accounts.services.zxcvbn = lambda password, user_inputs=(): remembered(
        password, tuple(user_inputs)
    )
    yield
    accounts.services.zxcvbn = score


@pytest.fixture(scope="session")
def backend_states(tmp_path_factory):
    states = BackendStates(tmp_path_factory)
    yield states
    states.close()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, backend_states) -> str:
    """The backend's shared database, empty (migrated) for this test."""
    return backend_states[backend].empty_database()


@pytest.fixture
def app(backend, backend_states, database_url, tmp_path):
    """The backend's shared app, its configuration as created, on the emptied database.
    Tests may change ``app.config``; the next test gets it back as it was."""
    app = backend_states[backend].fresh_app(
        PHOTO_DIR=str(tmp_path / "photos"), IMPORT_DIR=str(tmp_path / "imports")
    )
    yield app
    with app.app_context():
        db.session.remove()


@pytest.fixture
def smtp():
    """A real SMTP server on loopback that keeps what it receives (``smtp.inbox``)."""
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def alert_app(database_url, smtp):
    """An app of its own that mails through ``smtp`` (Flask-Mail is configured at start)."""
    app = create_app(alert_config(database_url, smtp.port))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def app_context(app):
    with app.app_context():
        yield


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = factories.PASSWORD):
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def district(app):
    """Two first-level grids split into four second-level grids, around Xingang."""
    with app.app_context():
        factories.gen_district()
        db.session.commit()


@pytest.fixture
def officer(app):
    with app.app_context():
        user = factories.gen_user("officer@example.org", "officer")
        db.session.commit()
        return user.email


@pytest.fixture
def admin(app):
    with app.app_context():
        user = factories.gen_user("admin@example.org", "admin")
        db.session.commit()
        return user.email


@pytest.fixture
def contractor_user(app):
    with app.app_context():
        user = factories.gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
        db.session.commit()
        return user.email


@pytest.fixture
def officer_token(app, officer):
    with app.app_context():
        token = factories.gen_token(officer)
        db.session.commit()
        return token


@pytest.fixture
def api(client, officer_token):
    """A test client that sends the officer's bearer token."""
    return factories.BearerClient(client, officer_token)


@pytest.fixture(scope="session")
def demo_app(backend, backend_states):
    """A separate database per backend holding the demo district, loaded once: read only."""
    return backend_states[backend].demo_app()


class FrozenClock:
    """The district's clock (``core.clock``) standing still at ``now``, column defaults
    included; ``set`` moves it, forwards or back."""

    def __init__(self, now: datetime) -> None:
        self.set(now)

    def set(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError(f"a frozen moment needs a time zone: {moment!r}")
        self.now = moment.astimezone(UTC)
        clock.freeze(self.now)
        return self.now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    """Time stops (at the real now) for this test; each module sets its own moment:
    ``frozen_clock.set(NOW)``."""
    yield FrozenClock(datetime.now(UTC))
    clock.freeze(None)
