"""Sites and their property companies from a district's own table or GeoJSON file: `flask
sites import FILE` and the Imports page.

Reading: a CSV file (UTF-8 or GB18030/GBK), an Excel workbook (.xlsx, the first or the named
sheet) or a GeoJSON FeatureCollection (WGS-84). Columns (or properties): ``name``,
``address``, ``property_company``, ``property_contact``, ``property_phone``, ``longitude``,
``latitude``, or 名称 (小区, 小区名称), 地址, 物业公司, 联系人, 联系电话, 经度, 纬度. A GeoJSON
feature is a Point, or a Polygon (or MultiPolygon) whose representative point (shapely's
``point_on_surface``, always inside it) becomes the site's point; a feature without geometry
is a site without a point.

Checked before anything is written, every problem naming its row and field: a name, lengths,
coordinates (both or neither, in range, not swapped, in China; with STRICT_DISTRICT in some
grid of the district), a contact only with a company, one contact per company, each site once.

Writing, all in one transaction: sites are created or updated by name, property companies
created by name, their contact and phone filled or updated when the file gives them. A blank
cell leaves what is stored. Every created or changed site and company is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from flask import current_app
from flask_babel import gettext as _
from geoalchemy2.shape import to_shape
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assets.grids import GridLocator
from assets.models import PropertyCompany, Site
from assets.services import in_china, location_problem, parse_coordinate
from core.audit import changed_fields, record_change
from core.extensions import db
from core.importing import PLACE_LABELS, ImportCheck, ImportFileProblem, Problem
from core.spatial import point_value
from core.tables import (
    FILE_FORMATS,
    decode_text,
    file_problem,
    format_of,
    header_key,
    map_header,
    read_table,
)

EXTENSIONS = tuple(FILE_FORMATS)
COLUMNS = (
    "name",
    "address",
    "property_company",
    "property_contact",
    "property_phone",
    "longitude",
    "latitude",
)
HEADERS = {
    **{column: column for column in COLUMNS},
    "名称": "name",
    "小区": "name",
    "小区名称": "name",
    "地址": "address",
    "物业公司": "property_company",
    "联系人": "property_contact",
    "联系电话": "property_phone",
    "经度": "longitude",
    "纬度": "latitude",
}
LIMITS = {
    "name": 200,
    "address": 300,
    "property_company": 200,
    "property_contact": 100,
    "property_phone": 40,
}
# GeoJSON is WGS-84 longitude/latitude (RFC 7946); an old-style "crs" may say so.
WGS84_NAMES = ("CRS84", "EPSG::4326", "EPSG:4326")


@dataclass
class SiteRow:
    place: str
    number: int
    name: str
    address: str | None = None
    company: str | None = None
    contact: str | None = None
    phone: str | None = None
    point: tuple[float, float] | None = None


@dataclass
class SitePlan:
    """What importing a file would do: the check (problems, summary) and the rows to write."""

    check: ImportCheck
    rows: list[SiteRow] = field(default_factory=list)


# --- reading -------------------------------------------------------------------------------


def read_source(path: Path, options: dict[str, Any]) -> tuple[list, list[Problem], dict]:
    """The file's rows as (place, number, values by column, point or None), the problems
    found reading them, and how the file names the columns it names otherwise (名称…)."""
    fmt = format_of(path, options.get("format"))
    if fmt == "geojson":
        return read_geojson(decode_text(path.read_bytes())[0])
    table = read_table(path, options.get("sheet"), fmt)
    fields, problems = map_header(table.header, HEADERS, required={"name": "name (名称)"})
    given = set(fields)
    if ("longitude" in given) != ("latitude" in given):
        missing = "latitude (纬度)" if "longitude" in given else "longitude (经度)"
        problems.append(
            Problem("header", None, None, _("missing column(s): %(names)s", names=missing))
        )
    if problems:
        return [], [*problems, *table.problems], {}
    columns = {
        field_name: name
        for name, field_name in zip(table.header, fields, strict=True)
        if field_name and header_key(name) != field_name
    }
    rows = [
        (
            table.place,
            number,
            {name: cell for name, cell in zip(fields, cells, strict=False) if name},
            None,
        )
        for number, cells in table.rows
    ]
    return rows, list(table.problems), columns


def read_geojson(text: str) -> tuple[list, list[Problem], dict]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise file_problem(_("not valid JSON: %(error)s", error=str(error))) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise file_problem(_("not a GeoJSON FeatureCollection"))
    crs = (document.get("crs") or {}).get("properties", {}).get("name", "")
    if crs and not any(str(crs).endswith(name) for name in WGS84_NAMES):
        raise file_problem(_("GeoJSON must be in WGS-84 longitude/latitude, not %(crs)s.", crs=crs))
    features = document.get("features")
    if not isinstance(features, list):
        raise file_problem(_("the FeatureCollection has no list of features"))
    rows, problems, columns = [], [], {}
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(Problem("feature", number, None, _("not a GeoJSON Feature")))
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            problems.append(Problem("feature", number, "properties", _("not an object")))
            continue
        values = {}
        for key, value in properties.items():
            column = HEADERS.get(str(key).strip())
            if column is None:
                problems.append(Problem("feature", number, str(key), _("Unknown field.")))
            else:
                if column != key:
                    columns.setdefault(column, str(key))
                if value is not None:
                    values[column] = value if isinstance(value, str) else json.dumps(value)
        point, reason = representative_point(feature.get("geometry"))
        if reason:
            problems.append(Problem("feature", number, "geometry", reason))
            continue
        rows.append(("feature", number, values, point))
    return rows, problems, columns


def representative_point(geometry: Any) -> tuple[tuple[Any, Any] | None, str | None]:
    """A Point's coordinates, or a point inside a (Multi)Polygon; None for no geometry."""
    if geometry is None:
        return None, None
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in ("Point", "Polygon", "MultiPolygon"):
        return None, _("must be a Point or a Polygon, not %(kind)s", kind=kind or _("missing"))
    try:
        shaped = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError):
        return None, _("not a readable %(kind)s", kind=kind)
    if shaped.is_empty:
        return None, _("not a readable %(kind)s", kind=kind)
    if kind == "Point":
        return (shaped.x, shaped.y), None
    if not shaped.is_valid:
        return None, _("not a valid polygon: %(reason)s", reason=shapely.is_valid_reason(shaped))
    inside = shaped.point_on_surface()
    return (inside.x, inside.y), None


