"""Reading and writing the registry as CSV, Excel (.xlsx) or GeoJSON, and the bulk write both
imports share.

Tables (CSV in UTF-8 or GB18030/GBK, or the first sheet of a workbook; ``core.tables``) have
one header row, in English (the field names: ``code``, ``kind``…) or as the pages name the
fields in Chinese or English (编号 or 编码, 类型, 名称… and each kind's attribute labels:
充电口数量…), taken from the translations so the pages and the files never disagree. Values
may be written as the pages show them too: a kind or status by its label in either language
(电动自行车充电站, 正常/故障/已停用), yes/no as 是/否 (or true/false, yes/no), dates as
2026-11-01, 2026/11/01 or 2026年11月1日. Codes and registration numbers are always read as
text. Every problem names its line (CSV), row (as Excel numbers it) or feature, and the field
as the file names it.

Export writes what import reads, rows ordered by code: ``en`` the field names and the stored
values (booleans ``true``/``false``), ``zh`` the Chinese headers and labels (是/否), as CSV
in UTF-8 (with the BOM Excel needs when Chinese) or as an .xlsx workbook (text cells for
text, numbers for coordinates at full precision and for counts, date cells for dates, one
sheet, fixed timestamps), so that an export imported into an empty registry exports again
byte for byte.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import math
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import shapely
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from shapely import STRtree
from sqlalchemy import select

from assets.grids import GridArea, GridLocator
from assets.kinds import KINDS, all_attribute_names
from assets.models import Asset, Grid, Site
from assets.services import (
    BASE_FIELDS,
    FIELD_LABELS,
    STATUS_LABELS,
    AssetValidationError,
    AssetValidator,
    CleanAsset,
    record_of,
    site_ids_by_name,
)
from core.audit import AuditEntry, audit_row, current_actor
from core.clock import now_utc
from core.export import (
    TooManyRowsError,
    formula_safe,
    more_rows_than_a_sheet_holds,
    xlsx_text_cell,
)
from core.extensions import db
from core.importing import PLACE_LABELS, ImportCheck, ImportFileProblem, Problem
from core.spatial import (
    analyze_tables,
    deferred_spatial_index,
    latitude_of,
    longitude_of,
    writing,
)
from core.spatial import bulk_insert as spatial_bulk_insert
from core.tables import (
    decode_text,
    file_problem,
    format_of,
    header_key,
    map_header,
    read_table,
)

FORMATS = ("csv", "geojson", "xlsx")
LANGUAGES = ("en", "zh")
REQUIRED_COLUMNS = ("code", "kind", "name", "longitude", "latitude")
PROPERTY_FIELDS = tuple(name for name in BASE_FIELDS if name not in ("longitude", "latitude"))
PROGRESS_THRESHOLD = 1000
EXPORT_BATCH = 500
WRITE_CHUNK_CHARACTERS = 64 * 1024
COPY_CHUNK_BYTES = 1024 * 1024
# What ``record_of`` reads of an asset, by the same names.
RECORD_COLUMNS = (
    Asset.code,
    Asset.kind,
    Asset.name,
    Asset.address,
    Asset.status,
    Asset.installed_on,
    Asset.manufacturer,
    Asset.model,
    Asset.serial_number,
    Asset.notes,
    Asset.attributes,
)
# Other names people give a column or a value, beside the field names and the labels.
HEADER_ALIASES = {"编码": "code"}
STATUS_ALIASES = {"报废": "retired"}
DATE_FORMS = re.compile(
    r"^(\d{4})(?:-(\d{1,2})-(\d{1,2})|/(\d{1,2})/(\d{1,2})|年(\d{1,2})月(\d{1,2})日)$", re.ASCII
)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)

# (place, number, data): place is "line", "row" or "feature"; data is validator input, with
# "_problems" ({field: reason}) when a value could not even be read.
SourceRow = tuple[str, int, dict[str, Any]]
Progress = Callable[[Iterable, int], Any]


@dataclass
class ImportResult:
    imported: int
    problems: list[Problem]


@dataclass
class SourceRows:
    """The rows of a file, the problems found reading them, and how the file names each field
    it spells otherwise (``{"ports": "充电口数量"}``), so that problems name its columns."""

    rows: list[SourceRow]
    problems: list[Problem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)


def csv_columns() -> list[str]:
    return [*BASE_FIELDS, "grid", *all_attribute_names()]


def column_labels() -> dict[str, Any]:
    """Each column's label (lazy): the pages' field labels, then the kinds' attribute labels."""
    labels: dict[str, Any] = dict(FIELD_LABELS)
    for kind in KINDS.values():
        for attribute in kind.fields:
            labels.setdefault(attribute.name, attribute.label)
    return {column: labels[column] for column in csv_columns()}


