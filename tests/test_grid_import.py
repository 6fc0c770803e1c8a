"""`flask grids import FILE`: a district's grids from its own GIS files, checked whole, written
all or nothing; assets follow their grid."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from flask_babel import force_locale
from geoalchemy2.shape import to_shape
from pyproj import Transformer
from sqlalchemy import func, select

from assets.grid_import import SLIVER_WIDTH_M
from assets.models import Asset, Grid
from assets.services import asset_by_code
from core.audit import AuditEntry
from core.extensions import db
from core.importing import importer_named
from hazards.models import Hazard
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "docs" / "samples" / "grids.gpkg"
# The sample district (Zhifu, Yantai): code, name, level, parent, (west, south, east, north).
ZHIFU = [
    ("ZF1", "芝罘西片区", 1, None, (121.36, 37.52, 121.40, 37.56)),
    ("ZF2", "芝罘东片区", 1, None, (121.40, 37.52, 121.44, 37.56)),
    ("ZF1-01", "西南网格", 2, "ZF1", (121.36, 37.52, 121.40, 37.54)),
    ("ZF1-02", "西北网格", 2, "ZF1", (121.36, 37.54, 121.40, 37.56)),
    ("ZF2-01", "东南网格", 2, "ZF2", (121.40, 37.52, 121.44, 37.54)),
    ("ZF2-02", "东北网格", 2, "ZF2", (121.40, 37.54, 121.44, 37.56)),
]
# Metres on the ground around Yantai: UTM zone 51N.
TO_METRES = Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True)
# A metre is about this many degrees of latitude (and ~1.26 times as many of longitude here).
METRE_LAT = 1 / 111_000


# --- files ------------------------------------------------------------------------------------


def zhifu_rows(**changes) -> list[dict]:
    """The sample grids as rows to write (WGS-84 rectangles); ``changes`` by code replace
    a row's values ({"ZF1-01": {"level": "3"}}) or, as None, drop the row."""
    rows = []
    for code, name, level, parent, bounds in ZHIFU:
        row = {"code": code, "name": name, "level": level, "parent": parent}
        row["geometry"] = shapely.box(*bounds, ccw=True)
        change = changes.get(code.replace("-", "_"), {})
        if change is None:
            continue
        row.update(change)
        rows.append(row)
    return rows


def text_or_none(value):
    return None if value is None else str(value)


def write_layer(path: Path, rows: list[dict], crs: str | None = "EPSG:4326", **kwargs) -> Path:
    """A real GIS file (the driver from the extension) of ``rows``: dicts with a shapely
    ``geometry`` in WGS-84 (written reprojected to ``crs``, or as it is when ``crs`` is
    None) and text properties."""
    names: list[str] = []
    for row in rows:
        names.extend(name for name in row if name != "geometry" and name not in names)
    transformer = None
    if crs and crs != "EPSG:4326":
        transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    geometries = []
    for row in rows:
        geometry = row.get("geometry")
        if geometry is not None and transformer is not None:
            geometry = shapely.transform(
                geometry.segmentize(0.001),
                lambda x, y: transformer.transform(x, y),
                interleaved=False,
            )
        geometries.append(None if geometry is None else shapely.to_wkb(geometry))
    kwargs.setdefault("layer", "grids")
    kwargs.setdefault("geometry_type", "Unknown")
    with warnings.catch_warnings():
        # pyogrio warns of a file written without a CRS: some of ours are, on purpose
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        pyogrio.raw.write(
            str(path),
            np.array(geometries, dtype=object),
            [
                np.array([text_or_none(row.get(name)) for row in rows], dtype=object)
                for name in names
            ],
            names,
            crs=crs,
            **kwargs,
        )
    return path


def write_shapefile(directory: Path, rows: list[dict], crs: str | None = "EPSG:4326", **kwargs):
    directory.mkdir(exist_ok=True)
    kwargs.setdefault("encoding", "UTF-8")
    return write_layer(
        directory / "grids.shp",
        rows,
        crs,
        driver="ESRI Shapefile",
        geometry_type="Polygon",
        **kwargs,
    )


