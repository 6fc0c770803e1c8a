"""Backups of the database and the photos, for either backend, and their all-or-nothing restore
(``flask --app app backup create DIR``, ``backup restore DIR [--force]``).

A backup is a directory:

- ``database.sqlite`` (SpatiaLite): SQLite's online backup API, one consistent copy taken while
  the app goes on writing; or ``database.dump`` (PostGIS): ``pg_dump -Fc`` in a snapshot
  exported from the transaction the manifest's counts are read in, so both see the same rows.
- ``photos/``: every file of the photo directory, copied after the database (a committed
  photo row's file is written before its commit, so every row in the copy finds its file).
- ``manifest.json``: when, which backend, the schema revision, the rows of every table, the
  sha256 of the database file and of each photo (and, for PostGIS, the server's and
  pg_dump's versions).

A restore checks everything before it writes anything: the backend, the schema revision (the
one this code migrates to), every checksum, and that the target holds no rows and no photos
(unless ``--force``). The photos are staged beside the photo directory, the database is then
replaced in one transaction (SQLite's backup API into the target; ``pg_restore
--single-transaction``), and only then are the staged photos moved in; a failure before that
removes the staged files, so the target stays as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import click
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL

from core import clock, spatial
from core.extensions import db

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
DUMP_FILE = "database.dump"
PHOTOS = "photos"
FORMAT = 1
PG_TIMEOUT_SECONDS = 3600

backup_cli = AppGroup("backup", help="Back up and restore the database and the photos.")


class BackupError(click.ClickException):
    """A backup or restore refused or failed; the message says why (and nothing was written)."""


# --- What both directions share ------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backend_name() -> str:
    return "spatialite" if spatial.is_sqlite(db.engine) else "postgis"


def photo_directory() -> Path:
    """The configured photo directory (as ``evidence.photos.photo_dir`` finds it)."""
    configured = current_app.config.get("PHOTO_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "photos"


def photo_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        path for path in directory.iterdir() if path.is_file() and not path.name.startswith(".")
    )


def code_revision() -> str:
    """The schema revision this code migrates to (the head of ``migrations/``)."""
    config = Config()
    config.set_main_option("script_location", current_app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config).get_current_head()


def table_names() -> list[str]:
    return [table.name for table in db.metadata.sorted_tables]


def table_counts(connection: Connection, present_only: bool = False) -> dict[str, int]:
    """Rows in each of the app's tables (only those that exist, if ``present_only``)."""
    existing = set(inspect(connection).get_table_names()) if present_only else None
    return {
        name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()  # noqa: S608
        for name in table_names()
        if existing is None or name in existing
    }


def schema_revision(connection: Connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


# --- PostgreSQL's client programs -------------------------------------------------------------


def libpq_environment(url: URL) -> dict[str, str]:
    """The server, database and user for pg_dump/pg_restore as libpq's environment (the
    password never on a command line)."""
    environment = dict(os.environ)
    values = {
        "PGHOST": url.host,
        "PGPORT": url.port,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    environment.update({name: str(value) for name, value in values.items() if value})
    return environment


def client_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client).")
    return path


def major_version(version: str) -> int:
    return int(re.match(r"\d+", version).group())


def client_version(name: str) -> str:
    """``pg_dump --version`` says "pg_dump (PostgreSQL) 15.20 (Debian …)"."""
    answer = subprocess.run(  # noqa: S603 (pg_* found on PATH, our own arguments)
        [client_program(name), "--version"], capture_output=True, text=True, check=True
    )
    return re.search(r"\d+(\.\d+)*", answer.stdout).group()


def server_version(connection: Connection) -> str:
    return str(connection.execute(text("SHOW server_version")).scalar()).split()[0]


def run_client(command: list[str], url: URL) -> None:
    answer = subprocess.run(  # noqa: S603 (pg_* found on PATH, our own arguments)
        command,
        env=libpq_environment(url),
        capture_output=True,
        text=True,
        timeout=PG_TIMEOUT_SECONDS,
        check=False,
    )
    if answer.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed:\n{answer.stderr.strip()}")


# --- Create ------------------------------------------------------------------------------------


def create_backup(directory: Path) -> dict[str, Any]:
    """Back up the database and the photos into ``directory`` (new or empty); the manifest."""
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: back up into a new directory.")
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": clock.now_utc().isoformat(),
        "backend": backend_name(),
    }
    if manifest["backend"] == "spatialite":
        manifest.update(copy_spatialite(directory / SQLITE_FILE))
    else:
        manifest.update(dump_postgis(directory / DUMP_FILE))
    manifest["photos"] = copy_photos(photo_directory(), directory / PHOTOS)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def copy_spatialite(target: Path) -> dict[str, Any]:
    """One consistent copy through SQLite's online backup API (all pages in one step, under
    one read snapshot, while other connections write), then counted from the copy."""
    module = spatial.sqlite_module()
    source_path = db.engine.url.database
    with (
        closing(module.connect(source_path, timeout=spatial.SQLITE_BUSY_TIMEOUT_MS / 1000)) as src,
        closing(module.connect(str(target))) as copy,
    ):
        src.backup(copy)
    engine = create_engine(f"sqlite:///{target}", module=module)
    try:
        with engine.connect() as connection:
            tables, revision = table_counts(connection), schema_revision(connection)
    finally:
        engine.dispose()
    return {
        "schema_revision": revision,
        "tables": tables,
        "database": {"file": SQLITE_FILE, "sha256": sha256_of(target)},
    }


