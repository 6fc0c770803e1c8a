"""Safety Asset Registry: the application factory.

``flask --app app run`` and ``gunicorn 'app:create_app()'`` both use ``create_app``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULT_CONFIG: dict[str, Any] = {
    # What a district sets for itself: its name (shown in the header, the app's name on a
    # phone, the weekly email's subject), its time zone and STRICT_DISTRICT below.
    "DISTRICT_NAME": "",
    "TIMEZONE": "Asia/Shanghai",
    "BASE_URL": "http://127.0.0.1:5000",
    "MAIL_SERVER": "localhost",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "safety-registry@localhost",
    "ALERT_CRON": "0 8 * * mon",
    # Weekly alerts: an email with nothing overdue is not sent unless this is on.
    "ALERT_SEND_EMPTY": False,
    # A scheduler back within this many hours of a missed run still sends it, once.
    "ALERT_MISFIRE_GRACE_HOURS": 12,
    # Failed deliveries are retried in the same week every few minutes, backing off.
    "ALERT_RETRY_INTERVAL_MINUTES": 15,
    "ALERT_RETRY_BACKOFF_MINUTES": 5,
    "ALERT_RETRY_MAX_ATTEMPTS": 8,
    # A claim older than this with no outcome (a crashed sender) may be sent again.
    "ALERT_CLAIM_LEASE_MINUTES": 30,
    # Rows listed per email (the counts always cover all); None lists every row.
    "ALERT_MAX_ROWS": 1000,
    "MAIL_TIMEOUT_SECONDS": 30,
    # The daily generation of due inspections (inspections generate) in the scheduler.
    "GENERATE_CRON": "30 1 * * *",
    # The map's roll-up (maps.rollup) is refreshed this often when the data or the day moved.
    "MAP_ROLLUP_MINUTES": 5,
    "MAP_TILES": "osm",
    # Up to this many grids the map page embeds them; past it the map fetches its view's.
    "MAP_GRID_EMBED_LIMIT": 100,
    "TIANDITU_KEY": "",
    "SCHEDULER_ENABLED": False,
    # A point outside every second-level grid is refused (on) or kept as "no grid" (off).
    "STRICT_DISTRICT": True,
    # Photos of inspections and hazards; None keeps them under instance/photos.
    "PHOTO_DIR": None,
    "PHOTO_MAX_BYTES": 8 * 1024 * 1024,
    # An inspection logged farther than this from its asset is flagged for review.
    "INSPECTION_FLAG_DISTANCE_M": 150,
    # Default rectification deadline, in days after the finding, by severity.
    "HAZARD_DEADLINE_DAYS": {"general": 30, "major": 7},
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    # An import file uploaded on the Imports page (a district's whole inventory), kept until
    # it is confirmed or cancelled; None keeps them under instance/imports.
    "IMPORT_MAX_BYTES": 64 * 1024 * 1024,
    "IMPORT_DIR": None,
    # The officer's queue on the dashboard lists inspections overdue by more days than this.
    "DASHBOARD_LATE_DAYS": 14,
    # Past this many grids the dashboard lists the worst ones and links to the full list.
    "DASHBOARD_GRID_ROWS": 20,
    # Past this many grids the lists' grid filter is a text field for a grid's code that
    # suggests the first-level grids, not a select of every grid (assets.services).
    "GRID_SELECT_LIMIT": 200,
    # Past this many sites (property companies) a form's site (responsible party) is a text
    # field for its name, not a select or a datalist of them all (assets.services).
    "FORM_SELECT_LIMIT": 200,
    # The dashboard's snapshot (dashboard.snapshot) is counted again this often when the data
    # or the day moved; staff dashboards of a registry past the threshold (inspections) read it.
    "DASHBOARD_SNAPSHOT_MINUTES": 5,
    "DASHBOARD_SNAPSHOT_THRESHOLD": 100_000,
    "LANGUAGES": ["zh", "en"],
    "BABEL_DEFAULT_LOCALE": "zh",
    "BABEL_DEFAULT_TIMEZONE": "UTC",
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "PASSWORD_HASH_METHOD": "scrypt",
    # Sign-ins (accounts.sessions): a session row per sign-in, revocable. Without "keep me
    # signed in" a sign-in counts for SESSION_HOURS; with it, the remember-me cookie (new at
    # every sign-in) and its row for REMEMBER_DAYS.
    "SESSION_HOURS": 12,
    "REMEMBER_DAYS": 14,
    # API tokens: their default life and the longest one may ask for, in days.
    "API_TOKEN_DAYS": 90,
    "API_TOKEN_MAX_DAYS": 365,
    # Every password a person chooses: at least this long, and a zxcvbn score (0–4) at
    # least this (2 refuses the common-password lists, names, dates and simple patterns).
    "PASSWORD_MIN_LENGTH": 8,
    "PASSWORD_MIN_SCORE": 2,
    # Failed sign-ins allowed per account and per address (accounts.limits), and where the
    # counters live: memory:// is one process's; several processes need a shared store
    # (redis://host:6379/0, memcached://host:11211).
    "LOGIN_LIMIT_ACCOUNT": "20 per 15 minutes",
    "LOGIN_LIMIT_ADDRESS": "20 per 15 minutes",
    "RATELIMIT_STORAGE_URI": "memory://",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # HSTS and Secure session and remember-me cookies; None: on when BASE_URL is https
    # (core/security.py).
    "HTTPS_ONLY": None,
    "HSTS_MAX_AGE": 365 * 24 * 3600,
    # The lists (pages and API) count their rows up to this many, then say "more than" or,
    # in the API, omit numberMatched (core.paging).
    "LIST_COUNT_CAP": 10_000,
    # The list downloads refuse a workbook of more rows than this (core.export): written
    # longer, it would outlast gunicorn's --timeout 300 (see the README's "Production").
    "EXPORT_XLSX_MAX_ROWS": 500_000,
    # An import that wrote this many rows or more gathers the planner's statistics of the
    # tables it wrote once committed (core.spatial.analyze_tables).
    "ANALYZE_AFTER_ROWS": 10_000,
    "API_PAGE_SIZE": 100,
    "API_MAX_PAGE_SIZE": 1000,
    "API_TITLE": "Safety Asset Registry",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}

BOOLEAN_SETTINGS = {
    "MAIL_USE_TLS",
    "MAIL_USE_SSL",
    "SCHEDULER_ENABLED",
    "STRICT_DISTRICT",
    "ALERT_SEND_EMPTY",
    "HTTPS_ONLY",
}
INTEGER_SETTINGS = {
    "MAIL_PORT",
    "PHOTO_MAX_BYTES",
    "INSPECTION_FLAG_DISTANCE_M",
    "ALERT_MISFIRE_GRACE_HOURS",
    "ALERT_RETRY_INTERVAL_MINUTES",
    "ALERT_RETRY_BACKOFF_MINUTES",
    "ALERT_RETRY_MAX_ATTEMPTS",
    "ALERT_CLAIM_LEASE_MINUTES",
    "MAP_ROLLUP_MINUTES",
    "MAIL_TIMEOUT_SECONDS",
    "IMPORT_MAX_BYTES",
    "DASHBOARD_LATE_DAYS",
    "DASHBOARD_GRID_ROWS",
    "GRID_SELECT_LIMIT",
    "FORM_SELECT_LIMIT",
    "DASHBOARD_SNAPSHOT_MINUTES",
    "DASHBOARD_SNAPSHOT_THRESHOLD",
    "MAP_GRID_EMBED_LIMIT",
    "SESSION_HOURS",
    "REMEMBER_DAYS",
    "API_TOKEN_DAYS",
    "API_TOKEN_MAX_DAYS",
    "PASSWORD_MIN_LENGTH",
    "PASSWORD_MIN_SCORE",
    "HSTS_MAX_AGE",
    "ANALYZE_AFTER_ROWS",
    "LIST_COUNT_CAP",
    "EXPORT_XLSX_MAX_ROWS",
    "API_PAGE_SIZE",
    "API_MAX_PAGE_SIZE",
}
STRING_SETTINGS = {
    "SECRET_KEY",
    "DISTRICT_NAME",
    "TIMEZONE",
    "BASE_URL",
    "MAIL_SERVER",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_DEFAULT_SENDER",
    "ALERT_CRON",
    "GENERATE_CRON",
    "MAP_TILES",
    "TIANDITU_KEY",
    "PHOTO_DIR",
    "IMPORT_DIR",
    "LOGIN_LIMIT_ACCOUNT",
    "LOGIN_LIMIT_ADDRESS",
    "RATELIMIT_STORAGE_URI",
}


def config_from_environment(environ: os._Environ | dict[str, str]) -> dict[str, Any]:
    """The settings that the environment overrides, typed."""
    config: dict[str, Any] = {}
    for name in STRING_SETTINGS:
        if environ.get(name):
            config[name] = environ[name]
    for name in BOOLEAN_SETTINGS:
        if name in environ:
            config[name] = environ[name].strip().lower() in {"1", "true", "yes", "on"}
    for name in INTEGER_SETTINGS:
        if environ.get(name):
            config[name] = int(environ[name])
    if environ.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = environ["DATABASE_URL"]
    return config


def instance_secret_key(instance_path: str) -> str:
    """A secret key kept in the instance folder, so sessions survive restarts."""
    key_file = Path(instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)

    app.config.from_mapping(DEFAULT_CONFIG)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
        app.instance_path, "registry.sqlite"
    )
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(config_from_environment(os.environ))
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)

    init_extensions(app)
    init_parts(app)
    return app


def init_extensions(app: Flask) -> None:
    from core import spatial
    from core.api import check_page_sizes
    from core.extensions import api, babel, csrf, db, login_manager, mail, migrate
    from core.i18n import select_locale

    app.config["SQLALCHEMY_DATABASE_URI"] = spatial.normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", spatial.engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    )
    db.init_app(app)
    with app.app_context():
        spatial.configure_engine(db.engine)
    spatial.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    check_page_sizes(app.config)
    babel.init_app(app, locale_selector=select_locale)
    api.init_app(app)
    mail.init_app(app)


def init_parts(app: Flask) -> None:
    """The app's parts, lowest layer first; each registers its pages, API, commands and jobs."""
    import accounts
    import alerts
    import assets
    import contractors
    import core.backup
    import core.errors
    import core.i18n
    import core.inputs
    import core.pwa
    import core.scheduler
    import core.security
    import core.serving
    import core.views
    import dashboard
    import demo
    import evidence
    import hazards
    import imports
    import inspections
    import maps
    from core.extensions import api

    core.serving.init_app(app)  # first: it compresses what the others finished
    core.inputs.init_app(app)
    core.i18n.init_app(app)
    core.pwa.init_app(app)
    parts = (
        accounts,
        assets,
        evidence,
        hazards,
        inspections,
        contractors,
        alerts,
        maps,
        dashboard,
        imports,
        demo,
    )
    for part in parts:
        part.init_app(app, api)
    core.scheduler.init_app(app)
    core.backup.init_app(app)
    app.register_blueprint(core.views.bp)
    core.errors.init_app(app)
    core.security.init_app(app)  # last: the parts have declared their sources
