"""Reading and writing the registry as CSV or GeoJSON, and the bulk write both imports share.

Export writes what import reads: the same columns, coordinates as the shortest ``repr`` of
the stored float, booleans as ``true``/``false``, rows ordered by code, so a round trip is
byte-identical.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely import STRtree
from sqlalchemy import select

from assets.grids import GridArea, GridLocator
from assets.kinds import all_attribute_names
from assets.models import Asset, Grid, Site
from assets.services import (
    BASE_FIELDS,
    AssetValidationError,
    AssetValidator,
    CleanAsset,
    record_of,
    site_ids_by_name,
)
from core.audit import AuditEntry, audit_row, current_actor
from core.clock import now_utc
from core.errors import ValidationError
from core.extensions import db
from core.importing import ImportCheck, Problem
from core.spatial import bulk_insert as spatial_bulk_insert
from core.spatial import deferred_spatial_index, latitude_of, longitude_of

FORMATS = ("csv", "geojson")
EXTENSIONS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson"}
REQUIRED_COLUMNS = ("code", "kind", "name", "longitude", "latitude")
PROPERTY_FIELDS = tuple(name for name in BASE_FIELDS if name not in ("longitude", "latitude"))
PROGRESS_THRESHOLD = 1000

# (where, data): where is "line 3" or "feature 2"; data is validator input.
SourceRow = tuple[str, dict[str, Any]]
Progress = Callable[[Iterable, int], Any]


class ImportFileError(ValidationError):
    """The file cannot be read as the format at all (nothing was validated or written)."""

    def __init__(self, message: str):
        super().__init__({"file": message}, message)


@dataclass
class ImportResult:
    imported: int
    problems: list[str]


def csv_columns() -> list[str]:
    return [*BASE_FIELDS, "grid", *all_attribute_names()]


def format_of(path: Path, forced: str | None = None) -> str:
    if forced:
        return forced
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name}: use a .csv or .geojson file, or --format"
        )
    return fmt


# --- reading -----------------------------------------------------------------------------


def decode_text(raw: bytes) -> str:
    """UTF-8 text, with or without the BOM that Excel writes."""
    if b"\x00" in raw:
        raise ImportFileError("this is a binary file, not UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"not UTF-8 text (byte {error.start})") from None


def input_from(values: dict[str, Any], attribute_names: set[str]) -> dict[str, Any]:
    """Validator input from one flat row: base fields, attributes nested, grid ignored."""
    data: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key, value in values.items():
        if key == "grid":
            continue
        if key in attribute_names:
            if value is not None and value != "":
                attributes[key] = value
        else:
            data[key] = value
    data["attributes"] = attributes
    return data


def read_csv_rows(text: str) -> list[SourceRow]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError("the file is empty: expected a header row")
        header = [name.strip() for name in header]
        check_header(header)
        attribute_names = set(all_attribute_names())
        rows: list[SourceRow] = []
        line = reader.line_num
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            where = f"line {start}"
            if len(cells) > len(header):
                rows.append((where, {"_problem": "has more cells than the header"}))
                continue
            values = {name: cell for name, cell in zip(header, cells, strict=False) if name}
            rows.append((where, input_from(values, attribute_names)))
    except csv.Error as error:
        raise ImportFileError(
            f"not a readable CSV file (line {reader.line_num}): {error}"
        ) from None
    return rows


def check_header(header: list[str]) -> None:
    known = set(csv_columns())
    unknown = [name for name in header if name and name not in known]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    if duplicated:
        problems.append(f"repeated column(s): {', '.join(duplicated)}")
    if problems:
        raise ImportFileError("line 1 (header): " + "; ".join(problems))


def read_geojson_rows(text: str) -> list[SourceRow]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportFileError(f"not valid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFileError("not a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise ImportFileError("the FeatureCollection has no list of features")
    attribute_names = set(all_attribute_names())
    rows: list[SourceRow] = []
    for number, feature in enumerate(features, start=1):
        longitude, latitude = point_of(feature, number)
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise ImportFileError(f"feature {number}: properties: not an object")
        properties = dict(properties)
        nested = properties.pop("attributes", None)
        data = input_from(properties, attribute_names)
        if isinstance(nested, dict):
            data["attributes"] = {**nested, **data["attributes"]}
        elif nested is not None:
            data["attributes"] = nested
        data["longitude"], data["latitude"] = longitude, latitude
        rows.append((f"feature {number}", data))
    return rows


def point_of(feature: Any, number: int) -> tuple[Any, Any]:
    where = f"feature {number}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ImportFileError(f"{where}: not a GeoJSON Feature")
    geometry = feature.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind != "Point":
        raise ImportFileError(f"{where}: geometry: must be a Point, not {kind or 'missing'}")
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
        raise ImportFileError(f"{where}: geometry: coordinates must be [longitude, latitude]")
    return coordinates[0], coordinates[1]


def read_rows(path: Path, fmt: str) -> list[SourceRow]:
    text = decode_text(path.read_bytes())
    return read_csv_rows(text) if fmt == "csv" else read_geojson_rows(text)


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
    for _where, data in rows:
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
) -> tuple[list[CleanAsset], list[str]]:
    """Every row checked with one shared validator: the clean assets and every problem found."""
    locator = BatchGridLocator(GridLocator.from_database(), points_of(rows))
    validator = AssetValidator(locator, site_ids_by_name() if sites is None else sites)
    cleans: list[CleanAsset] = []
    problems: list[str] = []
    first_line: dict[str, str] = {}
    with progress(rows, len(rows)) if progress else nullcontext(rows) as items:
        for where, data in items:
            if "_problem" in data:
                problems.append(f"{where}: row: {data['_problem']}")
                continue
            try:
                clean = validator.validate(data)
            except AssetValidationError as error:
                problems.extend(
                    f"{where}: {name}: {reason}" for name, reason in error.errors.items()
                )
                continue
            if clean.code in first_line:
                problems.append(f"{where}: code: {clean.code} repeats {first_line[clean.code]}")
                continue
            first_line[clean.code] = where
            cleans.append(clean)
    for code in sorted(existing_codes(first_line)):
        problems.append(f"{first_line[code]}: code: an asset with code {code} exists already")
    problems.sort(key=problem_order)
    return cleans, problems


def problem_order(problem: str) -> tuple[int, str]:
    label, _, rest = problem.partition(":")
    return int(label.split()[-1]), rest


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


def import_assets(path: Path, fmt: str | None = None, progress: Progress | None = None):
    """Import every row of ``path`` in one transaction, or nothing if any row is bad."""
    with gc_paused():
        rows = read_rows(path, format_of(path, fmt))
        sites = site_ids_by_name()
        if len(rows) <= PROGRESS_THRESHOLD:
            progress = None
        cleans, problems = validate_rows(rows, sites, progress)
        if problems:
            db.session.rollback()
            return ImportResult(0, problems)
        count = insert_assets(cleans, "import", {site_id: name for name, site_id in sites.items()})
        db.session.commit()
    return ImportResult(count, [])


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
    """Every asset in input form, ordered by code, coordinates read in SQL."""
    query = (
        select(
            Asset,
            longitude_of(Asset.location).label("longitude"),
            latitude_of(Asset.location).label("latitude"),
            Grid.code.label("grid"),
            Site.name.label("site"),
        )
        .outerjoin(Grid, Asset.grid_id == Grid.id)
        .outerjoin(Site, Asset.site_id == Site.id)
        .order_by(Asset.code)
    )
    for asset, longitude, latitude, grid, site in db.session.execute(query):
        yield record_of(asset, float(longitude), float(latitude), grid, site)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def export_csv(records: Iterable[dict[str, Any]]) -> str:
    columns = csv_columns()
    attribute_names = all_attribute_names()
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for record in records:
        flat = {**record, **{name: record["attributes"].get(name) for name in attribute_names}}
        writer.writerow([csv_cell(flat.get(column)) for column in columns])
    return buffer.getvalue()


def geojson_feature(record: dict[str, Any], attribute_names: list[str]) -> dict[str, Any]:
    properties = {name: record[name] for name in PROPERTY_FIELDS}
    properties["grid"] = record["grid"]
    properties.update({name: record["attributes"].get(name) for name in attribute_names})
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [record["longitude"], record["latitude"]]},
        "properties": properties,
    }


def export_geojson(records: Iterable[dict[str, Any]]) -> str:
    """An RFC 7946 FeatureCollection, one feature per line."""
    attribute_names = all_attribute_names()
    lines = [
        json.dumps(geojson_feature(record, attribute_names), ensure_ascii=False)
        for record in records
    ]
    body = ",\n".join(lines)
    return '{"type": "FeatureCollection", "features": [\n' + body + ("\n" if lines else "") + "]}\n"


def export_assets(fmt: str) -> str:
    records = export_records()
    return export_csv(records) if fmt == "csv" else export_geojson(records)


# --- the Imports page's view of this importer (core.importing) ----------------------------


def problem_from_text(text: str) -> Problem:
    where, _, rest = text.partition(": ")
    place, _, number = where.partition(" ")
    field_name, _, reason = rest.partition(": ")
    if not reason:
        field_name, reason = "", rest
    return Problem(place, int(number) if number.isdigit() else None, field_name or None, reason)


def check_file(path: Path, options: dict[str, Any]) -> ImportCheck:
    try:
        rows = read_rows(path, format_of(path, options.get("format")))
        cleans, problems = validate_rows(rows)
    except ImportFileError as error:
        return ImportCheck("assets", problems=[Problem("file", None, None, str(error))])
    finally:
        db.session.rollback()
    if problems:
        return ImportCheck("assets", problems=[problem_from_text(text) for text in problems])
    return ImportCheck("assets", count=len(cleans), summary={"new": len(cleans)})


def apply_file(path: Path, options: dict[str, Any]) -> ImportCheck:
    try:
        result = import_assets(path, options.get("format"))
    except ImportFileError as error:
        return ImportCheck("assets", problems=[Problem("file", None, None, str(error))])
    problems = [problem_from_text(text) for text in result.problems]
    return ImportCheck("assets", count=result.imported, problems=problems)