def zipped(directory: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for member in sorted(directory.iterdir()):
            archive.write(member, f"grids/{member.name}")
    return target


def write_geojson(path: Path, features: list[dict], crs: str | None = None) -> Path:
    """Hand-written GeoJSON: ``features`` as (properties, geometry dict) pairs."""
    collection: dict = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": properties, "geometry": geometry}
            for properties, geometry in features
        ],
    }
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def ogr2ogr(*arguments: str) -> None:
    assert shutil.which("ogr2ogr"), "ogr2ogr (gdal-bin) is not installed (bin/test installs it)"
    done = subprocess.run(
        ["ogr2ogr", *arguments], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr


# --- reading back --------------------------------------------------------------------------


def import_grids(runner, path: Path, *extra: str):
    return runner.invoke(args=["grids", "import", str(path), *extra])


def stored_grids(app) -> dict[str, tuple]:
    """code → (name, level, parent code, boundary) as stored."""
    with app.app_context():
        grids = db.session.scalars(select(Grid).order_by(Grid.code)).all()
        return {
            grid.code: (
                grid.name,
                grid.level,
                grid.parent.code if grid.parent else None,
                to_shape(grid.boundary),
            )
            for grid in grids
        }


def database_state(app) -> tuple:
    """Everything an import may write: grids (all columns), assets' grids, audit entries."""
    with app.app_context():
        grids = db.session.execute(
            select(
                Grid.id,
                Grid.code,
                Grid.name,
                Grid.level,
                Grid.parent_id,
                func.ST_AsText(Grid.boundary),
                Grid.leader_name,
                Grid.leader_phone,
                Grid.leader_email,
            ).order_by(Grid.id)
        ).all()
        assets = db.session.execute(select(Asset.code, Asset.grid_id).order_by(Asset.code)).all()
        audits = db.session.scalar(select(func.count()).select_from(AuditEntry))
        return [tuple(row) for row in grids], [tuple(row) for row in assets], audits


def metres_apart(one, other) -> float:
    """The Hausdorff distance of two WGS-84 geometries, in metres."""
    project = lambda geometry: shapely.transform(  # noqa: E731
        geometry, lambda x, y: TO_METRES.transform(x, y), interleaved=False
    )
    return shapely.hausdorff_distance(project(one), project(other), densify=0.01)


def assert_zhifu(app, tolerance_m: float = 1.0) -> None:
    grids = stored_grids(app)
    assert sorted(grids) == sorted(code for code, *_ in ZHIFU)
    for code, name, level, parent, bounds in ZHIFU:
        stored_name, stored_level, stored_parent, boundary = grids[code]
        assert (stored_name, stored_level, stored_parent) == (name, level, parent)
        assert boundary.is_valid
        assert metres_apart(boundary, shapely.box(*bounds)) < tolerance_m, code


# --- the sample file and the formats ------------------------------------------------------


def test_sample_gpkg_gives_the_six_grids(app, runner):
    result = import_grids(runner, SAMPLE)
    assert result.exit_code == 0, result.output
    assert (
        "created 6, updated 0, unchanged 0, assets moved 0, hazards moved 0, warnings 0"
        in result.output
    )
    assert_zhifu(app)
    with app.app_context():
        audits = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(a.action, a.entity_type, a.entity_key) for a in audits] == [
            ("create", "grid", code) for code, *_ in ZHIFU
        ]
        assert audits[2].after["parent"] == "ZF1"
        assert audits[2].after["boundary"].startswith("POLYGON ((121.36")
        assert audits[0].actor == "cli"
    again = import_grids(runner, SAMPLE)
    assert again.exit_code == 0, again.output
    assert "created 0, updated 0, unchanged 6, assets moved 0" in again.output


def test_sample_is_projected_gauss_kruger_with_chinese_fields():
    meta = pyogrio.read_info(SAMPLE)
    assert meta["crs"] == "EPSG:4549"
    assert list(meta["fields"]) == ["编码", "名称", "级别", "上级"]
    assert meta["features"] == 6


def test_zipped_shapefile_and_kml_import_the_same(app, runner, tmp_path):
    shapefile = tmp_path / "shp"
    shapefile.mkdir()
    ogr2ogr("-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", str(shapefile), str(SAMPLE))
    archive = zipped(shapefile, tmp_path / "grids.zip")
    kml = tmp_path / "grids.kml"
    ogr2ogr("-f", "KML", str(kml), str(SAMPLE))

    result = import_grids(runner, archive)
    assert result.exit_code == 0, result.output
    assert "created 6" in result.output
    assert_zhifu(app)
    from_shapefile = stored_grids(app)

    result = import_grids(runner, kml)
    assert result.exit_code == 0, result.output
    assert "created 0, updated 0, unchanged 6" in result.output
    for code, (*_attributes, boundary) in stored_grids(app).items():
        assert metres_apart(boundary, from_shapefile[code][3]) < 0.01


def test_kml_into_an_empty_database(app, runner, tmp_path):
    kml = tmp_path / "grids.kml"
    ogr2ogr("-f", "KML", str(kml), str(SAMPLE))
    result = import_grids(runner, kml)
    assert result.exit_code == 0, result.output
    assert_zhifu(app)


