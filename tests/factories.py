"""Small gen_* factories: each adds rows to the session; the caller commits."""

from __future__ import annotations

import io
from datetime import date, timedelta
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
from hazards.models import Hazard
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


# --- The weekly alerts' district ------------------------------------------------------------

ALERT_ASSETS_G1_01 = ["CS-001", "CS-002", "CS-003"]  # Fixers Ltd
ALERT_ASSETS_G2_02 = ["EB-0001", "EB-0002"]  # Blue Fire Co


def gen_alert_district() -> dict:
    """The weekly alerts' scenario, committed: grids with leaders, staff in both languages,
    two contractors, assets, inspections due every 9 days from 2026-02-20, and one hazard
    overdue from 2026-03-10. Returns each inspection's code, due date, contractor and grid."""
    grids = gen_district()
    grids["G1-01"].leader_email = "leader.g101@example.org"
    grids["G1"].leader_email = "leader.g1@example.org"
    grids["G2-02"].leader_email = "leader.g202@example.org"
    officer = gen_user("officer@example.org", "officer")
    officer.locale = "en"
    admin = gen_user("admin@example.org", "admin")
    admin.locale = "zh"
    gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
    gen_contractor("Fixers Ltd").contact_email = "office@fixers.example"
    gen_contractor("Blue Fire Co").contact_email = "desk@bluefire.example"
    for number in range(1, 4):
        gen_asset(charging_station_data(number))
    for number in range(1, 3):
        gen_asset(blocker_data(number))
    inspections = {}
    for index, code in enumerate(ALERT_ASSETS_G1_01 + ALERT_ASSETS_G2_02):
        contractor = "Fixers Ltd" if code.startswith("CS") else "Blue Fire Co"
        for step in range(8):
            due_on = date(2026, 2, 20) + timedelta(days=9 * step + index)
            inspection = gen_inspection(code, due_on, contractor=contractor)
            inspections[inspection.id] = {
                "code": code,
                "due_on": due_on,
                "contractor": contractor,
                "grid": "G1-01" if code.startswith("CS") else "G2-02",
            }
    db.session.flush()
    asset = asset_by_code("CS-001")
    hazard = Hazard(
        code="HZ-2026-0001",
        category="blocked_exit",
        severity="major",
        description="Exit <blocked> by bikes",
        location=point_value(*INSIDE_G1_01),
        asset_id=asset.id,
        grid_id=grids["G1-01"].id,
        found_on=date(2026, 3, 3),
        deadline=date(2026, 3, 10),
        status="open",
    )
    db.session.add(hazard)
    db.session.commit()
    return inspections


# --- Hazards and the XSS corpus ----------------------------------------------------------------

# The day gen_hazard dates hazards from: the map tests' today (a Monday).
HAZARD_DAY = date(2026, 3, 16)


def gen_hazard(code: str, severity: str, asset_code: str | None = None, **values) -> Hazard:
    """An open hazard (found three days before ``HAZARD_DAY``, due twenty days after it)."""
    asset = asset_by_code(asset_code) if asset_code else None
    location = values.pop("location", INSIDE_G1_01)
    hazard = Hazard(
        code=code,
        category=values.pop("category", "other"),
        severity=severity,
        description=values.pop("description", "A hazard"),
        location=point_value(*location),
        asset_id=asset.id if asset else None,
        found_on=values.pop("found_on", HAZARD_DAY - timedelta(days=3)),
        deadline=values.pop("deadline", HAZARD_DAY + timedelta(days=20)),
        status=values.pop("status", "open"),
        **values,
    )
    db.session.add(hazard)
    db.session.flush()
    return hazard


# Payloads that must stay text wherever they are shown: each would set window.__xss, call
# alert, or break out of a script/attribute/template literal if a value were not escaped.
XSS_PAYLOADS = [
    "<script>window.__xss=1</script>",
    "</script><script>window.__xss=1</script>",
    "</SCRIPT><SCRIPT>window.__xss=1</SCRIPT>",
    "<img src=x onerror=window.__xss=1>",
    '<img src=x onerror="window.__xss=1">',
    '"><img src=x onerror=window.__xss=1>',
    "'><img src=x onerror=window.__xss=1>",
    "<svg onload=window.__xss=1>",
    "<svg/onload=window.__xss=1>",
    "<svg><script>window.__xss=1</script></svg>",
    "<body onload=window.__xss=1>",
    '<iframe src="javascript:parent.__xss=1"></iframe>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    "${window.__xss=1}",
    "`${window.__xss=1}`",
    "`;window.__xss=1;`",
    "';window.__xss=1;//",
    '";window.__xss=1;//',
    '"}]);window.__xss=1;//',
    '\\"}]);window.__xss=1;//',
    "</textarea><script>window.__xss=1</script>",
    "</title><script>window.__xss=1</script>",
    "<details open ontoggle=window.__xss=1>",
    "<video><source onerror=window.__xss=1></video>",
    "<audio src=x onerror=window.__xss=1>",
    "<input autofocus onfocus=window.__xss=1>",
    "<marquee onstart=window.__xss=1>x</marquee>",
    '<object data="javascript:window.__xss=1"></object>',
    '<embed src="javascript:window.__xss=1">',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    '<div style="background:url(javascript:window.__xss=1)">x</div>',
    "<!--<img src=x onerror=window.__xss=1>-->",
    "<!--",
    "<![CDATA[<script>window.__xss=1</script>]]>",
    "\u2028window.__xss=1\u2029",
    "</script\u2028><script>window.__xss=1</script>",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "<script src=data:text/javascript,window.__xss=1></script>",
    '<img src="x" onerror="&#119;indow.__xss=1">',
    "&lt;img src=x onerror=window.__xss=1&gt;",
    "<img src=x onerror=alert(1)>",
    '<form><button formaction="javascript:window.__xss=1">x</button></form>',
    "<img src=`x` onerror=window.__xss=1>",
    '<base href="javascript:window.__xss=1//">',
    '<link rel=stylesheet href="data:text/css,*{}" onload=window.__xss=1>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">',
    "{{7*7}}{% raw %}",
    "</div></table><img src=x onerror=window.__xss=1>",
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>">',
    "<select><template><img src=x onerror=window.__xss=1></template></select>",
    "javascript:window.__xss=1",
    "<svg><animate onbegin=window.__xss=1 attributeName=x dur=1s>",
    "<img src=x:alert(alt) onerror=eval(src) alt=1>",
    "<x contenteditable onfocus=window.__xss=1 autofocus>x</x>",
    "<img src=x onerror=window.__xss=1 //",
    "<a href=javascript:window.__xss=1 id=xss>click</a>",
    "\\u003cscript\\u003ewindow.__xss=1\\u003c/script\\u003e",
]


def gen_xss_district() -> None:
    """Assets named and addressed with every payload, hazards described with them, and
    grids named with them."""
    grids = gen_district()
    for number, payload in enumerate(XSS_PAYLOADS, start=1):
        gen_asset(charging_station_data(number, name=payload[:200], address=payload[:300]))
        gen_hazard(
            f"HZ-2026-{number:04d}",
            "major" if number % 2 else "general",
            f"CS-{number:03d}",
            description=payload,
        )
    for grid, payload in zip(grids.values(), XSS_PAYLOADS, strict=False):
        grid.name = payload[:200]


# The checklist of a charging station (assets/kinds.py), as the tests spell it out.
CS_ITEMS = (
    "cutoff_when_full",
    "extinguisher_in_date",
    "no_flying_wire",
    "canopy_and_wiring",
    "camera_working",
    "smoke_detector_working",
)
