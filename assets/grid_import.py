"""Grids from a district's own GIS file: `flask grids import FILE` and the Imports page.

Reading: GDAL (through pyogrio) reads GeoJSON, GeoPackage, Shapefile (a ``.shp``, or a
``.zip`` holding one, read through ``/vsizip/``) and KML. The coordinates are reprojected
from the CRS the file declares to WGS-84, longitude first (pyproj, ``always_xy``). A file
that declares no CRS, or one pyproj cannot use, is refused unless the ``crs`` option says
what it is (``crs`` always wins over what the file declares). GeoJSON and KML are WGS-84
by definition; GDAL reports them so.

Fields: ``code``, ``name``, ``level`` (1 or 2, also 一级/二级) and ``parent`` (the code of a
first-level grid), or 编码/名称/级别/上级, or the fields the ``*_field`` options name; the
grid leader's ``leader_name``/网格长, ``leader_phone``/电话, ``leader_email``/邮箱 when the
file has them (a file without them leaves the stored leaders alone).

Checked before anything is written, every problem naming its feature and field: the
geometry is one polygon (a one-part MultiPolygon is one), its rings closed; an invalid
polygon that ``make_valid`` repairs into one polygon of nearly the same area is taken with a
warning, any other is refused; codes are unique in the file; a first-level grid has no
parent and a second-level one names a first-level grid of the file or the database, and
lies within it; siblings (grids of one parent, or first-level grids) do not overlap. The
last two are measured in metres in an equal-area projection centred on the file, with a
tolerance for digitising slivers: a part at most ``SLIVER_WIDTH_M`` wide, or at most
``SLIVER_SHARE`` of the smaller grid's area, does not count. What is checked is the district
as it will be: the file's grids over the database's, the database's other grids kept.

Writing, all in one transaction: grids are created or updated by code (each audited), and
every asset whose point now lies in another most-specific grid (``GridLocator``, the rule
``assets.services`` applies) moves there, each move audited as ``regrid``.
"""

from __future__ import annotations

import codecs
import math
import re
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from geoalchemy2.shape import from_shape, to_shape
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import select, update

from assets.grids import GridArea, GridLocator, LocatedRecords, located_records
from assets.io import BatchGridLocator
from assets.models import Grid
from assets.services import in_china
from core.audit import AuditEntry, audit_row, changed_fields, current_actor, record_change
from core.clock import now_utc
from core.extensions import db
from core.importing import ImportCheck, Problem
from core.spatial import SRID, bulk_insert, latitude_of, longitude_of

EXTENSIONS = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".kml")
# Each field under the names a file may give it, in order of preference (case does not
# matter). A Shapefile cuts field names to 10 characters: leader_nam, leader_pho, leader_ema.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "code": ("code", "编码"),
    "name": ("name", "名称"),
    "level": ("level", "级别"),
    "parent": ("parent", "上级"),
    "leader_name": ("leader_name", "leader_nam", "网格长"),
    "leader_phone": ("leader_phone", "leader_pho", "电话"),
    "leader_email": ("leader_email", "leader_ema", "邮箱"),
}
REQUIRED_FIELDS = ("code", "name", "level")
LEADER_FIELDS = ("leader_name", "leader_phone", "leader_email")
LEVELS = {"1": 1, "2": 2, "一级": 1, "二级": 2, "一": 1, "二": 2, "1级": 1, "2级": 2}
TEXT_LIMITS = {"code": 20, "name": 200, "leader_name": 100, "leader_phone": 40, "leader_email": 254}
CODE_PATTERN = re.compile(r"[\w.-]+")

# Digitising slivers: an overlap, or a part of a second-level grid outside its parent, this
# narrow (metres) or this small (share of the smaller grid's area) is not a problem.
SLIVER_WIDTH_M = 1.0
SLIVER_SHARE = 0.001
# A repaired polygon may differ from the invalid one by this share of its area.
REPAIR_AREA_SHARE = 0.01
# Two boundaries this close (degrees, ~1 mm, however many vertices each has) are the same.
SAME_BOUNDARY_DEGREES = 1e-8
# What a Shapefile that does not say its encoding is tried as, in order.
CHINESE_ENCODINGS = ("UTF-8", "GB18030")
GDAL_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
)


class FileProblem(Exception):
    """The file cannot be read at all; nothing further is checked."""

    def __init__(self, field_name: str | None, reason: str):
        super().__init__(reason)
        self.problems = [Problem("file", None, field_name, reason)]


