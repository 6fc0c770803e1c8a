"""Alembic environment: one migration history for SpatiaLite and PostGIS.

geoalchemy2's helpers register geometry columns and create spatial indexes the way each
backend needs, and keep SpatiaLite's own tables out of autogenerate.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from geoalchemy2 import alembic_helpers

import accounts.models  # noqa: F401  (models register their tables on the metadata)
import alerts.models  # noqa: F401
import assets.models  # noqa: F401
import core.audit
import core.versions  # noqa: F401
import evidence.models  # noqa: F401
import hazards.models  # noqa: F401
import inspections.models  # noqa: F401

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def engine():
    return target_db.engine


def metadata():
    return target_db.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=engine().url.render_as_string(hide_password=False),
        target_metadata=metadata(),
        literal_binds=True,
        include_object=alembic_helpers.include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", alembic_helpers.writer)
    conf_args.setdefault("render_item", alembic_helpers.render_item)
    conf_args.setdefault("include_object", alembic_helpers.include_object)
    with engine().connect() as connection:
        context.configure(connection=connection, target_metadata=metadata(), **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
