"""The asset export at any size: the list's download (``/assets/export.csv|.xlsx``) and
``flask assets export`` give the same bytes as the files stored in ``tests/data/asset_export``
(written by the export as it was before it read plain columns in batches), on both backends."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, insert, select, update

from accounts.models import User
from assets import io as asset_io
from assets import views as asset_views
from assets.models import Asset
from core import export
from core.extensions import db
from core.spatial import point_value
from tests import factories

NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)  # 10:00 in Shanghai
EXPECTED = Path(__file__).parent / "data" / "asset_export"
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
WEB_DOWNLOADS = {
    "web-en.csv": ("/assets/export.csv", EN),
    "web-zh.csv": ("/assets/export.csv", ZH),
    "web-installed-desc.csv": ("/assets/export.csv?sort=-installed_on", EN),
    "web-filtered.csv": ("/assets/export.csv?kind=charging_station&q=新港", EN),
    "web-grid.csv": ("/assets/export.csv?grid=G2&status=active&sort=-name", ZH),
    "web-en.xlsx": ("/assets/export.xlsx", EN),
    "web-zh.xlsx": ("/assets/export.xlsx?sort=-name", ZH),
}
CLI_EXPORTS = {
    "cli-en.csv": ["--format", "csv"],
    "cli-zh.csv": ["--format", "csv", "--lang", "zh"],
    "cli-en.xlsx": ["--format", "xlsx"],
    "cli-zh.xlsx": ["--format", "xlsx", "--lang", "zh"],
    "cli.geojson": ["--format", "geojson"],
}
# A workbook from the list's download carries the time it was written (its document
# properties); everything else in it is compared byte for byte. The list's workbooks are
# XlsxWriter's since it replaced openpyxl there (the cells, their types, styles and quote
# prefixes read the same as openpyxl's did; the column widths are Excel's own, plus padding).
WRITTEN_AT = "docProps/core.xml"


@pytest.fixture(autouse=True)
def frozen(frozen_clock):
    frozen_clock.set(NOW)


@pytest.fixture
def registry(app, district, officer):
    """Assets with every kind of value a cell can hold: formulas, quotes, commas, new lines,
    Chinese, empty fields, dates, no site, no grid, a kind the registry no longer knows."""
    with app.app_context():
        factories.gen_site()
        factories.gen_site("新港花园", company=None)
        factories.gen_asset(factories.charging_station_data(1, name='=HYPERLINK("x")'))
        factories.gen_asset(
            factories.charging_station_data(
                2,
                name='Station "2", 新港站',
                longitude=119.123456789012345,
                latitude=36.7012345678901,
                site="Harbour Garden",
                address="line one\nline two, with comma",
                installed_on="2023-05-06",
                manufacturer="潍坊智充",
                model="+M1",
                serial_number="007",
                notes="@note",
                status="faulty",
                attributes={"ports": 16, "camera": True},
            )
        )
        factories.gen_asset(
            factories.charging_station_data(3, name="新港充电站", site="新港花园", status="retired")
        )
        factories.gen_asset(
            factories.blocker_data(
                1, installed_on="2024-01-31", manufacturer="-dash", address="\t=tab"
            )
        )
        factories.gen_asset(factories.blocker_data(2, name="Blocker 'two'", installed_on=None))
        factories.gen_asset(factories.blocker_data(3, name="old kind"))
        db.session.execute(
            update(Asset).where(Asset.code == "EB-0003").values(kind="legacy_kind", grid_id=None)
        )
        db.session.commit()


def web_download(client, path: str, headers: dict[str, str]) -> bytes:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.data


def cli_export(runner, arguments: list[str]) -> bytes:
    result = runner.invoke(args=["assets", "export", *arguments])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def workbook_entries(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as workbook:
        return {name: workbook.read(name) for name in workbook.namelist() if name != WRITTEN_AT}


def test_list_download_gives_the_stored_bytes(client, auth, registry):
    auth.login("officer@example.org")
    for name, (path, headers) in WEB_DOWNLOADS.items():
        content = web_download(client, path, headers)
        expected = (EXPECTED / name).read_bytes()
        if name.endswith(".xlsx"):
            assert workbook_entries(content) == workbook_entries(expected), name
        else:
            assert content == expected, name


def test_cli_export_gives_the_stored_bytes(runner, registry):
    for name, arguments in CLI_EXPORTS.items():
        assert cli_export(runner, arguments) == (EXPECTED / name).read_bytes(), name


def test_stored_files_hold_what_the_registry_holds():
    """The stored files are not empty shells: every asset, in code order by default."""
    text = (EXPECTED / "web-en.csv").read_text(encoding="utf-8")
    codes = [line.split(",")[0] for line in text.splitlines()[1:] if line[:3] in ("CS-", "EB-")]
    assert codes == ["CS-001", "CS-002", "CS-003", "EB-0001", "EB-0002", "EB-0003"]
    assert date(2023, 5, 6).isoformat() in text


def test_workbook_longer_than_a_sheet_is_refused_before_it_is_written(
    client, auth, registry, monkeypatch
):
    """Excel and WPS hold 1,048,576 rows a sheet; here a sheet of 7 (the header and 6)."""
    auth.login("officer@example.org")
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 7)
    response = client.get("/assets/export.xlsx", headers=EN)  # 6 assets: just fits
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.data)).worksheets[0].max_row == 7
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 6)
    response = client.get("/assets/export.xlsx", headers=EN)
    assert response.status_code == 422
    assert "more than 5 rows, more than an Excel sheet holds" in response.text
    assert "download it as CSV" in response.text
    assert "超过" in client.get("/assets/export.xlsx", headers=ZH).text
    # Narrowed by a filter it fits; CSV has no such limit.
    assert client.get("/assets/export.xlsx?kind=charging_station", headers=EN).status_code == 200
    assert client.get("/assets/export.csv", headers=EN).status_code == 200


def test_workbook_longer_than_the_download_allows_is_refused(
    app, client, auth, registry, monkeypatch
):
    """``EXPORT_XLSX_MAX_ROWS`` below a sheet: a longer workbook would outlast the server's
    timeout. Refused as a sheet's overflow is, with its own words."""
    auth.login("officer@example.org")
    monkeypatch.setitem(app.config, "EXPORT_XLSX_MAX_ROWS", 6)
    assert client.get("/assets/export.xlsx", headers=EN).status_code == 200  # 6 assets
    monkeypatch.setitem(app.config, "EXPORT_XLSX_MAX_ROWS", 5)
    response = client.get("/assets/export.xlsx", headers=EN)
    assert response.status_code == 422
    assert "more than 5 rows, more than an Excel download may hold" in response.text
    assert "download it as CSV" in response.text
    assert "超出 Excel 下载的行数上限" in client.get("/assets/export.xlsx", headers=ZH).text
    assert client.get("/assets/export.xlsx?kind=charging_station", headers=EN).status_code == 200
    assert client.get("/assets/export.csv", headers=EN).status_code == 200


