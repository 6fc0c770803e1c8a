"""Past one machine: two app hosts and one scheduler process against one database (README,
Production, "Two app hosts and a scheduler").

Each host is its own OS process, ``flask --app app run`` (Werkzeug, threaded; gunicorn is not
in the environment) on its own loopback port, as a load balancer would have behind it; both
share what the README says must be shared: SECRET_KEY, DATABASE_URL, PHOTO_DIR (a temporary
directory standing for NFS) and RATELIMIT_STORAGE_URI (the Redis on 127.0.0.1:6379). The
scheduler is ``flask --app app scheduler run``, the commands are ``flask --app app …`` run
beside the hosts, all with that same environment. Everything is checked as users see it:
cookies, forms with their CSRF tokens, the API with bearer tokens, emails received by an SMTP
server on loopback; the database is read only to count.

PostGIS only: SpatiaLite is one host's database (the README says so); several processes on
one SpatiaLite file are raced in tests/test_races.py and tests/test_scheduler.py.
Every wait is bounded; every process started here is stopped in a ``finally``.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from accounts.models import UserSession
from accounts.services import user_by_email
from alerts.models import AlertDelivery, AlertRun, AlertRunStatus, DeliveryStatus
from alerts.services import send_weekly
from core.audit import AuditEntry
from core.clock import district_today
from core.extensions import db
from core.scheduler import JobRun
from inspections.jobs import JOB_GENERATE
from inspections.models import Inspection
from inspections.services import generate_inspections
from tests import factories
from tests.factories import CS_ITEMS, gen_alert_district, gen_inspection, png_bytes
from tests.helpers import Inbox, SmtpServer, free_port, wait_for

# Separate processes; hosts share a PostgreSQL server (SpatiaLite serves one host).
pytestmark = [pytest.mark.slow, pytest.mark.postgis_only]

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
START_SECONDS = 90  # a host answering /healthz (create_app costs seconds on a busy machine)
COMMAND_SECONDS = 120  # a command run beside the hosts
SCHEDULER_SECONDS = 120  # waiting on the scheduler (and the commands beside it)
STOP_SECONDS = 10
REQUEST_SECONDS = 30
REDIS = ("127.0.0.1", 6379)
ACCOUNT_LIMIT = 3  # failed sign-ins per account (LOGIN_LIMIT_ACCOUNT) on the hosts
HOLD_SECONDS = 60  # the SMTP server keeps a sender waiting at most this long


def redis_answers() -> bool:
    try:
        import redis  # noqa: F401  (limits' Redis storage needs it: the test extra has it)
    except ImportError:
        return False
    try:
        with socket.create_connection(REDIS, timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class Cluster:
    """The processes of one deployment: hosts that serve, a scheduler, commands; one
    environment for all of them, as an ``EnvironmentFile`` shared by every machine."""

    def __init__(self, database_url: str, directory: Path) -> None:
        self.directory = directory
        self.shared_limits = redis_answers()
        storage = "redis://{}:{}/0".format(*REDIS) if self.shared_limits else "memory://"
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("WERKZEUG_", "FLASK_"))
        }
        self.env = {
            **base,
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_hex(32),
            "PHOTO_DIR": str(directory / "shared-photos"),
            "IMPORT_DIR": str(directory / "shared-imports"),
            "RATELIMIT_STORAGE_URI": storage,
            "LOGIN_LIMIT_ACCOUNT": f"{ACCOUNT_LIMIT} per 15 minutes",
            "LOGIN_LIMIT_ADDRESS": "1000 per 15 minutes",  # every client here is 127.0.0.1
            "SCHEDULER_ENABLED": "0",
            "MAP_TILES": "none",
            # Every minute: the scheduler's weekly alert and generation come due at once
            # (its catch-up at start runs both; each minute tries again).
            "ALERT_CRON": "* * * * *",
            "GENERATE_CRON": "* * * * *",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": "1",  # no SMTP until a test gives its own
            "MAIL_DEFAULT_SENDER": "alerts@registry.example.org",
            "MAIL_TIMEOUT_SECONDS": "5",
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.urls: dict[str, str] = {}

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def start(self, name: str, args: list[str], **extra: str) -> subprocess.Popen:
        """``flask --app app ARGS`` in its own process group, its output in ``NAME.log``."""
        with (self.directory / f"{name}.log").open("w") as out:
            process = subprocess.Popen(
                [FLASK, "--app", "app", *args],
                cwd=ROOT,
                env={**self.env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def start_host(self, name: str) -> None:
        port = free_port()
        self.start(name, ["run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"])
        self.urls[name] = f"http://127.0.0.1:{port}"

    def wait_until_serving(self, *names: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        for name in names:
            while True:
                if self.processes[name].poll() is not None:
                    raise AssertionError(f"host {name} exited:\n{self.log(name)}")
                try:
                    if requests.get(self.urls[name] + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"host {name} never answered:\n{self.log(name)}")
                time.sleep(0.2)

    def finish(self, name: str, seconds: float = COMMAND_SECONDS) -> str:
        """Wait for a command to end; its output. It must succeed."""
        process = self.processes.pop(name)
        try:
            code = process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self._kill(process)
            message = f"{name} still running after {seconds} s:\n{self.log(name)}"
            raise AssertionError(message) from None
        output = self.log(name)
        assert code == 0, f"{name} exited {code}:\n{output}"
        return output

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            self._kill(process)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_SECONDS)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def cluster(backend, backend_states, tmp_path_factory) -> Iterator[Cluster]:
    """Hosts A and B serving the backend's test database (each test empties it first)."""
    directory = tmp_path_factory.mktemp(f"two-hosts-{backend}")
    cluster = Cluster(backend_states[backend].url, directory)
    try:
        cluster.start_host("a")
        cluster.start_host("b")
        cluster.wait_until_serving("a", "b")
        yield cluster
    finally:
        cluster.stop_all()


