"""Registry logic shared by pages, the API, the command line and the demo loader."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from geoalchemy2.shape import to_shape
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, update

from accounts.access import acting_contractor_id
from accounts.models import User
from accounts.scope import ALL_GRIDS
from assets.grids import GridArea, GridLocator, PointGridLocator
from assets.kinds import KINDS, AssetKind, kind_named
from assets.models import Asset, AssetStatus, ContractorAsset, Grid, Site
from core.audit import changed_fields, record_change
from core.clock import district_today
from core.errors import ConflictError, ValidationError
from core.extensions import db
from core.inputs import date_in_range, date_range_message
from core.spatial import point_value

# Mainland China with a margin; a point outside it whose swap falls inside is a swap.
CHINA_BOUNDS = (73.0, 18.0, 135.5, 54.0)
# The columns' lengths (assets.models): longer text is refused, never cut or stored.
CODE_MAX_LENGTH = 40
TEXT_LIMITS = {"name": 200, "address": 300, "manufacturer": 200, "model": 200, "serial_number": 100}
BASE_FIELDS = (
    "code",
    "kind",
    "name",
    "longitude",
    "latitude",
    "site",
    "address",
    "status",
    "installed_on",
    "manufacturer",
    "model",
    "serial_number",
    "notes",
)
# How the pages name each field (and the Chinese or English column headers of a table file).
FIELD_LABELS = {
    "code": _l("Code"),
    "kind": _l("Kind"),
    "name": _l("Name"),
    "longitude": _l("Longitude"),
    "latitude": _l("Latitude"),
    "site": _l("Site"),
    "address": _l("Address"),
    "status": _l("Status"),
    "installed_on": _l("Installed on"),
    "manufacturer": _l("Manufacturer"),
    "model": _l("Model"),
    "serial_number": _l("Serial number"),
    "notes": _l("Notes"),
    "grid": _l("Grid"),
}
STATUS_LABELS = {
    AssetStatus.ACTIVE: _l("Active"),
    AssetStatus.FAULTY: _l("Faulty"),
    AssetStatus.RETIRED: _l("Retired"),
}


# The list filters' value for "in no grid".
NO_GRID = "none"


class AssetValidationError(ValidationError):
    """Bad input; ``errors`` maps each bad field to the reason."""


class DuplicateCodeError(ConflictError):
    def __init__(self, code: str):
        super().__init__(f"an asset with code {code} exists already", "code")
        self.code = code


@dataclass
class CleanAsset:
    """Validated values, ready to write."""

    code: str
    kind: str
    name: str
    longitude: float
    latitude: float
    grid: GridArea | None
    site_id: int | None = None
    address: str | None = None
    status: str = AssetStatus.ACTIVE
    installed_on: date | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    notes: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def column_values(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "name": self.name,
            "location": point_value(self.longitude, self.latitude),
            "grid_id": self.grid.id if self.grid else None,
            "site_id": self.site_id,
            "address": self.address,
            "status": self.status,
            "installed_on": self.installed_on,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "serial_number": self.serial_number,
            "notes": self.notes,
            "attributes": self.attributes,
        }


class AssetValidator:
    """Checks one asset's input; reusable across the rows of an import."""

    def __init__(
        self,
        locator: GridLocator | PointGridLocator | None = None,
        sites: dict[str, int] | None = None,
    ):
        self.locator = locator or PointGridLocator()
        self.sites = sites  # None: each site is looked up by its name (``site_named``)
        self.strict = current_app.config["STRICT_DISTRICT"]
        self.today = district_today()

    def validate(self, data: Mapping[str, Any], existing: Asset | None = None) -> CleanAsset:
        """Check ``data`` (for a new asset, or a change to ``existing``) or raise.

        For a change, fields that ``data`` leaves out keep their current values.
        """
        values = dict(asset_record(existing)) if existing is not None else {}
        values.update({key: value for key, value in data.items() if key != "attributes"})
        errors: dict[str, str] = {}
        unknown = sorted(set(data) - set(BASE_FIELDS) - {"attributes", "grid"})
        for name in unknown:
            errors[name] = str(_l("Unknown field."))

        kind = self._kind(values, errors, existing)
        code = self._code(values, kind, errors, existing)
        name = self._text(values, "name", errors, required=True)
        longitude, latitude, grid = self._location(values, errors)
        clean_texts = {key: self._text(values, key, errors) for key in TEXT_LIMITS if key != "name"}
        status = self._status(values, errors)
        installed_on = self._installed_on(values, errors)
        site_id = self._site(values, errors)
        attributes = self._attributes(data, existing, kind, errors)
        notes = values.get("notes")
        if notes is not None and not isinstance(notes, str):
            errors["notes"] = str(_l("Must be text."))
        if errors:
            raise AssetValidationError(errors)
        return CleanAsset(
            code=code,
            kind=kind.name,
            name=name,
            longitude=longitude,
            latitude=latitude,
            grid=grid,
            site_id=site_id,
            status=status,
            installed_on=installed_on,
            attributes=attributes,
            notes=(notes or "").strip() or None,
            **clean_texts,
        )

    def _kind(self, values, errors, existing) -> AssetKind:
        name = values.get("kind")
        kind = kind_named(name) if isinstance(name, str) else None
        if kind is None:
            choices = ", ".join(KINDS)
            errors["kind"] = str(_l("Unknown kind; use one of: %(choices)s.", choices=choices))
            return next(iter(KINDS.values()))
        if existing is not None and kind.name != existing.kind:
            errors["kind"] = str(_l("The kind of an asset cannot change."))
        return kind

    def _code(self, values, kind, errors, existing) -> str:
        code = values.get("code")
        if not isinstance(code, str) or not code.strip():
            errors["code"] = str(_l("This field is required."))
            return ""
        code = code.strip().upper()
        if len(code) > CODE_MAX_LENGTH:
            errors["code"] = str(_l("At most %(n)s characters.", n=CODE_MAX_LENGTH))
        elif existing is not None and code != existing.code:
            errors["code"] = str(_l("The code of an asset cannot change."))
        elif "kind" not in errors and not kind.code_pattern.match(code):
            errors["code"] = str(
                _l("Codes of this kind look like %(example)s.", example=kind.code_for(1))
            )
        return code

    @staticmethod
    def _text(values, key, errors, required=False) -> str | None:
        raw = values.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                errors[key] = str(_l("This field is required."))
            return None
        if not isinstance(raw, str):
            errors[key] = str(_l("Must be text."))
            return None
        text = raw.strip()
        if len(text) > TEXT_LIMITS[key]:
            errors[key] = str(_l("At most %(n)s characters.", n=TEXT_LIMITS[key]))
        return text

    def _location(self, values, errors) -> tuple[float, float, GridArea | None]:
        longitude = parse_coordinate(values.get("longitude"), "longitude", 180, errors)
        latitude = parse_coordinate(values.get("latitude"), "latitude", 180, errors, 90)
        if longitude is None or latitude is None:
            return 0.0, 0.0, None
        if abs(latitude) > 90:
            if in_china(latitude, longitude):
                errors["location"] = str(_l("Latitude and longitude look swapped."))
            else:
                errors["latitude"] = str(_l("Must be between -%(n)s and %(n)s.", n=90))
            return longitude, latitude, None
        reason = location_problem(longitude, latitude)
        if reason:
            errors["location"] = reason
            return longitude, latitude, None
        grid = self.locator.grid_for(longitude, latitude)
        if grid is None and self.strict:
            errors["location"] = str(_l("The point lies outside every grid of the district."))
        return longitude, latitude, grid

    @staticmethod
    def _status(values, errors) -> str:
        status = values.get("status") or AssetStatus.ACTIVE
        if status not in set(AssetStatus):
            errors["status"] = str(
                _l("Must be one of: %(choices)s.", choices=", ".join(AssetStatus))
            )
        return status

    def _installed_on(self, values, errors) -> date | None:
        raw = values.get("installed_on")
        if raw in (None, ""):
            return None
        if isinstance(raw, date):
            installed = raw
        else:
            try:
                installed = date.fromisoformat(str(raw).strip())
            except ValueError:
                errors["installed_on"] = str(_l("Not a date (YYYY-MM-DD)."))
                return None
        if installed > self.today:
            errors["installed_on"] = str(_l("The date is in the future."))
        elif not date_in_range(installed):
            errors["installed_on"] = date_range_message()
        return installed

    def _site(self, values, errors) -> int | None:
        site = values.get("site")
        if site in (None, ""):
            return None
        name = str(site).strip()
        if self.sites is not None:
            site_id = self.sites.get(name)
        else:
            site_id = db.session.scalar(select(Site.id).where(Site.name == name))
        if site_id is None:
            errors["site"] = str(_l("Unknown site: %(name)s.", name=site))
        return site_id

    @staticmethod
    def _attributes(data, existing, kind: AssetKind, errors) -> dict[str, Any]:
        given = data.get("attributes", {})
        if given is None:
            given = {}
        if not isinstance(given, Mapping):
            errors["attributes"] = str(_l("Must be an object."))
            return {}
        current = dict(existing.attributes or {}) if existing is not None else {}
        for name in given:
            if kind.field_named(name) is None:
                errors[f"attributes.{name}"] = str(_l("Unknown attribute for this kind."))
        clean: dict[str, Any] = {}
        for attribute in kind.fields:
            raw = given[attribute.name] if attribute.name in given else current.get(attribute.name)
            try:
                clean[attribute.name] = attribute.parse(raw)
            except ValueError as error:
                errors[f"attributes.{attribute.name}"] = str(error)
        return clean