@dataclass
class SourceFeature:
    number: int  # 1-based, in file order
    values: dict[str, Any]  # by our field name, only the fields the file has
    wkb: bytes | None


@dataclass
class GridSource:
    features: list[SourceFeature]
    fields: set[str]  # our names of the fields the file has
    crs: CRS
    to_wgs84: Transformer


@dataclass
class GridFeature:
    """One feature's grid, its attributes checked (``polygon`` None when its geometry is bad)."""

    number: int
    code: str
    name: str
    level: int
    parent: str | None
    leaders: dict[str, str | None]  # only the leader fields the file has
    polygon: Polygon | None = None  # WGS-84


@dataclass
class StoredGrid:
    id: int
    code: str
    name: str
    level: int
    parent: str | None
    leaders: dict[str, str | None]
    polygon: Polygon


@dataclass
class PlannedGrid:
    """A grid of the district as it will be: from the file (``feature``) or the database."""

    code: str
    level: int
    parent: str | None
    polygon: Polygon | None
    feature: int | None = None
    metric: Polygon | None = None


@dataclass
class GridPlan:
    """What importing the file would do, once checked."""

    check: ImportCheck
    grids: list[GridFeature] = field(default_factory=list)
    stored: dict[str, StoredGrid] = field(default_factory=dict)
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


# --- the public functions (CLI, Imports page, tests) -------------------------------------


def check_grid_file(path: Path, options: dict[str, Any]) -> ImportCheck:
    """Read and check every feature of ``path``; write nothing. The summary says how many
    grids would be created, updated or left unchanged and how many assets would move."""
    plan = plan_grid_import(Path(path), options)
    if plan.check.ok:
        count_moves(plan.check, grid_moves(planned_locator(plan)))
    return plan.check


def apply_grid_file(path: Path, options: dict[str, Any]) -> ImportCheck:
    """Check ``path`` again and, only if nothing is wrong, write its grids and move the
    assets they now hold, in one transaction; otherwise write nothing."""
    try:
        plan = plan_grid_import(Path(path), options)
        if not plan.check.ok:
            db.session.rollback()
            return plan.check
        write_grids(plan)
        db.session.flush()
        moves = grid_moves(GridLocator.from_database())
        write_moves(moves)
        count_moves(plan.check, moves)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return plan.check


def plan_grid_import(path: Path, options: dict[str, Any]) -> GridPlan:
    check = ImportCheck(kind="grids")
    plan = GridPlan(check)
    try:
        source = read_source(path, options)
    except FileProblem as problem:
        check.problems.extend(problem.problems)
        return plan
    grids, bad_codes = checked_features(source, check)
    plan.stored = stored_grids()
    check_district(grids, plan.stored, check, bad_codes)
    plan.grids = [grid for grid in grids if grid.polygon is not None]
    compare_with_stored(plan)
    check.summary = {
        "new": len(plan.new),
        "updated": len(plan.updated),
        "unchanged": len(plan.unchanged),
    }
    check.count = len(plan.new) + len(plan.updated)
    return plan


# --- reading the file ----------------------------------------------------------------------


def dataset_name(path: Path) -> str:
    """What GDAL opens: the file itself, or the one Shapefile inside a zip."""
    extension = path.suffix.lower()
    if extension not in EXTENSIONS:
        raise FileProblem(
            None,
            _(
                "Cannot read %(extension)s files: use GeoJSON, GeoPackage, Shapefile (.shp or "
                "a .zip holding one) or KML.",
                extension=extension or path.name,
            ),
        )
    if extension != ".zip":
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                name
                for name in archive.namelist()
                if name.lower().endswith(".shp") and not name.startswith("__MACOSX/")
            ]
    except (zipfile.BadZipFile, OSError):
        raise FileProblem(None, _("The file is not a readable zip archive.")) from None
    if not members:
        raise FileProblem(None, _("The zip archive holds no Shapefile (.shp)."))
    if len(members) > 1:
        raise FileProblem(
            None,
            _(
                "The zip archive holds several Shapefiles (%(names)s): zip one only.",
                names=", ".join(members),
            ),
        )
    return f"/vsizip/{path.resolve()}/{members[0]}"