class Browser:
    """One browser's cookies, sent to whichever host answers (behind a load balancer the
    hosts share one address; cookies do not name a port, so here too)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.http = requests.Session()

    def url(self, host: str, path: str) -> str:
        return self.cluster.urls[host] + path

    def get(self, host: str, path: str) -> requests.Response:
        return self.http.get(self.url(host, path), allow_redirects=False, timeout=REQUEST_SECONDS)

    def csrf_token(self, host: str, path: str) -> str:
        page = self.get(host, path)
        assert page.status_code == 200, (path, page.status_code)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post_form(self, host: str, path: str, data: dict, token: str) -> requests.Response:
        return self.http.post(
            self.url(host, path),
            data={**data, "csrf_token": token},
            allow_redirects=False,
            timeout=REQUEST_SECONDS,
        )

    def sign_in(self, host: str, email: str, password: str = factories.PASSWORD, via=None):
        """Sign in on ``host``; the form (and its CSRF token) fetched from ``via`` (default the
        same host)."""
        token = self.csrf_token(via or host, "/login")
        return self.post_form(host, "/login", {"email": email, "password": password}, token)

    def signed_in_on(self, host: str) -> bool:
        page = self.get(host, "/profile")
        if page.status_code == 200:
            return True
        assert page.status_code == 302 and "/login" in page.headers["Location"], page.status_code
        return False


def test_a_sign_in_on_one_host_is_one_on_the_other_until_ended_on_either(cluster, app):
    with app.app_context():
        factories.gen_user("officer@example.org", "officer")
        db.session.commit()
    first, second = Browser(cluster), Browser(cluster)

    # The form from A, posted to B: the CSRF token is signed with the shared SECRET_KEY.
    assert first.sign_in("b", "officer@example.org", via="a").status_code == 302
    assert first.signed_in_on("a") and first.signed_in_on("b")
    copied = dict(first.http.cookies)

    # A second sign-in (another phone) ends the first from its profile page on B.
    assert second.sign_in("b", "officer@example.org").status_code == 302
    with app.app_context():
        user = user_by_email("officer@example.org")
        rows = db.session.scalars(
            select(UserSession.id).where(UserSession.user_id == user.id).order_by(UserSession.id)
        ).all()
    assert len(rows) == 2
    token = second.csrf_token("b", "/profile")
    ended = second.post_form("b", f"/profile/sessions/{rows[0]}/revoke", {}, token)
    assert ended.status_code == 302
    assert not first.signed_in_on("a") and not first.signed_in_on("b")
    replayed = Browser(cluster)
    replayed.http.cookies.update(copied)
    assert not replayed.signed_in_on("a")

    # Signing out on A ends the second sign-in on B too.
    copied = dict(second.http.cookies)
    assert second.signed_in_on("b")
    token = second.csrf_token("a", "/profile")
    assert second.post_form("a", "/logout", {}, token).status_code == 302
    replayed = Browser(cluster)
    replayed.http.cookies.update(copied)
    assert not replayed.signed_in_on("b") and not replayed.signed_in_on("a")


def test_failed_sign_ins_on_both_hosts_count_together(cluster, app):
    """RATELIMIT_STORAGE_URI on the one Redis: failures on A and on B add up to one lock,
    refused on both hosts and audited once. (With ``memory://`` each host would count alone:
    two failures on each, and the right password would still get in.)"""
    if not cluster.shared_limits:
        if os.environ.get("SAR_REQUIRE_REDIS"):  # bin/test starts one: CI must not skip this
            pytest.fail("no Redis answers on 127.0.0.1:6379 (or the redis package is missing)")
        pytest.skip("no Redis answers on 127.0.0.1:6379 (or the redis package is missing)")
    email = f"limited-{secrets.token_hex(4)}@example.org"  # counters outlive the database
    with app.app_context():
        factories.gen_user(email, "officer")
        db.session.commit()
    browser = Browser(cluster)
    for host in ("a", "b", "a"):  # ACCOUNT_LIMIT failures, spread over both hosts
        assert browser.sign_in(host, email, "wrong password").status_code == 401
    for host in ("a", "b"):
        refused = browser.sign_in(host, email)
        assert refused.status_code == 429, host
        assert int(refused.headers["Retry-After"]) > 0
    assert not browser.signed_in_on("a")
    with app.app_context():
        locks = db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "login_locked")
        )
    assert locks == 1


def result_form(key: str) -> dict:
    answers = ",".join(f'"{item}": "pass"' for item in CS_ITEMS)
    return {"answers": "{" + answers + "}", "result": "pass", "notes": f"Logged as {key}"}


def without_host(detail: dict) -> dict:
    """An inspection's JSON with its photo links as paths (each host names itself in them)."""
    return {**detail, "photos": [urlsplit(url).path for url in detail["photos"]]}