def parse_coordinate(
    raw: Any, name: str, limit: float, errors: dict, shown_limit: float | None = None
) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        errors[name] = str(_l("This field is required."))
        return None
    if isinstance(raw, bool):
        errors[name] = str(_l("Not a number."))
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors[name] = str(_l("Not a number."))
        return None
    if not math.isfinite(value) or not -limit <= value <= limit:
        errors[name] = str(_l("Must be between -%(n)s and %(n)s.", n=shown_limit or limit))
        return None
    return value


def in_china(longitude: float, latitude: float) -> bool:
    min_lon, min_lat, max_lon, max_lat = CHINA_BOUNDS
    return min_lon <= longitude <= max_lon and min_lat <= latitude <= max_lat


def location_problem(longitude: float, latitude: float) -> str | None:
    """Why a point in range cannot be one of ours, or None."""
    if in_china(longitude, latitude):
        return None
    if in_china(latitude, longitude):
        return str(_l("Latitude and longitude look swapped."))
    return str(_l("The point lies outside China."))


def site_named(name: str) -> Site | None:
    """The site called ``name`` (site names are unique), spaces around it ignored."""
    return db.session.scalar(select(Site).where(Site.name == name.strip()))


def site_ids_by_name() -> dict[str, int]:
    return {name: site_id for site_id, name in db.session.execute(select(Site.id, Site.name))}


