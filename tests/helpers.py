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

from aiosmtpd.controller import Controller
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


@contextmanager
def served(app) -> Iterator[str]:
    """``app`` served on 127.0.0.1 by a real threaded server while the block runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
