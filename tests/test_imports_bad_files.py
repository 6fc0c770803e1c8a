"""Every bad file the command line refuses, the Imports page refuses too, with the same
message naming the row or feature and field, and writes nothing (the same check)."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from assets.models import Asset, Grid, PropertyCompany, Site
from core.audit import AuditEntry
from core.extensions import db
from tests import factories
from tests.test_asset_tables import ZH_BLOCKER, ZH_HEADER, ZH_STATION, write_xlsx
from tests.test_asset_tables import write_csv as write_asset_csv
from tests.test_grid_import import BAD_FILES, write_shapefile, zhifu_rows, zipped
from tests.test_site_import import HEADER as SITE_HEADER
from tests.test_site_import import ROWS as SITE_ROWS
from tests.test_site_import import write_csv as write_site_csv

PROBLEM_ROW = re.compile(
    r'<tr data-where="([^"]*)"><td>.*?</td>\s*<td>(.*?)</td><td>(.*?)</td></tr>', re.S
)
# The command line's option for each field of the grids card.
OPTION_FIELDS = {"--crs": "crs", "--code-field": "code_field", "--layer": "layer"}
OPTION_FIELDS |= {"--encoding": "encoding", "--name-field": "name_field"}


@pytest.fixture
def admin_client(app, client, auth, admin):
    auth.login(admin)
    client.get("/lang/en")
    return client


def upload(client, importer: str, path: Path, **fields):
    data = {"importer": importer, "file": (io.BytesIO(path.read_bytes()), path.name), **fields}
    return client.post("/imports/", data=data, content_type="multipart/form-data")


def problems_on(page: str) -> list[str]:
    """The page's problem table as the command line prints it: "where: field: reason"."""
    lines = []
    for where, field, reason in PROBLEM_ROW.findall(page):
        field = html.unescape(field)
        parts = [html.unescape(where), *([] if field == "—" else [field]), html.unescape(reason)]
        lines.append(": ".join(parts))
    return lines


def written(app) -> tuple[int, ...]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Grid, Site, PropertyCompany, Asset, AuditEntry)
        )


def assert_refused(app, client, importer: str, path: Path, expected: str, **fields) -> None:
    before = written(app)
    response = upload(client, importer, path, **fields)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert any(expected in line for line in problems_on(page)), problems_on(page)
    assert "/apply" not in page
    assert written(app) == before
    assert list(Path(app.config["IMPORT_DIR"]).iterdir()) == []


@pytest.mark.parametrize(("build", "expected"), BAD_FILES)
def test_a_bad_grids_file_is_refused_on_the_page(app, admin_client, tmp_path, build, expected):
    path, extra = build(tmp_path)
    flags, values = extra[::2], extra[1::2]
    fields = {
        f"grids-{OPTION_FIELDS[flag]}": value for flag, value in zip(flags, values, strict=True)
    }
    if path.suffix == ".shp":  # on the page a Shapefile comes zipped, with its other files
        path = zipped(path.parent, tmp_path / "grids.zip")
    if path.suffix == ".csv":
        response = upload(admin_client, "grids", path)
        assert response.status_code == 400
        assert "This file type cannot be imported here" in response.get_data(as_text=True)
        return
    assert_refused(app, admin_client, "grids", path, expected, **fields)


def test_a_bare_shp_is_asked_for_zipped(app, admin_client, tmp_path):
    path = write_shapefile(tmp_path / "shp", zhifu_rows())
    before = written(app)
    response = upload(admin_client, "grids", path)
    assert response.status_code == 400
    assert "upload them together as one .zip" in response.get_data(as_text=True)
    assert written(app) == before


@pytest.fixture
def harbour(app, district):
    with app.app_context():
        factories.gen_site("新港花园")
        db.session.commit()


def gbk_with_a_bad_byte(tmp_path: Path) -> tuple[Path, str]:
    path = write_asset_csv(tmp_path / "a.csv", [ZH_HEADER, ZH_STATION, ZH_BLOCKER])
    raw = path.read_bytes()
    offset = raw.index("3号楼".encode("gbk")) + 1
    path.write_bytes(raw[:offset] + b"\xff" + raw[offset + 1 :])
    return path, f"line 3: byte 0xff (byte offset {offset}) cannot be read as UTF-8 or GB18030"


def xlsx_with_a_formula(tmp_path: Path) -> tuple[Path, str]:
    def formula(sheet):
        sheet["I2"] = "=6*2"

    station = [*ZH_STATION[:3], 119.15, 36.715, *ZH_STATION[5:8]]
    path = write_xlsx(tmp_path / "a.xlsx", [ZH_HEADER, station, ZH_BLOCKER], build=formula)
    return path, "row 2: 充电口数量: cell I2 holds a formula (=6*2)"


def xlsx_with_a_merged_header(tmp_path: Path) -> tuple[Path, str]:
    def merge(sheet):
        sheet.merge_cells("D1:E1")

    header = [*ZH_HEADER[:3], "坐标", None, *ZH_HEADER[5:]]
    path = write_xlsx(tmp_path / "a.xlsx", [header, ZH_STATION, ZH_BLOCKER], build=merge)
    return path, "header: 坐标: cells D1:E1 are merged"


def unknown_kind_label(tmp_path: Path) -> tuple[Path, str]:
    station = list(ZH_STATION)
    station[1] = "充电桩"
    path = write_asset_csv(tmp_path / "a.csv", [ZH_HEADER, station, ZH_BLOCKER])
    return path, "line 2: 类型: Unknown kind: 充电桩"


@pytest.mark.parametrize(
    "build",
    [gbk_with_a_bad_byte, xlsx_with_a_formula, xlsx_with_a_merged_header, unknown_kind_label],
)
def test_a_bad_assets_file_is_refused_on_the_page(app, admin_client, harbour, tmp_path, build):
    path, expected = build(tmp_path)
    assert_refused(app, admin_client, "assets", path, expected)


def test_a_site_in_no_grid_is_refused_on_the_page(app, admin_client, district, tmp_path):
    rows = [*SITE_ROWS, ["远郊小区", "", "潍坊安居物业有限公司", "", "", "119.5", "36.9"]]
    path = write_site_csv(tmp_path / "a.csv", [SITE_HEADER, *rows])
    expected = "line 5: location: The point lies outside every grid of the district."
    assert_refused(app, admin_client, "sites", path, expected)


def test_the_page_gives_the_reasons_in_chinese(app, client, auth, admin, district, tmp_path):
    auth.login(admin)
    client.get("/lang/zh")
    path, _english = unknown_kind_label(tmp_path)
    page = upload(client, "assets", path).get_data(as_text=True)
    lines = problems_on(page)
    assert any(line.startswith("line 2: 类型: 未知") for line in lines), lines
    assert not any("Unknown kind" in line for line in lines)
    assert "<td>行 2</td>" in page
