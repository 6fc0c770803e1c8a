"""`flask demo load`: the demo district of Xingang, deterministic and idempotent.

Everything is generated from a fixed seed, then only what is missing (by grid code, company,
site and contractor name, user email, asset code, plan name) is written, in one transaction.
The inspection history and hazards are dated back from the district's today, written once
(hazards through the hazard services), and the upcoming inspections are generated as usual.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from geoalchemy2 import WKTElement
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from accounts.models import Contractor, User
from accounts.services import create_user
from assets import io as asset_io
from assets.kinds import DETECTION_METHODS, KINDS
from assets.models import Asset, AssetStatus, Grid, PropertyCompany, Site
from assets.services import site_ids_by_name
from core.audit import record_change
from core.clock import district_today, district_zone
from core.extensions import db
from core.spatial import (
    SRID,
    analyze_in_session,
    bulk_insert,
    distance_m,
    latitude_of,
    longitude_of,
    point_value,
)
from hazards.models import Hazard, HazardEvent, HazardStatus
from hazards.services import (
    change_hazard_status,
    create_hazard,
    open_hazard_for_failed_inspection,
    reopen_hazard,
)
from inspections.cadence import add_months, occurrences
from inspections.models import Inspection, InspectionPlan, InspectionResult, InspectionStatus
from inspections.plans.services import create_plan
from inspections.services import generate_inspections, overdue_clause, plan_assets

demo_cli = AppGroup("demo", help="The demo district.")

SEED = 20240601
WEST, SOUTH, EAST, NORTH = 119.10, 36.70, 119.30, 36.76
CELL_LON, CELL_LAT = 0.02, 0.03  # every second-level grid is one cell of this lattice
EMAIL_DOMAIN = "xingang.example.cn"

# code, name, first lattice column, columns; each first-level grid is two cell rows high.
FIRST_LEVEL = (
    ("G1", "新港第一网格", 0, 4, "张建国", "13905361101"),
    ("G2", "新港第二网格", 4, 3, "李秀英", "13905361102"),
    ("G3", "新港第三网格", 7, 3, "王志强", "13905361103"),
)
COMMUNITIES = (
    "海港社区", "渔港社区", "新港社区", "滨海社区", "渤海社区", "港城社区", "望海社区",
    "潮音社区", "海晏社区", "星河社区", "北辰社区", "润泽社区", "安澜社区", "福海社区",
    "金沙社区", "银滩社区", "蓝湾社区", "鸥鹭社区", "鸢飞社区", "和平社区",
)  # fmt: skip
LEADERS = (
    "刘海涛", "陈丽华", "杨明", "赵静", "黄伟", "周敏", "吴磊", "徐芳", "孙强", "马丽",
    "朱军", "胡娟", "郭勇", "何燕", "高峰", "林霞", "罗斌", "郑洁", "梁超", "宋佳",
)  # fmt: skip
PROPERTY_COMPANIES = (
    ("潍坊新港物业服务有限公司", "韩立新"),
    ("潍坊鸢都物业管理有限公司", "曹文博"),
    ("潍坊恒信物业服务有限公司", "邓晓梅"),
    ("山东海悦物业管理有限公司", "许国栋"),
    ("潍坊锦华物业服务有限公司", "冯雪"),
    ("潍坊安居物业管理有限公司", "彭志远"),
    ("潍坊港城物业服务有限公司", "蒋红"),
    ("潍坊盛世物业管理有限公司", "沈立军"),
)
SITE_NAMES = (
    "新港花园", "海悦名苑", "滨海家园", "港湾丽景", "渤海明珠", "新城佳苑", "锦绣华庭",
    "阳光海岸", "蓝湾小区", "金港苑", "盛世华府", "泰和园", "鸢都新居", "恒信海韵",
    "银河湾", "紫金苑", "碧海蓝庭", "富华新村", "祥和小区", "福海嘉园", "港城印象",
    "御景湾", "观澜苑", "书香门第", "翡翠城", "东方明珠苑", "海棠湾", "润泽园",
    "星海名城", "崇文雅苑", "海盛园", "天鸿世家", "新港一村", "新港二村", "惠民家园",
    "安居小区", "渔港新苑", "和谐家园", "北辰嘉苑", "海晏华府",
)  # fmt: skip
ROADS = ("新港路", "海港路", "渤海路", "港城大街", "滨海路", "北海路", "海景路", "望海路")
STATION_MAKERS = (
    ("潍坊智充新能源科技有限公司", "ZC"),
    ("山东安充电气有限公司", "AC"),
    ("济南易充科技有限公司", "YC"),
)
BLOCKER_MAKERS = (
    ("山东慧眼智能科技有限公司", "HY-AI"),
    ("潍坊梯安电子有限公司", "TA"),
    ("青岛天眼安防科技有限公司", "TY"),
)
CONTRACTORS = (
    ("潍坊安消消防维保有限公司", "service@anxiao.example.cn", "0536-8861001"),
    ("鸢都消防技术服务有限公司", "service@yuandu.example.cn", "0536-8862002"),
)
# email, password, role, contractor, name
ANXIAO, YUANDU = CONTRACTORS[0][0], CONTRACTORS[1][0]
ACCOUNTS = (
    (f"admin@{EMAIL_DOMAIN}", "xingang-admin-2024", "admin", None, "系统管理员"),
    (f"officer@{EMAIL_DOMAIN}", "xingang-officer-2024", "officer", None, "安全专员"),
    ("inspector@anxiao.example.cn", "anxiao-inspect-2024", "contractor", ANXIAO, "维保员"),
    ("inspector@yuandu.example.cn", "yuandu-inspect-2024", "contractor", YUANDU, "维保员"),
)
STATIONS, BLOCKERS, FAULTY = 70, 384, 3
FIRST_INSTALL, LAST_INSTALL = date(2023, 1, 1), date(2025, 12, 31)
METRES_PER_DEGREE = 111_320.0  # of latitude


@dataclass
class DemoPlan:
    """Everything the demo district holds, generated from the seed (nothing written yet)."""

    grids: list[dict[str, Any]] = field(default_factory=list)
    companies: list[dict[str, Any]] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DemoResult:
    added: dict[str, int]
    accounts: tuple = ACCOUNTS

    @property
    def nothing_added(self) -> bool:
        return not any(self.added.values())


def lon_edge(column: int) -> float:
    return round(WEST + CELL_LON * column, 2)


def lat_edge(row: int) -> float:
    return round(SOUTH + CELL_LAT * row, 2)


def cell_bounds(row: int, column: int) -> tuple[float, float, float, float]:
    return lon_edge(column), lat_edge(row), lon_edge(column + 1), lat_edge(row + 1)


def rectangle(west: float, south: float, east: float, north: float) -> WKTElement:
    ring = f"{west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}"
    return WKTElement(f"POLYGON(({ring}))", srid=SRID)


def phone(rng: random.Random) -> str:
    return f"13{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}"


def plan_grids(rng: random.Random) -> list[dict[str, Any]]:
    grids: list[dict[str, Any]] = []
    community = iter(zip(COMMUNITIES, LEADERS, strict=True))
    for number, (code, name, first, columns, leader, leader_phone) in enumerate(FIRST_LEVEL, 1):
        grids.append(
            {
                "code": code,
                "name": name,
                "level": 1,
                "parent": None,
                "bounds": (lon_edge(first), lat_edge(0), lon_edge(first + columns), lat_edge(2)),
                "leader_name": leader,
                "leader_phone": leader_phone,
                "leader_email": f"g{number}@{EMAIL_DOMAIN}",
            }
        )
        cells = [(row, column) for row in range(2) for column in range(first, first + columns)]
        for index, (row, column) in enumerate(cells, 1):
            child = f"{code}-{index:02d}"
            community_name, leader_name = next(community)
            grids.append(
                {
                    "code": child,
                    "name": f"{name}·{community_name}",
                    "level": 2,
                    "parent": code,
                    "bounds": cell_bounds(row, column),
                    "leader_name": leader_name,
                    "leader_phone": phone(rng),
                    "leader_email": f"{child.lower()}@{EMAIL_DOMAIN}",
                }
            )
    return grids


def plan_sites(rng: random.Random, grids: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two sites inside each second-level grid, away from its edges."""
    cells = [grid for grid in grids if grid["level"] == 2]
    sites = []
    for index, name in enumerate(SITE_NAMES):
        west, south, east, north = cells[index % len(cells)]["bounds"]
        sites.append(
            {
                "name": name,
                "address": f"潍坊市高新区{rng.choice(ROADS)}{rng.randint(1, 399)}号",
                "company": PROPERTY_COMPANIES[index % len(PROPERTY_COMPANIES)][0],
                "longitude": round(rng.uniform(west + 0.004, east - 0.004), 6),
                "latitude": round(rng.uniform(south + 0.005, north - 0.005), 6),
            }
        )
    return sites


