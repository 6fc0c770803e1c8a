"""Every list exports with its filters, its order and its access rules, as CSV and xlsx:
headers and words in the user's language, times in the district's, nothing a spreadsheet
would run as a formula."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, date, datetime

import pytest
import xlsxwriter
from openpyxl import load_workbook
from sqlalchemy import delete, insert, select

from accounts.models import User
from core.export import csv_chunks, csv_text, xlsx_row_writer, xlsx_styles
from core.extensions import db
from core.spatial import point_value
from hazards import views as hazard_views
from hazards.models import Hazard
from tests import factories

NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)  # 10:00 in Shanghai
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
INJECTIONS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1"]


@pytest.fixture(autouse=True)
def frozen(frozen_clock):
    frozen_clock.set(NOW)


@pytest.fixture
def listed(app, district, officer, admin, contractor_user):
    """CS-001 (notes and name that look like formulas), CS-002, EB-0001; Fixers Ltd: CS-001
    overdue (completed one too), CS-002 due 03-12; Other Co: EB-0001 due 03-11. Hazards
    H-1 (major, on CS-001) and H-2 (general, overdue)."""
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1, name='=HYPERLINK("x")'))
        factories.gen_asset(factories.charging_station_data(2))
        factories.gen_asset(factories.blocker_data(1))
        gen = factories.gen_inspection
        gen("CS-001", date(2026, 3, 1)).notes = "+cmd|' /C calc'!A0"
        done = gen("CS-001", date(2026, 2, 1))
        done.status = "completed"
        done.result = "pass"
        done.completed_at = datetime(2026, 2, 1, 17, 30, tzinfo=UTC)  # 02-02 01:30 Shanghai
        gen("CS-002", date(2026, 3, 12))
        gen("EB-0001", date(2026, 3, 11), contractor="Other Co")
        factories.gen_hazard("H-1", "major", "CS-001", description="@SUM(1)")
        factories.gen_hazard(
            "H-2", "general", found_on=date(2026, 2, 20), deadline=date(2026, 3, 1)
        )
        db.session.commit()


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/csv"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def xlsx_rows(response):
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    return sheet, [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_csv_text_defuses_formulas():
    for text in INJECTIONS:
        assert csv_text(text) == "'" + text
    assert csv_text("CS-001") == "CS-001"
    assert csv_text(-2) == "-2" and csv_text(1.5) == "1.5"
    assert csv_text(date(2026, 3, 1)) == "2026-03-01"
    assert csv_text(None) == ""


def test_inspection_export_keeps_the_filters_and_order(client, auth, listed):
    auth.login("officer@example.org")
    response = client.get(
        "/inspections/export.csv?status=scheduled&contractor=Fixers+Ltd", headers=EN
    )
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="inspections-2026-03-10.csv"'
    )
    header, *rows = csv_rows(response)
    assert header[:3] == ["Due on", "Asset code", "Kind"]
    assert [(row[0], row[1], row[6]) for row in rows] == [
        ("2026-03-01", "CS-001", "Overdue"),
        ("2026-03-12", "CS-002", "Due soon"),
    ]
    assert rows[0][2] == "E-bike charging station"
    assert rows[0][3] == '\'=HYPERLINK("x")'  # a name that looks like a formula
    assert rows[0][-1] == "'+cmd|' /C calc'!A0"
    # Every page, not just the first; the default order puts the open ones first.
    header, *rows = csv_rows(client.get("/inspections/export.csv?per_page=1&page=2", headers=EN))
    assert [row[0] for row in rows] == ["2026-03-01", "2026-03-11", "2026-03-12", "2026-02-01"]
    completed = rows[-1]
    assert completed[header.index("Completed at")] == "2026-02-02 01:30"  # Shanghai time
    assert completed[header.index("Result")] == "Pass"


def test_inspection_export_in_chinese_and_as_xlsx(client, auth, listed):
    auth.login("officer@example.org")
    header, *rows = csv_rows(client.get("/inspections/export.csv?asset=CS-001", headers=ZH))
    assert header[0] == "到期日"
    assert "逾期" in rows[0]
    response = client.get("/inspections/export.xlsx?asset=CS-001", headers=EN)
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="inspections-2026-03-10.xlsx"'
    )
    sheet, values = xlsx_rows(response)
    assert values[0][:2] == ["Due on", "Asset code"]
    assert values[1][0] == datetime(2026, 3, 1)  # a date cell
    # Text that looks like a formula is a text cell, kept as written.
    cells = list(sheet.iter_rows())
    name_cell, notes_cell = cells[1][3], cells[1][-1]
    assert (name_cell.value, name_cell.data_type) == ('=HYPERLINK("x")', "s")
    assert (notes_cell.value, notes_cell.data_type) == ("+cmd|' /C calc'!A0", "s")
    assert not any(cell.data_type == "f" for row in cells for cell in row)


class Shown:
    """A value written by its text (an enum's, say)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def test_each_kind_of_value_is_its_own_kind_of_cell(tmp_path):
    path = tmp_path / "cells.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    write = xlsx_row_writer(sheet, xlsx_styles(workbook))
    write(0, ["text", "=1+1", None, True, 3, 2.5, date(2026, 3, 1), Shown("=2+2"), Shown("x")])
    workbook.close()
    row = next(load_workbook(path).active.iter_rows())
    assert [(cell.value, cell.data_type) for cell in row] == [
        ("text", "s"),
        ("=1+1", "s"),
        (None, "n"),
        (True, "b"),
        (3, "n"),
        (2.5, "n"),
        (datetime(2026, 3, 1), "d"),
        ("=2+2", "s"),
        ("x", "s"),
    ]
    assert [cell.quotePrefix for cell in row if cell.data_type == "s"] == [
        False,
        True,
        True,
        False,
    ]


def test_contractor_exports_only_its_own(client, auth, listed):
    auth.login("fixer@example.org")
    header, *rows = csv_rows(client.get("/inspections/export.csv", headers=EN))
    assert "Contractor" not in header
    assert sorted(row[1] for row in rows) == ["CS-001", "CS-001", "CS-002"]
    # Naming another contractor finds nothing rather than its records.
    _header, *rows = csv_rows(client.get("/inspections/export.csv?contractor=Other+Co", headers=EN))
    assert len(rows) == 3  # the filter is staff-only: ignored
    _header, *rows = csv_rows(client.get("/assets/export.csv", headers=EN))
    assert [row[0] for row in rows] == ["CS-001", "CS-002"]
    _sheet, values = xlsx_rows(client.get("/assets/export.xlsx", headers=EN))
    assert [row[0] for row in values[1:]] == ["CS-001", "CS-002"]
    _header, *rows = csv_rows(client.get("/hazards/export.csv", headers=EN))
    assert rows == []


def test_asset_export_filters_and_words(client, auth, listed):
    auth.login("officer@example.org")
    response = client.get("/assets/export.csv?kind=charging_station&sort=-code", headers=EN)
    assert response.headers["Content-Disposition"] == 'attachment; filename="assets-2026-03-10.csv"'
    header, *rows = csv_rows(response)
    assert header[:4] == ["Code", "Kind", "Name", "Status"]
    assert [row[0] for row in rows] == ["CS-002", "CS-001"]
    assert rows[0][1:4:2] == ["E-bike charging station", "Active"]
    assert rows[1][2] == '\'=HYPERLINK("x")'
    header, *rows = csv_rows(client.get("/assets/export.csv?q=EB-0001", headers=ZH))
    assert header[0] == "编号" and [row[0] for row in rows] == ["EB-0001"]


def test_hazard_export_filters_and_injection(client, auth, listed):
    auth.login("officer@example.org")
    header, *rows = csv_rows(client.get("/hazards/export.csv", headers=EN))
    assert [row[0] for row in rows] == ["H-2", "H-1"]  # overdue first, as on the page
    assert rows[0][header.index("Overdue")] == "Yes"
    assert rows[1][header.index("Description")] == "'@SUM(1)"
    assert rows[1][header.index("Severity")] == "Major"
    _header, *rows = csv_rows(client.get("/hazards/export.csv?overdue=1", headers=EN))
    assert [row[0] for row in rows] == ["H-2"]
    sheet, values = xlsx_rows(client.get("/hazards/export.xlsx?severity=major", headers=EN))
    assert [row[0] for row in values[1:]] == ["H-1"]
    description = list(sheet.iter_rows())[1][values[0].index("Description")]
    assert (description.value, description.data_type) == ("@SUM(1)", "s")


def test_inspection_and_hazard_workbooks_past_the_limit_are_refused(
    app, client, auth, listed, monkeypatch
):
    """As the asset list's: past ``EXPORT_XLSX_MAX_ROWS`` (or a sheet) the workbook is refused
    before it is written, filtered it fits, and CSV has no limit."""
    auth.login("officer@example.org")
    monkeypatch.setitem(app.config, "EXPORT_XLSX_MAX_ROWS", 1)
    for path, narrowed in [
        ("/inspections/export", "?asset=CS-002"),
        ("/hazards/export", "?severity=major"),
    ]:
        response = client.get(f"{path}.xlsx", headers=EN)
        assert response.status_code == 422, path
        assert "more than 1 rows, more than an Excel download may hold" in response.text
        assert client.get(f"{path}.xlsx{narrowed}", headers=EN).status_code == 200, path
        assert client.get(f"{path}.csv", headers=EN).status_code == 200, path


def test_list_pages_link_their_exports_with_the_query(client, auth, listed):
    auth.login("officer@example.org")
    for path, export in [
        ("/inspections/?status=overdue", "/inspections/export"),
        ("/assets/?kind=charging_station", "/assets/export"),
        ("/hazards/?severity=major", "/hazards/export"),
    ]:
        page = client.get(path, headers=EN).text
        query = path.split("?")[1]
        assert f'href="{export}.csv?{query}"' in page, path
        assert f'href="{export}.xlsx?{query}"' in page, path


def test_bad_export_arguments_are_refused(client, auth, listed):
    auth.login("officer@example.org")
    assert client.get("/inspections/export.csv?due_from=yesterday").status_code == 400
    assert client.get("/inspections/export.pdf").status_code == 404


def add_hazards(count: int) -> None:
    """``count`` more open hazards, written straight to the table."""
    rows = [
        {
            "code": f"HZ-BULK-{number:05d}",
            "category": "blocker_fault",
            "severity": "general",
            "description": f"bulk hazard {number}",
            "location": point_value(119.15, 36.715),
            "found_on": date(2026, 2, 1),
            "deadline": date(2026, 3, 1),
            "status": "open",
            "status_changed_at": NOW,
        }
        for number in range(count)
    ]
    db.session.execute(insert(Hazard), rows)
    db.session.commit()


def export_peak_bytes(app, monkeypatch, hazards: int) -> int:
    """tracemalloc's peak while the officer's hazard export (CSV pieces, as the response
    streams them) of ``hazards`` more rows is written and thrown away. Measured on the pieces
    themselves: the test client keeps a streamed body it has read."""
    with app.test_request_context("/hazards/export.csv", headers=EN):
        db.session.execute(delete(Hazard).where(Hazard.code.like("HZ-BULK-%")))
        add_hazards(hazards)
        officer = db.session.scalar(select(User).where(User.email == "officer@example.org"))
        monkeypatch.setattr(hazard_views, "current_user", officer)
        query, today = hazard_views.list_query_from_request(), date(2026, 3, 10)

        def lines() -> int:
            rows = hazard_views.export_rows(query, today)
            return sum(
                chunk.count(b"\n") for chunk in csv_chunks(hazard_views.EXPORT_COLUMNS, rows)
            )

        assert lines() == hazards + 3  # the header, H-1 and H-2 (and a warm-up)
        tracemalloc.start()
        try:
            lines()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return peak


def test_hazard_export_memory_does_not_grow_with_its_rows(app, listed, monkeypatch):
    """Streamed in batches of plain columns: ten times the rows, not ten times the memory
    (the garbage collector's rhythm leaves some growth; held whole, about six times as much)."""
    small = export_peak_bytes(app, monkeypatch, 500)
    large = export_peak_bytes(app, monkeypatch, 5_000)
    assert large < small * 2.5, (small, large)