@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:3857", "EPSG:32651", "EPSG:4528"])
def test_any_declared_crs_is_reprojected(app, runner, tmp_path, crs):
    """CGCS2000 geographic, Web Mercator, UTM 51N, CGCS2000 Gauss-Kruger zone 40 (with its
    false easting)."""
    path = write_layer(tmp_path / "grids.gpkg", zhifu_rows(), crs)
    assert pyogrio.read_info(path)["crs"] == crs
    result = import_grids(runner, path)
    assert result.exit_code == 0, result.output
    assert_zhifu(app)


def test_geojson_with_level_words_and_field_options(app, runner, tmp_path):
    rows = [
        {
            "GRID_ID": code,
            "TITLE": name,
            "RANK": "一级" if level == 1 else "二级",
            "UP": parent,
            "geometry": shapely.box(*bounds),
        }
        for code, name, level, parent, bounds in ZHIFU
    ]
    path = write_layer(tmp_path / "grids.geojson", rows)
    options = ["--code-field", "grid_id", "--name-field", "TITLE"]
    options += ["--level-field", "RANK", "--parent-field", "UP"]
    result = import_grids(runner, path, *options)
    assert result.exit_code == 0, result.output
    assert_zhifu(app)


def test_file_without_crs_needs_the_crs_option(app, runner, tmp_path):
    """Gauss-Kruger metres in a Shapefile without its .prj."""
    transformer = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    rows = zhifu_rows()
    for row in rows:
        row["geometry"] = shapely.transform(
            row["geometry"].segmentize(0.001),
            lambda x, y: transformer.transform(x, y),
            interleaved=False,
        )
    projected = write_shapefile(tmp_path / "gk", rows, None)
    assert not projected.with_suffix(".prj").exists()

    refused = import_grids(runner, projected)
    assert refused.exit_code != 0
    assert "file: crs: The file declares no coordinate reference system" in refused.output
    assert stored_grids(app) == {}

    result = import_grids(runner, projected, "--crs", "EPSG:4549")
    assert result.exit_code == 0, result.output
    assert_zhifu(app)


def chinese_shapefile_without_cpg(directory: Path) -> Path:
    """What Chinese desktop GIS often hands over: GBK text, no .cpg to say so."""
    path = write_shapefile(directory, zhifu_rows(), encoding="GB18030")
    path.with_suffix(".cpg").unlink()
    return path


def test_shapefile_in_gbk_without_cpg(app, runner, tmp_path):
    result = import_grids(runner, chinese_shapefile_without_cpg(tmp_path / "gbk"))
    assert result.exit_code == 0, result.output
    assert_zhifu(app)


def test_leaders_are_filled_and_kept_when_a_file_has_none(app, runner, tmp_path):
    rows = zhifu_rows(
        ZF1={"网格长": "王丽", "电话": "13905350001", "邮箱": "wang.li@zhifu.example.cn"}
    )
    result = import_grids(runner, write_layer(tmp_path / "leaders.gpkg", rows))
    assert result.exit_code == 0, result.output
    # a file without leader fields, another name: the leaders stay
    renamed = zhifu_rows(ZF1={"name": "芝罘西片区（新）"})
    result = import_grids(runner, write_layer(tmp_path / "renamed.gpkg", renamed))
    assert result.exit_code == 0, result.output
    assert "created 0, updated 1, unchanged 5" in result.output
    with app.app_context():
        grid = db.session.scalars(select(Grid).where(Grid.code == "ZF1")).one()
        assert (grid.name, grid.leader_name, grid.leader_phone, grid.leader_email) == (
            "芝罘西片区（新）",
            "王丽",
            "13905350001",
            "wang.li@zhifu.example.cn",
        )
        update = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
        assert (update.entity_key, update.before, update.after) == (
            "ZF1",
            {"name": "芝罘西片区"},
            {"name": "芝罘西片区（新）"},
        )


def test_one_part_multipolygon_is_taken(app, runner, tmp_path):
    rows = zhifu_rows(ZF1_01={"geometry": shapely.MultiPolygon([shapely.box(*ZHIFU[2][4])])})
    result = import_grids(runner, write_layer(tmp_path / "grids.gpkg", rows))
    assert result.exit_code == 0, result.output
    assert stored_grids(app)["ZF1-01"][3].geom_type == "Polygon"