def dump_postgis(target: Path) -> dict[str, Any]:
    """pg_dump -Fc of the snapshot the counts are read in (exported, then named to pg_dump)."""
    pg_dump = client_program("pg_dump")
    dump_version = client_version("pg_dump")
    url = db.engine.url
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            server = server_version(connection)
            if major_version(dump_version) < major_version(server):
                raise BackupError(
                    f"pg_dump {dump_version} cannot dump a PostgreSQL {server} server: install "
                    f"the client of version {major_version(server)} or newer "
                    f"(postgresql-client-{major_version(server)})."
                )
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tables, revision = table_counts(connection), schema_revision(connection)
            run_client(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}"], url
            )
    return {
        "schema_revision": revision,
        "tables": tables,
        "database": {"file": DUMP_FILE, "sha256": sha256_of(target)},
        "postgresql": {"server": server, "pg_dump": dump_version},
    }


def copy_photos(source: Path, target: Path) -> dict[str, Any]:
    target.mkdir()
    files = {}
    for path in photo_files(source):
        shutil.copyfile(path, target / path.name)
        files[path.name] = sha256_of(target / path.name)
    return {"count": len(files), "files": files}


# --- Restore ---------------------------------------------------------------------------------


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError as error:
        raise BackupError(f"{directory} holds no {MANIFEST}: not a backup.") from error
    except ValueError as error:
        raise BackupError(f"{directory / MANIFEST} is not valid JSON: {error}") from error
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown backup format {manifest.get('format')!r} (expected {FORMAT}).")
    return manifest


def check_backup(directory: Path, manifest: dict[str, Any]) -> None:
    """The backend, the schema revision and every checksum, before anything is written."""
    backend = backend_name()
    if manifest["backend"] != backend:
        raise BackupError(
            f"This is a {manifest['backend']} backup; the target database is {backend}. "
            "Restore into a database of the same kind."
        )
    expected = code_revision()
    if manifest["schema_revision"] != expected:
        raise BackupError(
            f"The backup is of schema revision {manifest['schema_revision']}; this code's "
            f"database is at revision {expected}. Restore it with the release that made it "
            "(then run `flask --app app db upgrade`)."
        )
    database = manifest["database"]
    expected_files = {database["file"]: database["sha256"]}
    expected_files.update(
        {f"{PHOTOS}/{name}": digest for name, digest in manifest["photos"]["files"].items()}
    )
    for name, digest in expected_files.items():
        path = directory / name
        if not path.is_file():
            raise BackupError(f"{path} is missing from the backup.")
        if sha256_of(path) != digest:
            raise BackupError(f"{path} does not match its checksum: the backup is damaged.")


def target_contents() -> tuple[int, int]:
    """(rows in the app's tables, files in the photo directory) of the target."""
    with db.engine.connect() as connection:
        rows = sum(table_counts(connection, present_only=True).values())
    return rows, len(photo_files(photo_directory()))


def restore_backup(directory: Path, force: bool = False) -> dict[str, Any]:
    """Restore the backup in ``directory`` over this app's database and photo directory."""
    manifest = read_manifest(directory)
    check_backup(directory, manifest)
    rows, photos = target_contents()
    if (rows or photos) and not force:
        raise BackupError(
            f"The target is not empty ({rows} rows, {photos} photos): restore into an empty "
            "database and photo directory, or replace them with --force."
        )
    db.session.remove()
    with staged_photos(directory / PHOTOS, manifest["photos"]["files"]) as move_in:
        if manifest["backend"] == "spatialite":
            restore_spatialite(directory / SQLITE_FILE, manifest)
        else:
            restore_postgis(directory / DUMP_FILE, manifest)
        move_in()
    return manifest


