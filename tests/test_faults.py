"""Faults survived, nothing lost: the database going away while the app serves gives clean
503s (JSON for the API, a translated page for pages, Retry-After) and the app recovers by
itself when it is back; a unit of work is whole or absent; a database error in one request
leaves the next requests healthy; a scheduled job fails during the outage and runs after it.

PostGIS: a private PostgreSQL cluster of its own (initdb, pg_ctl), stopped and started again
while a real threaded server answers. SpatiaLite: the database locked by another process past
the busy timeout (its way of being unavailable)."""

from __future__ import annotations

import contextlib
import glob
import http.cookiejar
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Blueprint
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from accounts.models import User
from app import create_app
from core import clock, spatial
from core.audit import AuditEntry
from core.errors import drop_session
from core.extensions import db
from core.scheduler import JobRun, run_job
from hazards.models import Hazard
from inspections.jobs import JOB_GENERATE
from inspections.models import Inspection
from tests import factories, helpers
from tests.factories import charging_station_data, gen_asset, gen_plan
from tests.helpers import free_port, served

pytestmark = pytest.mark.slow

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
HTTP_TIMEOUT = 30
OUTAGE_REQUESTS = 3


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now_utc", lambda: NOW)


# --- A PostgreSQL cluster of the test's own --------------------------------------------------


