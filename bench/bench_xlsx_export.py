"""Time the list downloads' xlsx writer on the same rows: the writer ``core.export.xlsx_file``
uses now against the ones measured to choose it, each in its own process (openpyxl decides at
import whether it writes through lxml), one after the other.

Usage: .venv/bin/python bench/bench_xlsx_export.py [--rows 50000] [--writers new,openpyxl,...]
(SAR_ROOT=/path/to/another/checkout times that checkout's ``xlsx_file`` as "new".)

The rows are the asset list's: 11 columns (codes, Chinese names and addresses, a date), as
``assets.views.export_rows`` yields them, made without a database (the writer's time alone).
Writers:

- ``new``: ``core.export.xlsx_file`` as it is (XlsxWriter in constant_memory mode);
- ``openpyxl``: the writer it replaced, openpyxl's write-only workbook in pure Python
  (``OPENPYXL_LXML=False``), copied here as it was;
- ``openpyxl+lxml``: the same with lxml importable, which openpyxl then writes through;
- ``xml``: the sheet's XML written by hand with inline strings, as a floor (the rest of the
  package is a few hundred bytes; not a writer the app has).

Each prints its time, rows/s, cells/s, the file's size and the process's peak RSS, and the
rows a 150 s download (half of gunicorn's ``--timeout 300`` in the README) would write at
that rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

ROOT = Path(os.environ.get("SAR_ROOT") or Path(__file__).resolve().parent.parent)
WRITERS = ("openpyxl", "openpyxl+lxml", "new", "xml")
BUDGET_SECONDS = 150


def columns():
    from core.export import Column

    widths = (14, 16, 28, 10, 14, 20, 30, 12, 24, 14, 14)
    return [Column(f"c{index}", f"Column {index}", width) for index, width in enumerate(widths)]


def rows(count: int):
    for n in range(count):
        yield [
            f"CS-{n:07d}",
            "Charging station",
            f"站点 {n} 号充电桩",
            "active",
            "C01-01-01",
            "和谐家园",
            f"和谐路 {n} 号",
            date(2024, 1, 1 + n % 28),
            "-Maker" if n % 100 == 0 else "Maker",  # now and then a quote prefix
            "M-1",
            f"SN{n}",
        ]


def openpyxl_xlsx_file(title, columns, rows):
    """``core.export.xlsx_file`` as it was before XlsxWriter (openpyxl's write-only sheet)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from core.export import FORMULA_START, XLSX_ESCAPED, xlsx_escape

    def text_cell(sheet, text):
        cell = WriteOnlyCell(sheet, value=XLSX_ESCAPED.sub(xlsx_escape, text))
        cell.data_type = "s"
        if text.startswith(FORMULA_START):
            cell.quotePrefix = True
        return cell

    def cell(sheet, value):
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, date):
            written = WriteOnlyCell(sheet, value=value)
            written.number_format = "yyyy-mm-dd"
            return written
        return text_cell(sheet, str(value))

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    bold = Font(bold=True)
    header = []
    for column in columns:
        written = WriteOnlyCell(sheet, value=str(column.label))
        written.data_type = "s"
        written.font = bold
        header.append(written)
    sheet.append(header)
    for row in rows:
        sheet.append([cell(sheet, value) for value in row])
    stream = tempfile.TemporaryFile()  # noqa: SIM115
    workbook.save(stream)
    stream.seek(0)
    return stream


def xml_xlsx_file(title, columns, rows):
    """The sheet's XML by hand (inline strings, dates as serial numbers), zipped: a floor."""
    from xml.sax.saxutils import escape

    from core.export import FORMULA_START, XLSX_ESCAPED, xlsx_escape

    epoch = date(1899, 12, 30).toordinal()
    stream = tempfile.TemporaryFile()  # noqa: SIM115
    with (
        zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as package,
        package.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet,
    ):
        sheet.write(b'<worksheet><sheetData><row r="1">')
        for column in columns:
            label = escape(str(column.label))
            sheet.write(f'<c t="inlineStr" s="1"><is><t>{label}</t></is></c>'.encode())
        sheet.write(b"</row>")
        pieces = []
        letters = [chr(ord("A") + index) for index in range(len(columns))]
        for number, row in enumerate(rows, start=2):
            cells = []
            for letter, value in zip(letters, row, strict=True):
                cell = f'<c r="{letter}{number}"'

                if type(value) is str:
                    text = escape(XLSX_ESCAPED.sub(xlsx_escape, value))
                    style = ' s="2"' if value.startswith(FORMULA_START) else ""
                    cells.append(f'{cell} t="inlineStr"{style}><is><t>{text}</t></is></c>')
                elif isinstance(value, date):
                    cells.append(f'{cell} s="3"><v>{value.toordinal() - epoch}</v></c>')
                elif value is not None:
                    cells.append(f"{cell}><v>{value!r}</v></c>")
            pieces.append(f'<row r="{number}">{"".join(cells)}</row>')
            if len(pieces) >= 1000:
                sheet.write("".join(pieces).encode())
                pieces.clear()
        sheet.write(("".join(pieces) + "</sheetData></worksheet>").encode())
    stream.seek(0)
    return stream


def run_one(writer: str, count: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from core.export import xlsx_file

    write = {"new": xlsx_file, "xml": xml_xlsx_file}.get(writer, openpyxl_xlsx_file)
    header = columns()
    start = time.perf_counter()
    stream = write("Assets", header, rows(count))
    seconds = time.perf_counter() - start
    size = stream.seek(0, 2)
    stream.close()
    return {
        "seconds": seconds,
        "bytes": size,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cells": count * len(header),
    }


def measured(writer: str, count: int) -> dict:
    environment = dict(os.environ, OPENPYXL_LXML=str(writer != "openpyxl"))
    output = subprocess.run(
        [sys.executable, __file__, "--one", writer, "--rows", str(count)],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--writers", default=",".join(WRITERS))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        print(json.dumps(run_one(arguments.one, arguments.rows)))
        return
    print(f"{arguments.rows:,} rows x 11 columns, {ROOT}")
    print(
        f"{'writer':<15}{'seconds':>9}{'rows/s':>10}{'µs/cell':>9}{'MB':>7}{'RSS MB':>8}"
        f"{'rows in ' + str(BUDGET_SECONDS) + ' s':>16}"
    )
    for writer in arguments.writers.split(","):
        figures = measured(writer, arguments.rows)
        rate = arguments.rows / figures["seconds"]
        print(
            f"{writer:<15}{figures['seconds']:>9.1f}{rate:>10,.0f}"
            f"{figures['seconds'] / figures['cells'] * 1e6:>9.1f}{figures['bytes'] / 1e6:>7.1f}"
            f"{figures['peak_rss_mb']:>8.0f}{rate * BUDGET_SECONDS:>16,.0f}"
        )


if __name__ == "__main__":
    main()
