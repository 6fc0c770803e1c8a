"""Helpers shared by several test modules (test modules never import one another): the
test app's configuration, a real SMTP server on loopback, the alerts' configuration, waiting
for something to happen. Data factories are in ``tests.factories``, fixtures in conftest."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller
from axe_playwright_python.sync_playwright import Axe
from werkzeug.serving import make_server

ALERT_BASE_URL = "https://registry.example.org"
SMTP_WAIT_SECONDS = 10


def test_config(database_url: str, **overrides) -> dict:
    """The test app's settings. (Test modules call it as ``helpers.test_config``: imported
    by name, pytest would collect it as a test.)"""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "SCHEDULER_ENABLED": False,
        "STRICT_DISTRICT": True,
        "SERVER_NAME": None,
        # Real hashing, cheap rounds: the production default (scrypt) costs ~0.2 s a call.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    config.update(overrides)
    return config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, seconds: float = SMTP_WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the SMTP server")
        time.sleep(0.02)


# --- A real SMTP server on loopback -------------------------------------------------------


class Inbox:
    """aiosmtpd handler: every message accepted, parsed, by recipient."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, email.message.EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt.lower(), message))
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self._lock:
            return [message for rcpt, message in self.messages if rcpt == address.lower()]

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, ready_timeout=SMTP_WAIT_SECONDS
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def alert_config(database_url: str, port: int, **overrides) -> dict:
    """An app that mails through the SMTP server on ``port`` (Flask-Mail reads it at start)."""
    return test_config(
        database_url,
        BASE_URL=ALERT_BASE_URL,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_SUPPRESS_SEND=False,
        MAIL_TIMEOUT_SECONDS=5,
        MAIL_DEFAULT_SENDER="alerts@registry.example.org",
        **overrides,
    )


# --- A live server for the browser tests ------------------------------------------------

CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by bin/test; never downloaded


def read_whole(app):
    """``app`` with each response read whole before it is sent: a file (a static file, a
    photo) is closed at once, even when the browser drops the connection half-way."""

    def wsgi(environ, start_response):
        response = app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            if hasattr(response, "close"):
                response.close()

    return wsgi


@contextmanager
def served(app) -> Iterator[str]:
    """``app`` served on 127.0.0.1 by a real threaded server while the block runs."""
    server = make_server("127.0.0.1", 0, read_whole(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


WAIT_MS = 30_000

# The district map: markers and cluster icons on screen: clusters count their children
# (data-count: the text says how many have the worst status, then "/" all).
COUNT_DRAWN = """() => {
  let total = 0;
  document.querySelectorAll('.leaflet-marker-icon.sar-cluster').forEach(icon => {
    total += Number(icon.querySelector('[data-count]').dataset.count);
  });
  total += document.querySelectorAll('.leaflet-marker-icon.sar-marker').length;
  return total;
}"""
DRAWN_READY = """(expected) => {
  let total = 0;
  document.querySelectorAll('.leaflet-marker-icon.sar-cluster').forEach(icon => {
    total += Number(icon.querySelector('[data-count]').dataset.count);
  });
  total += document.querySelectorAll('.leaflet-marker-icon.sar-marker').length;
  return total === expected;
}"""


class Watched:
    """A browser page that refuses every request leaving 127.0.0.1 and records console
    errors, page errors and dialogs."""

    def __init__(self, browser, base_url: str):
        self.base_url = base_url
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(WAIT_MS)
        self.left: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("dialog", self._dialog)

    def _route(self, route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:", "about:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.left.append(url)
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def sign_in(self, email: str, password: str) -> None:
        response = self.context.request.post(
            self.base_url + "/login", form={"email": email, "password": password}
        )
        assert response.ok
        self.context.request.get(self.base_url + "/lang/en")

    def open_map(self, query: str = "", expected: int | None = None) -> None:
        """Open /map and wait until ``expected`` assets are drawn."""
        self.page.goto(self.base_url + "/map" + query)
        # As a person would: after the page's own start-up requests (the service worker's
        # first caching) have settled, not in the middle of them.
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_selector(".leaflet-marker-icon.sar-marker, .sar-cluster")
        if expected is not None:
            self.page.wait_for_function(DRAWN_READY, arg=expected)

    def drawn(self) -> int:
        return self.page.evaluate(COUNT_DRAWN)

    def assert_clean(self) -> None:
        assert self.left == [], "requests left 127.0.0.1"
        assert self.errors == []
        assert self.dialogs == []
        assert self.page.evaluate("typeof window.__xss") == "undefined"

    def close(self) -> None:
        self.context.close()


SERIOUS = {"serious", "critical"}


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page, as "rule: target" lines."""
    results = Axe().run(page)
    return [
        f"{violation['id']}: {node['target']}"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
        for node in violation["nodes"]
    ]