def test_repairable_polygon_is_taken_with_a_warning(app, runner, tmp_path):
    """A digitising spike: invalid, but make_valid gives the same polygon without it."""
    west, south, east, north = ZHIFU[2][4]
    middle = (west + east) / 2
    spike = shapely.Polygon(
        [
            (west, south),
            (east, south),
            (east, north),
            (middle, north),
            (middle, north - 0.005),
            (middle, north),
            (west, north),
        ]
    )
    assert not spike.is_valid
    rows = zhifu_rows(ZF1_01={"geometry": spike})
    result = import_grids(runner, write_layer(tmp_path / "grids.gpkg", rows))
    assert result.exit_code == 0, result.output
    assert "warning: feature 3: geometry: The polygon was invalid and has been repaired" in (
        result.output
    )
    assert "warnings 1" in result.output
    boundary = stored_grids(app)["ZF1-01"][3]
    assert boundary.is_valid
    assert metres_apart(boundary, shapely.box(west, south, east, north)) < 1


def test_digitising_slivers_are_tolerated(app, runner, tmp_path):
    """A child half a metre beyond its parent and overlapping its sibling by as much."""
    half_metre = SLIVER_WIDTH_M / 2 * METRE_LAT
    west, south, east, north = ZHIFU[2][4]
    rows = zhifu_rows(
        ZF1_01={"geometry": shapely.box(west, south - half_metre, east, north + half_metre)}
    )
    result = import_grids(runner, write_layer(tmp_path / "grids.gpkg", rows))
    assert result.exit_code == 0, result.output
    assert "created 6" in result.output


def test_second_level_grid_under_a_parent_in_the_database(app, runner, tmp_path):
    assert import_grids(runner, SAMPLE).exit_code == 0
    rows = zhifu_rows(ZF1=None, ZF2=None, ZF1_02=None, ZF2_01=None, ZF2_02=None)
    rows[0]["name"] = "西南网格（调整）"
    result = import_grids(runner, write_layer(tmp_path / "one.geojson", rows))
    assert result.exit_code == 0, result.output
    assert "created 0, updated 1, unchanged 0" in result.output
    grids = stored_grids(app)
    assert len(grids) == 6
    assert grids["ZF1-01"][:3] == ("西南网格（调整）", 2, "ZF1")