# --- names and values as people write them ----------------------------------------------------


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


@dataclass(frozen=True)
class Vocabulary:
    """What a table may call each column, kind and status: the field names and values, the
    pages' labels in every language, and a few aliases."""

    headers: dict[str, str]
    kinds: dict[str, str]
    statuses: dict[str, str]

    @classmethod
    def current(cls) -> Vocabulary:
        labels = column_labels()
        headers = {column: column for column in labels}
        kinds = {name: name for name in KINDS}
        statuses = {str(status): str(status) for status in STATUS_LABELS}
        for language in LANGUAGES:
            with force_locale(language):
                for column, label in labels.items():
                    headers.setdefault(str(label), column)
                for kind in KINDS.values():
                    kinds.setdefault(fold(str(kind.label)), kind.name)
                for status, label in STATUS_LABELS.items():
                    statuses.setdefault(fold(str(label)), str(status))
        headers.update(HEADER_ALIASES)
        statuses.update(STATUS_ALIASES)
        return cls(headers, kinds, statuses)

    def kind_choices(self) -> str:
        return ", ".join(f"{kind.name} ({kind.label})" for kind in KINDS.values())

    def status_choices(self) -> str:
        return ", ".join(f"{status} ({label})" for status, label in STATUS_LABELS.items())


def iso_date(text: str) -> str | None:
    """``text`` written as one of the accepted date forms, as YYYY-MM-DD (the calendar is
    the validator's to judge), or None."""
    match = DATE_FORMS.match(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        return None
    groups = match.groups()
    month, day = next(pair for pair in (groups[1:3], groups[3:5], groups[5:7]) if pair[0])
    return f"{groups[0]}-{int(month):02d}-{int(day):02d}"


class RowReader:
    """Turns one row of a table (or a feature's properties) into validator input: base fields
    at the top, attributes nested, the grid column ignored (it is derived), kinds, statuses
    and dates as the validator takes them."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self.attribute_names = set(all_attribute_names())
        # (name, is an attribute) of each date column
        self.date_columns = [("installed_on", False)] + sorted(
            {
                (attribute.name, True)
                for kind in KINDS.values()
                for attribute in kind.fields
                if attribute.type == "date"
            }
        )

    def data_of(self, values: dict[str, Any]) -> dict[str, Any]:
        """Validator input from a row's values by field name."""
        data: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        attribute_names = self.attribute_names
        for key, value in values.items():
            if key == "grid":
                continue
            if key in attribute_names:
                if value is not None and value != "":
                    attributes[key] = value
            else:
                data[key] = value
        data["attributes"] = attributes
        return self.spelled(data)

    def cells_reader(self, fields: list[str | None]) -> Callable[[list[str]], dict[str, Any]]:
        """``data_of`` for the cells of a table whose columns hold ``fields``, without making
        a dict of each row first (the per-row path of a 100k-row import)."""
        base = [(index, name) for index, name in enumerate(fields) if name and name != "grid"]
        attributes = [(index, name) for index, name in base if name in self.attribute_names]
        base = [(index, name) for index, name in base if name not in self.attribute_names]
        spelled = self.spelled

        def read(cells: list[str]) -> dict[str, Any]:
            count = len(cells)
            data = {name: cells[index] for index, name in base if index < count}
            data["attributes"] = {
                name: cells[index] for index, name in attributes if index < count and cells[index]
            }
            return spelled(data)

        return read

    def spelled(self, data: dict[str, Any]) -> dict[str, Any]:
        """Kinds, statuses and dates as the validator takes them; what cannot be read is kept
        under "_problems"."""
        problems: dict[str, str] = {}
        kind = data.get("kind")
        if isinstance(kind, str) and kind not in KINDS:
            self._spelled(data, "kind", self.vocabulary.kinds, problems)
        status = data.get("status")
        if isinstance(status, str) and status and status not in STATUS_LABELS:
            self._spelled(data, "status", self.vocabulary.statuses, problems)
        for name, in_attributes in self.date_columns:
            holder = data["attributes"] if in_attributes else data
            value = holder.get(name)
            if isinstance(value, str) and value and not ISO_DATE.match(value):
                written = iso_date(value)
                if written is None:
                    problems[name] = _(
                        "Not a date: write it as 2026-11-01, 2026/11/01 or 2026年11月1日."
                    )
                else:
                    holder[name] = written
        if problems:
            data["_problems"] = problems
        return data

    def _spelled(self, data, name: str, words: dict[str, str], problems) -> None:
        value = data[name]
        found = words.get(fold(value))
        if found is not None:
            data[name] = found
        elif value.strip():
            if name == "kind":
                choices = self.vocabulary.kind_choices()
                problems[name] = _(
                    "Unknown kind: %(value)s; use one of: %(choices)s.",
                    value=value.strip(),
                    choices=choices,
                )
            else:
                choices = self.vocabulary.status_choices()
                problems[name] = _(
                    "Unknown status: %(value)s; use one of: %(choices)s.",
                    value=value.strip(),
                    choices=choices,
                )


# --- reading -----------------------------------------------------------------------------


def read_rows(path: Path, fmt: str, sheet: str | None = None) -> SourceRows:
    """Every row of ``path`` as validator input; a file that cannot be read at all (not the
    format, undecodable, no header…) raises ImportFileProblem."""
    reader = RowReader(Vocabulary.current())
    if fmt == "geojson":
        return read_geojson_rows(decode_text(path.read_bytes())[0], reader)
    return read_table_rows(read_table(path, sheet, fmt), reader)


def read_table_rows(table, reader: RowReader) -> SourceRows:
    vocabulary = reader.vocabulary
    fields, header_problems = map_header(
        table.header, vocabulary.headers, required=required_columns()
    )
    if header_problems:
        return SourceRows([], [*header_problems, *table.problems])
    columns = {
        field_name: name
        for name, field_name in zip(table.header, fields, strict=True)
        if field_name and header_key(name) != field_name
    }
    read = reader.cells_reader(fields)
    place = table.place
    rows: list[SourceRow] = [(place, number, read(cells)) for number, cells in table.rows]
    return SourceRows(rows, list(table.problems), columns)


def required_columns() -> dict[str, str]:
    """The required columns, each named by its field and its Chinese header."""
    with force_locale("zh"):
        labels = {name: str(FIELD_LABELS[name]) for name in REQUIRED_COLUMNS}
    return {name: f"{name} ({label})" for name, label in labels.items()}


def read_geojson_rows(text: str, reader: RowReader) -> SourceRows:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise file_problem(_("not valid JSON: %(error)s", error=str(error))) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise file_problem(_("not a GeoJSON FeatureCollection"))
    features = document.get("features")
    if not isinstance(features, list):
        raise file_problem(_("the FeatureCollection has no list of features"))
    headers = reader.vocabulary.headers
    rows: list[SourceRow] = []
    problems: list[Problem] = []
    for number, feature in enumerate(features, start=1):
        point, reason = point_of(feature)
        if reason:
            problems.append(Problem("feature", number, "geometry", reason))
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            problems.append(Problem("feature", number, "properties", _("not an object")))
            continue
        properties = {headers.get(key, key): value for key, value in properties.items()}
        nested = properties.pop("attributes", None)
        data = reader.data_of(properties)
        if isinstance(nested, dict):
            data["attributes"] = {**nested, **data["attributes"]}
        elif nested is not None:
            data["attributes"] = nested
        data["longitude"], data["latitude"] = point
        rows.append(("feature", number, data))
    return SourceRows(rows, problems)


def point_of(feature: Any) -> tuple[tuple[Any, Any], str | None]:
    """A feature's point (longitude, latitude), or why it has none."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return (None, None), _("not a GeoJSON Feature")
    geometry = feature.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind != "Point":
        return (None, None), _("must be a Point, not %(kind)s", kind=kind or _("missing"))
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
        return (None, None), _("coordinates must be [longitude, latitude]")
    return (coordinates[0], coordinates[1]), None


# --- validating and writing -------------------------------------------------------------


def existing_codes(codes: Iterable[str]) -> set[str]:
    wanted = sorted(set(codes))
    found: set[str] = set()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        found.update(db.session.scalars(select(Asset.code).where(Asset.code.in_(chunk))))
    return found


class BatchGridLocator:
    """The grids of many points found in one vectorised STRtree query, then answered per point.

    Areas are ordered most specific first, so the lowest covering index is the answer
    ``GridLocator.grid_for`` would give; points not seen up front fall back to it.
    """

    def __init__(self, locator: GridLocator, points: list[tuple[float, float]]):
        self.locator = locator
        self.found: dict[tuple[float, float], GridArea | None] = dict.fromkeys(points)
        if not points or locator.is_empty:
            return
        tree = STRtree([area.polygon for area in locator.areas])
        inputs, targets = tree.query(shapely.points(points), predicate="covered_by")
        best: dict[int, int] = {}
        for point_index, area_index in zip(inputs.tolist(), targets.tolist(), strict=True):
            if area_index < best.get(point_index, len(locator.areas)):
                best[point_index] = area_index
        for point_index, area_index in best.items():
            self.found[points[point_index]] = locator.areas[area_index]

    def grid_for(self, longitude: float, latitude: float) -> GridArea | None:
        key = (longitude, latitude)
        if key in self.found:
            return self.found[key]
        return self.locator.grid_for(longitude, latitude)


def points_of(rows: list[SourceRow]) -> list[tuple[float, float]]:
    """The distinct valid-looking points of the rows (the validator judges them properly)."""
    points: set[tuple[float, float]] = set()
    for _place, _number, data in rows:
        try:
            point = (float(data.get("longitude")), float(data.get("latitude")))
        except (TypeError, ValueError):
            continue
        if all(math.isfinite(value) for value in point) and abs(point[1]) <= 90:
            points.add(point)
    return sorted(points)


def validate_rows(
    rows: list[SourceRow],
    sites: dict[str, int] | None = None,
    progress: Progress | None = None,
    columns: dict[str, str] | None = None,
) -> tuple[list[CleanAsset], list[Problem]]:
    """Every row checked with one shared validator: the clean assets and every problem found,
    each field named as the file names it (``columns``)."""
    locator = BatchGridLocator(GridLocator.from_database(), points_of(rows))
    validator = AssetValidator(locator, site_ids_by_name() if sites is None else sites)
    named = FieldNames(columns or {})
    cleans: list[CleanAsset] = []
    problems: list[Problem] = []
    first_place: dict[str, tuple[str, int]] = {}
    with progress(rows, len(rows)) if progress else nullcontext(rows) as items:
        for place, number, data in items:
            unread = data.pop("_problems", None)
            try:
                clean = validator.validate(data)
            except AssetValidationError as error:
                errors = {**error.errors, **(unread or {})}
                if "kind" in errors:  # attributes were checked against some other kind
                    errors = {k: v for k, v in errors.items() if not k.startswith("attributes.")}
                problems.extend(
                    Problem(place, number, named(name), str(reason))
                    for name, reason in errors.items()
                )
                continue
            if unread:
                problems.extend(
                    Problem(place, number, named(name), reason) for name, reason in unread.items()
                )
                continue
            if clean.code in first_place:
                earlier = where(*first_place[clean.code])
                reason = _("%(code)s repeats %(where)s", code=clean.code, where=earlier)
                problems.append(Problem(place, number, named("code"), reason))
                continue
            first_place[clean.code] = (place, number)
            cleans.append(clean)
    for code in sorted(existing_codes(first_place)):
        place, number = first_place[code]
        reason = _("an asset with code %(code)s exists already", code=code)
        problems.append(Problem(place, number, named("code"), reason))
    problems.sort(key=Problem.sort_key)
    return cleans, problems


def where(place: str, number: int) -> str:
    """ "line 3", "row 3" or "feature 3" in the current language."""
    label = PLACE_LABELS.get(place)
    return f"{label if label is not None else place} {number}"


class FieldNames:
    """A validator's field name (``attributes.ports``) as the file names the column
    (充电口数量), when it names it otherwise."""

    def __init__(self, columns: dict[str, str]):
        self.columns = columns

    def __call__(self, name: str) -> str:
        if not self.columns:
            return name
        return self.columns.get(name.removeprefix("attributes."), name)


def clean_record(clean: CleanAsset, site_names: dict[int, str]) -> dict[str, Any]:
    """What ``asset_record`` would say of the asset once written (for the audit trail)."""
    return {
        "code": clean.code,
        "kind": clean.kind,
        "name": clean.name,
        "longitude": clean.longitude,
        "latitude": clean.latitude,
        "grid": clean.grid.code if clean.grid else None,
        "site": site_names.get(clean.site_id) if clean.site_id else None,
        "address": clean.address,
        "status": clean.status,
        "installed_on": clean.installed_on.isoformat() if clean.installed_on else None,
        "manufacturer": clean.manufacturer,
        "model": clean.model,
        "serial_number": clean.serial_number,
        "notes": clean.notes,
        "attributes": dict(clean.attributes),
    }


def insert_assets(cleans: list[CleanAsset], action: str, site_names: dict[int, str]) -> int:
    """Bulk-insert validated assets and one audit row each; the caller commits."""
    if not cleans:
        return 0
    actor = current_actor()
    now = now_utc()
    assets = [{**clean.column_values(), "created_at": now, "updated_at": now} for clean in cleans]
    with deferred_spatial_index(db.session, Asset.__tablename__, "location"):
        bulk_insert(Asset, assets)
    audits = []
    for clean in cleans:
        row = audit_row(action, "asset", clean.code, None, None, actor)
        row["at"] = now
        row["after"] = clean_record(clean, site_names)  # JSON-ready already: skip json_ready
        audits.append(row)
    bulk_insert(AuditEntry, audits)
    return len(cleans)


def bulk_insert(model, rows: list[dict[str, Any]]) -> None:
    spatial_bulk_insert(db.session, model.__table__, rows)


# --- importing ---------------------------------------------------------------------------


def import_assets(
    path: Path,
    fmt: str | None = None,
    progress: Progress | None = None,
    sheet: str | None = None,
) -> ImportResult:
    """Import every row of ``path`` in one transaction, or nothing if any row is bad. A file
    that cannot be read at all raises ImportFileProblem.

    The rows are checked first, reading without SQLite's write lock (a large file takes
    seconds); the writes then take it (``writing``: the web app's writers wait for it, and it
    waits for them) and check the codes again under it. Once committed, an import of
    ``ANALYZE_AFTER_ROWS`` assets or more gathers the planner's statistics of what it wrote."""
    with gc_paused():
        source = read_rows(path, format_of(path, fmt), sheet)
        sites = site_ids_by_name()
        if len(source.rows) <= PROGRESS_THRESHOLD:
            progress = None
        cleans, problems = validate_rows(source.rows, sites, progress, source.columns)
        problems = sorted([*source.problems, *problems], key=Problem.sort_key)
        db.session.rollback()  # the checks only read; the writes are a unit of their own
        if problems:
            return ImportResult(0, problems)
        with writing():
            taken = existing_codes(clean.code for clean in cleans)
            if taken:  # registered by someone else while the file was being checked
                db.session.rollback()
                return ImportResult(0, [taken_meanwhile(code) for code in sorted(taken)])
            site_names = {site_id: name for name, site_id in sites.items()}
            count = insert_assets(cleans, "import", site_names)
            db.session.commit()
    if count >= current_app.config["ANALYZE_AFTER_ROWS"]:
        analyze_tables((Asset.__tablename__, AuditEntry.__tablename__))
    return ImportResult(count, [])