def read_source(path: Path, options: dict[str, Any]) -> GridSource:
    dataset = dataset_name(path)
    encoding = (options.get("encoding") or "").strip() or None
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise FileProblem(
                "encoding", _("Unknown text encoding %(encoding)s.", encoding=encoding)
            ) from None
    meta, geometries, columns = read_layer(dataset, options, encoding)
    if encoding is None and guessed_latin(dataset, meta, columns):
        meta, geometries, columns = reread_chinese(dataset, options, (meta, geometries, columns))
    if len(geometries) == 0:
        raise FileProblem(None, _("The file holds no features."))
    names = [str(name) for name in meta["fields"]]
    problems: list[Problem] = []
    chosen: dict[str, str] = {}
    crs = transformer = None
    try:
        chosen = chosen_fields(names, columns, options)
    except FileProblem as problem:
        problems.extend(problem.problems)
    try:
        crs, transformer = source_crs(meta.get("crs"), options.get("crs"))
    except FileProblem as problem:
        problems.extend(problem.problems)
    if problems:
        raise FileProblems(problems)
    features = [
        SourceFeature(
            index + 1,
            {ours: columns[names.index(theirs)][index] for ours, theirs in chosen.items()},
            geometries[index],
        )
        for index in range(len(geometries))
    ]
    return GridSource(features, set(chosen), crs, transformer)


def read_layer(dataset: str, options: dict[str, Any], encoding: str | None) -> tuple:
    """(meta, geometries as WKB, field columns) of the grids' layer."""
    try:
        # GDAL's notes on what it read (a ring it closed…) arrive as warnings; the checks
        # say what matters, feature by feature.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = layer_of(dataset, options)
            meta, _fids, geometries, columns = pyogrio.raw.read(
                dataset, layer=layer, encoding=encoding
            )
    except UnicodeDecodeError:
        raise FileProblem(
            "encoding", _("The file's text is not in %(encoding)s.", encoding=encoding)
        ) from None
    except (*GDAL_ERRORS, OSError):
        raise FileProblem(
            None, _("The file cannot be read as GeoJSON, GeoPackage, Shapefile or KML.")
        ) from None
    return meta, geometries, columns


def guessed_latin(dataset: str, meta: dict, columns: list) -> bool:
    """A Shapefile that does not say its encoding (no .cpg) is read by GDAL as Latin-1;
    with any text beyond ASCII it is more likely Chinese."""
    if not dataset.lower().endswith(".shp") or meta.get("encoding") != "ISO-8859-1":
        return False
    texts = [str(name) for name in meta["fields"]]
    texts += [value for column in columns for value in column if isinstance(value, str)]
    return not all(text.isascii() for text in texts)


def reread_chinese(dataset: str, options: dict[str, Any], latin: tuple) -> tuple:
    """The Shapefile read as UTF-8 if it is valid UTF-8, else as GB18030 (what Chinese GIS
    software writes, a superset of GBK); ``--encoding`` says otherwise."""
    for encoding in CHINESE_ENCODINGS:
        try:
            return read_layer(dataset, options, encoding)
        except FileProblem:
            continue
    return latin


def layer_of(dataset: str, options: dict[str, Any]) -> str:
    layers = [str(name) for name, _kind in pyogrio.list_layers(dataset)]
    wanted = (options.get("layer") or "").strip()
    if wanted:
        if wanted not in layers:
            raise FileProblem(
                "layer",
                _(
                    "The file has no layer %(layer)s (it has: %(layers)s).",
                    layer=wanted,
                    layers=", ".join(layers),
                ),
            )
        return wanted
    if not layers:
        raise FileProblem(None, _("The file holds no features."))
    if len(layers) > 1:
        raise FileProblem(
            "layer",
            _(
                "The file holds several layers (%(layers)s): name the grids' layer (--layer).",
                layers=", ".join(layers),
            ),
        )
    return layers[0]


