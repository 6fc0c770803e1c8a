"""``backup create`` and ``backup restore`` on both backends: a restore into an empty database
and a fresh photo directory finds every asset, inspection, hazard, photo (byte for byte) and
audit entry; refused restores (a target in use, another schema revision, a damaged file)
write nothing; a restore that fails half-way leaves the target as it was."""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from assets.models import Asset
from core import clock
from core.audit import AuditEntry
from core.backup import code_revision, sha256_of, target_contents
from core.extensions import db
from evidence.models import Photo
from hazards.models import Hazard
from inspections.models import Inspection
from tests import conftest, factories, helpers
from tests.factories import CS_ITEMS, charging_station_data, gen_asset, gen_inspection, png_bytes

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now_utc", lambda: NOW)


@pytest.fixture
def registry(app, client, auth, district, officer, contractor_user):
    """Two charging stations, an inspection logged as failed with two photos (its result, the
    hazard it opened with the same photos as "before" photos, their audit entries), a
    scheduled inspection, an officer's API token."""
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_asset(charging_station_data(2))
        failed = gen_inspection("CS-001", date(2026, 3, 10)).id
        gen_inspection("CS-002", date(2026, 3, 20))
        token = factories.gen_token(officer)
        db.session.commit()
    auth.login("fixer@example.org")
    data = {f"item_{key}": "pass" for key in CS_ITEMS}
    data.update(item_cutoff_when_full="fail", result="fail", notes="Cable hot")
    data.update(completed_at="2026-03-10T09:45")
    data["photos"] = [
        (io.BytesIO(png_bytes(color=(n * 80, 30, 30))), f"p{n}.png", "image/png") for n in range(2)
    ]
    logged = client.post(
        f"/inspections/{failed}/log", data=data, content_type="multipart/form-data"
    )
    assert logged.status_code == 302, logged.text
    auth.logout()
    return token


def everything(app) -> dict:
    """What a restore must bring back: every row that matters, and every photo's bytes."""
    with app.app_context():
        photo_dir = Path(app.config["PHOTO_DIR"])
        photos = db.session.scalars(select(Photo).order_by(Photo.id)).all()
        return {
            "assets": db.session.execute(
                select(Asset.code, Asset.status, Asset.name).order_by(Asset.code)
            ).all(),
            "inspections": db.session.execute(
                select(
                    Inspection.id, Inspection.status, Inspection.result, Inspection.notes
                ).order_by(Inspection.id)
            ).all(),
            "hazards": db.session.execute(
                select(Hazard.code, Hazard.status, Hazard.description).order_by(Hazard.code)
            ).all(),
            "photos": [
                (
                    p.id,
                    p.inspection_id,
                    p.hazard_id,
                    p.stage,
                    (photo_dir / p.stored_name).read_bytes(),
                )
                for p in photos
            ],
            "audit": db.session.execute(
                select(AuditEntry.id, AuditEntry.action, AuditEntry.entity_key).order_by(
                    AuditEntry.id
                )
            ).all(),
        }


def empty_target(backend: str, tmp_path: Path, name: str):
    """An app on a new, empty database and a new photo directory: a bare SQLite file that
    does not exist yet; a PostGIS database migrated by ``db upgrade`` and holding no rows."""
    if backend == "spatialite":
        url = f"sqlite:///{tmp_path / f'{name}.sqlite'}"
    else:
        url = conftest.recreate_postgis_database(conftest.POSTGIS_URL, f"_{name}")
        with create_app(helpers.test_config(url)).app_context():
            upgrade()
            db.engine.dispose()
    return create_app(helpers.test_config(url, PHOTO_DIR=str(tmp_path / f"{name}-photos")))


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["backup", *map(str, args)])


def target_is_untouched(app) -> None:
    """No row in any table (the bare SQLite file may have none), no photo, no staged file."""
    with app.app_context():
        assert target_contents() == (0, 0)
        db.session.remove()
        db.engine.dispose()
    photo_dir = Path(app.config["PHOTO_DIR"])
    assert not [p for p in photo_dir.parent.iterdir() if p.name.startswith(".restore-")]


@pytest.fixture
def backup(app, registry, tmp_path):
    created = run(app, "create", tmp_path / "backup")
    assert created.exit_code == 0, created.output
    return tmp_path / "backup"


