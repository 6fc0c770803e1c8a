"""`flask assets import|export` with the files people have: CSV in GB18030/GBK, Excel
workbooks, Chinese headers and values; exports in Chinese that import reads back byte for
byte."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import pytest
from flask_babel import force_locale
from openpyxl import Workbook, load_workbook
from sqlalchemy import delete, func, select

from assets import io as asset_io
from assets.models import Asset
from core.audit import AuditEntry
from core.extensions import db
from core.importing import importer_named, importers
from tests import factories

ZH_HEADER = [
    "编码",
    "类型",
    "名称",
    "经度",
    "纬度",
    "小区",
    "状态",
    "安装日期",
    "充电口数量",
    "雨棚",
    "摄像头",
    "楼栋",
    "电梯编号",
    "电梯注册代码",
    "识别方式",
]
ZH_STATION = [
    "CS-001",
    "电动自行车充电站",
    "新港花园充电站",
    "119.15",
    "36.715",
    "Harbour Garden",
    "故障",
    "2024年3月1日",
    "12",
    "是",
    "否",
    "",
    "",
    "",
    "",
]
ZH_BLOCKER = [
    "EB-0001",
    "电梯电动车阻车系统",
    "3号楼2单元1号梯",
    "119.25",
    "36.745",
    "",
    "正常",
    "2024/3/5",
    "",
    "",
    "",
    "3",
    "1",
    "0370602024050001",
    "ai_camera",
]


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


def write_csv(path, rows, encoding="gbk", bom=False):
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path, rows, build=None):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    if build:
        build(sheet)
    workbook.save(path)
    return path


def import_file(runner, path, *extra):
    return runner.invoke(args=["assets", "import", str(path), *extra])


def export(runner, fmt="csv", lang="en"):
    result = runner.invoke(args=["assets", "export", "--format", fmt, "--lang", lang])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def stored(app):
    with app.app_context():
        assets = db.session.scalars(select(Asset).order_by(Asset.code)).all()
        return {
            asset.code: (
                asset.kind,
                asset.status,
                asset.grid.code,
                asset.site.name if asset.site else None,
                asset.installed_on,
                asset.attributes,
            )
            for asset in assets
        }


def test_gbk_csv_with_chinese_headers_and_values(app, runner, site, tmp_path):
    path = write_csv(tmp_path / "设施.csv", [ZH_HEADER, ZH_STATION, ZH_BLOCKER])
    result = import_file(runner, path)
    assert result.exit_code == 0, result.output
    assert "imported 2 assets" in result.output
    assert stored(app) == {
        "CS-001": (
            "charging_station",
            "faulty",
            "G1-01",
            "Harbour Garden",
            date(2024, 3, 1),
            {
                "ports": 12,
                "canopy": True,
                "extinguisher": False,
                "camera": False,
                "smoke_detector": False,
            },
        ),
        "EB-0001": (
            "elevator_blocker",
            "active",
            "G2-02",
            None,
            date(2024, 3, 5),
            {
                "building": "3",
                "unit": None,
                "elevator_number": "1",
                "registration_code": "0370602024050001",
                "detection_method": "ai_camera",
            },
        ),
    }


def test_english_labels_and_words_are_read_too(app, runner, site, tmp_path):
    header = ["Code", "Kind", "Name", "Longitude", "Latitude", "Status", "Charging ports", "Canopy"]
    row = ["cs-002", "E-bike charging station", "x", "119.15", "36.715", "RETIRED", "4", "yes"]
    result = import_file(runner, write_csv(tmp_path / "a.csv", [header, row], "utf-8", bom=True))
    assert result.exit_code == 0, result.output
    kind, status, *_rest, attributes = stored(app)["CS-002"]
    assert (kind, status, attributes["ports"], attributes["canopy"]) == (
        "charging_station",
        "retired",
        4,
        True,
    )


def test_chinese_headers_come_from_the_translations(app):
    with app.app_context():
        vocabulary = asset_io.Vocabulary.current()
        with force_locale("zh"):
            labels = {column: str(label) for column, label in asset_io.column_labels().items()}
    assert len(set(labels.values())) == len(labels), "two columns share a Chinese label"
    assert labels["code"] == "编号" and labels["ports"] == "充电口数量"
    for column, label in labels.items():
        assert vocabulary.headers[label] == column
    assert vocabulary.headers["编码"] == "code"
    assert vocabulary.kinds["电动自行车充电站"] == "charging_station"
    assert vocabulary.statuses["已停用"] == vocabulary.statuses["报废"] == "retired"


def test_xlsx_with_chinese_headers(app, runner, site, tmp_path):
    def typed(sheet):
        sheet["N3"].number_format = "0000000000000000"  # a registration code typed as a number

    station = [*ZH_STATION[:3], 119.15, 36.715, *ZH_STATION[5:7], date(2024, 3, 1), 12, "是"]
    blocker = [*ZH_BLOCKER[:3], 119.25, 36.745, None, "正常", None, None, None, None, "3", 1]
    blocker += [370602024050001, "ai_camera"]
    path = write_xlsx(tmp_path / "设施.xlsx", [ZH_HEADER, station, blocker], build=typed)
    result = import_file(runner, path)
    assert result.exit_code == 0, result.output
    assets = stored(app)
    assert assets["CS-001"][4] == date(2024, 3, 1)
    assert assets["EB-0001"][5]["registration_code"] == "0370602024050001"
    assert assets["EB-0001"][5]["elevator_number"] == "1"


def test_problems_name_the_files_columns(app, runner, site, tmp_path):
    station = list(ZH_STATION)
    station[8] = ""  # 充电口数量 required
    path = write_csv(tmp_path / "a.csv", [ZH_HEADER, station], "utf-8")
    result = import_file(runner, path)
    assert result.exit_code != 0
    assert "line 2: 充电口数量: This field is required." in result.output
    assert counts(app) == (0, 0)


def assert_nothing_written(app, result, *expected):
    assert result.exit_code != 0
    for text in expected:
        assert text in result.output
    assert "nothing imported" in result.output
    assert counts(app) == (0, 0)


def test_gbk_file_with_an_undecodable_byte(app, runner, site, tmp_path):
    path = write_csv(tmp_path / "a.csv", [ZH_HEADER, ZH_STATION, ZH_BLOCKER])
    raw = path.read_bytes()
    offset = raw.index("3号楼".encode("gbk")) + 1
    path.write_bytes(raw[:offset] + b"\xff" + raw[offset + 1 :])
    result = import_file(runner, path)
    assert_nothing_written(
        app,
        result,
        f"line 3: byte 0xff (byte offset {offset}) cannot be read as UTF-8 or GB18030",
    )


def test_xlsx_with_a_formula(app, runner, site, tmp_path):
    def formula(sheet):
        sheet["I2"] = "=6*2"

    station = [*ZH_STATION[:3], 119.15, 36.715, *ZH_STATION[5:8]]
    path = write_xlsx(tmp_path / "a.xlsx", [ZH_HEADER, station, ZH_BLOCKER], build=formula)
    assert_nothing_written(
        app, import_file(runner, path), "row 2: 充电口数量: cell I2 holds a formula (=6*2)"
    )


def test_xlsx_with_a_merged_header(app, runner, site, tmp_path):
    def merge(sheet):
        sheet.merge_cells("D1:E1")

    header = [*ZH_HEADER[:3], "坐标", None, *ZH_HEADER[5:]]
    path = write_xlsx(tmp_path / "a.xlsx", [header, ZH_STATION, ZH_BLOCKER], build=merge)
    assert_nothing_written(
        app,
        import_file(runner, path),
        "header: 坐标: cells D1:E1 are merged",
        "cannot be imported as it is",
    )


def test_unknown_kind_label(app, runner, site, tmp_path):
    station = list(ZH_STATION)
    station[1] = "充电桩"
    path = write_csv(tmp_path / "a.csv", [ZH_HEADER, station, ZH_BLOCKER])
    assert_nothing_written(
        app,
        import_file(runner, path),
        "line 2: 类型: Unknown kind: 充电桩; use one of: charging_station (E-bike charging "
        "station), elevator_blocker (Elevator e-bike blocker).",
        "1 bad row(s)",
    )


@pytest.mark.parametrize("written", ["01/03/2024", "2024.03.01", "20240301", "2024-03-01 08:00"])
def test_date_in_a_format_not_listed(app, runner, site, tmp_path, written):
    blocker = list(ZH_BLOCKER)
    blocker[7] = written
    path = write_csv(tmp_path / "a.csv", [ZH_HEADER, ZH_STATION, blocker])
    assert_nothing_written(
        app,
        import_file(runner, path),
        "line 3: 安装日期: Not a date: write it as 2026-11-01, 2026/11/01 or 2026年11月1日.",
    )


def test_unknown_status_label(app, runner, site, tmp_path):
    station = list(ZH_STATION)
    station[6] = "坏了"
    path = write_csv(tmp_path / "a.csv", [ZH_HEADER, station])
    assert_nothing_written(app, import_file(runner, path), "line 2: 状态: Unknown status: 坏了")


def gen_tricky_assets():
    factories.gen_site()
    factories.gen_asset(
        factories.charging_station_data(
            7,
            name='=HYPERLINK("x") "7", 新港',
            longitude=119.123456789012345,
            latitude=36.7012345678901,
            site="Harbour Garden",
            installed_on="2023-05-06",
            manufacturer="潍坊智充",
            serial_number="000123",
            notes="line one\r\nline two, with comma\x01 and a tab\t_x0041_",
            status="faulty",
        )
    )
    factories.gen_asset(
        factories.blocker_data(
            12,
            longitude=119.29999,
            latitude=36.7599,
            attributes={
                "building": "07",
                "elevator_number": "2",
                "registration_code": "0370602024050001",
                "detection_method": "infrared",
            },
        )
    )
    factories.gen_asset(
        factories.charging_station_data(1, attributes={"ports": 16, "camera": True})
    )


def empty_registry(app):
    with app.app_context():
        db.session.execute(delete(AuditEntry))
        db.session.execute(delete(Asset))
        db.session.commit()


@pytest.mark.parametrize(
    ("fmt", "lang"),
    [("csv", "zh"), ("xlsx", "zh"), ("xlsx", "en")],
    ids=["csv-zh", "xlsx-zh", "xlsx-en"],
)
def test_round_trip_is_byte_identical(app, runner, district, tmp_path, fmt, lang):
    with app.app_context():
        gen_tricky_assets()
        db.session.commit()
    first = export(runner, fmt, lang)
    empty_registry(app)
    path = tmp_path / f"assets.{fmt}"
    path.write_bytes(first)
    result = import_file(runner, path)
    assert result.exit_code == 0, result.output
    assert "imported 3 assets" in result.output
    assert export(runner, fmt, lang) == first
    with app.app_context():
        station = db.session.scalar(select(Asset).where(Asset.code == "CS-007"))
        assert station.notes == "line one\r\nline two, with comma\x01 and a tab\t_x0041_"
        assert station.name.startswith("=HYPERLINK")
        assert station.serial_number == "000123"


def test_chinese_csv_export(app, runner, district):
    with app.app_context():
        gen_tricky_assets()
        db.session.commit()
    content = export(runner, "csv", "zh")
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert rows[0][:5] == ["编号", "类型", "名称", "经度", "纬度"]
    assert rows[0][13:15] == ["网格", "充电口数量"]
    first, station, blocker = rows[1:]
    assert (station[1], station[7], station[8]) == ("电动自行车充电站", "故障", "2023-05-06")
    assert station[14:19] == ["10", "是", "是", "否", "否"]
    assert (blocker[1], blocker[7], blocker[19], blocker[22]) == (
        "电梯电动车阻车系统",
        "正常",
        "07",
        "0370602024050001",
    )
    assert first[3:5] == ["119.15", "36.715"]


def test_xlsx_export_cells(app, runner, district, tmp_path):
    with app.app_context():
        gen_tricky_assets()
        db.session.commit()
    path = tmp_path / "assets.xlsx"
    result = runner.invoke(
        args=["assets", "export", "--format", "xlsx", "--lang", "zh", "--output", str(path)]
    )
    assert result.exit_code == 0, result.output
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["设施"]
    sheet = workbook.active
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["编号", "类型", "名称"] and all(cell.font.b for cell in sheet[1])
    station = {name: cell for name, cell in zip(header, sheet[3], strict=True)}
    assert (station["编号"].value, station["编号"].data_type) == ("CS-007", "s")
    assert station["名称"].data_type == "s"  # text, though it starts with =
    assert station["经度"].value == 119.123456789012345  # every digit of the double
    assert station["纬度"].value == 36.7012345678901
    assert (station["充电口数量"].value, station["充电口数量"].data_type) == (10, "n")
    assert station["安装日期"].is_date and station["安装日期"].number_format == "yyyy-mm-dd"
    assert (station["序列号"].value, station["雨棚"].value) == ("000123", "是")
    blocker = {name: cell.value for name, cell in zip(header, sheet[4], strict=True)}
    assert (blocker["电梯注册代码"], blocker["楼栋"]) == ("0370602024050001", "07")
    with zipfile.ZipFile(path) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        assert b"2000-01-01T00:00:00Z" in archive.read("docProps/core.xml")


def test_geojson_has_no_chinese_export(app, runner, district):
    result = runner.invoke(args=["assets", "export", "--format", "geojson", "--lang", "zh"])
    assert result.exit_code != 0
    assert "GeoJSON is written with the field names only" in result.output


def test_dry_run_writes_nothing(app, runner, site, tmp_path):
    path = write_csv(tmp_path / "a.csv", [ZH_HEADER, ZH_STATION, ZH_BLOCKER])
    result = import_file(runner, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would import 2 assets" in result.output
    assert counts(app) == (0, 0)


def test_importers_check_writes_nothing_and_apply_commits(app, site, tmp_path):
    assert [(each.name, each.order) for each in importers()][-2:] == [("sites", 2), ("assets", 3)]
    importer = importer_named("assets")
    assert importer.extensions == (".csv", ".xlsx", ".geojson", ".json")
    good = write_csv(tmp_path / "a.csv", [ZH_HEADER, ZH_STATION, ZH_BLOCKER])
    bad_row = list(ZH_BLOCKER)
    bad_row[1] = "灭火器箱"
    bad = write_csv(tmp_path / "b.csv", [ZH_HEADER, ZH_STATION, bad_row])
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        check = importer.check(good, {})
        assert (check.ok, check.count, check.summary) == (True, 2, {"new": 2})
        refused = importer.check(bad, {})
        assert [(p.place, p.number, p.field) for p in refused.problems] == [("line", 3, "类型")]
        assert refused.problems[0].reason.startswith("未知")  # the page's language
        assert importer.apply(bad, {}).ok is False
    assert counts(app) == (0, 0)
    with app.app_context():
        applied = importer.apply(good, {})
        assert (applied.ok, applied.count) == (True, 2)
    assert counts(app) == (2, 2)
    with app.app_context():
        again = importer.check(good, {})
    assert [str(problem) for problem in again.problems] == [
        "line 2: 编码: an asset with code CS-001 exists already",
        "line 3: 编码: an asset with code EB-0001 exists already",
    ]