# --- checking -------------------------------------------------------------------------------


def where(place: str, number: int) -> str:
    label = PLACE_LABELS.get(place)
    return f"{label if label is not None else place} {number}"


class RowChecker:
    def __init__(self) -> None:
        self.locator = GridLocator.from_database()
        self.strict = current_app.config["STRICT_DISTRICT"]
        self.first_place: dict[str, tuple[str, int]] = {}
        # company -> {"contact": (value, where), "phone": …}: one contact per company.
        self.contacts: dict[str, dict[str, tuple[str, str]]] = {}

    def row(self, place: str, number: int, values: dict[str, Any], point) -> SiteRow | list:
        errors: dict[str, str] = {}
        texts = {name: self.text(values, name, errors) for name in LIMITS}
        if texts["name"] is None and "name" not in errors:
            errors["name"] = _("This field is required.")
        if point is None:
            point = self.point(values, errors)
        else:
            point = self.checked_point(point[0], point[1], errors)
        company = texts["property_company"]
        for key in ("property_contact", "property_phone"):
            if texts[key] is not None and company is None:
                errors[key] = _("given without a property company")
            elif texts[key] is not None:
                self.same_contact(company, key, texts[key], where(place, number), errors)
        name = texts["name"]
        if name is not None and name in self.first_place and "name" not in errors:
            errors["name"] = _(
                "%(name)s repeats %(where)s", name=name, where=where(*self.first_place[name])
            )
        if errors:
            return [Problem(place, number, key, reason) for key, reason in errors.items()]
        self.first_place[name] = (place, number)
        return SiteRow(
            place,
            number,
            name,
            texts["address"],
            company,
            texts["property_contact"],
            texts["property_phone"],
            point,
        )

    @staticmethod
    def text(values: dict[str, Any], name: str, errors: dict[str, str]) -> str | None:
        raw = values.get(name)
        text = str(raw).strip() if raw is not None else ""
        if not text:
            return None
        if len(text) > LIMITS[name]:
            errors[name] = _("At most %(n)s characters.", n=LIMITS[name])
        return text

    def point(self, values: dict[str, Any], errors: dict[str, str]):
        longitude, latitude = values.get("longitude"), values.get("latitude")
        blank = [not str(value or "").strip() for value in (longitude, latitude)]
        if all(blank):
            return None
        return self.checked_point(longitude, latitude, errors)

    def checked_point(self, longitude, latitude, errors) -> tuple[float, float] | None:
        found: dict[str, str] = {}
        x = parse_coordinate(longitude, "longitude", 180, found)
        y = parse_coordinate(latitude, "latitude", 180, found, 90)
        if found:
            errors.update({key: str(reason) for key, reason in found.items()})
            return None
        if abs(y) > 90:  # as the asset validator: a latitude past 90 in China is a swap
            if in_china(y, x):
                errors["location"] = _("Latitude and longitude look swapped.")
            else:
                errors["latitude"] = _("Must be between -%(n)s and %(n)s.", n=90)
            return None
        reason = location_problem(x, y)
        if reason:
            errors["location"] = reason
            return None
        if self.strict and self.locator.grid_for(x, y) is None:
            errors["location"] = _("The point lies outside every grid of the district.")
            return None
        return x, y

    def same_contact(self, company: str, key: str, value: str, here: str, errors) -> None:
        known = self.contacts.setdefault(company, {})
        if key not in known:
            known[key] = (value, here)
        elif known[key][0] != value:
            errors[key] = _(
                "%(company)s has %(value)s on %(where)s",
                company=company,
                value=known[key][0],
                where=known[key][1],
            )