def test_dry_run_writes_nothing_and_says_what_it_would_do(app, runner):
    before = database_state(app)
    result = import_grids(runner, SAMPLE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would have created 6, updated 0, unchanged 0, assets moved 0" in result.output
    assert database_state(app) == before


def test_the_imports_page_gets_check_and_apply(app, tmp_path):
    rows = [
        {"标识": code, "名称": name, "级别": level, "上级": parent, "geometry": shapely.box(*b)}
        for code, name, level, parent, b in ZHIFU
    ]
    path = write_layer(tmp_path / "grids.gpkg", rows, "EPSG:4549")
    with app.app_context():
        importer = importer_named("grids")
        assert importer is not None
        assert importer.order == 1
        assert ".zip" in importer.extensions
        assert str(importer.label) == "Grids"
        check = importer.check(path, {"code_field": "标识"})
        assert check.ok, check.problems
        assert (check.kind, check.count, check.summary) == (
            "grids",
            6,
            {"new": 6, "updated": 0, "unchanged": 0, "assets_moved": 0, "hazards_moved": 0},
        )
        assert db.session.scalar(select(func.count()).select_from(Grid)) == 0
        bad = importer.check(path, {})
        assert [str(problem) for problem in bad.problems] == [
            "file: code: The file has no code field (code / 编码): name it with --code-field."
        ]
        applied = importer.apply(path, {"code_field": "标识"})
        assert applied.ok and applied.count == 6
    assert_zhifu(app)


# --- re-importing ----------------------------------------------------------------------------


def test_reimport_moves_assets_and_audits_it(app, runner, tmp_path):
    """ZF1's inner border moves 0.005° south: an asset near it changes grid; a new first-level
    grid takes in an asset that lay outside every grid; grids absent from the file stay."""
    app.config["STRICT_DISTRICT"] = False
    assert import_grids(runner, SAMPLE).exit_code == 0
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1, longitude=121.37, latitude=37.538))
        factories.gen_asset(factories.charging_station_data(2, longitude=121.37, latitude=37.55))
        factories.gen_asset(factories.charging_station_data(3, longitude=121.43, latitude=37.53))
        factories.gen_asset(factories.charging_station_data(4, longitude=121.46, latitude=37.53))
        # A hazard's grid is derived from its point too, and follows it.
        zf1_01 = db.session.scalar(select(Grid.id).where(Grid.code == "ZF1-01"))
        factories.gen_hazard("YH-2026-0001", "major", location=(121.37, 37.538), grid_id=zf1_01)
        db.session.commit()
        grids_of = lambda: dict(  # noqa: E731
            db.session.execute(
                select(Asset.code, Grid.code).outerjoin(Grid, Asset.grid_id == Grid.id)
            ).all()
        )
        assert grids_of() == {
            "CS-001": "ZF1-01",
            "CS-002": "ZF1-02",
            "CS-003": "ZF2-01",
            "CS-004": None,
        }
    rows = zhifu_rows(
        ZF2=None,
        ZF2_01=None,
        ZF2_02=None,
        ZF1_01={"geometry": shapely.box(121.36, 37.52, 121.40, 37.535)},
        ZF1_02={"geometry": shapely.box(121.36, 37.535, 121.40, 37.56)},
    )
    rows.append(
        {
            "code": "ZF3",
            "name": "芝罘新区",
            "level": 1,
            "parent": None,
            "geometry": shapely.box(121.44, 37.52, 121.48, 37.56),
        }
    )
    result = import_grids(runner, write_layer(tmp_path / "moved.gpkg", rows, "EPSG:4549"))
    assert result.exit_code == 0, result.output
    assert (
        "created 1, updated 2, unchanged 1, assets moved 2, hazards moved 1, warnings 0"
        in result.output
    )

    grids = stored_grids(app)
    assert sorted(grids) == ["ZF1", "ZF1-01", "ZF1-02", "ZF2", "ZF2-01", "ZF2-02", "ZF3"]
    assert metres_apart(grids["ZF1-01"][3], shapely.box(121.36, 37.52, 121.40, 37.535)) < 1
    with app.app_context():
        assert grids_of() == {
            "CS-001": "ZF1-02",
            "CS-002": "ZF1-02",
            "CS-003": "ZF2-01",
            "CS-004": "ZF3",
        }
        regrids = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "regrid").order_by(AuditEntry.entity_key)
        ).all()
        assert [(a.entity_type, a.entity_key, a.before, a.after) for a in regrids] == [
            ("asset", "CS-001", {"grid": "ZF1-01"}, {"grid": "ZF1-02"}),
            ("asset", "CS-004", {"grid": None}, {"grid": "ZF3"}),
            ("hazard", "YH-2026-0001", {"grid": "ZF1-01"}, {"grid": "ZF1-02"}),
        ]
        hazard = db.session.scalar(select(Hazard).where(Hazard.code == "YH-2026-0001"))
        assert hazard.grid.code == "ZF1-02"
        grid_audits = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "grid", AuditEntry.id > 6)
            .order_by(AuditEntry.id)
        ).all()
        assert [(a.action, a.entity_key) for a in grid_audits] == [
            ("create", "ZF3"),
            ("update", "ZF1-01"),
            ("update", "ZF1-02"),
        ]
        assert set(grid_audits[1].after) == {"boundary"}
        assert grid_audits[1].before["boundary"] != grid_audits[1].after["boundary"]
        asset = asset_by_code("CS-001")
        assert asset.grid.code == "ZF1-02"


def test_reimport_leaving_assets_outside_every_grid_warns(app, runner, tmp_path):
    assert import_grids(runner, SAMPLE).exit_code == 0
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1, longitude=121.43, latitude=37.555))
        db.session.commit()
    shrunk = zhifu_rows(
        ZF2={"geometry": shapely.box(121.40, 37.52, 121.44, 37.55)},
        ZF2_02={"geometry": shapely.box(121.40, 37.54, 121.44, 37.55)},
    )
    result = import_grids(runner, write_layer(tmp_path / "shrunk.gpkg", shrunk))
    assert result.exit_code == 0, result.output
    assert "warning: 1 asset(s) lie outside every grid: CS-001." in result.output
    assert "updated 2, unchanged 4, assets moved 1, hazards moved 0, warnings 1" in result.output
    with app.app_context():
        assert asset_by_code("CS-001").grid_id is None


# --- bad input: refused, with the feature and field named, nothing written ----------------


def bow_tie(west, south, east, north):
    return shapely.Polygon([(west, south), (east, north), (east, south), (west, north)])


def polygon_json(ring):
    return {"type": "Polygon", "coordinates": [ring]}


def two_parts():
    west, south, east, north = ZHIFU[2][4]
    middle = (west + east) / 2
    return shapely.MultiPolygon(
        [shapely.box(west, south, middle, north), shapely.box(middle, south, east, north)]
    )


def layer_case(name, changes, expected, extension=".gpkg"):
    def build(tmp_path):
        return write_layer(tmp_path / f"grids{extension}", zhifu_rows(**changes)), []

    return pytest.param(build, expected, id=name)


def file_case(name, expected):
    def wrap(build):
        return pytest.param(build, expected, id=name)

    return wrap