def test_cli_workbook_longer_than_a_sheet_is_refused(runner, registry, monkeypatch, tmp_path):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 6)
    path = tmp_path / "assets.xlsx"
    result = runner.invoke(args=["assets", "export", "--format", "xlsx", "--output", str(path)])
    assert result.exit_code != 0
    assert "more than 5 rows, more than an Excel sheet holds" in result.output
    assert "nothing exported" in result.output and not path.exists()
    assert cli_export(runner, ["--format", "csv"]) == (EXPECTED / "cli-en.csv").read_bytes()


def add_assets(count: int) -> None:
    """``count`` more charging stations (BULK-00000…), written straight to the table."""
    rows = [
        {
            "code": f"BULK-{number:05d}",
            "kind": "charging_station",
            "name": f"bulk station {number}",
            "location": point_value(119.15, 36.715),
            "address": "1 Harbour Road",
            "status": "active",
            "installed_on": date(2024, 1, 1),
            "attributes": {"ports": 10},
            "created_at": NOW,
            "updated_at": NOW,
        }
        for number in range(count)
    ]
    db.session.execute(insert(Asset), rows)
    db.session.commit()


class Sink:
    """A binary file that keeps only its length."""

    def __init__(self) -> None:
        self.length = 0

    def write(self, data: bytes) -> int:
        self.length += len(data)
        return len(data)