def asset_record(asset: Asset) -> dict[str, Any]:
    """The asset's values in input form (as the API, forms and exports spell them)."""
    point = to_shape(asset.location)
    return record_of(
        asset,
        point.x,
        point.y,
        asset.grid.code if asset.grid else None,
        asset.site.name if asset.site else None,
    )


def record_of(
    asset: Asset, longitude: float, latitude: float, grid: str | None, site: str | None
) -> dict[str, Any]:
    """``asset_record`` when the coordinates and the grid and site names are already known
    (read in SQL for many assets at once); ``asset`` may be a row of the same columns."""
    return {
        "code": asset.code,
        "kind": asset.kind,
        "name": asset.name,
        "longitude": longitude,
        "latitude": latitude,
        "grid": grid,
        "site": site,
        "address": asset.address,
        "status": asset.status,
        "installed_on": asset.installed_on.isoformat() if asset.installed_on else None,
        "manufacturer": asset.manufacturer,
        "model": asset.model,
        "serial_number": asset.serial_number,
        "notes": asset.notes,
        "attributes": dict(asset.attributes or {}),
    }


def grid_and_children(grid_id) -> Select:
    """Ids of a grid and its second-level children: a first-level grid covers them.

    ``grid_id`` may be a value or a scalar subquery (NULL matches nothing).
    """
    return select(Grid.id).where(or_(Grid.id == grid_id, Grid.parent_id == grid_id))