def taken_meanwhile(code: str) -> Problem:
    return Problem("file", None, "code", _("an asset with code %(code)s exists already", code=code))


def check_file(path: Path, options: dict[str, Any]) -> ImportCheck:
    """What importing ``path`` would write, or every problem; writes nothing (the Imports
    page and ``assets import --dry-run``). Options: ``format``, ``sheet``."""
    try:
        with gc_paused():
            source = read_rows(path, format_of(path, options.get("format")), options.get("sheet"))
            cleans, problems = validate_rows(source.rows, columns=source.columns)
    except ImportFileProblem as error:
        return ImportCheck("assets", problems=[error.problem])
    finally:
        db.session.rollback()
    problems = [*source.problems, *problems]
    if problems:
        return ImportCheck("assets", problems=sorted(problems, key=Problem.sort_key))
    return ImportCheck("assets", count=len(cleans), summary={"new": len(cleans)})


def apply_file(path: Path, options: dict[str, Any]) -> ImportCheck:
    """Import ``path``: every row in one transaction, committed, or nothing."""
    try:
        result = import_assets(path, options.get("format"), sheet=options.get("sheet"))
    except ImportFileProblem as error:
        db.session.rollback()
        return ImportCheck("assets", problems=[error.problem])
    if result.problems:
        return ImportCheck("assets", problems=result.problems)
    return ImportCheck("assets", count=result.imported, summary={"new": result.imported})


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic GC while a large import builds many objects that stay alive (it is pure cost:
    each collection walks them all, several seconds for 100k rows). Reference counting still
    frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- exporting ---------------------------------------------------------------------------