def postgres_bin() -> Path:
    """The newest server installed (bin/test installs the server beside PostGIS)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        pytest.fail(
            "no PostgreSQL server binaries under /usr/lib/postgresql (bin/test installs them)"
        )
    return Path(found[-1]).parent


class PrivateCluster:
    """A throwaway PostgreSQL cluster on a free loopback port, run as ``postgres`` when the
    tests run as root (the server refuses root), trust authentication, fsync off."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="sar-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip

    def _run(self, program: str, *args) -> None:
        command = [str(self.bin / program), *map(str, args)]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "-t", "30",
                  "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: open transactions are rolled back, connections cut."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        engine = create_engine(self.url(name), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("CREATE EXTENSION postgis"))
        engine.dispose()
        return self.url(name)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class SpatialiteLock:
    """Another process holding SQLite's write lock (BEGIN EXCLUSIVE) until released."""

    def __init__(self, path: str) -> None:
        script = (
            "import sys, sqlite3\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n"
            "db.execute('ROLLBACK')\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", script, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.process.communicate("\n", timeout=30)
        assert self.process.returncode == 0


class Outage:
    """The backend made unavailable and available again: PostGIS stopped and started,
    SpatiaLite locked and released."""

    def __init__(self, backend: str, cluster: PrivateCluster | None, url: str) -> None:
        self.backend, self.cluster, self.url = backend, cluster, url
        self.lock: SpatialiteLock | None = None

    def begin(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        else:
            self.lock = SpatialiteLock(self.url.removeprefix("sqlite:///"))

    def end(self) -> None:
        if self.cluster is not None:
            self.cluster.start()
        else:
            self.lock.release()


@pytest.fixture
def outage_database(backend, tmp_path):
    """A migrated database of this test's own: in a private cluster (PostGIS), or a file."""
    cluster = None
    if backend == "postgis":
        cluster = PrivateCluster()
        cluster.start()
        url = cluster.create_database("sar_faults")
    else:
        url = f"sqlite:///{tmp_path / 'faults.sqlite'}"
    try:
        migrating = create_app(helpers.test_config(url))
        with migrating.app_context():
            upgrade()
            db.engine.dispose()
        yield Outage(backend, cluster, url)
    finally:
        if cluster is not None:
            cluster.remove()


@pytest.fixture
def served_app(outage_database, tmp_path):
    """The app on the test's database, a district with CS-001, an officer and a token."""
    app = create_app(helpers.test_config(outage_database.url, PHOTO_DIR=str(tmp_path / "photos")))
    with app.app_context():
        factories.gen_district()
        gen_asset(charging_station_data(1))
        factories.gen_user("officer@example.org", "officer")
        token = factories.gen_token("officer@example.org")
        gen_plan()
        db.session.commit()
    yield app, token
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- HTTP against the real server -------------------------------------------------------------


class Browser:
    """A cookie-keeping HTTP client that returns every status (no exceptions for 4xx/5xx)."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.token = token
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def request(self, method: str, path: str, body=None, form=None, language="zh-CN"):
        headers = {"Accept-Language": language}
        data = None
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = self.base + path  # always http://127.0.0.1:port
        request = urllib.request.Request(url, data, headers, method=method)  # noqa: S310
        try:
            with self.opener.open(request, timeout=HTTP_TIMEOUT) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()


HAZARD = {"category": "other", "severity": "general", "description": "Cable hot", "asset": "CS-001"}


def report_hazards(api: Browser, stop: threading.Event, statuses: list[int]) -> None:
    """Hazard reports one after another until ``stop``: each a unit of work of a hazard, its
    first event and its audit entry."""
    while not stop.is_set():
        status, _headers, _body = api.request("POST", "/api/v1/hazards", body=HAZARD)
        statuses.append(status)
        time.sleep(0.02)


def assert_unavailable(answer, json_expected: bool) -> None:
    status, headers, body = answer
    assert status == 503, (status, body[:500])
    assert int(headers["Retry-After"]) > 0
    if json_expected:
        assert headers["Content-Type"].startswith("application/json")
        assert json.loads(body)["code"] == 503
        assert "数据库" in json.loads(body)["message"]
    else:
        assert headers["Content-Type"].startswith("text/html")
        assert "暂时无法使用" in body and "Traceback" not in body


def wait_until_served(api: Browser, seconds: float = 30) -> tuple:
    deadline = time.monotonic() + seconds
    answer = api.request("GET", "/api/v1/assets/CS-001")
    while answer[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = api.request("GET", "/api/v1/assets/CS-001")
    return answer


def answers_during_outage(backend: str, api: Browser, page: Browser) -> list[tuple]:
    """(answer, JSON expected) for requests made at once while the database is away: writes
    on both backends; reads too on PostGIS (SQLite in WAL mode reads under a write lock)."""
    asks = [
        (lambda: api.request("POST", "/api/v1/hazards", body=HAZARD), True),
        (lambda: page.request("POST", "/profile", form={"locale": "en"}), False),
    ]
    if backend == "postgis":
        asks += [
            (lambda: api.request("GET", "/api/v1/assets/CS-001"), True),
            (lambda: page.request("GET", "/assets/CS-001"), False),
            (lambda: page.request("GET", "/healthz"), True),
        ]
    with ThreadPoolExecutor(len(asks)) as pool:
        futures = [(pool.submit(ask), json_expected) for ask, json_expected in asks]
        return [(future.result(), json_expected) for future, json_expected in futures]


def test_an_outage_answers_503_and_the_app_recovers_by_itself(served_app, outage_database):
    app, token = served_app
    with served(app) as base:
        api, page = Browser(base, token), Browser(base)
        login = {"email": "officer@example.org", "password": factories.PASSWORD}
        assert page.request("POST", "/login", form=login)[0] == 200
        assert page.request("GET", "/assets/CS-001")[0] == 200
        assert api.request("GET", "/api/v1/assets/CS-001")[0] == 200

        statuses: list[int] = []
        stop = threading.Event()
        reporter = threading.Thread(
            target=report_hazards, args=(Browser(base, token), stop, statuses)
        )
        reporter.start()
        try:
            time.sleep(0.3)
            outage_database.begin()
            during = answers_during_outage(outage_database.backend, api, page)
            outage_database.end()
        finally:
            time.sleep(0.3)
            stop.set()
            reporter.join(timeout=60)
        for answer, json_expected in during:
            assert_unavailable(answer, json_expected)

        # Back without restarting the app: the pool replaces its dead connections.
        assert wait_until_served(api)[0] == 200
        assert page.request("GET", "/assets/CS-001")[0] == 200
        after = api.request("POST", "/api/v1/hazards", body=HAZARD)
        assert after[0] == 201, after
    assert 500 not in statuses and set(statuses) <= {201, 503}, statuses
    with app.app_context():
        hazards = db.session.scalars(select(Hazard.code)).all()
        audited = db.session.scalars(
            select(AuditEntry.entity_key).where(AuditEntry.entity_type == "hazard")
        ).all()
    # Every unit of work whole or absent: each hazard with its audit entry, none without.
    assert sorted(set(audited)) == sorted(hazards)
    created = statuses.count(201) + 1
    assert created <= len(hazards) <= created + statuses.count(503)


def test_a_scheduled_job_fails_in_an_outage_and_runs_after_it(served_app, outage_database):
    app, _token = served_app
    outage_database.begin()
    try:
        with pytest.raises(OperationalError):
            run_job(app, JOB_GENERATE)
    finally:
        outage_database.end()
    run_job(app, JOB_GENERATE)
    with app.app_context():
        runs = db.session.scalars(select(JobRun.run_key).where(JobRun.job_id == JOB_GENERATE))
        assert list(runs) == ["2026-03-10"]
        assert db.session.scalar(select(func.count()).select_from(Inspection)) > 0


# --- A database error in one request, then healthy requests -------------------------------


def duplicate_user_views() -> Blueprint:
    """Views that hit a constraint no service checks first (a stand-in for a race the code
    did not foresee): a second user with an existing email, committed."""
    views = Blueprint("duplicate_user", __name__)

    def add_duplicate():
        db.session.add(User(email="officer@example.org", role="officer", password_hash="x"))
        db.session.commit()
        return {"saved": True}

    views.add_url_rule("/api/v1/duplicate-user", "api", add_duplicate, methods=["POST"])
    views.add_url_rule("/duplicate-user", "page", add_duplicate, methods=["POST"])
    return views


@contextlib.contextmanager
def app_with_views(database_url: str, tmp_path: Path, views: Blueprint):
    """An app of its own with ``views``, a district with CS-001 and an officer; the app and
    the officer's token."""
    app = create_app(helpers.test_config(database_url, PHOTO_DIR=str(tmp_path / "photos")))
    app.register_blueprint(views)
    with app.app_context():
        factories.gen_district()
        gen_asset(charging_station_data(1))
        factories.gen_user("officer@example.org", "officer")
        token = factories.gen_token("officer@example.org")
        db.session.commit()
    try:
        yield app, token
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def duplicating_app(database_url, tmp_path):
    with app_with_views(database_url, tmp_path, duplicate_user_views()) as made:
        yield made


def test_an_integrity_error_is_409_and_the_next_requests_are_healthy(duplicating_app):
    app, token = duplicating_app
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    # One app context around every request: the same scoped session serves them all, as a
    # worker's would if nothing rolled it back.
    with app.app_context():
        refused = client.post("/api/v1/duplicate-user", headers=auth)
        assert refused.status_code == 409
        assert refused.json["code"] == 409 and "Nothing was saved" in refused.json["message"]
        page = client.post("/duplicate-user", headers=auth)
        assert page.status_code == 409 and "Nothing was saved" in page.get_data(as_text=True)

        assert client.get("/api/v1/assets/CS-001", headers=auth).status_code == 200
        created = client.post("/api/v1/hazards", json=HAZARD, headers=auth)
        assert created.status_code == 201, created.json
        assert client.get("/healthz").status_code == 200
    with app.app_context():
        emails = db.session.scalars(select(User.email)).all()
        assert emails == ["officer@example.org"]
        assert db.session.scalars(select(Hazard.code)).all() == [created.json["properties"]["code"]]


def test_a_database_that_never_answers_gives_503_in_bounded_time(tmp_path):
    """A PostgreSQL address that accepts TCP and then says nothing (a host gone behind a
    firewall): the connection gives up after its connect timeout, and the request is a 503."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/sar_faults"
        app = create_app(helpers.test_config(url, PHOTO_DIR=str(tmp_path / "photos")))
        with served(app) as base:
            started = time.monotonic()
            answer = Browser(base).request("GET", "/healthz")
            elapsed = time.monotonic() - started
    assert_unavailable(answer, json_expected=True)
    assert elapsed < spatial.POSTGRES_CONNECT_TIMEOUT_SECONDS + 5


# --- The connection cut after the response was made ----------------------------------------


def cut_own_connection(backend: str, database_url: str) -> None:
    """End the request's connection under it, its transaction open: PostgreSQL terminates
    the backend (as a restart or an administrator does); SQLite's file handle is closed."""
    if backend == "postgis":
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(database_url)
        try:
            with admin.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        finally:
            admin.dispose()
    else:
        db.session.connection().connection.dbapi_connection.close()


@pytest.fixture
def connection_losing_app(backend, database_url, tmp_path):
    views = Blueprint("lose_connection", __name__)

    def count_users_then_lose_the_connection():
        users = db.session.scalar(select(func.count()).select_from(User))
        cut_own_connection(backend, database_url)
        return {"users": users}

    views.add_url_rule("/api/v1/lose-connection", "api", count_users_then_lose_the_connection)
    with app_with_views(database_url, tmp_path, views) as made:
        yield made


def test_a_connection_cut_after_the_answer_keeps_the_answer(
    connection_losing_app, backend, database_url
):
    """Closing the session rolls back over the connection; when it is gone that must not turn
    the finished answer into a bare 500, and the next request gets a healthy connection."""
    app, token = connection_losing_app
    auth = {"Authorization": f"Bearer {token}"}
    with served(app) as base:
        api = Browser(base, token)
        for _ in range(3):
            status, _headers, answer = api.request("GET", "/api/v1/lose-connection")
            assert status == 200 and json.loads(answer) == {"users": 1}, answer
        assert api.request("GET", "/api/v1/assets/CS-001")[0] == 200
        created = api.request("POST", "/api/v1/hazards", body=HAZARD)
        assert created[0] == 201, created
    client = app.test_client()
    assert client.get("/api/v1/assets/CS-001", headers=auth).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Hazard)) == 1
    # The closing alone, with nothing before it that noticed the connection was gone.
    with app.app_context():
        db.session.scalar(select(func.count()).select_from(User))
        cut_own_connection(backend, database_url)
        drop_session()
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
