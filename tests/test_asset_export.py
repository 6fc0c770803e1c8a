"""The asset export at any size: the list's download (``/assets/export.csv|.xlsx``) and
``flask assets export`` give the same bytes as the files stored in ``tests/data/asset_export``
(written by the export as it was before it read plain columns in batches), on both backends."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from assets.models import Asset
from core.extensions import db
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
# A workbook from the list's download carries the time it was written (openpyxl's document
# properties); everything else in it is compared byte for byte.
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