def export_peaks(app, monkeypatch, assets: int) -> dict[str, int]:
    """tracemalloc's peak, in bytes, while the list's CSV (its pieces, as the response
    streams them) and workbook and ``flask assets export``'s CSV and GeoJSON of ``assets``
    more assets are written and thrown away (the test client would keep a streamed body it
    has read)."""
    with app.test_request_context("/assets/export.csv", headers=EN):
        db.session.execute(delete(Asset).where(Asset.code.like("BULK-%")))
        add_assets(assets)
        officer = db.session.scalar(select(User).where(User.email == "officer@example.org"))
        monkeypatch.setattr(asset_views, "current_user", officer)
        query = asset_views.list_query_from_request()

        def list_csv() -> int:
            rows = asset_views.export_rows(query)
            return sum(len(piece) for piece in export.csv_chunks(asset_views.EXPORT_COLUMNS, rows))

        def list_xlsx() -> int:
            rows = asset_views.export_rows(query)
            with export.xlsx_file("Assets", asset_views.EXPORT_COLUMNS, rows) as stream:
                return stream.seek(0, io.SEEK_END)

        def cli(fmt: str):
            def write() -> int:
                sink = Sink()
                asset_io.write_assets(fmt, sink)
                return sink.length

            return write

        peaks = {}
        writers = [
            ("list", list_csv),
            ("list xlsx", list_xlsx),
            ("csv", cli("csv")),
            ("geojson", cli("geojson")),
        ]
        for name, write in writers:
            assert write() > assets * (5 if name == "list xlsx" else 50)  # every row, warm-up
            tracemalloc.start()
            try:
                write()
                peaks[name] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    return peaks


def test_export_memory_does_not_grow_with_the_assets(app, registry, monkeypatch):
    """Plain columns read in batches and written a piece at a time: ten times the assets,
    not ten times the memory (held whole, the command's CSV took about eight times as much;
    openpyxl's workbook kept every distinct text until the end)."""
    small = export_peaks(app, monkeypatch, 500)
    large = export_peaks(app, monkeypatch, 5_000)
    for name in small:
        assert large[name] < small[name] * 2.5, (name, small, large)


def sheet_xml(stream) -> str:
    with stream, zipfile.ZipFile(stream) as workbook:
        return workbook.read("xl/worksheets/sheet1.xml").decode()


def test_workbook_text_is_written_as_excel_reads_it():
    """Characters XML cannot hold as Excel writes them (``_x000D_``), and text that reads like
    such an escape escaped in turn (``_x005F_``), or Excel would show "A" for "_x0041_"."""
    columns = [export.Column("a", "A"), export.Column("b", "B")]
    xml = sheet_xml(export.xlsx_file("Assets", columns, [["a\rb\x01", "_x0041_ & <x>"]]))
    assert "<t>a_x000D_b_x0001_</t>" in xml
    assert "<t>_x005F_x0041_ &amp; &lt;x&gt;</t>" in xml


def test_workbook_past_a_sheet_is_refused_and_leaves_no_file(monkeypatch, tmp_path):
    """Past a sheet's last row XlsxWriter would leave rows out without a word; and its
    temporary files go, whatever stopped the writing."""
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 4)  # the header and 3 rows
    monkeypatch.setattr(export.tempfile, "tempdir", str(tmp_path))
    columns = [export.Column("a", "A")]
    with export.xlsx_file("Assets", columns, [["x"]] * 3) as stream:
        assert stream.read(2) == b"PK"
    with pytest.raises(export.TooManyRowsError):
        export.xlsx_file("Assets", columns, [["x"]] * 4)

    def failing_rows():
        yield ["x"]
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        export.xlsx_file("Assets", columns, failing_rows())
    assert list(tmp_path.iterdir()) == []