def plan_site_import(path: Path, options: dict[str, Any]) -> SitePlan:
    """Read and check the whole file against the database; write nothing."""
    check = ImportCheck("sites")
    try:
        source, problems, columns = read_source(path, options)
    except ImportFileProblem as error:
        check.problems = [error.problem]
        return SitePlan(check)
    checker = RowChecker()
    rows: list[SiteRow] = []
    for place, number, values, point in source:
        result = checker.row(place, number, values, point)
        if isinstance(result, list):
            problems.extend(
                Problem(each.place, each.number, columns.get(each.field, each.field), each.reason)
                for each in result
            )
        else:
            rows.append(result)
    check.problems = sorted(problems, key=Problem.sort_key)
    if check.problems:
        return SitePlan(check)
    check.count = len(rows)
    check.summary = summary_of(rows)
    return SitePlan(check, rows)


# --- writing --------------------------------------------------------------------------------


def site_record(site: Site) -> dict[str, Any]:
    point = to_shape(site.location) if site.location is not None else None
    return {
        "name": site.name,
        "address": site.address,
        "property_company": site.property_company.name if site.property_company else None,
        "longitude": point.x if point is not None else None,
        "latitude": point.y if point is not None else None,
    }


def company_record(company: PropertyCompany) -> dict[str, Any]:
    return {
        "name": company.name,
        "contact_name": company.contact_name,
        "contact_phone": company.contact_phone,
    }


def wanted_site(row: SiteRow, before: dict[str, Any] | None) -> dict[str, Any]:
    """The site's record once the row is applied: blank cells keep what is stored."""
    record = (
        dict(before)
        if before
        else dict.fromkeys(("name", "address", "property_company", "longitude", "latitude"))
    )
    record["name"] = row.name
    if row.address is not None:
        record["address"] = row.address
    if row.company is not None:
        record["property_company"] = row.company
    if row.point is not None:
        record["longitude"], record["latitude"] = row.point
    return record