def test_a_result_retried_on_the_other_host_is_one_result_and_its_photo_is_served_by_both(
    cluster, app
):
    with app.app_context():
        factories.gen_district()
        factories.gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
        factories.gen_asset(factories.charging_station_data(1))
        inspection_id = gen_inspection("CS-001", district_today() + timedelta(days=2)).id
        token = factories.gen_token("fixer@example.org")
        db.session.commit()
    photo = png_bytes(8, 6)
    key = secrets.token_hex(16)  # the phone's outbox: one key for every send of the result
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    answers = []
    for host in ("a", "b"):
        answers.append(
            requests.post(
                f"{cluster.urls[host]}/api/v1/inspections/{inspection_id}/result",
                headers=headers,
                data=result_form(key),
                files={"photos": ("before.png", photo, "image/png")},
                timeout=REQUEST_SECONDS,
            )
        )
    first, retried = answers
    assert first.status_code == 201, first.text
    assert retried.status_code == 200, retried.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert without_host(retried.json()) == without_host(first.json())
    with app.app_context():
        inspection = db.session.get(Inspection, inspection_id)
        assert inspection.status == "completed" and inspection.idempotency_key == key
        assert len(inspection.photos) == 1

    # The photo A stored, served by B (and A): one PHOTO_DIR.
    [photo_url] = first.json()["photos"]
    path = urlsplit(photo_url).path
    for host in ("b", "a"):
        served = requests.get(
            cluster.urls[host] + path,
            headers={"Authorization": f"Bearer {token}"},
            timeout=REQUEST_SECONDS,
        )
        assert served.status_code == 200, host
        assert served.content == photo


