"""`flask sites import FILE`: sites and property companies from CSV (any Chinese encoding),
xlsx or GeoJSON; and the sample district's files (docs/samples) end to end."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from geoalchemy2.shape import to_shape
from openpyxl import Workbook
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from assets.models import Asset, Grid, PropertyCompany, Site
from core.audit import AuditEntry
from core.extensions import db
from core.importing import importer_named
from tests import factories

SAMPLES = Path(__file__).resolve().parent.parent / "docs" / "samples"
HEADER = ["名称", "地址", "物业公司", "联系人", "联系电话", "经度", "纬度"]
# Inside the test district (tests/factories.py): G1-01 and G2-02.
ROWS = [
    ["新港花园", "新港路1号", "潍坊安居物业有限公司", "王丽", "13905360001", "119.15", "36.715"],
    ["海港小区", "海港路8号", "潍坊安居物业有限公司", "", "", "119.25", "36.745"],
    ["滨河苑", "滨河路3号", "潍坊宏达物业管理有限公司", "赵强", "13905360002", "", ""],
]
# The sample district: Zhifu, Yantai (docs/samples/make_tables.py).
ZHIFU_GRIDS = [
    ("ZF1", "芝罘西片区", 1, None, (121.36, 37.52, 121.40, 37.56)),
    ("ZF2", "芝罘东片区", 1, None, (121.40, 37.52, 121.44, 37.56)),
    ("ZF1-01", "西南网格", 2, "ZF1", (121.36, 37.52, 121.40, 37.54)),
    ("ZF1-02", "西北网格", 2, "ZF1", (121.36, 37.54, 121.40, 37.56)),
    ("ZF2-01", "东南网格", 2, "ZF2", (121.40, 37.52, 121.44, 37.54)),
    ("ZF2-02", "东北网格", 2, "ZF2", (121.40, 37.54, 121.44, 37.56)),
]


def write_csv(path, rows, encoding="gb18030"):
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def import_sites(runner, path, *extra):
    return runner.invoke(args=["sites", "import", str(path), *extra])


def sites_and_companies(app):
    with app.app_context():
        sites = {
            site.name: (
                site.address,
                site.property_company.name if site.property_company else None,
                tuple(to_shape(site.location).coords[0]) if site.location is not None else None,
            )
            for site in db.session.scalars(select(Site))
        }
        companies = {
            company.name: (company.contact_name, company.contact_phone)
            for company in db.session.scalars(select(PropertyCompany))
        }
        return sites, companies


def audits(app):
    with app.app_context():
        query = select(AuditEntry.action, AuditEntry.entity_type, AuditEntry.entity_key)
        return sorted(db.session.execute(query.order_by(AuditEntry.id)).all())


def test_gb18030_csv_with_chinese_headers(app, runner, district, tmp_path):
    result = import_sites(runner, write_csv(tmp_path / "小区.csv", [HEADER, *ROWS]))
    assert result.exit_code == 0, result.output
    assert "sites created 3, updated 0, unchanged 0; property companies created 2" in result.output
    sites, companies = sites_and_companies(app)
    assert sites == {
        "新港花园": ("新港路1号", "潍坊安居物业有限公司", (119.15, 36.715)),
        "海港小区": ("海港路8号", "潍坊安居物业有限公司", (119.25, 36.745)),
        "滨河苑": ("滨河路3号", "潍坊宏达物业管理有限公司", None),
    }
    assert companies == {
        "潍坊安居物业有限公司": ("王丽", "13905360001"),
        "潍坊宏达物业管理有限公司": ("赵强", "13905360002"),
    }
    assert audits(app) == sorted(
        [("import", "site", name) for name in sites]
        + [("import", "property_company", name) for name in companies]
    )


def test_reimport_updates_by_name(app, runner, district, tmp_path):
    assert import_sites(runner, write_csv(tmp_path / "a.csv", [HEADER, *ROWS])).exit_code == 0
    changed = [
        ["新港花园", "新港路1号甲", "潍坊安居物业有限公司", "王丽", "13905369999", "", ""],
        ["海港小区", "", "潍坊宏达物业管理有限公司", "", "", "", ""],
        ["滨河苑", "滨河路3号", "", "", "", "119.16", "36.72"],
        ["芦苇园", "", "潍坊新物业有限公司", "", "", "119.151", "36.716"],
    ]
    path = write_csv(tmp_path / "b.csv", [HEADER, *changed], "utf-8")
    check = runner.invoke(args=["sites", "import", str(path), "--dry-run"])
    assert check.exit_code == 0, check.output
    assert (
        "would have sites created 1, updated 3, unchanged 0; property companies created 1, "
        "updated 1" in check.output
    )
    result = import_sites(runner, path)
    assert result.exit_code == 0, result.output
    sites, companies = sites_and_companies(app)
    assert sites["新港花园"] == ("新港路1号甲", "潍坊安居物业有限公司", (119.15, 36.715))
    assert sites["海港小区"] == ("海港路8号", "潍坊宏达物业管理有限公司", (119.25, 36.745))
    assert sites["滨河苑"] == ("滨河路3号", "潍坊宏达物业管理有限公司", (119.16, 36.72))
    assert sites["芦苇园"] == (None, "潍坊新物业有限公司", (119.151, 36.716))
    assert companies["潍坊安居物业有限公司"] == ("王丽", "13905369999")
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "update", AuditEntry.entity_key == "海港小区"
            )
        )
        assert (entry.before, entry.after) == (
            {"property_company": "潍坊安居物业有限公司"},
            {"property_company": "潍坊宏达物业管理有限公司"},
        )
    again = import_sites(runner, path)
    assert "sites created 0, updated 0, unchanged 4" in again.output


def test_xlsx_sites(app, runner, district, tmp_path):
    workbook = Workbook()
    sheet = workbook.create_sheet("小区")
    sheet.append(["name", "address", "property_company", "longitude", "latitude"])
    sheet.append(["新港花园", "新港路1号", "潍坊安居物业有限公司", 119.15, 36.715])
    path = tmp_path / "sites.xlsx"
    workbook.save(path)
    result = import_sites(runner, path, "--sheet", "小区")
    assert result.exit_code == 0, result.output
    assert sites_and_companies(app)[0] == {
        "新港花园": ("新港路1号", "潍坊安居物业有限公司", (119.15, 36.715))
    }


def test_geojson_points_and_polygons(app, runner, district, tmp_path):
    # An L-shaped compound: its centroid lies outside it, its representative point inside.
    l_shape = [
        [119.14, 36.71],
        [119.16, 36.71],
        [119.16, 36.712],
        [119.142, 36.712],
        [119.142, 36.72],
        [119.14, 36.72],
        [119.14, 36.71],
    ]
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [l_shape]},
            "properties": {"名称": "新港花园", "物业公司": "潍坊安居物业有限公司"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [119.25, 36.745]},
            "properties": {
                "name": "海港小区",
                "property_phone": 13905360001,
                "property_company": "潍坊安居物业有限公司",
            },
        },
    ]
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = import_sites(runner, path)
    assert result.exit_code == 0, result.output
    sites, companies = sites_and_companies(app)
    polygon = shape(features[0]["geometry"])
    assert polygon.contains(Point(sites["新港花园"][2]))
    assert not polygon.contains(polygon.centroid)
    assert sites["海港小区"][2] == (119.25, 36.745)
    assert companies == {"潍坊安居物业有限公司": (None, "13905360001")}


def assert_nothing_written(app, result, *expected):
    assert result.exit_code != 0
    for text in expected:
        assert text in result.output
    assert "nothing imported" in result.output
    with app.app_context():
        for model in (Site, PropertyCompany, AuditEntry):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_site_in_no_grid_in_strict_mode(app, runner, district, tmp_path):
    rows = [*ROWS, ["远郊小区", "", "潍坊安居物业有限公司", "", "", "119.5", "36.9"]]
    path = write_csv(tmp_path / "a.csv", [HEADER, *rows])
    assert_nothing_written(
        app,
        import_sites(runner, path),
        "line 5: location: The point lies outside every grid of the district.",
        "1 bad row(s)",
    )
    app.config["STRICT_DISTRICT"] = False
    result = import_sites(runner, path)
    assert result.exit_code == 0, result.output
    assert sites_and_companies(app)[0]["远郊小区"][2] == (119.5, 36.9)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (["", "路", "", "", "", "", ""], "line 5: 名称: This field is required."),
        (["新港花园", "", "", "", "", "", ""], "line 5: 名称: 新港花园 repeats line 2"),
        (["甲", "", "", "李", "", "", ""], "line 5: 联系人: given without a property"),
        (
            ["甲", "", "潍坊安居物业有限公司", "李", "", "", ""],
            "line 5: 联系人: 潍坊安居物业有限公司 has 王丽 on line 2",
        ),
        (["甲", "", "", "", "", "119.15", ""], "line 5: 纬度: This field is required."),
        (["甲", "", "", "", "", "36.715", "119.15"], "line 5: location: Latitude and longitude"),
        (["甲", "", "", "", "", "abc", "36.7"], "line 5: 经度: Not a number."),
    ],
    ids=["no-name", "repeated", "contact-alone", "two-contacts", "half-point", "swapped", "nan"],
)
def test_bad_rows_write_nothing(app, runner, district, tmp_path, row, expected):
    path = write_csv(tmp_path / "a.csv", [HEADER, *ROWS, row])
    assert_nothing_written(app, import_sites(runner, path), expected)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("地址,经度,纬度\r\n新港路,119.15,36.715\r\n", "header: missing column(s): name (名称)"),
        ("名称,经度\r\n新港花园,119.15\r\n", "header: missing column(s): latitude (纬度)"),
        ("名称,颜色\r\n新港花园,红\r\n", "header: unknown column(s): 颜色"),
    ],
)
def test_bad_headers_write_nothing(app, runner, district, tmp_path, content, expected):
    path = tmp_path / "a.csv"
    path.write_bytes(content.encode("gbk"))
    assert_nothing_written(app, import_sites(runner, path), expected)


def test_bad_geojson_writes_nothing(app, runner, district, tmp_path):
    line = {"type": "LineString", "coordinates": [[119.15, 36.715], [119.16, 36.72]]}
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[119.1, 36.7], [119.2, 36.75], [119.2, 36.7], [119.1, 36.75], [119.1, 36.7]]
        ],
    }
    features = [
        {"type": "Feature", "geometry": line, "properties": {"name": "甲"}},
        {"type": "Feature", "geometry": bowtie, "properties": {"name": "乙"}},
    ]
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    assert_nothing_written(
        app,
        import_sites(runner, path),
        "feature 1: geometry: must be a Point or a Polygon, not LineString",
        "feature 2: geometry: not a valid polygon: Self-intersection",
    )
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": []}))
    assert_nothing_written(app, import_sites(runner, path), "must be in WGS-84")


def test_importer_check_writes_nothing(app, district, tmp_path):
    importer = importer_named("sites")
    assert (importer.order, importer.extensions) == (2, (".csv", ".xlsx", ".geojson", ".json"))
    path = write_csv(tmp_path / "a.csv", [HEADER, *ROWS])
    with app.app_context():
        check = importer.check(path, {})
    assert (check.ok, check.count) == (True, 3)
    assert check.summary == {
        "new": 3,
        "updated": 0,
        "unchanged": 0,
        "companies_new": 2,
        "companies_updated": 0,
    }
    assert sites_and_companies(app) == ({}, {})
    with app.app_context():
        assert importer.apply(path, {}).ok
    assert len(sites_and_companies(app)[0]) == 3


def gen_zhifu_grids() -> None:
    grids: dict[str, Grid] = {}
    for code, name, level, parent, bounds in ZHIFU_GRIDS:
        grids[code] = factories.gen_grid(code, name, level, grids.get(parent), bounds)


def test_sample_district_files(app, runner, tmp_path):
    """docs/samples: the sites (GB18030 CSV) and assets (xlsx, Chinese) of Zhifu import into
    the sample district's grids; exporting the assets again gives the sample file back."""
    with app.app_context():
        gen_zhifu_grids()
        db.session.commit()
    result = import_sites(runner, SAMPLES / "sites.csv")
    assert result.exit_code == 0, result.output
    assert "sites created 4" in result.output
    result = runner.invoke(args=["assets", "import", str(SAMPLES / "assets.xlsx")])
    assert result.exit_code == 0, result.output
    assert "imported 12 assets" in result.output
    with app.app_context():
        rows = db.session.execute(
            select(Asset.code, Grid.code, Site.name)
            .join(Grid, Asset.grid_id == Grid.id)
            .join(Site, Asset.site_id == Site.id)
            .order_by(Asset.code)
        ).all()
        company = db.session.scalar(
            select(PropertyCompany).where(PropertyCompany.name == "烟台福安物业服务有限公司")
        )
        assert (company.contact_name, company.contact_phone) == ("王丽", "13905350001")
        blocker = db.session.scalar(select(Asset).where(Asset.code == "EB-0001"))
        assert blocker.attributes["registration_code"] == "0370602024050001"
    by_site = {
        "幸福花园": "ZF1-01",
        "海景苑": "ZF1-02",
        "毓璜顶小区": "ZF2-01",
        "东山新村": "ZF2-02",
    }
    assert len(rows) == 12
    assert all(grid == by_site[site] for _code, grid, site in rows), rows
    assert {code[:2] for code, _grid, _site in rows} == {"CS", "EB"}
    exported = tmp_path / "assets.xlsx"
    result = runner.invoke(
        args=["assets", "export", "--format", "xlsx", "--lang", "zh", "--output", str(exported)]
    )
    assert result.exit_code == 0, result.output
    assert exported.read_bytes() == (SAMPLES / "assets.xlsx").read_bytes()