# Up to this many grids a grid filter is a select of every grid (``GRID_SELECT_LIMIT``).
DEFAULT_GRID_SELECT_LIMIT = 200


@dataclass(frozen=True)
class GridChoice:
    code: str
    name: str


@dataclass(frozen=True)
class GridChoices:
    """What a grid filter offers (``grid_choices``): ``grids`` by code; ``typed`` past
    ``GRID_SELECT_LIMIT`` grids, when the filter is a text field for a grid's code that
    suggests only ``grids`` (the first-level grids and the one asked for); ``unknown``, the
    code asked for when no grid has it (the list then matches nothing). Iterating gives the
    grids."""

    grids: list[GridChoice]
    typed: bool = False
    unknown: str | None = None

    def __iter__(self):
        return iter(self.grids)


def grid_select_limit() -> int:
    """``GRID_SELECT_LIMIT``: up to this many grids a grid filter is a select of them all;
    past it a text field suggesting the first-level grids (a province has thousands)."""
    return int(current_app.config.get("GRID_SELECT_LIMIT", DEFAULT_GRID_SELECT_LIMIT))


def grid_choices(current: str = "", no_grid: str | None = None) -> GridChoices:
    """The grid filter's choices when the page asks for ``current`` (a grid's code matched
    case-blind, "", ``ALL_GRIDS``, or ``no_grid`` where the page offers it): every grid up
    to ``grid_select_limit``, else the first-level grids and the current one. One query,
    reading codes and names only (no boundary, no second-level grid past the limit): the
    count of all grids rides along in each row."""
    code = current.strip().upper()
    total = select(func.count()).select_from(Grid).scalar_subquery()
    limit = grid_select_limit()
    rows = db.session.execute(
        select(Grid.code, Grid.name, total)
        .where(or_(total <= limit, Grid.level == 1, Grid.code == code))
        .order_by(Grid.code)
    ).all()
    grids = [GridChoice(row.code, row.name) for row in rows]
    named = code not in {"", ALL_GRIDS.upper(), (no_grid or "").upper()}
    unknown = named and all(grid.code != code for grid in grids)
    return GridChoices(
        grids, typed=bool(rows) and rows[0][2] > limit, unknown=current.strip() if unknown else None
    )


# Up to this many sites (property companies) a form offers them all in a select or a
# datalist (``FORM_SELECT_LIMIT``); past it the user types the name.
DEFAULT_FORM_SELECT_LIMIT = 200


@dataclass(frozen=True)
class NamedChoices:
    """What a form offers of a growing table (``named_choices``): ``choices``, every row's
    (id, name) by name up to ``FORM_SELECT_LIMIT`` rows; past it ``typed`` and no choices,
    when the form has a text field for the name instead."""

    choices: list[tuple[int, str]]
    typed: bool = False


def form_select_limit() -> int:
    """``FORM_SELECT_LIMIT``: up to this many sites (property companies) a form offers them
    all; past it the user types a name (a province has tens of thousands of sites)."""
    return int(current_app.config.get("FORM_SELECT_LIMIT", DEFAULT_FORM_SELECT_LIMIT))


def named_choices(model: Any) -> NamedChoices:
    """The rows of ``model`` (a table with a unique ``name``: sites, property companies) a
    form offers: one query that reads at most one row past the limit, through the name's
    unique index."""
    limit = form_select_limit()
    rows = db.session.execute(
        select(model.id, model.name).order_by(model.name).limit(limit + 1)
    ).all()
    if len(rows) > limit:
        return NamedChoices([], typed=True)
    return NamedChoices([(row.id, row.name) for row in rows])


def in_grid(grid_column: Any, code: str) -> ColumnElement[bool]:
    """``grid_column`` (an asset's or hazard's grid) lies in the grid with ``code``: a
    first-level grid covers its children. An unknown code matches nothing; ``ALL_GRIDS``
    (the "all grids" choice of an officer whose pages open on his grid) matches every row.

    The grid's ids are looked up first and written into the condition as values: given a
    subquery instead, PostgreSQL cannot tell how many rows a grid holds and plans for most
    of the registry (the overdue list of one grid read every overdue inspection of the
    province, 120 ms at 1M inspections; with the ids, 7 ms through the grid's assets)."""
    if code.strip().lower() == ALL_GRIDS:
        return true()
    grid_id = select(Grid.id).where(Grid.code == code.strip().upper()).scalar_subquery()
    return grid_column.in_(list(db.session.scalars(grid_and_children(grid_id))))