def unclosed_ring(tmp_path):
    west, south, east, north = ZHIFU[0][4]
    ring = [[west, south], [east, south], [east, north], [west, north]]
    properties = {"code": "ZF1", "name": "芝罘西片区", "level": 1}
    return write_geojson(tmp_path / "open.geojson", [(properties, polygon_json(ring))]), []


def empty_file(tmp_path):
    return write_geojson(tmp_path / "empty.geojson", []), []


def empty_gpkg(tmp_path):
    return write_layer(tmp_path / "empty.gpkg", []), []


def unknown_crs(tmp_path):
    path = write_shapefile(tmp_path / "shp", zhifu_rows(), None)
    path.with_suffix(".prj").write_text('LOCAL_CS["site grid",UNIT["metre",1]]')
    return path, []


def unknown_crs_option(tmp_path):
    return write_layer(tmp_path / "grids.gpkg", zhifu_rows()), ["--crs", "EPSG:999999"]


def garbage_gpkg(tmp_path):
    path = tmp_path / "grids.gpkg"
    path.write_bytes(b"not a geopackage at all\n" * 40)
    return path, []


def broken_geojson(tmp_path):
    path = tmp_path / "grids.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    return path, []


def csv_file(tmp_path):
    path = tmp_path / "grids.csv"
    path.write_text("code,name\nZF1,x\n", encoding="utf-8")
    return path, []


def zip_without_shapefile(tmp_path):
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no shapefile here")
    return path, []


def no_code_field(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "code"} for row in zhifu_rows()]
    return write_layer(tmp_path / "grids.gpkg", rows), []


def code_field_option_missing(tmp_path):
    return write_layer(tmp_path / "grids.gpkg", zhifu_rows()), ["--code-field", "标识"]


def projected_coordinates_as_wgs84(tmp_path):
    """Gauss-Kruger metres in a GeoJSON that (by definition) says WGS-84."""
    transformer = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    features = []
    for code, name, level, parent, bounds in ZHIFU[:1]:
        ring = shapely.get_coordinates(shapely.box(*bounds))
        xs, ys = transformer.transform(ring[:, 0], ring[:, 1])
        properties = {"code": code, "name": name, "level": level, "parent": parent}
        features.append(
            (properties, polygon_json([list(pair) for pair in zip(xs, ys, strict=True)]))
        )
    return write_geojson(tmp_path / "metres.geojson", features), []


def unknown_encoding(tmp_path):
    return write_layer(tmp_path / "grids.gpkg", zhifu_rows()), ["--encoding", "klingon"]


def wrong_encoding(tmp_path):
    return chinese_shapefile_without_cpg(tmp_path / "gbk"), ["--encoding", "UTF-8"]


def swapped_coordinates(tmp_path):
    swap = lambda geometry: shapely.transform(  # noqa: E731
        geometry, lambda x, y: (y, x), interleaved=False
    )
    rows = zhifu_rows()
    for row in rows:
        row["geometry"] = swap(row["geometry"])
    return write_layer(tmp_path / "swapped.geojson", rows), []


def outside_china(tmp_path):
    rows = zhifu_rows(ZF2={"geometry": shapely.box(2.30, 48.80, 2.40, 48.90)})
    return write_layer(tmp_path / "paris.gpkg", rows), []


def several_layers(tmp_path):
    path = write_layer(tmp_path / "grids.gpkg", zhifu_rows())
    write_layer(path, zhifu_rows(), layer="roads", append=False)
    return path, []