def chosen_fields(names: list[str], columns: list, options: dict[str, Any]) -> dict[str, str]:
    """Our field name → the file's, for the fields the file has. An option naming a field
    wins; otherwise the first known name that has any value (a KML's empty ``Name`` gives
    way to its 名称), else the first known name present."""
    by_folded: dict[str, list[str]] = {}
    for name in names:
        by_folded.setdefault(name.strip().casefold(), []).append(name)
    chosen: dict[str, str] = {}
    missing: list[Problem] = []
    for ours, known in FIELD_NAMES.items():
        option = (options.get(f"{ours}_field") or "").strip()
        if option:
            found = by_folded.get(option.casefold())
            if found:
                chosen[ours] = found[0]
            else:
                missing.append(
                    Problem(
                        "file",
                        None,
                        ours,
                        _(
                            "The file has no field %(name)s (it has: %(names)s).",
                            name=option,
                            names=", ".join(names),
                        ),
                    )
                )
            continue
        present = [name for each in known for name in by_folded.get(each, [])]
        filled = [name for name in present if has_values(columns[names.index(name)])]
        if present:
            chosen[ours] = (filled or present)[0]
        elif ours in REQUIRED_FIELDS:
            missing.append(
                Problem(
                    "file",
                    None,
                    ours,
                    _(
                        "The file has no %(field)s field (%(known)s): name it with "
                        "--%(field)s-field.",
                        field=ours,
                        known=" / ".join(known),
                    ),
                )
            )
    if missing:
        raise FileProblems(missing)
    return chosen


class FileProblems(FileProblem):
    """Several file-level problems at once (each missing field)."""

    def __init__(self, problems: list[Problem]):
        Exception.__init__(self, "; ".join(str(problem) for problem in problems))
        self.problems = problems


def has_values(column: Iterable[Any]) -> bool:
    return any(text_of(value) is not None for value in column)


def source_crs(declared: str | None, given: str | None) -> tuple[CRS, Transformer]:
    """The file's CRS (``given`` wins) and the transformer from it to WGS-84."""
    given = (given or "").strip()
    if given:
        try:
            crs = CRS.from_user_input(given)
        except CRSError:
            raise FileProblem(
                "crs", _("Unknown coordinate reference system %(crs)s.", crs=given)
            ) from None
    elif not declared:
        raise FileProblem(
            "crs",
            _(
                "The file declares no coordinate reference system (or one GDAL cannot read): "
                "say which it is with --crs, e.g. EPSG:4549."
            ),
        )
    else:
        try:
            crs = CRS.from_user_input(declared)
        except CRSError:
            crs = None
        if crs is None:
            raise FileProblem("crs", cannot_use_crs())
    try:
        transformer = Transformer.from_crs(crs, CRS.from_epsg(SRID), always_xy=True)
    except ProjError:
        if given:
            raise FileProblem(
                "crs",
                _("%(crs)s cannot be converted to longitude and latitude.", crs=given),
            ) from None
        raise FileProblem("crs", cannot_use_crs()) from None
    return crs, transformer


def cannot_use_crs() -> str:
    return _(
        "The file's coordinate reference system cannot be converted to longitude and "
        "latitude: say which it is with --crs, e.g. EPSG:4549."
    )


# --- one feature at a time ----------------------------------------------------------------


