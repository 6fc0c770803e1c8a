"""Small gen_* factories: each adds rows to the session; the caller commits."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from PIL import Image
from sqlalchemy import select

from accounts.models import Contractor, User
from accounts.services import create_user, issue_api_token, user_by_email
from assets.grids import GridLocator
from assets.models import Grid, PropertyCompany, Site
from assets.services import AssetValidator, asset_by_code, create_asset
from core.extensions import db
from core.spatial import point_value
from inspections.models import Inspection, InspectionPlan, InspectionStatus

PASSWORD = "correct horse battery"
# The test district: 119.10–119.30 E, 36.70–36.76 N, G1 west and G2 east, each split in two.
DISTRICT_GRIDS = [
    ("G1", "Grid one", 1, None, (119.10, 36.70, 119.20, 36.76)),
    ("G2", "Grid two", 1, None, (119.20, 36.70, 119.30, 36.76)),
    ("G1-01", "Grid one south", 2, "G1", (119.10, 36.70, 119.20, 36.73)),
    ("G1-02", "Grid one north", 2, "G1", (119.10, 36.73, 119.20, 36.76)),
    ("G2-01", "Grid two south", 2, "G2", (119.20, 36.70, 119.30, 36.73)),
    ("G2-02", "Grid two north", 2, "G2", (119.20, 36.73, 119.30, 36.76)),
]
INSIDE_G1_01 = (119.15, 36.715)
INSIDE_G2_02 = (119.25, 36.745)
OUTSIDE_DISTRICT = (119.50, 36.90)


def polygon_wkt(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> str:
    return (
        f"POLYGON(({min_lon} {min_lat}, {max_lon} {min_lat}, {max_lon} {max_lat}, "
        f"{min_lon} {max_lat}, {min_lon} {min_lat}))"
    )


def gen_grid(code: str, name: str, level: int, parent: Grid | None, bounds) -> Grid:
    from geoalchemy2 import WKTElement

    grid = Grid(
        code=code,
        name=name,
        level=level,
        parent=parent,
        boundary=WKTElement(polygon_wkt(*bounds), srid=4326),
    )
    db.session.add(grid)
    db.session.flush()
    return grid


def gen_district() -> dict[str, Grid]:
    grids: dict[str, Grid] = {}
    for code, name, level, parent, bounds in DISTRICT_GRIDS:
        grids[code] = gen_grid(code, name, level, grids.get(parent), bounds)
    return grids


def gen_site(name: str = "Harbour Garden", company: str | None = "Harbour Property") -> Site:
    property_company = None
    if company:
        property_company = db.session.query(PropertyCompany).filter_by(name=company).first()
        if property_company is None:
            property_company = PropertyCompany(name=company)
    site = Site(
        name=name,
        property_company=property_company,
        location=point_value(*INSIDE_G1_01),
        address="1 Harbour Road",
    )
    db.session.add(site)
    db.session.flush()
    return site


def charging_station_data(number: int = 1, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": f"CS-{number:03d}",
        "kind": "charging_station",
        "name": f"Charging station {number}",
        "longitude": INSIDE_G1_01[0],
        "latitude": INSIDE_G1_01[1],
        "address": "1 Harbour Road",
        "attributes": {"ports": 10, "canopy": True, "extinguisher": True},
    }
    data.update(overrides)
    return data


def blocker_data(number: int = 1, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": f"EB-{number:04d}",
        "kind": "elevator_blocker",
        "name": f"Blocker {number}",
        "longitude": INSIDE_G2_02[0],
        "latitude": INSIDE_G2_02[1],
        "attributes": {
            "building": "3",
            "unit": "2",
            "elevator_number": "1",
            "detection_method": "ai_camera",
        },
    }
    data.update(overrides)
    return data


def gen_asset(data: dict[str, Any] | None = None, **overrides: Any):
    values = dict(data or charging_station_data())
    values.update(overrides)
    return create_asset(values, AssetValidator(GridLocator.from_database()))


def gen_user(email: str, role: str, contractor: str | None = None) -> User:
    return create_user(email, PASSWORD, role, contractor)


def gen_token(email: str) -> str:
    return issue_api_token(user_by_email(email))


class BearerClient:
    """Wraps a test client so every request carries ``Authorization: Bearer``."""

    def __init__(self, client, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, *args, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return getattr(self.client, method)(*args, headers=headers, **kwargs)

    def get(self, *args, **kwargs):
        return self._call("get", *args, **kwargs)

    def post(self, *args, **kwargs):
        return self._call("post", *args, **kwargs)

    def patch(self, *args, **kwargs):
        return self._call("patch", *args, **kwargs)

    def put(self, *args, **kwargs):
        return self._call("put", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._call("delete", *args, **kwargs)


def gen_contractor(name: str) -> Contractor:
    """The contractor called ``name``, created if it does not exist yet."""
    contractor = db.session.scalar(select(Contractor).where(Contractor.name == name))
    if contractor is None:
        contractor = Contractor(name=name, contact_email="office@example.org")
        db.session.add(contractor)
        db.session.flush()
    return contractor


def gen_plan(contractor: str = "Fixers Ltd", **values: Any) -> InspectionPlan:
    """A plan (monthly on the 10th from 2026-01-10 unless told otherwise); not generated."""
    plan = InspectionPlan(
        name=values.pop("name", "Monthly on the 10th"),
        contractor_id=gen_contractor(contractor).id,
        cadence_unit=values.pop("cadence_unit", "month"),
        cadence_every=values.pop("cadence_every", 1),
        start_on=values.pop("start_on", date(2026, 1, 10)),
        **values,
    )
    db.session.add(plan)
    db.session.flush()
    return plan


def gen_inspection(
    asset_code: str,
    due_on: date,
    contractor: str = "Fixers Ltd",
    plan: InspectionPlan | None = None,
) -> Inspection:
    """A scheduled inspection of one asset for ``contractor`` (no plan unless given)."""
    inspection = Inspection(
        plan_id=plan.id if plan is not None else None,
        asset_id=asset_by_code(asset_code).id,
        contractor_id=gen_contractor(contractor).id,
        due_on=due_on,
        status=InspectionStatus.SCHEDULED,
    )
    db.session.add(inspection)
    db.session.flush()
    return inspection


def png_bytes(width: int = 4, height: int = 3, color=(200, 30, 30)) -> bytes:
    """A real, small PNG image."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 4, height: int = 3) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()