def grid_clause(grid_column: Any, grid: str) -> ColumnElement[bool]:
    """A grid filter's condition on ``grid_column``: every row for "", the rows outside
    every grid for ``NO_GRID``, else ``in_grid``."""
    if not grid:
        return true()
    if grid == NO_GRID:
        return grid_column.is_(None)
    return in_grid(grid_column, grid)


def text_search(text: str) -> ColumnElement[bool]:
    """Code, name or address contains ``text``, ignoring case; its % and _ are literal."""
    return or_(
        *(
            column.icontains(text, autoescape=True)
            for column in (Asset.code, Asset.name, Asset.address)
        )
    )


def in_code_order(stmt: Select, user: User | None, descending: bool = False) -> Select:
    """``stmt`` (a query of the assets ``user`` may see) in code order. A contractor's come
    from its pairs' code index, its own assets only: walking every asset's code and asking
    each whether the contractor inspects it took 158,000 probes for the first page at 1M
    assets when its assets' codes came late."""
    contractor_id = acting_contractor_id(user)
    if contractor_id is None:
        code = Asset.code
    else:
        stmt = stmt.join(
            ContractorAsset,
            and_(
                ContractorAsset.asset_id == Asset.id, ContractorAsset.contractor_id == contractor_id
            ),
        )
        code = ContractorAsset.asset_code
    return stmt.order_by(code.desc() if descending else code.asc())


def asset_by_code(code: str) -> Asset | None:
    return db.session.scalar(select(Asset).where(Asset.code == code.strip().upper()))


def code_exists(code: str) -> bool:
    return db.session.scalar(select(Asset.id).where(Asset.code == code)) is not None


def create_asset(data: Mapping[str, Any], validator: AssetValidator | None = None) -> Asset:
    """Validate and add a new asset with its audit entry; the caller commits."""
    clean = (validator or AssetValidator()).validate(data)
    if code_exists(clean.code):
        raise DuplicateCodeError(clean.code)
    asset = Asset(**clean.column_values())
    db.session.add(asset)
    db.session.flush()
    record_change("create", "asset", asset.code, None, asset_record(asset))
    return asset


def update_asset(asset: Asset, changes: Mapping[str, Any]) -> Asset:
    """Validate and apply a partial change; the grid follows the point."""
    before = asset_record(asset)
    clean = AssetValidator().validate(changes, existing=asset)
    for column, value in clean.column_values().items():
        if column != "location" or (clean.longitude, clean.latitude) != (
            before["longitude"],
            before["latitude"],
        ):
            setattr(asset, column, value)
    db.session.flush()
    db.session.refresh(asset)
    old, new = changed_fields(before, asset_record(asset))
    if new:
        record_change("update", "asset", asset.code, old, new)
    return asset


def step_asset_status(asset: Asset, old: str, new: str) -> bool:
    """Move the asset from status ``old`` to ``new`` if it still has ``old`` (compare-and-set;
    PostgreSQL waits for a racing writer's row lock first); whether it did. The caller audits."""
    stepped = db.session.execute(
        update(Asset)
        .where(Asset.id == asset.id, Asset.status == old)
        .values(status=new)
        .execution_options(synchronize_session=False)
    )
    if stepped.rowcount != 1:
        return False
    asset.status = new
    return True


def retire_asset(asset: Asset) -> Asset:
    """Retire the asset, once: a compare-and-set on its status, so of two racing requests one
    retires it (and is audited) and the other finds it retired and changes nothing."""
    before = asset.status
    if before == AssetStatus.RETIRED:
        return asset
    if not step_asset_status(asset, before, AssetStatus.RETIRED):  # changed since it was read
        db.session.refresh(asset)
        return retire_asset(asset)
    record_change("retire", "asset", asset.code, {"status": before}, {"status": asset.status})
    return asset