def wanted_companies(rows: list[SiteRow]) -> dict[str, dict[str, str | None]]:
    """Each company the file names, with the contact and phone it gives (None: not given)."""
    companies: dict[str, dict[str, str | None]] = {}
    for row in rows:
        if row.company is None:
            continue
        given = companies.setdefault(row.company, {"contact_name": None, "contact_phone": None})
        given["contact_name"] = given["contact_name"] or row.contact
        given["contact_phone"] = given["contact_phone"] or row.phone
    return companies


def stored_sites(names: list[str]) -> dict[str, Site]:
    query = select(Site).where(Site.name.in_(names)).options(selectinload(Site.property_company))
    return {site.name: site for site in db.session.scalars(query)}


def stored_companies(names: list[str]) -> dict[str, PropertyCompany]:
    query = select(PropertyCompany).where(PropertyCompany.name.in_(names))
    return {company.name: company for company in db.session.scalars(query)}


def company_after(company: PropertyCompany | None, name: str, given: dict) -> dict[str, Any]:
    record = company_record(company) if company else {"name": name}
    record.setdefault("contact_name", None)
    record.setdefault("contact_phone", None)
    for key, value in given.items():
        if value is not None:
            record[key] = value
    return record


def summary_of(rows: list[SiteRow]) -> dict[str, int]:
    sites = stored_sites([row.name for row in rows])
    counts = {"new": 0, "updated": 0, "unchanged": 0, "companies_new": 0, "companies_updated": 0}
    for row in rows:
        site = sites.get(row.name)
        if site is None:
            counts["new"] += 1
        else:
            before = site_record(site)
            counts["updated" if wanted_site(row, before) != before else "unchanged"] += 1
    wanted = wanted_companies(rows)
    companies = stored_companies(list(wanted))
    for name, given in wanted.items():
        company = companies.get(name)
        if company is None:
            counts["companies_new"] += 1
        elif company_after(company, name, given) != company_record(company):
            counts["companies_updated"] += 1
    return counts


def write_companies(rows: list[SiteRow]) -> dict[str, PropertyCompany]:
    wanted = wanted_companies(rows)
    companies = stored_companies(list(wanted))
    for name, given in wanted.items():
        company = companies.get(name)
        before = company_record(company) if company else None
        after = company_after(company, name, given)
        if company is None:
            company = PropertyCompany(name=name)
            db.session.add(company)
            companies[name] = company
        company.contact_name, company.contact_phone = after["contact_name"], after["contact_phone"]
        if before is None:
            record_change("import", "property_company", name, None, after)
        elif after != before:
            old, new = changed_fields(before, after)
            record_change("update", "property_company", name, old, new)
    db.session.flush()
    return companies


def write_sites(rows: list[SiteRow]) -> None:
    companies = write_companies(rows)
    sites = stored_sites([row.name for row in rows])
    for row in rows:
        site = sites.get(row.name)
        before = site_record(site) if site else None
        after = wanted_site(row, before)
        if after == before:
            continue
        if site is None:
            site = Site(name=row.name)
            db.session.add(site)
        site.address = after["address"]
        if after["property_company"] is not None:
            site.property_company = companies.get(after["property_company"]) or (
                site.property_company
            )
        if row.point is not None:
            site.location = point_value(*row.point)
        if before is None:
            record_change("import", "site", row.name, None, after)
        else:
            old, new = changed_fields(before, after)
            record_change("update", "site", row.name, old, new)
    db.session.flush()


# --- the Imports page and the command line (core.importing) -------------------------------


def check_file(path: Path, options: dict[str, Any]) -> ImportCheck:
    """What importing ``path`` would do, or every problem; writes nothing."""
    try:
        return plan_site_import(path, options).check
    finally:
        db.session.rollback()


def apply_file(path: Path, options: dict[str, Any]) -> ImportCheck:
    """Import ``path``: every site and company in one transaction, committed, or nothing."""
    try:
        plan = plan_site_import(path, options)
        if not plan.check.ok:
            db.session.rollback()
            return plan.check
        write_sites(plan.rows)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return plan.check
