"""One suite over both databases.

Each backend gets a schema built by the real migrations once per session; each test
starts from that empty schema (a copied file for SpatiaLite, truncated tables for
PostGIS) and commits for real. Set SAR_TEST_BACKENDS=spatialite to run one backend
locally; CI runs both, and a backend that cannot be reached fails the run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from core.extensions import db
from tests import factories

BACKENDS = [
    name.strip()
    for name in os.environ.get("SAR_TEST_BACKENDS", "spatialite,postgis").split(",")
    if name.strip()
]
POSTGIS_URL = os.environ.get(
    "SAR_TEST_POSTGIS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/sar_test"
)


def pytest_report_header(config):
    postgis = make_url(POSTGIS_URL).render_as_string()
    return f"database backends: {', '.join(BACKENDS)} (PostGIS at {postgis})"


def test_config(database_url: str, **overrides) -> dict:
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


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def template_database(backend, tmp_path_factory) -> str:
    return migrated_database(backend, tmp_path_factory.mktemp(backend))


def empty_database(backend: str, template_url: str, directory: Path) -> str:
    if backend == "spatialite":
        source = Path(make_url(template_url).database)
        target = directory / "registry.sqlite"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    engine = create_engine(template_url)
    with engine.begin() as connection:
        tables = [table.name for table in db.metadata.sorted_tables]
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return template_url


@pytest.fixture
def database_url(backend, template_database, tmp_path) -> str:
    return empty_database(backend, template_database, tmp_path)


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(test_config(database_url, PHOTO_DIR=str(tmp_path / "photos")))
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
def demo_app(backend, tmp_path_factory):
    """A separate database per backend holding the demo district, loaded once: read only."""
    from demo.district import load_demo_district

    url = migrated_database(backend, tmp_path_factory.mktemp(f"demo-{backend}"), "_demo")
    demo = create_app(test_config(url))
    with demo.app_context():
        load_demo_district()
        db.session.remove()
    yield demo
    with demo.app_context():
        db.session.remove()
        db.engine.dispose()