SHIFTED = tuple(
    value + offset for value, offset in zip(ZHIFU[2][4], (0.01, 0, 0.01, 0), strict=True)
)
BAD_FILES = [
    layer_case(
        "point",
        {"ZF1_01": {"geometry": shapely.Point(121.38, 37.53)}},
        "feature 3: geometry: Must be a polygon, not a Point.",
    ),
    layer_case(
        "multipolygon of two parts",
        {"ZF1_01": {"geometry": two_parts()}},
        "feature 3: geometry: A MultiPolygon of 2 parts: a grid is one polygon.",
    ),
    layer_case(
        "no geometry",
        {"ZF2_02": {"geometry": None}},
        "feature 6: geometry: The feature has no geometry.",
    ),
    layer_case(
        "bow-tie",
        {"ZF1_02": {"geometry": bow_tie(*ZHIFU[3][4])}},
        "feature 4: geometry: The polygon is invalid (Self-intersection",
    ),
    layer_case(
        "duplicate code",
        {"ZF1_02": {"code": "zf1-01"}},
        "feature 4: code: ZF1-01 repeats feature 3.",
    ),
    layer_case(
        "level 3",
        {"ZF2_01": {"level": 3}},
        "feature 5: level: Must be 1 or 2 (一级 or 二级), not 3.",
    ),
    layer_case(
        "level missing",
        {"ZF2_01": {"level": None}},
        "feature 5: level: Must be 1 or 2 (一级 or 二级), not empty.",
    ),
    layer_case(
        "first level with a parent",
        {"ZF2": {"parent": "ZF1"}},
        "feature 2: parent: A first-level grid has no parent (this one names ZF1).",
    ),
    layer_case(
        "second level without a parent",
        {"ZF2_02": {"parent": None}},
        "feature 6: parent: A second-level grid needs the code of its first-level grid.",
    ),
    layer_case(
        "unknown parent",
        {"ZF2_02": {"parent": "ZF9"}},
        "feature 6: parent: No grid ZF9 in the file or the database.",
    ),
    layer_case(
        "parent at the second level",
        {"ZF1_02": {"parent": "ZF1-01"}},
        "feature 4: parent: ZF1-01 is a second-level grid, not a first-level one.",
    ),
    layer_case(
        "outside its parent",
        {"ZF1_01": {"geometry": shapely.box(*SHIFTED)}},
        "feature 3: geometry: ",
    ),
    layer_case(
        "second-level siblings overlap",
        {"ZF1_02": {"geometry": shapely.box(121.36, 37.535, 121.40, 37.56)}},
        "feature 4: geometry: It overlaps ZF1-01 (feature 3) by ",
    ),
    layer_case(
        "siblings overlap by a 10 m strip",
        {"ZF1_02": {"geometry": shapely.box(121.36, 37.54 - 10 * METRE_LAT, 121.40, 37.56)}},
        "feature 4: geometry: It overlaps ZF1-01 (feature 3) by ",
    ),
    layer_case(
        "first-level grids overlap",
        {"ZF2": {"geometry": shapely.box(121.39, 37.52, 121.44, 37.56)}},
        "feature 2: geometry: It overlaps ZF1 (feature 1) by ",
    ),
    layer_case("name missing", {"ZF2": {"name": " "}}, "feature 2: name: A grid needs a name."),
    layer_case(
        "code too long",
        {"ZF2": {"code": "ZF2-" + "9" * 20}},
        "feature 2: code: At most 20 characters.",
    ),
    layer_case(
        "bad leader email",
        {"ZF1": {"邮箱": "wang.li at zhifu"}},
        "feature 1: leader_email: Not a valid email address.",
        ".geojson",
    ),
    pytest.param(
        unclosed_ring,
        "feature 1: geometry: A ring of the polygon is not closed",
        id="ring not closed",
    ),
    pytest.param(empty_file, "file: The file holds no features.", id="empty geojson"),
    pytest.param(empty_gpkg, "file: The file holds no features.", id="empty gpkg"),
    pytest.param(
        unknown_crs,
        "file: crs: The file's coordinate reference system cannot be converted",
        id="unknown crs",
    ),
    pytest.param(
        unknown_crs_option,
        "file: crs: Unknown coordinate reference system EPSG:999999.",
        id="unknown crs option",
    ),
    pytest.param(
        garbage_gpkg,
        "file: The file cannot be read as GeoJSON, GeoPackage, Shapefile or KML.",
        id="unreadable gpkg",
    ),
    pytest.param(
        broken_geojson,
        "file: The file cannot be read as GeoJSON, GeoPackage, Shapefile or KML.",
        id="unreadable geojson",
    ),
    pytest.param(csv_file, "file: Cannot read .csv files", id="not a GIS file"),
    pytest.param(
        zip_without_shapefile,
        "file: The zip archive holds no Shapefile (.shp).",
        id="zip without shapefile",
    ),
    pytest.param(
        no_code_field,
        "file: code: The file has no code field (code / 编码): name it with --code-field.",
        id="no code field",
    ),
    pytest.param(
        code_field_option_missing,
        "file: code: The file has no field 标识",
        id="code field option names no field",
    ),
    pytest.param(
        projected_coordinates_as_wgs84,
        "feature 1: geometry: Its coordinates are not longitudes and latitudes",
        id="coordinates not degrees",
    ),
    pytest.param(
        unknown_encoding, "file: encoding: Unknown text encoding klingon.", id="unknown encoding"
    ),
    pytest.param(
        wrong_encoding, "file: encoding: The file's text is not in UTF-8.", id="wrong encoding"
    ),
    pytest.param(
        swapped_coordinates,
        "feature 1: geometry: Latitude and longitude look swapped.",
        id="latitude and longitude swapped",
    ),
    pytest.param(
        outside_china,
        "feature 2: geometry: The grid lies outside China.",
        id="outside china",
    ),
    pytest.param(
        several_layers,
        "file: layer: The file holds several layers (grids, roads)",
        id="several layers",
    ),
]


