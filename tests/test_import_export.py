"""`flask assets import` and `flask assets export`: all rows or nothing, lossless round trips."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess

import pytest
from sqlalchemy import delete, func, select

from assets.io import csv_columns
from assets.models import Asset
from core.audit import AuditEntry
from core.extensions import db
from core.spatial import BBox, bbox_filter
from tests import factories

HEADER = ["code", "kind", "name", "longitude", "latitude", "site", "status", "installed_on"]
ATTRIBUTE_HEADER = ["ports", "canopy", "building", "unit", "elevator_number", "detection_method"]
STATION = {
    "code": "CS-001",
    "kind": "charging_station",
    "name": "新港花园充电站",
    "longitude": "119.15",
    "latitude": "36.715",
    "site": "Harbour Garden",
    "status": "active",
    "installed_on": "2024-03-01",
    "ports": "12",
    "canopy": "true",
}
BLOCKER = {
    "code": "EB-0001",
    "kind": "elevator_blocker",
    "name": "3号楼2单元1号梯",
    "longitude": "119.25",
    "latitude": "36.745",
    "status": "faulty",
    "building": "3",
    "unit": "2",
    "elevator_number": "1",
    "detection_method": "ai_camera",
}


def write_csv(path, rows, header=None, bom=False):
    header = header or HEADER + ATTRIBUTE_HEADER
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(("\ufeff" if bom else "") + buffer.getvalue(), encoding="utf-8")
    return path


def feature(row, geometry=None):
    properties = {key: value for key, value in row.items() if key not in ("longitude", "latitude")}
    if "ports" in properties:
        properties["ports"] = int(properties["ports"])
    point = {"type": "Point", "coordinates": [float(row["longitude"]), float(row["latitude"])]}
    return {"type": "Feature", "geometry": geometry or point, "properties": properties}


def write_geojson(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture
def site(app, district):
    with app.app_context():
        factories.gen_site()
        db.session.commit()


def counts(app):
    with app.app_context():
        assets = db.session.scalar(select(func.count()).select_from(Asset))
        audits = db.session.scalar(select(func.count()).select_from(AuditEntry))
        return assets, audits


def import_file(runner, path, *extra):
    return runner.invoke(args=["assets", "import", str(path), *extra])


def export(runner, fmt="csv"):
    result = runner.invoke(args=["assets", "export", "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.output


def test_csv_import_writes_rows_grids_and_audit(app, runner, site, tmp_path):
    path = write_csv(tmp_path / "assets.csv", [STATION, BLOCKER], bom=True)
    result = import_file(runner, path)
    assert result.exit_code == 0, result.output
    assert "imported 2 assets" in result.output
    with app.app_context():
        station, blocker = db.session.scalars(select(Asset).order_by(Asset.code)).all()
        assert (station.code, station.grid.code, station.site.name) == (
            "CS-001",
            "G1-01",
            "Harbour Garden",
        )
        assert station.attributes == {
            "ports": 12,
            "canopy": True,
            "extinguisher": False,
            "camera": False,
            "smoke_detector": False,
        }
        assert str(station.installed_on) == "2024-03-01"
        assert (blocker.grid.code, blocker.status) == ("G2-02", "faulty")
        audits = db.session.scalars(select(AuditEntry).order_by(AuditEntry.entity_key)).all()
        assert [(a.action, a.entity_key) for a in audits] == [
            ("import", "CS-001"),
            ("import", "EB-0001"),
        ]
        assert audits[0].after["grid"] == "G1-01"
        assert audits[0].after["site"] == "Harbour Garden"


def test_geojson_import(app, runner, site, tmp_path):
    path = write_geojson(tmp_path / "assets.geojson", [feature(STATION), feature(BLOCKER)])
    result = import_file(runner, path)
    assert result.exit_code == 0, result.output
    assert "imported 2 assets" in result.output
    with app.app_context():
        grids = db.session.execute(select(Asset.code, Asset.grid_id).order_by(Asset.code)).all()
        assert all(grid_id for _code, grid_id in grids)
        assert counts(app) == (2, 2)


BAD_ROWS = [
    ("bad latitude", {"latitude": "95x"}, "latitude: Not a number"),
    ("latitude out of range", {"latitude": "-95"}, "latitude: Must be between"),
    ("swapped", {"longitude": "36.715", "latitude": "119.15"}, "location: Latitude and longitude"),
    ("outside district", {"longitude": "119.5", "latitude": "36.9"}, "location: The point lies"),
    ("unknown kind", {"kind": "fountain"}, "kind: Unknown kind"),
    ("unknown site", {"site": "Nowhere Court"}, "site: Unknown site"),
    ("bad date", {"installed_on": "2024-02-30"}, "installed_on: Not a date"),
    ("missing attribute", {"ports": ""}, "attributes.ports: This field is required"),
    ("bad boolean", {"canopy": "maybe"}, "attributes.canopy: Not yes or no"),
]


@pytest.mark.parametrize(
    ("change", "expected"), [case[1:] for case in BAD_ROWS], ids=[c[0] for c in BAD_ROWS]
)
def test_csv_bad_row_writes_nothing(app, runner, site, tmp_path, change, expected):
    good = dict(STATION, code="CS-002")
    path = write_csv(tmp_path / "assets.csv", [good, BLOCKER, dict(STATION, **change)])
    result = import_file(runner, path)
    assert result.exit_code != 0
    assert f"line 4: {expected}" in result.output
    assert "nothing imported" in result.output
    assert counts(app) == (0, 0)


def test_csv_reports_every_bad_row(app, runner, site, tmp_path):
    rows = [dict(STATION, latitude="x"), BLOCKER, dict(BLOCKER, code="EB-0002", kind="nope")]
    result = import_file(runner, write_csv(tmp_path / "assets.csv", rows))
    assert result.exit_code != 0
    assert "line 2: latitude: Not a number" in result.output
    assert "line 4: kind: Unknown kind" in result.output
    assert "2 bad row(s)" in result.output
    assert counts(app) == (0, 0)


def test_duplicate_code_within_file(app, runner, site, tmp_path):
    rows = [STATION, BLOCKER, dict(STATION, name="again")]
    result = import_file(runner, write_csv(tmp_path / "assets.csv", rows))
    assert result.exit_code != 0
    assert "line 4: code: CS-001 repeats line 2" in result.output
    assert counts(app) == (0, 0)


def test_code_already_in_database(app, runner, site, tmp_path):
    with app.app_context():
        factories.gen_asset(factories.blocker_data(1))
        db.session.commit()
    before = counts(app)
    result = import_file(runner, write_csv(tmp_path / "assets.csv", [STATION, BLOCKER]))
    assert result.exit_code != 0
    assert "line 3: code: an asset with code EB-0001 exists already" in result.output
    assert counts(app) == before == (1, 1)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "binary file"),
        (
            b"\xff\xfe\xfdcode,kind\n",
            "line 1: byte 0xff (byte offset 0) cannot be read as UTF-8 or GB18030",
        ),
        (b"", "empty"),
        (b"code,kind,name,longitude\nCS-001,charging_station,x,119.15\n", "latitude"),
        (b"code,kind,name,longitude,latitude,colour\n", "unknown column(s): colour"),
        (b'code,kind,name,longitude,latitude\n"CS-001,charging_station\n', "not a readable CSV"),
    ],
    ids=["binary", "not-utf8", "empty", "missing-column", "unknown-column", "bad-quoting"],
)
def test_malformed_csv(app, runner, site, tmp_path, content, expected):
    path = tmp_path / "assets.csv"
    path.write_bytes(content)
    result = import_file(runner, path)
    assert result.exit_code != 0
    assert expected in result.output
    assert "nothing imported" in result.output
    assert counts(app) == (0, 0)


def test_too_many_cells(app, runner, site, tmp_path):
    path = tmp_path / "assets.csv"
    header = ",".join(HEADER + ATTRIBUTE_HEADER)
    path.write_text(f"{header}\nCS-001,charging_station,x,119.15,36.715,,,,10,,,,,,extra,cells\n")
    result = import_file(runner, path)
    assert result.exit_code != 0
    assert "line 2: row: has more cells than the header" in result.output
    assert counts(app) == (0, 0)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('{"type": "FeatureCollection", "features": [', "not valid JSON"),
        (
            '{"type": "Feature", "geometry": null, "properties": {}}',
            "not a GeoJSON FeatureCollection",
        ),
        ("[1, 2]", "not a GeoJSON FeatureCollection"),
    ],
    ids=["invalid-json", "single-feature", "array"],
)
def test_malformed_geojson(app, runner, site, tmp_path, document, expected):
    path = tmp_path / "assets.geojson"
    path.write_text(document)
    result = import_file(runner, path)
    assert result.exit_code != 0
    assert expected in result.output
    assert counts(app) == (0, 0)


def test_geojson_polygon_feature(app, runner, site, tmp_path):
    polygon = {"type": "Polygon", "coordinates": [[[119.1, 36.7], [119.2, 36.7], [119.1, 36.7]]]}
    features = [feature(STATION), feature(BLOCKER, geometry=polygon)]
    result = import_file(runner, write_geojson(tmp_path / "assets.geojson", features))
    assert result.exit_code != 0
    assert "feature 2: geometry: must be a Point, not Polygon" in result.output
    assert counts(app) == (0, 0)


def test_geojson_bad_feature_numbers(app, runner, site, tmp_path):
    features = [feature(STATION), feature(dict(BLOCKER, longitude="119.5", latitude="36.9"))]
    result = import_file(runner, write_geojson(tmp_path / "assets.geojson", features))
    assert result.exit_code != 0
    assert "feature 2: location: The point lies outside every grid" in result.output
    assert counts(app) == (0, 0)


def test_unknown_extension_and_forced_format(app, runner, site, tmp_path):
    path = write_csv(tmp_path / "assets.txt", [STATION])
    result = import_file(runner, path)
    assert result.exit_code != 0
    assert "--format" in result.output
    assert counts(app) == (0, 0)
    result = import_file(runner, path, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert counts(app) == (1, 1)


def gen_tricky_assets():
    factories.gen_site()
    factories.gen_asset(
        factories.charging_station_data(
            7,
            name='Station "7", 新港',
            longitude=119.123456789012345,
            latitude=36.7012345678901,
            site="Harbour Garden",
            installed_on="2023-05-06",
            manufacturer="潍坊智充",
            serial_number="SN-1",
            notes="line one\nline two, with comma",
            status="faulty",
        )
    )
    factories.gen_asset(factories.blocker_data(12, longitude=119.29999, latitude=36.7599))
    factories.gen_asset(
        factories.charging_station_data(1, attributes={"ports": 16, "camera": True})
    )


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_round_trip_is_byte_identical(app, runner, district, tmp_path, fmt):
    with app.app_context():
        gen_tricky_assets()
        db.session.commit()
    first = export(runner, fmt)
    with app.app_context():
        db.session.execute(delete(AuditEntry))
        db.session.execute(delete(Asset))
        db.session.commit()
    path = tmp_path / f"assets.{fmt}"
    path.write_text(first, encoding="utf-8", newline="")
    result = import_file(runner, path)
    assert result.exit_code == 0, result.output
    assert "imported 3 assets" in result.output
    assert export(runner, fmt) == first
    assert repr(119.123456789012345) in first and "36.7012345678901" in first


def test_csv_export_columns_and_values(app, runner, district):
    with app.app_context():
        gen_tricky_assets()
        db.session.commit()
    rows = list(csv.DictReader(io.StringIO(export(runner, "csv"))))
    assert list(rows[0]) == csv_columns()
    assert [row["code"] for row in rows] == ["CS-001", "CS-007", "EB-0012"]
    station = rows[1]
    assert (station["grid"], station["site"], station["status"]) == (
        "G1-01",
        "Harbour Garden",
        "faulty",
    )
    assert (station["ports"], station["canopy"], station["camera"]) == ("10", "true", "false")
    assert station["building"] == ""
    assert rows[2]["grid"] == "G2-02" and rows[2]["ports"] == ""


def test_export_to_file_and_ogrinfo_reads_geojson(app, runner, district, tmp_path):
    with app.app_context():
        gen_tricky_assets()
        db.session.commit()
    path = tmp_path / "out.geojson"
    result = runner.invoke(args=["assets", "export", "--format", "geojson", "--output", str(path)])
    assert result.exit_code == 0, result.output
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["type"] == "FeatureCollection" and "crs" not in document
    first = document["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [119.15, 36.715]}
    assert first["properties"]["ports"] == 16 and first["properties"]["camera"] is True
    assert shutil.which("ogrinfo"), "ogrinfo (gdal-bin) is not installed (bin/test installs it)"
    info = subprocess.run(
        ["ogrinfo", "-al", "-so", str(path)], capture_output=True, text=True, check=False
    )
    assert info.returncode == 0, info.stderr
    assert "Feature Count: 3" in info.stdout
    assert "Geometry: Point" in info.stdout


def test_large_import_shows_progress(app, runner, district, tmp_path):
    rows = [
        dict(BLOCKER, code=f"EB-{n:04d}", longitude=f"{119.11 + n * 0.00008:.5f}", latitude="36.72")
        for n in range(1, 1202)
    ]
    result = import_file(runner, write_csv(tmp_path / "assets.csv", rows))
    assert result.exit_code == 0, result.output
    assert "imported 1201 assets" in result.output
    assert "Checking rows" in result.output
    assert counts(app) == (1201, 1201)


def test_imported_assets_are_in_the_spatial_index(app, runner, site, tmp_path):
    result = import_file(runner, write_csv(tmp_path / "assets.csv", [STATION, BLOCKER]))
    assert result.exit_code == 0, result.output
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(9, longitude=119.151))
        db.session.commit()
        west = BBox(119.14, 36.71, 119.16, 36.72)
        query = select(Asset.code).where(
            bbox_filter(db.session.connection(), "assets", Asset.id, Asset.location, west)
        )
        assert sorted(db.session.scalars(query)) == ["CS-001", "CS-009"]