def spread(rng: random.Random, total: int, buckets: int) -> list[int]:
    """``total`` items over ``buckets``: as even as possible, the extras placed at random."""
    counts = [total // buckets] * buckets
    for index in rng.sample(range(buckets), total % buckets):
        counts[index] += 1
    return counts


def near(rng: random.Random, site: dict[str, Any]) -> tuple[float, float]:
    return (
        round(site["longitude"] + rng.uniform(-0.0015, 0.0015), 6),
        round(site["latitude"] + rng.uniform(-0.0015, 0.0015), 6),
    )


def installed_on(rng: random.Random) -> str:
    days = (LAST_INSTALL - FIRST_INSTALL).days
    return (FIRST_INSTALL + timedelta(days=rng.randint(0, days))).isoformat()


def station_details(rng: random.Random, maker: str, prefix: str, ports: int) -> dict[str, Any]:
    """A charging station's maker, model, serial and attributes (the demo's and the
    province's; the draws in this order keep both deterministic)."""
    return {
        "manufacturer": maker,
        "model": f"{prefix}-{ports}P",
        "serial_number": f"{prefix}{rng.randint(0, 99_999_999):08d}",
        "attributes": {
            "ports": ports,
            "canopy": rng.random() < 0.85,
            "extinguisher": rng.random() < 0.95,
            "camera": rng.random() < 0.7,
            "smoke_detector": rng.random() < 0.6,
        },
    }


def plan_stations(rng: random.Random, sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stations = []
    number = 0
    for site, count in zip(sites, spread(rng, STATIONS, len(sites)), strict=True):
        for index in range(1, count + 1):
            number += 1
            ports = rng.choice((10, 12, 16, 20))
            maker, prefix = rng.choice(STATION_MAKERS)
            longitude, latitude = near(rng, site)
            stations.append(
                {
                    "code": f"CS-{number:03d}",
                    "kind": "charging_station",
                    "name": f"{site['name']}{index}号电动自行车充电站",
                    "longitude": longitude,
                    "latitude": latitude,
                    "site": site["name"],
                    "address": site["address"],
                    "installed_on": installed_on(rng),
                    **station_details(rng, maker, prefix, ports),
                }
            )
    return stations


def plan_blockers(rng: random.Random, sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blockers by building, unit and elevator: two units a building, two lifts a unit."""
    blockers = []
    number = 0
    for site, count in zip(sites, spread(rng, BLOCKERS, len(sites)), strict=True):
        maker, prefix = rng.choice(BLOCKER_MAKERS)
        method = rng.choice(DETECTION_METHODS)
        for index in range(count):
            number += 1
            building, unit, elevator = index // 4 + 1, index // 2 % 2 + 1, index % 2 + 1
            longitude, latitude = near(rng, site)
            blockers.append(
                {
                    "code": f"EB-{number:04d}",
                    "kind": "elevator_blocker",
                    "name": f"{site['name']}{building}号楼{unit}单元{elevator}号电梯阻车器",
                    "longitude": longitude,
                    "latitude": latitude,
                    "site": site["name"],
                    "address": f"{site['address']}{building}号楼{unit}单元",
                    "installed_on": installed_on(rng),
                    "manufacturer": maker,
                    "model": f"{prefix}{rng.choice((100, 200, 300))}",
                    "serial_number": f"{prefix.replace('-', '')}{rng.randint(0, 99_999_999):08d}",
                    "attributes": {
                        "building": f"{building}号楼",
                        "unit": f"{unit}单元",
                        "elevator_number": f"{elevator}号梯",
                        "registration_code": "".join(str(rng.randint(0, 9)) for _ in range(20)),
                        "detection_method": method,
                    },
                }
            )
    return blockers


def demo_plan(seed: int = SEED) -> DemoPlan:
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    plan = DemoPlan()
    plan.grids = plan_grids(rng)
    plan.companies = [
        {"name": name, "contact_name": contact, "contact_phone": phone(rng)}
        for name, contact in PROPERTY_COMPANIES
    ]
    plan.sites = plan_sites(rng, plan.grids)
    plan.assets = plan_stations(rng, plan.sites) + plan_blockers(rng, plan.sites)
    for asset in rng.sample(plan.assets, FAULTY):
        asset["status"] = AssetStatus.FAULTY.value
        asset["notes"] = "巡检发现设备故障，待维修"
    return plan


def add_grids(grids: list[dict[str, Any]]) -> int:
    existing = {grid.code: grid for grid in db.session.scalars(select(Grid))}
    added = 0
    for values in grids:
        if values["code"] in existing:
            continue
        grid = Grid(
            code=values["code"],
            name=values["name"],
            level=values["level"],
            parent=existing.get(values["parent"]) if values["parent"] else None,
            boundary=rectangle(*values["bounds"]),
            leader_name=values["leader_name"],
            leader_phone=values["leader_phone"],
            leader_email=values["leader_email"],
        )
        db.session.add(grid)
        existing[grid.code] = grid
        added += 1
    db.session.flush()
    return added


def add_companies_and_sites(plan: DemoPlan) -> tuple[int, int]:
    companies = {company.name: company for company in db.session.scalars(select(PropertyCompany))}
    added_companies = 0
    for values in plan.companies:
        if values["name"] not in companies:
            companies[values["name"]] = PropertyCompany(**values)
            db.session.add(companies[values["name"]])
            added_companies += 1
    site_names = set(db.session.scalars(select(Site.name)))
    added_sites = 0
    for values in plan.sites:
        if values["name"] in site_names:
            continue
        db.session.add(
            Site(
                name=values["name"],
                address=values["address"],
                property_company=companies[values["company"]],
                location=point_value(values["longitude"], values["latitude"]),
            )
        )
        added_sites += 1
    db.session.flush()
    return added_companies, added_sites


def add_accounts() -> tuple[int, int]:
    contractor_names = set(db.session.scalars(select(Contractor.name)))
    added_contractors = 0
    for name, email, contact_phone in CONTRACTORS:
        if name not in contractor_names:
            db.session.add(Contractor(name=name, contact_email=email, contact_phone=contact_phone))
            added_contractors += 1
    db.session.flush()
    emails = set(db.session.scalars(select(User.email)))
    added_users = 0
    for email, password, role, contractor, name in ACCOUNTS:
        if email not in emails:
            create_user(email, password, role, contractor, name=name)
            added_users += 1
    return added_contractors, added_users


def add_assets(assets: list[dict[str, Any]]) -> int:
    """Validated like an import, then bulk-inserted with their audit rows."""
    present = set(db.session.scalars(select(Asset.code)))
    missing = [data for data in assets if data["code"] not in present]
    if not missing:
        return 0
    sites = site_ids_by_name()
    rows = [("demo asset", index, data) for index, data in enumerate(missing, 1)]
    cleans, problems = asset_io.validate_rows(rows, sites)
    if problems:
        raise ValueError("the demo data is invalid: " + "; ".join(map(str, problems[:5])))
    return asset_io.insert_assets(cleans, "create", {i: name for name, i in sites.items()})


# --- Plans, a year of inspection history, hazards ------------------------------------------
#
# Everything below is dated relative to the anchor, the district's today when the demo is
# loaded, so the history always looks current; a seeded generator makes it the same for the
# same day. It is written once (when no demo plan has a completed inspection yet), in the same
# transaction as the rest of the demo.

HISTORY_SEED = 20240602
HISTORY_DAYS = 365
FAIL_RATE = 0.025
LATE_RATE = 0.08
OVERDUE, CANCELLED, FLAGGED = 6, 2, 2
OVERDUE_WITHIN_DAYS = 21
WORKDAY_MINUTES = (8 * 60 + 30, 17 * 60 + 30)  # completions between 08:30 and 17:30
HORIZON_DAYS = 90
STATION_PLAN = "充电站月度巡检"
# first-level grid, contractor; one quarterly plan each, a month apart, so that each month
# one grid's blockers are due.
BLOCKER_PLANS = (("G1", YUANDU), ("G2", YUANDU), ("G3", ANXIAO))
INSPECTORS = {ANXIAO: "inspector@anxiao.example.cn", YUANDU: "inspector@yuandu.example.cn"}
OFFICER = f"officer@{EMAIL_DOMAIN}"
FAILURE_NOTES = {
    "cutoff_when_full": "3号充电口充满后未自动断电，充电模块疑似故障",
    "extinguisher_in_date": "灭火器压力表指针在红区，已超过检验期限",
    "no_flying_wire": "充电棚旁发现私拉电线飞线充电",
    "canopy_and_wiring": "雨棚一角破损，部分线槽脱落、电线外露",
    "camera_working": "监控摄像头离线，画面无法调取",
    "smoke_detector_working": "烟感探测器按测试键无响应",
    "detects_ebike": "测试电动自行车进入轿厢未能识别",
    "doors_held_alarm": "识别后梯门未保持开启，无语音报警",
    "camera_clean": "摄像头镜头污损遮挡，识别率下降",
    "no_false_alarm": "推婴儿车进入轿厢时误报警",
}
PASS_REMARKS = (
    "设备运行正常，已清理充电区周边杂物",
    "已提醒物业张贴禁止电动自行车进入电梯标识",
    "设备运行正常，已擦拭摄像头镜头",
)
CANCEL_REASONS = ("小区封闭施工，无法进入", "电梯停运大修，阻车器随梯停用")
COLUMN_DEFAULTS = {"flagged": False}
STEP_NOTES = {
    "rectifying": "已通知责任单位，安排维修",
    "rectified": "已维修并现场测试正常",
    "verified": "复查确认整改到位",
}


@dataclass(frozen=True)
class DirectHazard:
    """A hazard reported in the field, not from an inspection."""

    days_ago: int
    site: int  # index into SITE_NAMES
    category: str
    severity: str
    description: str
    reporter: str  # email
    steps: tuple[str, ...]
    reopen_reason: str | None = None


DIRECT_HAZARDS = (
    DirectHazard(
        62, 4, "blocked_exit", "major", "地下车库安全出口堆放杂物，疏散通道不畅", OFFICER,
        ("rectifying", "rectified", "verified"), "复查发现安全出口再次堆放杂物",
    ),
    DirectHazard(
        41, 9, "ebike_in_lift", "general", "居民推电动自行车进入电梯，阻车器报警后仍强行进入",
        INSPECTORS[YUANDU], ("rectifying", "rectified", "verified"),
    ),
    DirectHazard(
        26, 15, "ebike_in_corridor", "general", "3号楼1单元楼道停放电动自行车2辆",
        INSPECTORS[ANXIAO], ("rectifying", "rectified", "verified"),
    ),
    DirectHazard(
        19, 21, "ebike_in_corridor", "major", "单元楼道内停放电动自行车3辆并违规充电，堵塞疏散通道",
        OFFICER, ("rectifying",),
    ),
    DirectHazard(
        12, 27, "flying_wire_charging", "general", "2号楼窗口私拉电线为电动自行车飞线充电",
        OFFICER, ("rectified",),
    ),
    DirectHazard(
        8, 33, "extinguisher_expired", "general", "小区充电车棚配置的灭火器已过检验期",
        INSPECTORS[ANXIAO], ("rectifying",),
    ),
    DirectHazard(
        3, 2, "flying_wire_charging", "general", "楼道内私拉电线为电动自行车飞线充电",
        INSPECTORS[ANXIAO], (),
    ),
)  # fmt: skip


@dataclass
class HazardStory:
    """One hazard's life as the demo plays it: created at ``times[0]``, then each step."""

    times: list[datetime]
    steps: list[str]
    inspection_key: tuple[int, int, date] | None = None
    direct: DirectHazard | None = None
    hazard: Hazard | None = None


def district_moment(day: date, minutes: int) -> datetime:
    """``day`` at ``minutes`` past midnight in the district, as a UTC moment."""
    local = datetime.combine(day, time(minutes // 60, minutes % 60), district_zone())
    return local.astimezone(UTC)


def working_moment(rng: random.Random, day: date) -> datetime:
    return district_moment(day, rng.randint(*WORKDAY_MINUTES))


def demo_plan_values(anchor: date, contractors: dict[str, int]) -> list[dict[str, Any]]:
    """The plans, started over a year before the anchor (default checklists)."""
    first = add_months(anchor.replace(day=1), -15)
    plans = [
        {
            "name": STATION_PLAN,
            "contractor_id": contractors[ANXIAO],
            "asset_kind": "charging_station",
            "cadence_unit": "month",
            "cadence_every": 1,
            "start_on": first.replace(day=5),
        }
    ]
    for offset, (grid, contractor) in enumerate(BLOCKER_PLANS):
        plans.append(
            {
                "name": f"电梯阻车器季度巡检·{grid}",
                "contractor_id": contractors[contractor],
                "asset_kind": "elevator_blocker",
                "grid": grid,
                "cadence_unit": "quarter",
                "cadence_every": 1,
                "start_on": add_months(first, offset).replace(day=15),
            }
        )
    return plans


def add_plans(anchor: date) -> tuple[int, int]:
    """The demo plans missing by name; returns (plans added, inspections they generated)."""
    contractors = dict(db.session.execute(select(Contractor.name, Contractor.id)).all())
    present = set(db.session.scalars(select(InspectionPlan.name)))
    added = generated = 0
    for values in demo_plan_values(anchor, contractors):
        if values["name"] in present:
            continue
        saved = create_plan(values, today=anchor)
        created = district_moment(values["start_on"] - timedelta(days=14), 9 * 60)
        saved.plan.created_at = saved.plan.updated_at = created
        added += 1
        generated += saved.created
    db.session.flush()
    return added, generated


def demo_plans() -> list[InspectionPlan]:
    names = [STATION_PLAN] + [f"电梯阻车器季度巡检·{grid}" for grid, _ in BLOCKER_PLANS]
    query = select(InspectionPlan).where(InspectionPlan.name.in_(names))
    return list(db.session.scalars(query.order_by(InspectionPlan.id)))


def history_loaded(plans: list[InspectionPlan]) -> bool:
    query = select(Inspection.id).where(
        Inspection.plan_id.in_([plan.id for plan in plans]),
        Inspection.status != InspectionStatus.SCHEDULED,
    )
    return db.session.scalar(query.limit(1)) is not None


@dataclass(frozen=True)
class AssetPoint:
    id: int
    code: str
    kind: str
    attributes: dict[str, Any]
    longitude: float
    latitude: float


def asset_points(plan: InspectionPlan) -> list[AssetPoint]:
    query = plan_assets(plan).with_only_columns(
        Asset.id,
        Asset.code,
        Asset.kind,
        Asset.attributes,
        longitude_of(Asset.location),
        latitude_of(Asset.location),
    )
    return [AssetPoint(*row) for row in db.session.execute(query)]


def stood_near(rng: random.Random, asset: AssetPoint, far: bool) -> dict[str, Any]:
    """Where the inspector stood: a few metres off, or (flagged for review) a few hundred."""
    metres = rng.uniform(180, 400) if far else rng.uniform(2, 25)
    bearing = rng.uniform(0, 2 * math.pi)
    latitude = asset.latitude + metres * math.cos(bearing) / METRES_PER_DEGREE
    longitude = asset.longitude + metres * math.sin(bearing) / (
        METRES_PER_DEGREE * math.cos(math.radians(asset.latitude))
    )
    longitude, latitude = round(longitude, 7), round(latitude, 7)
    distance = round(distance_m(longitude, latitude, asset.longitude, asset.latitude), 1)
    return {
        "stood_longitude": longitude,
        "stood_latitude": latitude,
        "stood_accuracy_m": float(rng.choice((5, 8, 10, 12, 15, 20))),
        "distance_m": distance,
        "flagged": distance > current_app.config["INSPECTION_FLAG_DISTANCE_M"],
    }


def applicable_answers(asset: AssetPoint) -> dict[str, str]:
    """Every checklist item passed; a station's camera and smoke detector items are "na" when
    it has none."""
    absent = {
        "camera_working": not asset.attributes.get("camera", True),
        "smoke_detector_working": not asset.attributes.get("smoke_detector", True),
    }
    return {
        item.key: "na" if absent.get(item.key) else "pass" for item in KINDS[asset.kind].checklist
    }


def completion_day(rng: random.Random, due_on: date, anchor: date) -> date:
    """Mostly on or a few days before the due date; some late, never today or later."""
    if rng.random() < LATE_RATE and due_on + timedelta(days=1) < anchor:
        late = due_on + timedelta(days=rng.randint(1, 12))
        return min(late, anchor - timedelta(days=1))
    return due_on - timedelta(days=rng.randint(0, 4))


def history_rows(
    rng: random.Random, anchor: date, plans: list[InspectionPlan], inspectors: dict[int, int]
) -> list[dict[str, Any]]:
    """Every due inspection of the past year, as rows with their outcome (nothing written)."""
    rows: list[dict[str, Any]] = []
    assets: dict[tuple[int, int, date], AssetPoint] = {}
    first = anchor - timedelta(days=HISTORY_DAYS)
    for plan in plans:
        points = asset_points(plan)
        dates = occurrences(
            plan.start_on, plan.cadence_unit, plan.cadence_every, first,
            anchor - timedelta(days=1), plan.end_on,
        )  # fmt: skip
        for due_on in dates:
            for asset in points:
                key = (plan.id, asset.id, due_on)
                assets[key] = asset
                rows.append(
                    {
                        "plan_id": plan.id,
                        "asset_id": asset.id,
                        "contractor_id": plan.contractor_id,
                        "due_on": due_on,
                        "status": InspectionStatus.COMPLETED.value,
                        "inspector_id": inspectors[plan.contractor_id],
                        "created_at": district_moment(due_on - timedelta(days=HORIZON_DAYS), 120),
                    }
                )
    for row in left_undone(rng, rows, anchor):
        row["status"] = InspectionStatus.SCHEDULED.value
        row["inspector_id"] = None
    older = [row for row in rows if row["due_on"] < anchor - timedelta(days=60)]
    for row, reason in zip(rng.sample(older, CANCELLED), CANCEL_REASONS, strict=True):
        row["status"] = InspectionStatus.CANCELLED.value
        row["cancelled_reason"] = reason
        row["inspector_id"] = None
    completed = [row for row in rows if row["status"] == InspectionStatus.COMPLETED]
    flagged = {id(row) for row in rng.sample(completed, FLAGGED)}
    for row in completed:
        asset = assets[(row["plan_id"], row["asset_id"], row["due_on"])]
        completed_at = working_moment(rng, completion_day(rng, row["due_on"], anchor))
        row.update(
            completed_at=completed_at,
            logged_at=completed_at + timedelta(seconds=rng.randint(20, 600)),
            result=InspectionResult.PASS.value,
            answers=applicable_answers(asset),
            notes=rng.choice(PASS_REMARKS) if rng.random() < 0.04 else None,
            **stood_near(rng, asset, far=id(row) in flagged),
        )
    return rows


def left_undone(
    rng: random.Random, rows: list[dict[str, Any]], anchor: date
) -> list[dict[str, Any]]:
    """The ``OVERDUE`` recent inspections nobody did, shared between the contractors so that
    each one's pages show overdue work whatever the day: of each contractor's inspections
    due in the last ``OVERDUE_WITHIN_DAYS`` days, or, when none are (its quarterly blockers
    fall due in the middle of a month, its stations elsewhere), those of its latest due date."""
    by_contractor: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_contractor.setdefault(row["contractor_id"], []).append(row)
    recent_from = anchor - timedelta(days=OVERDUE_WITHIN_DAYS)
    undone: list[dict[str, Any]] = []
    contractors = sorted(by_contractor)
    for index, contractor in enumerate(contractors):
        own = by_contractor[contractor]
        recent = [row for row in own if row["due_on"] >= recent_from]
        if not recent:
            latest = max(row["due_on"] for row in own)
            recent = [row for row in own if row["due_on"] == latest]
        share = OVERDUE // len(contractors) + (index < OVERDUE % len(contractors))
        undone += rng.sample(recent, min(share, len(recent)))
    return undone


def failures(
    rng: random.Random, rows: list[dict[str, Any]], faulty_ids: set[int]
) -> list[dict[str, Any]]:
    """A few percent of the completed inspections, plus the latest one of every asset the
    registry lists as faulty: these fail."""
    completed = [row for row in rows if row["status"] == InspectionStatus.COMPLETED]
    latest = latest_completed(rows)
    chosen = rng.sample(
        [row for row in completed if row["asset_id"] not in faulty_ids],
        round(len(completed) * FAIL_RATE),
    )
    chosen += [latest[asset_id] for asset_id in sorted(faulty_ids) if asset_id in latest]
    for row in chosen:
        items = [key for key, answer in row["answers"].items() if answer == "pass"]
        failed = rng.sample(items, 1 if rng.random() < 0.8 else 2)
        row["result"] = InspectionResult.FAIL.value
        row["answers"] = {
            key: "fail" if key in failed else answer for key, answer in row["answers"].items()
        }
        row["notes"] = "；".join(FAILURE_NOTES[key] for key in failed)
    return chosen


def later_step(rng: random.Random, after: datetime, anchor: date, low: int, high: int):
    """A working moment ``low``–``high`` days after ``after``, or None if that is not past."""
    day = after.astimezone(district_zone()).date() + timedelta(days=rng.randint(low, high))
    return working_moment(rng, day) if day < anchor else None


def story_steps(rng: random.Random, found: datetime, anchor: date, wanted: tuple[str, ...]):
    """The times of ``wanted`` steps after ``found``, cut where they would reach today."""
    times, steps = [found], []
    gaps = {"rectifying": (1, 3), "rectified": (2, 8), "verified": (1, 4)}
    for step in wanted:
        moment = later_step(rng, times[-1], anchor, *gaps[step])
        if moment is None:
            break
        times.append(moment)
        steps.append(step)
    return times, steps


def failure_story(
    rng: random.Random, row: dict[str, Any], anchor: date, latest: bool, faulty: bool
) -> HazardStory:
    """How far the hazard a failure opened has come: old ones are verified, recent ones
    still open or under way; an asset listed as faulty keeps its hazard unrectified."""
    found = row["logged_at"]
    age = (anchor - found.astimezone(district_zone()).date()).days
    if faulty:
        wanted: tuple[str, ...] = ("rectifying",) if age > 10 else ()
    elif not latest or age > 45:
        wanted = ("rectifying", "rectified", "verified")
    elif age > 20:
        wanted = ("rectifying", "rectified")
    elif age > 7:
        wanted = ("rectifying",)
    else:
        wanted = ()
    times, steps = story_steps(rng, found, anchor, wanted)
    key = (row["plan_id"], row["asset_id"], row["due_on"])
    return HazardStory(times, steps, inspection_key=key)


def direct_story(rng: random.Random, spec: DirectHazard, anchor: date) -> HazardStory:
    found = working_moment(rng, anchor - timedelta(days=spec.days_ago))
    times, steps = story_steps(rng, found, anchor, spec.steps)
    if spec.reopen_reason:
        times.append(working_moment(rng, anchor - timedelta(days=10)))
        steps.append("reopen")
    return HazardStory(times, steps, direct=spec)


def insert_history(rows: list[dict[str, Any]]) -> None:
    """Bulk insert; rows without answers go separately, so their answers stay SQL NULL."""
    table = Inspection.__table__
    columns = [column.name for column in table.columns if column.name != "id"]
    done = [row for row in rows if "answers" in row]
    open_ = [row for row in rows if "answers" not in row]
    narrow = [column for column in columns if column != "answers"]
    for group, names in ((done, columns), (open_, narrow)):
        values = [
            {name: row.get(name, COLUMN_DEFAULTS.get(name)) for name in names} for row in group
        ]
        bulk_insert(db.session, table, values)


def mark_faulty(asset: Asset) -> None:
    if asset.status == AssetStatus.ACTIVE:
        asset.status = AssetStatus.FAULTY.value
        record_change("status", "asset", asset.code, {"status": "active"}, {"status": "faulty"})


@dataclass
class HistoryContext:
    """What playing the hazards needs: the day, the people, the inspections, the sites."""

    anchor: date
    officer: User
    users: dict[str, User]
    inspectors: dict[int, User]  # by contractor id
    inspections: dict[tuple[int, int, date], Inspection]
    sites: list[dict[str, Any]]
    site_ids: dict[str, int]

    def open(self, story: HazardStory, moment: datetime) -> Hazard:
        if story.direct is None:
            inspection = self.inspections[story.inspection_key]
            mark_faulty(inspection.asset)
            inspector = self.inspectors[inspection.contractor_id]
            return open_hazard_for_failed_inspection(inspection, inspector)
        spec, site = story.direct, self.sites[story.direct.site]
        values = {
            "category": spec.category,
            "severity": spec.severity,
            "description": spec.description,
            "longitude": round(site["longitude"] + 0.0004, 6),
            "latitude": round(site["latitude"] - 0.0003, 6),
            "site_id": self.site_ids[site["name"]],
            "found_on": moment.astimezone(district_zone()).date(),
        }
        return create_hazard(values, found_by=self.users[spec.reporter], today=self.anchor)

    def actor(self, story: HazardStory) -> User:
        """Who reports progress: the contractor on its own equipment, else the officer."""
        if story.direct is None:
            return self.inspectors[self.inspections[story.inspection_key].contractor_id]
        return self.officer


def play(stories: list[HazardStory], context: HistoryContext) -> None:
    """Every creation and step of every hazard, in the order they happened, through the
    hazard services (codes are numbered by finding; verifying returns an asset to service)."""
    actions = sorted(
        (moment, number, index)
        for number, story in enumerate(stories)
        for index, moment in enumerate(story.times)
    )
    for moment, number, index in actions:
        story = stories[number]
        if index == 0:
            story.hazard = context.open(story, moment)
            continue
        step = story.steps[index - 1]
        if step == "reopen":
            reopen_hazard(story.hazard, context.officer, story.direct.reopen_reason)
        else:
            actor = context.officer if step == "verified" else context.actor(story)
            photos = [demo_after_photo()] if step == HazardStatus.RECTIFIED else []
            change_hazard_status(story.hazard, step, actor, STEP_NOTES[step], photos)
    backdate(stories)


def demo_after_photo() -> FileStorage:
    """A small plain image as the "after" photo a rectification needs (the demo has no camera)."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 170, 120)).save(buffer, format="JPEG")
    buffer.seek(0)
    return FileStorage(buffer, filename="after.jpg", content_type="image/jpeg")


def backdate(stories: list[HazardStory]) -> None:
    """The services stamp events with the moment of loading; the story's times replace them."""
    db.session.flush()
    hazard_ids = [story.hazard.id for story in stories]
    events: dict[int, list[HazardEvent]] = {}
    query = select(HazardEvent).where(HazardEvent.hazard_id.in_(hazard_ids))
    for event in db.session.scalars(query.order_by(HazardEvent.id)):
        events.setdefault(event.hazard_id, []).append(event)
    for story in stories:
        hazard = story.hazard
        for event, moment in zip(events[hazard.id], story.times, strict=True):
            event.at = moment
        hazard.created_at = story.times[0]
        hazard.status_changed_at = hazard.updated_at = story.times[-1]


def add_history(anchor: date, sites: list[dict[str, Any]]) -> tuple[int, int]:
    """A year of inspections and the hazards they and the field found, unless already there.
    Returns (inspections, hazards) added."""
    plans = demo_plans()
    if not plans or history_loaded(plans):
        return 0, 0
    rng = random.Random(HISTORY_SEED)  # noqa: S311 - demo data, not secrets
    users = {user.email: user for user in db.session.scalars(select(User))}
    inspectors = {users[email].contractor_id: users[email] for email in INSPECTORS.values()}
    rows = history_rows(rng, anchor, plans, {cid: user.id for cid, user in inspectors.items()})
    faulty_ids = set(db.session.scalars(select(Asset.id).where(Asset.status == AssetStatus.FAULTY)))
    failed = failures(rng, rows, faulty_ids)
    latest = latest_completed(rows)
    insert_history(rows)
    analyze_in_session(["inspections"])

    plan_ids = [plan.id for plan in plans]
    failed_inspections = db.session.scalars(
        select(Inspection).where(Inspection.plan_id.in_(plan_ids), Inspection.result == "fail")
    )
    context = HistoryContext(
        anchor=anchor,
        officer=users[OFFICER],
        users=users,
        inspectors=inspectors,
        inspections={(i.plan_id, i.asset_id, i.due_on): i for i in failed_inspections},
        sites=sites,
        site_ids=site_ids_by_name(),
    )
    stories = [
        failure_story(
            rng, row, anchor, latest[row["asset_id"]] is row, row["asset_id"] in faulty_ids
        )
        for row in failed
    ]
    stories += [direct_story(rng, spec, anchor) for spec in DIRECT_HAZARDS]
    play(stories, context)
    return len(rows), len(stories)


def latest_completed(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    latest: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["status"] != InspectionStatus.COMPLETED:
            continue
        current = latest.get(row["asset_id"])
        if current is None or row["completed_at"] > current["completed_at"]:
            latest[row["asset_id"]] = row
    return latest


def demo_summary(today: date | None = None) -> str:
    """One line on the demo's inspections and hazards, as they stand."""
    today = district_today() if today is None else today
    plan_ids = [plan.id for plan in demo_plans()]
    of_plans = Inspection.plan_id.in_(plan_ids)
    counts = dict(
        db.session.execute(
            select(Inspection.status, func.count()).where(of_plans).group_by(Inspection.status)
        ).all()
    )
    failed = db.session.scalar(
        select(func.count()).where(of_plans, Inspection.result == InspectionResult.FAIL)
    )
    overdue = db.session.scalar(select(func.count()).where(of_plans, overdue_clause(today)))
    hazards = dict(
        db.session.execute(select(Hazard.status, func.count()).group_by(Hazard.status)).all()
    )
    states = ", ".join(f"{hazards.get(status, 0)} {status}" for status in HazardStatus)
    return (
        f"demo: {len(plan_ids)} plans; inspections {counts.get('completed', 0)} completed "
        f"({failed} failed), {overdue} overdue, {counts.get('scheduled', 0) - overdue} upcoming, "
        f"{counts.get('cancelled', 0)} cancelled; hazards {states}"
    )


def load_demo_district(seed: int = SEED) -> DemoResult:
    """Add whatever part of the demo district is missing, and commit once.

    Plans, history and hazards are dated from the district's today (the anchor); the upcoming
    inspections are generated over the usual horizon from it.
    """
    plan = demo_plan(seed)
    added: dict[str, int] = {"grids": add_grids(plan.grids)}
    added["property companies"], added["sites"] = add_companies_and_sites(plan)
    added["contractors"], added["users"] = add_accounts()
    added["assets"] = add_assets(plan.assets)
    analyze_in_session(["grids", "sites", "assets", "users"])
    anchor = district_today()
    added["plans"], upcoming = add_plans(anchor)
    added["past inspections"], added["hazards"] = add_history(anchor, plan.sites)
    added["upcoming inspections"] = upcoming + generate_inspections(today=anchor)
    db.session.commit()
    return DemoResult(added)


@demo_cli.command("load")
def load_command() -> None:
    """Load the demo district (grids, sites, assets, accounts, plans, a year of inspections,
    hazards); running it again the same day adds nothing."""
    result = load_demo_district()
    if result.nothing_added:
        click.echo("the demo district is loaded already: nothing added")
    else:
        click.echo("added " + ", ".join(f"{n} {what}" for what, n in result.added.items()))
    click.echo(demo_summary())
    click.echo("demo accounts (email / password / role):")
    for email, password, role, contractor, _name in result.accounts:
        suffix = f" ({contractor})" if contractor else ""
        click.echo(f"  {email} / {password} / {role}{suffix}")
