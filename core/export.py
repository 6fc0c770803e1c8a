"""A list page's rows as a download: CSV or an Excel workbook, streamed.

Each list says its columns (a key and a lazy label) and yields its rows of values; this module
writes them in the user's language (the labels are translated where the header is written),
and answers with a file named after the list and the district's date
(``inspections-2026-03-10.csv``).

- CSV: UTF-8 with Excel's byte order mark (Chinese Excel and WPS read it as UTF-8 then),
  generated line by line as the rows come from the database.
- xlsx: XlsxWriter in constant_memory mode (each row goes to a temporary file as the next
  starts; text as inline strings); every text is a text cell, so codes keep their zeros and
  nothing is a formula. ``flask assets export`` writes its workbook with openpyxl
  (``assets.io``: coordinates to the last digit, the same bytes each time) and marks its text
  with ``xlsx_text_cell``.

Formula injection: a spreadsheet turns a cell starting with ``=``, ``+``, ``-`` or ``@`` (or
a tab or carriage return before one) into a formula. Every writer of CSV or xlsx in the app
(the list downloads here, ``flask assets export``) neutralises text through this module's
``formula_safe`` (CSV), ``xlsx_row_writer`` and ``xlsx_text_cell`` (xlsx):

- CSV: text whose first character after any apostrophes is one of these gets one more
  apostrophe in front (``=1+1`` → ``'=1+1``, ``'=1`` → ``''=1``), as OWASP advises; numbers
  are written as numbers. ``formula_restored`` undoes exactly that, so the importers read
  back what was exported (``core.tables`` reads every CSV cell through it).
- xlsx: a text cell (XlsxWriter's ``write_string``; openpyxl's ``data_type`` "s") marked
  with Excel's own quote prefix (the apostrophe Excel shows in the formula bar, not part of
  the value): never a formula, not even when someone edits the cell, and the value stays as
  it was.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from flask import Response, abort, current_app, stream_with_context
from flask_babel import gettext as _
from sqlalchemy import Select

from core.clock import district_time, district_today
from core.paging import count_rows_up_to

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_OR_QUOTE_START = frozenset(("'", *FORMULA_START))
# Characters XML 1.0 cannot hold: written as Excel writes them (_x000D_).
XLSX_ESCAPED = re.compile(r"[\x00-\x08\x0b\x0c\x0d\x0e-\x1f]")
EXPORT_FORMATS = ("csv", "xlsx")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CHUNK_CHARACTERS = 64 * 1024
# The rows of an Excel (or WPS) sheet, its header's included: a longer file is cut or refused.
XLSX_MAX_ROWS = 1_048_576


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # a lazy string, translated when the header is written
    width: int = 14


def local_time_text(moment: datetime | None) -> str:
    """A stored UTC time as the district's local time, to the minute ("" for none: an empty
    cell, where pages show "—")."""
    return "" if moment is None else district_time(moment)


def formula_safe(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet will not take for a formula (see the module)."""
    if text.lstrip("'").startswith(FORMULA_START):
        return "'" + text
    return text


def formula_restored(text: str) -> str:
    """The twin of ``formula_safe``: the text a neutralised CSV cell was written from."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_START):
        return text[1:]
    return text


def xlsx_text_cell(sheet, text: str):
    """A write-only text cell: never a formula, whatever it starts with; one a spreadsheet
    could take for a formula also carries Excel's quote prefix (the apostrophe)."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=XLSX_ESCAPED.sub(xlsx_escape, text))
    cell.data_type = "s"
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True
    return cell


def xlsx_escape(match: re.Match) -> str:
    """A character XML cannot hold, as Excel writes it (``_x000D_``)."""
    return f"_x{ord(match.group()):04X}_"


def csv_text(value: Any) -> str:
    """A value as a CSV cell: text that a spreadsheet would take for a formula gets a
    leading apostrophe; numbers and dates as they read."""
    if type(value) is str:  # most cells: one look at the first character
        return formula_safe(value) if value[:1] in FORMULA_OR_QUOTE_START else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return formula_safe(str(value))


def csv_chunks(
    columns: Sequence[Column], rows: Iterable[Sequence[Any]], size: int = CSV_CHUNK_CHARACTERS
) -> Iterator[bytes]:
    """The CSV file in UTF-8 (the byte order mark, the header, the rows), in pieces of about
    ``size`` characters as the rows come: a piece a line cost as much again as writing the
    lines (a million trips through the compressor and the server's writes)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([csv_text(str(column.label)) for column in columns])
    # The header on its own, before any row is read: the download starts at once, and a
    # response closed unread leaves no database cursor open behind it.
    yield ("\ufeff" + buffer.getvalue()).encode()
    buffer.seek(0)
    buffer.truncate()
    safe = FORMULA_OR_QUOTE_START
    for row in rows:
        # csv_text, its most common case (text that cannot be a formula) written out here:
        # a call per cell was a fifth of a large export's time.
        writer.writerow(
            [
                value if type(value) is str and value[:1] not in safe else csv_text(value)
                for value in row
            ]
        )
        if buffer.tell() >= size:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def xlsx_file(title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]):
    """A temporary file holding the workbook (one sheet, bold frozen header), at its start.

    XlsxWriter in constant_memory mode: each row goes to the sheet's temporary file as the
    next one starts, its text as inline strings (no table of every string kept until the
    end), about three times as fast as openpyxl's write-only sheet
    (``bench/bench_xlsx_export.py``). Past a sheet's last row XlsxWriter would drop the rows
    without a word: ``TooManyRowsError`` instead (the views refuse such lists first)."""
    import xlsxwriter

    stream = tempfile.TemporaryFile()  # noqa: SIM115 (closed by file_chunks once sent)
    try:
        # XlsxWriter's own temporary files (the rows, then the sheet) are named files, removed
        # when it closes: in a directory of their own, gone whatever happens on the way.
        with tempfile.TemporaryDirectory(prefix="sar-xlsx-") as directory:
            workbook = xlsxwriter.Workbook(stream, {"constant_memory": True, "tmpdir": directory})
            try:
                write_sheet(workbook, title, columns, rows)
            except BaseException:
                close_unfinished(workbook)
                raise
            workbook.close()
    except BaseException:
        stream.close()
        raise
    stream.seek(0)
    return stream


def write_sheet(workbook, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]):
    """``rows`` on one sheet below a bold, frozen header, the columns at their widths."""
    sheet = workbook.add_worksheet(title[:31])
    styles = xlsx_styles(workbook)
    sheet.freeze_panes(1, 0)
    for index, column in enumerate(columns):
        sheet.set_column(index, index, column.width)
        sheet.write_string(0, index, str(column.label), styles.header)
    write = xlsx_row_writer(sheet, styles)
    for number, row in enumerate(rows, start=1):
        if number >= XLSX_MAX_ROWS:
            raise TooManyRowsError
        write(number, row)


def close_unfinished(workbook) -> None:
    """The files a workbook left unwritten holds open: XlsxWriter closes a constant_memory
    sheet's file of rows only when it writes the workbook."""
    for sheet in workbook.worksheets():
        if sheet.row_data_fh is not None:
            sheet.row_data_fh.close()