def text_of(value: Any) -> str | None:
    """A field's value as stripped text (numbers without a trailing .0), None when empty."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, np.integer | np.bool_):
        value = value.item()
    text = str(value).strip()
    return text or None


def checked_features(source: GridSource, check: ImportCheck) -> tuple[list[GridFeature], set[str]]:
    """The features whose attributes are good, and the codes of those whose are not (a
    grid naming one as its parent is not told that its parent is missing)."""
    grids: list[GridFeature] = []
    bad_codes: set[str] = set()
    for feature in source.features:
        problems: list[Problem] = []
        grid = feature_attributes(feature, source.fields, problems)
        polygon = feature_polygon(feature, source, problems, check.warnings)
        check.problems.extend(problems)
        if grid is not None:
            grid.polygon = polygon
            grids.append(grid)
        else:
            bad_codes.add((text_of(feature.values.get("code")) or "").upper())
    return grids, bad_codes


def feature_attributes(
    feature: SourceFeature, fields: set[str], problems: list[Problem]
) -> GridFeature | None:
    def problem(name: str, reason: str) -> None:
        problems.append(Problem("feature", feature.number, name, reason))

    values = {name: text_of(value) for name, value in feature.values.items()}
    too_long = {name for name, limit in TEXT_LIMITS.items() if len(values.get(name) or "") > limit}
    for name in sorted(too_long):
        problem(name, _("At most %(n)s characters.", n=TEXT_LIMITS[name]))
        values[name] = None
    code = (values.get("code") or "").upper()
    if not code and "code" not in too_long:
        problem("code", _("A grid needs a code."))
    elif code and not CODE_PATTERN.fullmatch(code):
        problem("code", _("A code is letters, digits, '-', '_' or '.', without spaces."))
        code = ""
    name = values.get("name")
    if not name and "name" not in too_long:
        problem("name", _("A grid needs a name."))
    level = LEVELS.get((values.get("level") or "").replace(" ", ""))
    if level is None:
        problem(
            "level",
            _(
                "Must be 1 or 2 (一级 or 二级), not %(value)s.",
                value=values.get("level") or _("empty"),
            ),
        )
    parent = values.get("parent")
    if parent is not None:
        parent = parent.upper()
    leaders = {name: values.get(name) for name in LEADER_FIELDS if name in fields}
    email = leaders.get("leader_email")
    if email:
        try:
            leaders["leader_email"] = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            problem("leader_email", _("Not a valid email address."))
    if not code or not name or level is None or any(p.field == "leader_email" for p in problems):
        return None
    return GridFeature(feature.number, code, name, level, parent, leaders)


def feature_polygon(
    feature: SourceFeature, source: GridSource, problems: list[Problem], notes: list[str]
) -> Polygon | None:
    """The feature's polygon in WGS-84, or None with the reason added to ``problems``."""

    def problem(reason: str) -> None:
        problems.append(Problem("feature", feature.number, "geometry", reason))

    if feature.wkb is None:
        problem(_("The feature has no geometry."))
        return None
    try:
        geometry = shapely.from_wkb(feature.wkb)
    except shapely.errors.GEOSException as error:
        if "closed" in str(error):
            problem(_("A ring of the polygon is not closed (its last point is not its first)."))
        else:
            problem(_("The geometry cannot be read."))
        return None
    polygon = one_polygon(shapely.force_2d(geometry), problem)
    if polygon is None:
        return None
    polygon = reprojected(polygon, source.to_wgs84)
    reason = coordinates_problem(polygon, source.crs)
    if reason:
        problem(reason)
        return None
    if not polygon.is_valid:
        polygon = repaired(polygon, problem)
        if polygon is None:
            return None
        notes.append(
            str(
                Problem(
                    "feature",
                    feature.number,
                    "geometry",
                    _("The polygon was invalid and has been repaired; check its shape."),
                )
            )
        )
    if polygon.area <= 0:
        problem(_("The polygon has no area."))
        return None
    return polygon


def one_polygon(geometry, problem) -> Polygon | None:
    if isinstance(geometry, MultiPolygon):
        parts = list(geometry.geoms)
        if len(parts) != 1:
            problem(
                _(
                    "A MultiPolygon of %(n)s parts: a grid is one polygon.",
                    n=len(parts),
                )
            )
            return None
        geometry = parts[0]
    if not isinstance(geometry, Polygon):
        problem(_("Must be a polygon, not a %(kind)s.", kind=geometry.geom_type))
        return None
    if geometry.is_empty:
        problem(_("The polygon is empty."))
        return None
    return geometry


def reprojected(polygon: Polygon, transformer: Transformer) -> Polygon:
    return shapely.transform(polygon, lambda x, y: transformer.transform(x, y), interleaved=False)


def coordinates_problem(polygon: Polygon, crs: CRS) -> str | None:
    coordinates = shapely.get_coordinates(polygon)
    longitudes, latitudes = coordinates[:, 0], coordinates[:, 1]
    if not np.isfinite(coordinates).all() or np.abs(longitudes).max() > 180:
        return not_degrees(crs)
    if np.abs(latitudes).max() > 90:
        min_lon, min_lat, max_lon, max_lat = polygon.bounds
        if in_china(min_lat, min_lon) and in_china(max_lat, max_lon):
            return _("Latitude and longitude look swapped.")
        return not_degrees(crs)
    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    if not (in_china(min_lon, min_lat) and in_china(max_lon, max_lat)):
        return _("The grid lies outside China.")
    return None


def not_degrees(crs: CRS) -> str:
    return _(
        "Its coordinates are not longitudes and latitudes once converted from %(crs)s: "
        "is that the file's coordinate reference system (--crs)?",
        crs=crs.name,
    )


def repaired(polygon: Polygon, problem) -> Polygon | None:
    """An invalid polygon made valid, if that gives one polygon of nearly the same area."""
    reason = shapely.is_valid_reason(polygon)
    parts = [
        part
        for part in polygon_parts(shapely.make_valid(polygon))
        if part.area > 0 and not part.is_empty
    ]
    if len(parts) == 1 and abs(parts[0].area - abs(polygon.area)) <= REPAIR_AREA_SHARE * max(
        parts[0].area, abs(polygon.area)
    ):
        return parts[0]
    problem(
        _(
            "The polygon is invalid (%(reason)s) and cannot be repaired into one polygon of "
            "the same area.",
            reason=reason,
        )
    )
    return None