def test_a_backup_restored_into_an_empty_database_has_everything(
    app, backend, registry, backup, tmp_path
):
    source = everything(app)
    assert len(source["photos"]) == 4  # two files, each for the inspection and the hazard
    assert source["hazards"] and len(source["audit"]) >= 3
    manifest = json.loads((backup / "manifest.json").read_text())
    with app.app_context():
        head = code_revision()
    assert manifest["backend"] == backend and manifest["schema_revision"] == head
    assert manifest["tables"]["assets"] == 2 and manifest["tables"]["photos"] == 4
    assert manifest["tables"]["audit_entries"] == len(source["audit"])
    assert manifest["photos"]["count"] == 2
    for name, digest in manifest["photos"]["files"].items():
        assert sha256_of(Path(app.config["PHOTO_DIR"]) / name) == digest
    if backend == "postgis":
        assert manifest["postgresql"]["server"].split(".")[0] == "15"

    target = empty_target(backend, tmp_path, "restored")
    restored = run(target, "restore", backup)
    assert restored.exit_code == 0, restored.output
    assert "2 photos" in restored.output
    assert everything(target) == source
    # The restored registry works: the officer's token, the photos served.
    api = factories.BearerClient(target.test_client(), registry)
    hazard = source["hazards"][0][0]
    answer = api.get(f"/api/v1/hazards/{hazard}")
    assert answer.status_code == 200, answer.json
    with target.app_context():
        db.session.remove()
        db.engine.dispose()


def test_refused_restores_write_nothing(app, backend, registry, backup, tmp_path):
    before = everything(app)
    # A target in use: refused without --force, the data untouched.
    in_use = run(app, "restore", backup)
    assert in_use.exit_code != 0 and "not empty" in in_use.output
    assert everything(app) == before

    target = empty_target(backend, tmp_path, "refusing")
    other_revision = tmp_path / "other-revision"
    shutil.copytree(backup, other_revision)
    manifest = json.loads((other_revision / "manifest.json").read_text())
    manifest["schema_revision"] = "0008"
    (other_revision / "manifest.json").write_text(json.dumps(manifest))
    refused = run(target, "restore", other_revision)
    assert refused.exit_code != 0 and "schema revision 0008" in refused.output, refused.output
    target_is_untouched(target)

    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    photo = next((damaged / "photos").iterdir())
    photo.write_bytes(photo.read_bytes()[:-1] + b"\x00")
    refused = run(target, "restore", damaged)
    assert refused.exit_code != 0 and "checksum" in refused.output, refused.output
    target_is_untouched(target)


def test_a_restore_that_fails_half_way_leaves_the_target_as_it_was(
    app, backend, registry, backup, tmp_path
):
    """A database file cut short (its checksum updated, as if damaged before it was summed):
    the restore fails, even with --force onto a registry in use, and changes nothing."""
    before = everything(app)
    cut = tmp_path / "cut"
    shutil.copytree(backup, cut)
    manifest = json.loads((cut / "manifest.json").read_text())
    database = cut / manifest["database"]["file"]
    database.write_bytes(database.read_bytes()[: database.stat().st_size * 2 // 3])
    manifest["database"]["sha256"] = sha256_of(database)
    (cut / "manifest.json").write_text(json.dumps(manifest))
    failed = run(app, "restore", "--force", cut)
    assert failed.exit_code != 0, failed.output
    assert everything(app) == before
    photo_dir = Path(app.config["PHOTO_DIR"])
    assert not [p for p in photo_dir.parent.iterdir() if p.name.startswith(".restore-")]

    # And --force with a sound backup replaces what changed since.
    with app.app_context():
        gen_asset(charging_station_data(3))
        db.session.commit()
    replaced = run(app, "restore", "--force", backup)
    assert replaced.exit_code == 0, replaced.output
    assert everything(app) == before


HAZARD = {"category": "other", "severity": "general", "description": "Cable hot", "asset": "CS-001"}


def test_a_backup_taken_while_the_app_writes_is_consistent(app, backend, registry, tmp_path):
    """Hazards reported one after another (each a hazard, its event and its audit entry in
    one commit) while the backup is taken: the backup restores to a state where every hazard
    has its audit entry and the rows are those the manifest counted."""
    api = factories.BearerClient(app.test_client(), registry)
    statuses: list[int] = []
    stop = threading.Event()

    def report() -> None:
        while not stop.is_set():
            statuses.append(api.post("/api/v1/hazards", json=HAZARD).status_code)

    writer = threading.Thread(target=report)
    writer.start()
    try:
        time.sleep(0.5)
        created = run(app, "create", tmp_path / "live")
        time.sleep(0.2)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert created.exit_code == 0, created.output
    assert set(statuses) == {201}
    manifest = json.loads((tmp_path / "live" / "manifest.json").read_text())
    assert 1 < manifest["tables"]["hazards"] < len(statuses) + 1  # taken mid-stream

    target = empty_target(backend, tmp_path, "live_restored")
    restored = run(target, "restore", tmp_path / "live")
    assert restored.exit_code == 0, restored.output
    with target.app_context():
        hazards = db.session.scalars(select(Hazard.code)).all()
        audited = db.session.scalars(
            select(AuditEntry.entity_key).where(AuditEntry.entity_type == "hazard")
        ).all()
        assert len(hazards) == manifest["tables"]["hazards"]
        assert sorted(set(audited)) == sorted(hazards)
        db.session.remove()
        db.engine.dispose()