class XlsxStyles(NamedTuple):
    header: Any  # bold
    quoted: Any  # Excel's quote prefix: text that stays text, even when edited
    day: Any  # yyyy-mm-dd


def xlsx_styles(workbook) -> XlsxStyles:
    return XlsxStyles(
        workbook.add_format({"bold": True}),
        workbook.add_format({"quote_prefix": True}),
        workbook.add_format({"num_format": "yyyy-mm-dd"}),
    )


def xlsx_row_writer(sheet, styles: XlsxStyles) -> Callable[[int, Sequence[Any]], None]:
    """A function writing a row of values at a (0-based) row number: text as text cells
    (never a formula; a quote prefix when a spreadsheet could take it for one; control
    characters as Excel writes them, ``_x000D_``, by XlsxWriter), dates as dates, numbers
    and booleans as they are, None as no cell."""
    text, number, boolean, day = (
        sheet.write_string,
        sheet.write_number,
        sheet.write_boolean,
        sheet.write_datetime,
    )
    quoted, day_style = styles.quoted, styles.day

    def write(row_number: int, row: Sequence[Any]) -> None:
        for index, value in enumerate(row):
            if value is None:
                continue
            if type(value) is not str:  # most cells are text
                if isinstance(value, bool):
                    boolean(row_number, index, value)
                    continue
                if isinstance(value, int | float):
                    number(row_number, index, value)
                    continue
                if isinstance(value, date):
                    day(row_number, index, value, day_style)
                    continue
                value = str(value)
            text(row_number, index, value, quoted if value.startswith(FORMULA_START) else None)

    return write


class TooManyRowsError(Exception):
    """More rows than a sheet holds below its header."""

    def __init__(self) -> None:
        super().__init__(
            f"more than {XLSX_MAX_ROWS - 1:,} rows, more than an Excel sheet holds: "
            "export CSV instead"
        )


def more_rows_than_a_sheet_holds(stmt: Select) -> bool:
    """Whether the rows of ``stmt`` (a narrow select: one column) overflow a sheet below its
    header; counted no further than that, in no order."""
    return count_rows_up_to(stmt.order_by(None), XLSX_MAX_ROWS) >= XLSX_MAX_ROWS


def refuse_too_many_rows_for_xlsx(stmt: Select) -> None:
    """422 before anything is written when a workbook of ``stmt``'s rows (a narrow select: one
    column) would be longer than the download allows (``EXPORT_XLSX_MAX_ROWS``: written
    longer, it outlasts the server's timeout and the user gets a cut file) or than a sheet
    holds; counted no further than that, in no order. The message says what to do instead."""
    allowed = current_app.config["EXPORT_XLSX_MAX_ROWS"]
    if allowed >= XLSX_MAX_ROWS - 1:
        if more_rows_than_a_sheet_holds(stmt):
            abort(
                422,
                description=_(
                    "This list has more than %(rows)s rows, more than an Excel sheet holds. "
                    "Narrow it with the filters, or download it as CSV.",
                    rows=f"{XLSX_MAX_ROWS - 1:,}",
                ),
            )
    elif count_rows_up_to(stmt.order_by(None), allowed + 1) > allowed:
        abort(
            422,
            description=_(
                "This list has more than %(rows)s rows, more than an Excel download may hold. "
                "Narrow it with the filters, or download it as CSV.",
                rows=f"{allowed:,}",
            ),
        )


def file_chunks(stream, size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while chunk := stream.read(size):
            yield chunk
    finally:
        stream.close()


def download_name(name: str, fmt: str) -> str:
    return f"{name}-{district_today().isoformat()}.{fmt}"


def export_response(
    fmt: str,
    name: str,
    title: str,
    columns: Sequence[Column],
    rows: Callable[[], Iterable[Sequence[Any]]],
) -> Response:
    """The download of ``rows()`` as ``fmt`` ("csv" or "xlsx"), named ``name-<date>.<fmt>``.
    CSV streams as the rows are read; a workbook is written first (write-only), then sent."""
    filename = download_name(name, fmt)
    if fmt == "csv":
        body = stream_with_context(csv_chunks(columns, rows()))
        response = current_app.response_class(body, mimetype="text/csv")
    else:
        stream = xlsx_file(title, columns, rows())
        response = current_app.response_class(file_chunks(stream), mimetype=XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