def polygon_parts(geometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    if hasattr(geometry, "geoms"):
        return [part for each in geometry.geoms for part in polygon_parts(each)]
    return []


# --- the district as it will be --------------------------------------------------------------


def stored_grids() -> dict[str, StoredGrid]:
    rows = db.session.scalars(select(Grid).order_by(Grid.code)).all()
    codes = {grid.id: grid.code for grid in rows}
    return {
        grid.code: StoredGrid(
            grid.id,
            grid.code,
            grid.name,
            grid.level,
            codes.get(grid.parent_id),
            {name: getattr(grid, name) for name in LEADER_FIELDS},
            to_shape(grid.boundary),
        )
        for grid in rows
    }


def check_district(
    grids: list[GridFeature],
    stored: dict[str, StoredGrid],
    check: ImportCheck,
    bad_codes: set[str],
) -> None:
    """Codes, parents, containment and overlaps of the district as it will be."""

    def problem(number: int, name: str, reason: str) -> None:
        check.problems.append(Problem("feature", number, name, reason))

    first: dict[str, GridFeature] = {}
    for grid in grids:
        if grid.code in first:
            problem(
                grid.number,
                "code",
                _(
                    "%(code)s repeats feature %(number)s.",
                    code=grid.code,
                    number=first[grid.code].number,
                ),
            )
        else:
            first[grid.code] = grid
    grids[:] = list(first.values())
    planned = planned_grids(grids, stored)
    for grid in grids:
        reason = parent_problem(grid, planned)
        if reason and not (grid.parent in bad_codes and grid.parent not in planned):
            problem(grid.number, "parent", reason)
    for kept in planned.values():
        parent = planned.get(kept.parent or "")
        if kept.feature is None and parent and parent.feature is not None and parent.level == 2:
            problem(
                parent.feature,
                "level",
                _(
                    "Second-level grid %(code)s (in the database) has it as its parent: "
                    "it must stay a first-level grid.",
                    code=kept.code,
                ),
            )
    measure_in_metres(planned)
    check_containment(planned, problem)
    check_overlaps(planned, problem)


def planned_grids(
    grids: list[GridFeature], stored: dict[str, StoredGrid]
) -> dict[str, PlannedGrid]:
    planned = {
        grid.code: PlannedGrid(grid.code, grid.level, grid.parent, grid.polygon)
        for grid in stored.values()
    }
    for grid in grids:
        planned[grid.code] = PlannedGrid(
            grid.code,
            grid.level,
            grid.parent if grid.level == 2 else None,
            grid.polygon,
            grid.number,
        )
    return planned


def parent_problem(grid: GridFeature, planned: dict[str, PlannedGrid]) -> str | None:
    if grid.level == 1:
        if grid.parent:
            return _(
                "A first-level grid has no parent (this one names %(parent)s).", parent=grid.parent
            )
        return None
    if not grid.parent:
        return _("A second-level grid needs the code of its first-level grid.")
    parent = planned.get(grid.parent)
    if parent is None:
        return _("No grid %(parent)s in the file or the database.", parent=grid.parent)
    if parent.level != 1:
        return _("%(parent)s is a second-level grid, not a first-level one.", parent=grid.parent)
    return None


def measure_in_metres(planned: dict[str, PlannedGrid]) -> None:
    """Each polygon in an equal-area projection centred on the file's grids."""
    from_file = [grid.polygon for grid in planned.values() if grid.feature and grid.polygon]
    if not from_file:
        return
    min_lon, min_lat, max_lon, max_lat = shapely.MultiPolygon(from_file).bounds
    local = CRS.from_proj4(
        f"+proj=laea +lat_0={(min_lat + max_lat) / 2} +lon_0={(min_lon + max_lon) / 2} "
        "+datum=WGS84 +units=m +no_defs"
    )
    transformer = Transformer.from_crs(CRS.from_epsg(SRID), local, always_xy=True)
    for grid in planned.values():
        if grid.polygon is not None:
            metric = reprojected(grid.polygon, transformer)
            grid.metric = metric if metric.is_valid else shapely.make_valid(metric)


def is_sliver(part, reference_area: float) -> bool:
    """Too narrow or too small to be anything but a digitising slip."""
    if part.is_empty or part.area <= 0:
        return True
    if part.area <= SLIVER_SHARE * reference_area:
        return True
    return part.buffer(-SLIVER_WIDTH_M / 2).area <= 0


def check_containment(planned: dict[str, PlannedGrid], problem) -> None:
    for child in planned.values():
        parent = planned.get(child.parent or "")
        if child.level != 2 or parent is None or parent.level != 1:
            continue
        if child.feature is None and parent.feature is None:
            continue
        if child.metric is None or parent.metric is None:
            continue
        outside = child.metric.difference(parent.metric)
        if is_sliver(outside, child.metric.area):
            continue
        if child.feature is not None:
            problem(
                child.feature,
                "geometry",
                _(
                    "%(area)s m² of it lies outside its parent %(parent)s.",
                    area=round(outside.area),
                    parent=parent.code,
                ),
            )
        else:
            problem(
                parent.feature,
                "geometry",
                _(
                    "Second-level grid %(code)s (in the database) would lie partly outside it "
                    "(%(area)s m²).",
                    code=child.code,
                    area=round(outside.area),
                ),
            )


def check_overlaps(planned: dict[str, PlannedGrid], problem) -> None:
    groups: dict[tuple[int, str | None], list[PlannedGrid]] = {}
    for grid in planned.values():
        if grid.metric is not None:
            groups.setdefault((grid.level, grid.parent), []).append(grid)
    for members in groups.values():
        tree = shapely.STRtree([grid.metric for grid in members])
        for left, right in tree.query([grid.metric for grid in members]).T.tolist():
            if left >= right:
                continue
            one, other = members[left], members[right]
            if one.feature is None and other.feature is None:
                continue
            shared = one.metric.intersection(other.metric)
            if is_sliver(shared, min(one.metric.area, other.metric.area)):
                continue
            # Reported on the later feature of the file, naming the other grid.
            if other.feature is None or (one.feature is not None and one.feature > other.feature):
                one, other = other, one
            where = (
                _("feature %(number)s", number=one.feature)
                if one.feature is not None
                else _("in the database")
            )
            problem(
                other.feature,
                "geometry",
                _(
                    "It overlaps %(code)s (%(where)s) by %(area)s m².",
                    code=one.code,
                    where=where,
                    area=round(shared.area),
                ),
            )


# --- compared with the database ---------------------------------------------------------------


def same_boundary(one: Polygon, other: Polygon) -> bool:
    """The same shape, even drawn with other vertices (a GIS may add or drop some on the
    straight edges, or round the coordinates)."""
    if shapely.equals_exact(
        shapely.normalize(one), shapely.normalize(other), tolerance=SAME_BOUNDARY_DEGREES
    ):
        return True
    return shapely.hausdorff_distance(one, other, densify=0.25) <= SAME_BOUNDARY_DEGREES


def compare_with_stored(plan: GridPlan) -> None:
    for grid in plan.grids:
        stored = plan.stored.get(grid.code)
        if stored is None:
            plan.new.append(grid.code)
        elif grid_changes(stored, grid)[1]:
            plan.updated.append(grid.code)
        else:
            plan.unchanged.append(grid.code)


def grid_changes(stored: StoredGrid, grid: GridFeature) -> tuple[dict, dict]:
    """What the file changes of a stored grid, as audit values (before, after); the leaders
    only if the file has them."""
    before, after = stored_record(stored), feature_record(grid)
    if same_boundary(stored.polygon, grid.polygon):
        after["boundary"] = before["boundary"]
    return changed_fields(before, after)


def boundary_text(polygon: Polygon) -> str:
    return shapely.to_wkt(polygon, rounding_precision=9, trim=True)


def stored_record(stored: StoredGrid) -> dict[str, Any]:
    return {
        "code": stored.code,
        "name": stored.name,
        "level": stored.level,
        "parent": stored.parent,
        **stored.leaders,
        "boundary": boundary_text(stored.polygon),
    }


def feature_record(grid: GridFeature) -> dict[str, Any]:
    return {
        "code": grid.code,
        "name": grid.name,
        "level": grid.level,
        "parent": grid.parent if grid.level == 2 else None,
        **grid.leaders,
        "boundary": boundary_text(grid.polygon),
    }


# --- writing ---------------------------------------------------------------------------------


def write_grids(plan: GridPlan) -> None:
    """Create and update the file's grids (first level first, so parents exist), each
    audited; the caller commits."""
    rows = {grid.code: grid for grid in db.session.scalars(select(Grid))}
    for grid in sorted(plan.grids, key=lambda each: (each.level, each.number)):
        parent = rows[grid.parent] if grid.level == 2 else None
        stored = plan.stored.get(grid.code)
        if stored is None:
            row = Grid(
                code=grid.code,
                name=grid.name,
                level=grid.level,
                parent=parent,
                boundary=from_shape(grid.polygon, srid=SRID),
                **grid.leaders,
            )
            db.session.add(row)
            db.session.flush()
            rows[grid.code] = row
            record_change("create", "grid", grid.code, None, feature_record(grid))
            continue
        before, after = grid_changes(stored, grid)
        if not after:
            continue
        row = rows[grid.code]
        for name, value in after.items():
            if name == "parent":
                row.parent = parent
            elif name == "boundary":
                row.boundary = from_shape(grid.polygon, srid=SRID)
            else:
                setattr(row, name, value)
        record_change("update", "grid", grid.code, before, after)
    db.session.flush()


@dataclass(frozen=True)
class GridMove:
    """A record (asset, hazard…) whose point now lies in another grid."""

    records: LocatedRecords
    id: int
    code: str
    old: str | None  # grid codes
    new: str | None
    new_id: int | None


def planned_locator(plan: GridPlan) -> GridLocator:
    """The locator of the district as the file would leave it (new grids with stand-in ids)."""
    areas = {
        code: GridArea(stored.id, code, stored.level, stored.polygon)
        for code, stored in plan.stored.items()
    }
    for grid in plan.grids:
        stored = plan.stored.get(grid.code)
        areas[grid.code] = GridArea(
            stored.id if stored else -grid.number, grid.code, grid.level, grid.polygon
        )
    return GridLocator(list(areas.values()))


def grid_moves(locator: GridLocator) -> list[GridMove]:
    """Every asset (and every other located record) whose most specific grid under
    ``locator`` is not the one it has."""
    codes = dict(db.session.execute(select(Grid.id, Grid.code)).all())
    moves = []
    for records in located_records():
        model = records.model
        rows = db.session.execute(
            select(
                model.id,
                getattr(model, records.key),
                model.grid_id,
                longitude_of(model.location),
                latitude_of(model.location),
            ).order_by(getattr(model, records.key))
        ).all()
        batch = BatchGridLocator(locator, sorted({(row[3], row[4]) for row in rows}))
        for record_id, code, grid_id, longitude, latitude in rows:
            area = batch.grid_for(longitude, latitude)
            old = codes.get(grid_id) if grid_id is not None else None
            new = area.code if area else None
            if old != new:
                moves.append(
                    GridMove(records, record_id, code, old, new, area.id if area else None)
                )
    return moves


def count_moves(check: ImportCheck, moves: list[GridMove]) -> None:
    """``assets_moved``, ``hazards_moved``… in the summary; warnings for assets left out."""
    for records in located_records():
        check.summary[f"{records.entity_type}s_moved"] = sum(
            1 for move in moves if move.records is records
        )
    check.warnings.extend(outside_warnings(moves))


def write_moves(moves: list[GridMove]) -> None:
    """Each moved record into its new grid, one ``regrid`` audit entry each."""
    if not moves:
        return
    now = now_utc()
    actor = current_actor()
    audits = []
    for records in located_records():
        mine = [move for move in moves if move.records is records]
        if not mine:
            continue
        db.session.execute(
            update(records.model),
            [{"id": move.id, "grid_id": move.new_id, "updated_at": now} for move in mine],
        )
        for move in mine:
            row = audit_row(
                "regrid",
                records.entity_type,
                move.code,
                {"grid": move.old},
                {"grid": move.new},
                actor,
            )
            row["at"] = now
            audits.append(row)
    bulk_insert(db.session, AuditEntry.__table__, audits)


def outside_warnings(moves: list[GridMove]) -> list[str]:
    outside = [move.code for move in moves if move.new is None and move.records.warn_outside]
    if not outside:
        return []
    shown = ", ".join(outside[:20]) + (" …" if len(outside) > 20 else "")
    return [
        _(
            "%(n)s asset(s) lie outside every grid: %(codes)s.",
            n=len(outside),
            codes=shown,
        )
    ]
