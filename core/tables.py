"""Tables as people keep them: a CSV file (UTF-8 with or without Excel's BOM, or GB18030/GBK
as Chinese Excel and WPS save "CSV") or an Excel workbook (``.xlsx``), read into a header and
rows of text, each row with its place (``line 3`` of a CSV file, ``row 3`` as Excel numbers
its rows). No domain knowledge: the caller maps header names to its fields with a dict
(``map_header``) and judges the values.

Text encoding: strict UTF-8 first, else strict GB18030 (a superset of GBK and GB2312). A
byte neither can read is a file problem naming its line and offset. A file that is UTF-8
with Chinese text up to one bad byte is refused as such rather than read as GB18030 (which
would turn every Chinese character into another one without complaint).

Workbook cells are read as the text they show, never as numbers, so that codes and
registration numbers keep their leading zeros: a whole number is ``12`` (``0012`` when the
cell's format pads it with zeros), any other number the shortest text that reads back as the
same float, a date ``2026-11-01``, TRUE/FALSE as such. A formula is a problem (its value
is whatever Excel last computed, which the file may not even hold), and so is a merged cell
(only its first cell holds the value): both name the row and column.

A CSV cell that an export neutralised against formula injection (``'=1+1``, see
``core.export.formula_safe``) is read as the text it was written from (``=1+1``).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from flask_babel import gettext as _

from core.export import formula_restored
from core.importing import ImportFileProblem, Problem

# (where the row starts, its cells): the line of a CSV file or the row of a sheet.
TableRow = tuple[int, list[str]]

XLSX_SUFFIXES = (".xlsx", ".xlsm")
# A UTF-8 prefix with at least this many non-ASCII characters before a bad byte is UTF-8
# text with a bad byte, not GB18030 text (GBK pairs that happen to be valid UTF-8, several
# in a row, do not occur in practice).
UTF8_EVIDENCE = 3
MERGE_CELL = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')
ZERO_PADDED = re.compile(r"^0+$")
# Control characters (and the carriage return) as Excel escapes them in a cell's text.
EXCEL_ESCAPE = re.compile(r"_x(00[01][0-9A-Fa-f])_")


@dataclass
class Table:
    """A header and the rows under it. ``place`` is "line" (CSV) or "row" (a sheet);
    ``problems`` are the rows' problems found while reading (formulas, merged cells, more
    cells than the header): the caller adds its own and reports them all."""

    place: str
    header: list[str]
    header_number: int
    rows: list[TableRow]
    problems: list[Problem] = field(default_factory=list)
    encoding: str | None = None


def file_problem(reason: str, place: str = "file", number: int | None = None) -> ImportFileProblem:
    return ImportFileProblem(Problem(place, number, None, reason))


# The files a table import reads, by extension (GeoJSON is read by the importer itself).
FILE_FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson"}


def format_of(path: Path, forced: str | None = None) -> str:
    """``forced`` (a --format given), else the format the extension says, else a problem."""
    if forced:
        return forced
    fmt = FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise file_problem(
            _(
                "cannot tell the format of %(name)s: use a .csv, .xlsx or .geojson file, "
                "or --format",
                name=path.name,
            )
        )
    return fmt


def read_table(path: Path, sheet: str | None = None, fmt: str | None = None) -> Table:
    """The table in ``path``: a CSV file or the first (or the named) sheet of a workbook,
    told apart by the extension unless ``fmt`` ("csv" or "xlsx") says."""
    suffix = path.suffix.lower()
    if fmt == "xlsx" or (fmt is None and suffix in XLSX_SUFFIXES):
        return read_xlsx(path, sheet)
    if fmt is None and suffix == ".xls":
        raise file_problem(_("Old Excel files (.xls) cannot be read: save it as .xlsx or CSV."))
    return read_csv(path.read_bytes())


# --- CSV -----------------------------------------------------------------------------------


def decode_text(raw: bytes) -> tuple[str, str]:
    """The text of ``raw`` and its encoding ("utf-8" or "gb18030"), or a file problem."""
    if b"\x00" in raw:
        raise file_problem(_("This is a binary file, not text."))
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[start:].decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        utf8_bad = start + utf8_error.start
    prefix = raw[start:utf8_bad].decode("utf-8")
    if sum(1 for character in prefix if ord(character) > 127) >= UTF8_EVIDENCE:
        raise undecodable(raw, utf8_bad, gb18030_too=False)
    try:
        return raw.decode("gb18030").removeprefix("\ufeff"), "gb18030"
    except UnicodeDecodeError as gb_error:
        # The encoding that read further is the file's: name its bad byte.
        raise undecodable(raw, max(utf8_bad, gb_error.start), gb18030_too=True) from None


def undecodable(raw: bytes, offset: int, gb18030_too: bool) -> ImportFileProblem:
    line = raw.count(b"\n", 0, offset) + 1
    byte = f"0x{raw[offset]:02x}"
    if gb18030_too:
        reason = _(
            "byte %(byte)s (byte offset %(offset)s) cannot be read as UTF-8 or GB18030",
            byte=byte,
            offset=offset,
        )
    else:
        reason = _(
            "byte %(byte)s (byte offset %(offset)s) cannot be read as UTF-8, "
            "and the text before it is UTF-8",
            byte=byte,
            offset=offset,
        )
    return file_problem(reason, "line", line)


def read_csv(raw: bytes) -> Table:
    """A CSV file's header (the first line that is not blank) and its rows; blank lines are
    skipped, empty cells past the header are ignored, other extra cells are a problem."""
    text, encoding = decode_text(raw)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_number = 0
    rows: list[TableRow] = []
    problems: list[Problem] = []
    line = 0
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not "".join(cells).strip():
                continue
            if header is None:
                header, header_number = [cell.strip() for cell in cells], start
                continue
            if len(cells) > len(header):
                if any(cell.strip() for cell in cells[len(header) :]):
                    problems.append(too_many_cells("line", start))
                    continue
                del cells[len(header) :]
            rows.append((start, [formula_restored(cell) for cell in cells]))
    except csv.Error as error:
        raise file_problem(
            _("not a readable CSV file: %(error)s", error=str(error)), "line", reader.line_num
        ) from None
    if header is None:
        raise file_problem(_("The file is empty: expected a header row."))
    return Table("line", header, header_number, rows, problems, encoding)


def too_many_cells(place: str, number: int) -> Problem:
    return Problem(place, number, "row", _("has more cells than the header"))


# --- Excel workbooks -------------------------------------------------------------------------


def read_xlsx(path: Path, sheet: str | None = None) -> Table:
    """The first sheet (or ``sheet``) of a workbook: its first non-empty row is the header."""
    from openpyxl import load_workbook

    with path.open("rb") as stream:  # a stream: openpyxl takes any name then
        try:
            workbook = load_workbook(stream, read_only=True, data_only=False)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
            raise file_problem(
                _("not a readable Excel workbook (.xlsx): %(error)s", error=str(error))
            ) from None
        try:
            worksheet = chosen_sheet(workbook, sheet)
            merged = merged_ranges(path, worksheet)
            return sheet_table(worksheet, merged)
        finally:
            workbook.close()


def chosen_sheet(workbook, name: str | None):
    sheets = [sheet for sheet in workbook.worksheets if hasattr(sheet, "iter_rows")]
    if name is None:
        if not sheets:
            raise file_problem(_("The workbook has no sheet."))
        return sheets[0]
    for sheet in sheets:
        if sheet.title == name:
            return sheet
    names = ", ".join(sheet.title for sheet in sheets)
    raise file_problem(
        _("The workbook has no sheet named %(name)s (it has: %(names)s).", name=name, names=names),
        "sheet",
    )


def merged_ranges(path: Path, worksheet) -> list[str]:
    """The merged ranges of a sheet (``A1:C1``…). openpyxl's read-only mode, the fast one,
    does not read them, so they are found in the sheet's XML, where ``<mergeCell
    ref="A1:C1"/>`` elements are the only place the text ``<mergeCell`` can appear."""
    with zipfile.ZipFile(path) as archive:
        return [
            match.decode() for match in MERGE_CELL.findall(archive.read(worksheet_part(worksheet)))
        ]


def worksheet_part(worksheet) -> str:
    # openpyxl keeps the part name of a read-only sheet only here (tested by the merged-cell
    # tests, pinned by the openpyxl version range in pyproject.toml).
    return worksheet._worksheet_path.lstrip("/")


def sheet_table(worksheet, merged: list[str]) -> Table:
    from openpyxl.utils.cell import get_column_letter

    worksheet.reset_dimensions()  # some writers store wrong dimensions; read every row
    header: list[str] | None = None
    header_number = 0
    rows: list[TableRow] = []
    problems: list[Problem] = []
    for cells in worksheet.iter_rows():
        number = next((cell.row for cell in cells if hasattr(cell, "row")), None)
        texts = [cell_text(cell) for cell in cells]
        if number is None or not any(text.strip() for text in texts):
            continue
        formulas = [index for index, cell in enumerate(cells) if cell.data_type == "f"]
        if header is None:
            header, header_number = [text.strip() for text in texts], number
            while header and not header[-1]:
                header.pop()
            for index in formulas:
                problems.append(
                    Problem(
                        "header",
                        None,
                        None,
                        _(
                            "cell %(cell)s holds a formula",
                            cell=f"{get_column_letter(index + 1)}{number}",
                        ),
                    )
                )
            continue
        for index in formulas:
            reference = f"{get_column_letter(index + 1)}{number}"
            problems.append(
                Problem(
                    "row",
                    number,
                    column_name(header, index),
                    _(
                        "cell %(cell)s holds a formula (%(formula)s); save its value instead",
                        cell=reference,
                        formula=texts[index],
                    ),
                )
            )
        if len(texts) > len(header):
            if any(text.strip() for text in texts[len(header) :]):
                problems.append(too_many_cells("row", number))
                continue
            del texts[len(header) :]
        if not formulas:
            rows.append((number, texts))
    if header is None:
        raise file_problem(_("The sheet is empty: expected a header row."))
    problems.extend(merged_problems(merged, header, header_number))
    return Table("row", header, header_number, rows, problems)


def column_name(header: list[str], index: int) -> str:
    from openpyxl.utils.cell import get_column_letter

    name = header[index] if index < len(header) else ""
    return name or get_column_letter(index + 1)


def merged_problems(merged: list[str], header: list[str], header_number: int) -> list[Problem]:
    from openpyxl.utils.cell import range_boundaries

    problems = []
    for reference in merged:
        first_column, first_row, _last_column, last_row = range_boundaries(reference)
        if first_row <= header_number <= last_row or last_row < header_number:
            problems.append(
                Problem(
                    "header",
                    None,
                    column_name(header, first_column - 1),
                    _(
                        "cells %(cells)s are merged: give each column its own header cell",
                        cells=reference,
                    ),
                )
            )
        else:
            problems.append(
                Problem(
                    "row",
                    first_row,
                    column_name(header, first_column - 1),
                    _(
                        "cells %(cells)s are merged: only the first holds the value; "
                        "unmerge them and fill each cell",
                        cells=reference,
                    ),
                )
            )
    return problems


def unescaped(match: re.Match) -> str:
    return chr(int(match.group(1), 16))


def cell_text(cell) -> str:
    """A cell's value as the text it shows (see the module's docstring)."""
    value = getattr(cell, "value", None)
    if value is None:
        return ""
    if isinstance(value, str):
        return EXCEL_ESCAPE.sub(unescaped, value) if "_x" in value else value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    if isinstance(value, int):
        number_format = getattr(cell, "number_format", "General") or "General"
        if ZERO_PADDED.match(number_format):
            return str(value).zfill(len(number_format))
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- headers ---------------------------------------------------------------------------------


def header_key(name: str) -> str:
    """How header names are compared: trimmed, case and width folded (ＣＯＤＥ is code)."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def map_header(
    header: list[str],
    names: Mapping[str, str],
    required: Mapping[str, str] | Iterable[str] = (),
) -> tuple[list[str | None], list[Problem]]:
    """Each header cell's field (None for an empty one), by ``names`` (a header name, any
    case, to its field), and the header's problems: unknown, repeated or missing columns.
    ``required`` lists the fields that must have a column (a mapping gives how to name each
    one in the problem)."""
    keyed = {header_key(name): field_name for name, field_name in names.items()}
    fields: list[str | None] = []
    unknown: list[str] = []
    for name in header:
        if not name:
            fields.append(None)
            continue
        field_name = keyed.get(header_key(name))
        if field_name is None:
            unknown.append(name)
        fields.append(field_name)
    seen: dict[str, str] = {}
    repeated: list[str] = []
    for name, field_name in zip(header, fields, strict=True):
        if field_name is None:
            continue
        if field_name in seen:
            repeated.append(f"{seen[field_name]}, {name}")
        else:
            seen[field_name] = name
    shown = required if isinstance(required, Mapping) else {name: name for name in required}
    missing = [shown[name] for name in shown if name not in seen]
    problems = []
    if missing:
        problems.append(_("missing column(s): %(names)s", names=", ".join(missing)))
    if unknown:
        problems.append(_("unknown column(s): %(names)s", names=", ".join(unknown)))
    if repeated:
        problems.append(_("repeated column(s): %(names)s", names="; ".join(repeated)))
    return fields, [Problem("header", None, None, reason) for reason in problems]