@contextmanager
def staged_photos(source: Path, files: dict[str, str]) -> Iterator[Any]:
    """The backup's photos copied (and checked again) into a hidden directory beside the
    photo directory; the block calls ``move_in()`` to rename them into place once the
    database is restored. The staging directory is removed whatever happens."""
    target = photo_directory()
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=target.parent))
    try:
        for name, digest in files.items():
            shutil.copyfile(source / name, staging / name)
            if sha256_of(staging / name) != digest:
                raise BackupError(f"{source / name} changed while it was restored.")

        def move_in() -> None:
            for name in files:
                os.replace(staging / name, target / name)

        yield move_in
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def restore_spatialite(source: Path, manifest: dict[str, Any]) -> None:
    """A checked copy, then SQLite's backup API from it into the target: the target's pages
    are replaced in one transaction (a failure leaves them as they were)."""
    module = spatial.sqlite_module()
    target = Path(db.engine.url.database)
    target.parent.mkdir(parents=True, exist_ok=True)
    db.engine.dispose()
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=target.parent) as scratch:
        copy = Path(scratch) / SQLITE_FILE
        shutil.copyfile(source, copy)
        engine = create_engine(f"sqlite:///{copy}", module=module)
        try:
            with engine.connect() as connection:
                check = connection.execute(text("PRAGMA quick_check")).scalar()
                counts = table_counts(connection)
        except Exception as error:
            raise BackupError(f"{source} is not a readable SQLite database: {error}") from error
        finally:
            engine.dispose()
        if check != "ok" or counts != manifest["tables"]:
            raise BackupError(f"{source} does not hold what its manifest says: {check}.")
        with (
            closing(module.connect(str(copy))) as src,
            closing(
                module.connect(str(target), timeout=spatial.SQLITE_BUSY_TIMEOUT_MS / 1000)
            ) as destination,
        ):
            src.backup(destination)


# pg_restore leaves these alone: the target keeps its own PostGIS and public schema (dropping
# them needs a superuser, and would take every other schema object with them).
KEPT_ENTRIES = re.compile(r"\b(EXTENSION|SCHEMA - public|COMMENT - SCHEMA public)\b")


def restore_postgis(dump: Path, manifest: dict[str, Any]) -> None:
    """pg_restore --clean --single-transaction: the app's tables dropped and restored in one
    transaction (a failure rolls it all back); PostGIS is created first if missing."""
    pg_restore = client_program("pg_restore")
    restore_version = client_version("pg_restore")
    dumped_by = manifest["postgresql"]["pg_dump"]
    if major_version(restore_version) < major_version(dumped_by):
        raise BackupError(
            f"pg_restore {restore_version} cannot read a dump made by pg_dump {dumped_by}: "
            f"install postgresql-client-{major_version(dumped_by)} or newer."
        )
    url = db.engine.url
    with db.engine.begin() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    db.engine.dispose()
    contents = subprocess.run(  # noqa: S603
        [pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False
    )
    if contents.returncode != 0:
        raise BackupError(f"pg_restore cannot read {dump}:\n{contents.stderr.strip()}")
    entries = [line for line in contents.stdout.splitlines() if not KEPT_ENTRIES.search(line)]
    with tempfile.NamedTemporaryFile("w", suffix=".list") as listing:
        listing.write("\n".join(entries) + "\n")
        listing.flush()
        run_client(
            [
                pg_restore,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--use-list={listing.name}",
                f"--dbname={url.database}",
                str(dump),
            ],
            url,
        )
    with db.engine.connect() as connection:
        counts = table_counts(connection)
    if counts != manifest["tables"]:
        raise BackupError(f"The restored tables do not hold what the manifest says: {counts}.")


# --- Command line ------------------------------------------------------------------------------


def summary(manifest: dict[str, Any]) -> str:
    rows = sum(manifest["tables"].values())
    return (
        f"{manifest['backend']} at schema revision {manifest['schema_revision']}: "
        f"{rows} rows in {len(manifest['tables'])} tables, {manifest['photos']['count']} photos"
    )


@backup_cli.command("create")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def create_command(directory: Path) -> None:
    """Back up the database and the photos into DIRECTORY (new or empty)."""
    manifest = create_backup(directory)
    click.echo(f"Backed up {summary(manifest)} into {directory}.")
    if "postgresql" in manifest:
        versions = manifest["postgresql"]
        server, client = versions["server"], versions["pg_dump"]
        click.echo(f"PostgreSQL server {server}, pg_dump {client}.")
        if major_version(server) != major_version(client):
            click.echo(
                f"Note: pg_dump {client} is newer than the server ({server}): the dump is "
                f"sound, and restores with pg_restore {major_version(client)} or newer."
            )


@backup_cli.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database or photo directory in use.")
def restore_command(directory: Path, force: bool) -> None:
    """Restore the backup in DIRECTORY: all of it, or nothing."""
    manifest = restore_backup(directory, force=force)
    click.echo(f"Restored {summary(manifest)} from {directory}.")


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_cli)