class HeldInbox(Inbox):
    """An SMTP server's inbox that answers a message's DATA only once ``released`` is set (or
    after HOLD_SECONDS): meanwhile its sender is in the middle of a delivery, claimed and not
    yet marked sent, the moment where another sender could send it again."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.released = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        deadline = time.monotonic() + HOLD_SECONDS
        while not self.released.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def held_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.inbox = HeldInbox()
    server.start()
    try:
        yield server
    finally:
        server.inbox.released.set()
        server.stop()


def test_the_weekly_alert_goes_once_with_the_scheduler_and_both_hosts_sending(
    cluster, app, held_smtp
):
    """The scheduler starts sending the week's alert (its catch-up at start); while its first
    message waits at the SMTP server, both hosts run ``alerts send-weekly`` for the same week.
    Each recipient gets one email."""
    inbox = held_smtp.inbox
    with app.app_context():
        gen_alert_district()
        expected = sorted(email.recipient.email for email in send_weekly(dry_run=True).composed)
    assert len(expected) >= 5
    mail = {"MAIL_PORT": str(held_smtp.port), "MAIL_TIMEOUT_SECONDS": str(HOLD_SECONDS + 30)}
    try:
        cluster.start("scheduler", ["scheduler", "run"], **mail)
        wait_until(lambda: inbox.arrived.is_set(), cluster, "the scheduler never sent")
        for host in ("a", "b"):
            cluster.start(f"send-{host}", ["alerts", "send-weekly"], **mail)
        outputs = [cluster.finish(f"send-{host}") for host in ("a", "b")]
        inbox.released.set()
        # The run is done only once its last email is sent, whoever else found all claimed.
        wait_until(lambda: run_done(app), cluster, "the scheduler never finished")
        assert sent_deliveries(app) == len(expected)
    finally:
        cluster.stop("scheduler")

    # Both hosts found every delivery claimed by the scheduler, mid-send: none sent again.
    for output in outputs:
        assert re.search(rf": 0 sent, 0 failed, {len(expected)} already handled", output), output
    wait_for(lambda: inbox.count() >= len(expected))
    time.sleep(0.5)  # anything more would arrive now
    assert inbox.count() == len(expected)
    for address in expected:
        assert len(inbox.to(address)) == 1, address
    with app.app_context():
        deliveries = db.session.execute(
            select(AlertDelivery.status, AlertRun.trigger).join(
                AlertRun, AlertRun.id == AlertDelivery.run_id
            )
        ).all()
    assert deliveries == [("sent", "schedule")] * len(expected)


def wait_until(predicate, cluster: Cluster, failure: str) -> None:
    """Until ``predicate()``, for at most SCHEDULER_SECONDS; every process started and not
    yet finished must still run meanwhile."""
    deadline = time.monotonic() + SCHEDULER_SECONDS
    while not predicate():
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited {process.returncode}:\n{cluster.log(name)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{failure}:\n{cluster.log('scheduler')}")
        time.sleep(0.2)


def run_done(app) -> bool:
    with app.app_context():
        statuses = set(db.session.scalars(select(AlertRun.status)))
        db.session.remove()
    return statuses == {AlertRunStatus.DONE}


def sent_deliveries(app) -> int:
    with app.app_context():
        sent = db.session.scalar(
            select(func.count())
            .select_from(AlertDelivery)
            .where(AlertDelivery.status == DeliveryStatus.SENT)
        )
        db.session.remove()
    return sent


class InsertGate:
    """PostGIS: a SHARE lock on ``inspections``, held in a transaction of the test's own, so
    that every insert into it waits; ``open`` lets them all go at once."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.connection = self.engine.connect()
        self.transaction = self.connection.begin()
        self.connection.execute(text("LOCK TABLE inspections IN SHARE MODE"))

    def waiting(self) -> int:
        """How many connections to this database wait for a lock."""
        with self.engine.connect() as connection:
            return connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )

    def open(self) -> None:
        if self.transaction.is_active:
            self.transaction.rollback()
        self.connection.close()
        self.engine.dispose()


def test_generation_on_both_hosts_and_the_scheduler_creates_each_inspection_once(
    cluster, app, backend, database_url
):
    """``inspections generate`` on both hosts and the scheduler's generation (its catch-up at
    start). On PostGIS the three are let go together: their inserts wait behind the test's
    lock until all three are waiting. SQLite has one writer at a time: there they take turns
    in whatever order they come."""
    with app.app_context():
        today = district_today()
        factories.gen_district()
        for number in range(1, 11):
            factories.gen_asset(factories.charging_station_data(number))
        factories.gen_plan(cadence_unit="week", start_on=today - timedelta(days=10))
        db.session.commit()
    gate = InsertGate(database_url) if backend == "postgis" else None
    try:
        cluster.start("scheduler", ["scheduler", "run"])
        for host in ("a", "b"):
            cluster.start(f"generate-{host}", ["inspections", "generate"])
        if gate is not None:
            wait_until(lambda: gate.waiting() >= 3, cluster, "the three never all waited")
            gate.open()
        outputs = [cluster.finish(f"generate-{host}") for host in ("a", "b")]
        detail = wait_until_generated(app, cluster, today.isoformat())
    finally:
        if gate is not None:
            gate.open()
        cluster.stop("scheduler")

    created = [int(re.search(r"Created (\d+) inspection", output).group(1)) for output in outputs]
    created.append(int(re.match(r"(\d+) inspection\(s\) created", detail).group(1)))
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Inspection))
        repeated = db.session.execute(
            select(Inspection.plan_id, Inspection.asset_id, Inspection.due_on)
            .group_by(Inspection.plan_id, Inspection.asset_id, Inspection.due_on)
            .having(func.count() > 1)
        ).all()
        assert generate_inspections(today) == 0  # nothing was left for another run
        db.session.rollback()
    assert total >= 10 * 12, total  # ten assets, weekly over the 90-day horizon
    assert repeated == []
    assert sum(created) == total, (created, total)  # each inspection made by exactly one


def wait_until_generated(app, cluster: Cluster, day: str) -> str:
    """The scheduler's generation of ``day`` finished (its catch-up at start): its detail."""
    found: list[str] = []

    def generated() -> bool:
        with app.app_context():
            detail = db.session.scalar(
                select(JobRun.detail).where(
                    JobRun.job_id == JOB_GENERATE,
                    JobRun.run_key == day,
                    JobRun.finished_at.is_not(None),
                )
            )
            db.session.remove()
        found.extend([detail] if detail is not None else [])
        return bool(found)

    wait_until(generated, cluster, "the scheduler never generated")
    return found[0]