def export_records() -> Iterator[dict[str, Any]]:
    """Every asset in input form, ordered by code, coordinates read in SQL: the columns
    ``record_of`` reads, as plain rows in batches (no asset objects; constant memory)."""
    query = (
        select(
            *RECORD_COLUMNS,
            longitude_of(Asset.location).label("longitude"),
            latitude_of(Asset.location).label("latitude"),
            Grid.code.label("grid"),
            Site.name.label("site"),
        )
        .outerjoin(Grid, Asset.grid_id == Grid.id)
        .outerjoin(Site, Asset.site_id == Site.id)
        .order_by(Asset.code)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    for row in db.session.execute(query):
        yield record_of(row, float(row.longitude), float(row.latitude), row.grid, row.site)


YES, NO = _l("Yes"), _l("No")
# An export's workbook is the same bytes for the same rows: fixed timestamps inside and out.
XLSX_TIMESTAMP = (2000, 1, 1, 0, 0, 0)
XLSX_WIDE_COLUMNS = {"name": 28, "site": 20, "address": 30, "notes": 30, "manufacturer": 24}


class ExportWords:
    """How an export in ``language`` writes its header and its kinds, statuses and booleans:
    ``en`` as stored (what programs read), ``zh`` as the Chinese pages show them."""

    def __init__(self, language: str = "en"):
        self.columns = csv_columns()
        if language == "en":
            self.header = list(self.columns)
            self.kinds: dict[str, str] = {}
            self.statuses: dict[str, str] = {}
            self.yes, self.no = "true", "false"
            self.sheet = "Assets"
            return
        with force_locale(language):
            labels = column_labels()
            self.header = [str(labels[column]) for column in self.columns]
            self.kinds = {name: str(kind.label) for name, kind in KINDS.items()}
            self.statuses = {str(status): str(label) for status, label in STATUS_LABELS.items()}
            self.yes, self.no = str(YES), str(NO)
            self.sheet = str(_l("Assets"))

    def rows(self, records: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
        """Each record's values in column order, words in this language, other values as
        stored (floats, whole numbers, text, None)."""
        columns = self.columns
        attribute_names = all_attribute_names()
        for record in records:
            attributes = record["attributes"]
            flat = {**record, **{name: attributes.get(name) for name in attribute_names}}
            flat["kind"] = self.kinds.get(flat["kind"], flat["kind"])
            flat["status"] = self.statuses.get(flat["status"], flat["status"])
            values = [flat.get(column) for column in columns]
            yield [
                (self.yes if value else self.no) if isinstance(value, bool) else value
                for value in values
            ]


def csv_cell(value: Any) -> str:
    """Numbers as they read, text formula-safe (``core.export.formula_safe``; the importer
    undoes it)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return formula_safe(str(value))


def export_csv(records: Iterable[dict[str, Any]], out: BinaryIO, language: str = "en") -> None:
    """CSV in UTF-8, written to ``out`` a piece at a time; in Chinese it starts with the byte
    order mark, so that Excel reads it as UTF-8."""
    words = ExportWords(language)
    buffer = io.StringIO(newline="")
    if language != "en":
        buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(words.header)
    for values in words.rows(records):
        writer.writerow([csv_cell(value) for value in values])
        if buffer.tell() >= WRITE_CHUNK_CHARACTERS:
            out.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode())


def export_xlsx(records: Iterable[dict[str, Any]], out: BinaryIO, language: str = "en") -> None:
    """One sheet: a bold, frozen header row; text cells for text (codes and registration
    numbers keep their zeros, a leading = stays text), numbers for coordinates (written in
    full, read back exactly) and counts, date cells for dates. Written to ``out`` through
    temporary files (openpyxl's write-only sheet), not memory."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    words = ExportWords(language)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(words.sheet)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(words.columns, start=1):
        width = XLSX_WIDE_COLUMNS.get(column, 14)
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header = []
    for label in words.header:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    dates = {index for index, column in enumerate(words.columns) if column == "installed_on"}
    for values in words.rows(records):
        sheet.append(
            [xlsx_cell(sheet, value, index in dates) for index, value in enumerate(values)]
        )
    write_deterministic_workbook(workbook, out)


def xlsx_cell(sheet, value: Any, is_date: bool):
    from openpyxl.cell import WriteOnlyCell

    if value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        # openpyxl writes floats with 16 significant digits; repr gives every one needed.
        cell = WriteOnlyCell(sheet, value=repr(value))
        cell.data_type = "n"
        return cell
    if is_date:
        cell = WriteOnlyCell(sheet, value=date.fromisoformat(value))
        cell.number_format = "yyyy-mm-dd"
        return cell
    return xlsx_text_cell(sheet, str(value))


def write_deterministic_workbook(workbook, out: BinaryIO) -> None:
    """The workbook's bytes, the same for the same contents: its own created and modified
    times and every zip entry's time are fixed. Each entry is copied a piece at a time (a
    million assets' sheet is some gigabytes of XML); ``out`` is written from its start to
    its end, never sought (a pipe will do)."""
    from datetime import datetime

    from openpyxl.writer.excel import ExcelWriter

    moment = datetime(*XLSX_TIMESTAMP)
    workbook.properties.creator = "Safety Asset Registry"
    workbook.properties.created = workbook.properties.modified = moment
    with tempfile.TemporaryFile() as written, tempfile.TemporaryFile() as fixed:
        ExcelWriter(workbook, zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED)).save()
        with (
            zipfile.ZipFile(written) as source,
            zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for entry in source.infolist():
                info = zipfile.ZipInfo(entry.filename, date_time=XLSX_TIMESTAMP)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                # Known in advance, as when the entry was written whole: the same headers.
                info.file_size = entry.file_size
                with source.open(entry) as data, target.open(info, "w") as copy:
                    shutil.copyfileobj(data, copy, COPY_CHUNK_BYTES)
        fixed.seek(0)
        shutil.copyfileobj(fixed, out, COPY_CHUNK_BYTES)


def geojson_feature(record: dict[str, Any], attribute_names: list[str]) -> dict[str, Any]:
    properties = {name: record[name] for name in PROPERTY_FIELDS}
    properties["grid"] = record["grid"]
    properties.update({name: record["attributes"].get(name) for name in attribute_names})
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [record["longitude"], record["latitude"]]},
        "properties": properties,
    }


def export_geojson(records: Iterable[dict[str, Any]], out: BinaryIO) -> None:
    """An RFC 7946 FeatureCollection, one feature per line, written to ``out`` in UTF-8 a
    piece at a time."""
    attribute_names = all_attribute_names()
    pieces = ['{"type": "FeatureCollection", "features": [\n']
    length = 0
    separator = ""
    for record in records:
        line = json.dumps(geojson_feature(record, attribute_names), ensure_ascii=False)
        pieces.append(separator + line)
        separator = ",\n"
        length += len(line)
        if length >= WRITE_CHUNK_CHARACTERS:
            out.write("".join(pieces).encode())
            pieces.clear()
            length = 0
    pieces.append(("\n" if separator else "") + "]}\n")
    out.write("".join(pieces).encode())


def check_exportable(fmt: str) -> None:
    """Raises ``TooManyRowsError`` when a workbook could not hold every asset."""
    if fmt == "xlsx" and more_rows_than_a_sheet_holds(select(Asset.id)):
        raise TooManyRowsError


def write_assets(fmt: str, out: BinaryIO, language: str = "en") -> None:
    """Every asset as ``fmt`` to ``out``: CSV, GeoJSON (always as stored: programs read it)
    or an .xlsx workbook (``check_exportable`` first); rows read and written in batches,
    whatever the registry's size."""
    records = export_records()
    if fmt == "xlsx":
        export_xlsx(records, out, language)
    elif fmt == "csv":
        export_csv(records, out, language)
    else:
        export_geojson(records, out)


def export_assets(fmt: str, language: str = "en") -> str | bytes:
    """``write_assets`` in memory: CSV or GeoJSON text, or the bytes of a workbook."""
    out = io.BytesIO()
    write_assets(fmt, out, language)
    return out.getvalue() if fmt == "xlsx" else out.getvalue().decode()