@pytest.mark.parametrize(("build", "expected"), BAD_FILES)
def test_bad_file_is_refused_and_nothing_written(app, runner, tmp_path, build, expected):
    path, extra = build(tmp_path)
    before = database_state(app)
    result = import_grids(runner, path, *extra)
    assert result.exit_code != 0, result.output
    assert expected in result.output
    assert "nothing imported" in result.output
    assert database_state(app) == before
    dry = import_grids(runner, path, "--dry-run", *extra)
    assert dry.exit_code != 0 and expected in dry.output


def test_outside_parent_names_the_area(app, runner, tmp_path):
    path = write_layer(
        tmp_path / "grids.gpkg", zhifu_rows(ZF1_01={"geometry": shapely.box(*SHIFTED)})
    )
    result = import_grids(runner, path)
    assert result.exit_code != 0
    assert "feature 3: geometry: " in result.output
    assert "m² of it lies outside its parent ZF1." in result.output
    # the part beyond ZF1 overlaps ZF2's children, but those are another parent's: no overlap
    assert "overlaps" not in result.output
    assert stored_grids(app) == {}


def test_every_problem_is_listed(app, runner, tmp_path):
    rows = zhifu_rows(ZF1={"level": 7}, ZF2_02={"parent": "ZF9", "geometry": shapely.Point(0, 0)})
    result = import_grids(runner, write_layer(tmp_path / "grids.gpkg", rows))
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("feature")]
    assert lines == [
        "feature 1: level: Must be 1 or 2 (一级 or 二级), not 7.",
        "feature 6: geometry: Must be a polygon, not a Point.",
        "feature 6: parent: No grid ZF9 in the file or the database.",
    ]
    assert "Error: 3 problem(s) in grids.gpkg; nothing imported" in result.output


# Bad re-imports: the district as it would be, the database's grids included.
BAD_REIMPORTS = [
    pytest.param(
        {
            "ZF2": None,
            "ZF1_01": None,
            "ZF1_02": None,
            "ZF2_01": None,
            "ZF2_02": None,
            "ZF1": {"geometry": shapely.box(121.36, 37.52, 121.40, 37.55)},
        },
        "feature 1: geometry: Second-level grid ZF1-02 (in the database) would lie partly "
        "outside it",
        id="parent shrinks away from a stored child",
    ),
    pytest.param(
        {
            "ZF1": None,
            "ZF1_01": None,
            "ZF1_02": None,
            "ZF2_01": None,
            "ZF2_02": None,
            "ZF2": {"geometry": shapely.box(121.39, 37.52, 121.44, 37.56)},
        },
        "feature 1: geometry: It overlaps ZF1 (in the database) by ",
        id="overlaps a stored first-level grid",
    ),
    pytest.param(
        {
            "ZF2": None,
            "ZF1_01": None,
            "ZF1_02": None,
            "ZF2_01": None,
            "ZF2_02": None,
            "ZF1": {"level": 2, "parent": "ZF2"},
        },
        "feature 1: level: Second-level grid ZF1-01 (in the database) has it as its parent",
        id="a stored child's parent would become second-level",
    ),
    pytest.param(
        {
            "ZF1": None,
            "ZF2": None,
            "ZF1_02": None,
            "ZF2_01": None,
            "ZF2_02": None,
            "ZF1_01": {"geometry": shapely.box(121.36, 37.52, 121.40, 37.545)},
        },
        "feature 1: geometry: It overlaps ZF1-02 (in the database) by ",
        id="overlaps a stored sibling",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), BAD_REIMPORTS)
def test_bad_reimport_is_refused_and_nothing_written(app, runner, tmp_path, changes, expected):
    assert import_grids(runner, SAMPLE).exit_code == 0
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1, longitude=121.37, latitude=37.545))
        db.session.commit()
    before = database_state(app)
    result = import_grids(runner, write_layer(tmp_path / "again.gpkg", zhifu_rows(**changes)))
    assert result.exit_code != 0, result.output
    assert expected in result.output
    assert database_state(app) == before


def test_problems_are_told_in_the_pages_language(app, tmp_path):
    """The Imports page checks in its user's language; the command line is English."""
    rows = zhifu_rows(ZF2_02={"parent": "ZF9"})
    path = write_layer(tmp_path / "grids.gpkg", rows)
    with app.app_context(), force_locale("zh"):
        check = importer_named("grids").check(path, {})
    assert [str(problem) for problem in check.problems] == [
        "feature 6: parent: 文件和数据库中都没有网格 ZF9。"
    ]
