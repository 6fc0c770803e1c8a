"""`flask demo load`: the demo district of Xingang, deterministic and idempotent.

Everything is generated from a fixed seed, then only what is missing (by grid code, company,
site and contractor name, user email, asset code) is written, in one transaction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import click
from flask.cli import AppGroup
from geoalchemy2 import WKTElement
from sqlalchemy import select

from accounts.models import Contractor, User
from accounts.services import create_user
from assets import io as asset_io
from assets.kinds import DETECTION_METHODS
from assets.models import Asset, AssetStatus, Grid, PropertyCompany, Site
from assets.services import site_ids_by_name
from core.extensions import db
from core.spatial import SRID, point_value

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
    rows = [(f"demo asset {index}", data) for index, data in enumerate(missing, 1)]
    cleans, problems = asset_io.validate_rows(rows, sites)
    if problems:
        raise ValueError("the demo data is invalid: " + "; ".join(problems[:5]))
    return asset_io.insert_assets(cleans, "create", {i: name for name, i in sites.items()})


def load_demo_district(seed: int = SEED) -> DemoResult:
    """Add whatever part of the demo district is missing, and commit once."""
    plan = demo_plan(seed)
    added: dict[str, int] = {"grids": add_grids(plan.grids)}
    added["property companies"], added["sites"] = add_companies_and_sites(plan)
    added["contractors"], added["users"] = add_accounts()
    added["assets"] = add_assets(plan.assets)
    db.session.commit()
    return DemoResult(added)


@demo_cli.command("load")
def load_command() -> None:
    """Load the demo district (grids, sites, assets, accounts); running it again adds nothing."""
    result = load_demo_district()
    if result.nothing_added:
        click.echo("the demo district is loaded already: nothing added")
    else:
        click.echo("added " + ", ".join(f"{n} {what}" for what, n in result.added.items()))
    click.echo("demo accounts (email / password / role):")
    for email, password, role, contractor, _name in result.accounts:
        suffix = f" ({contractor})" if contractor else ""
        click.echo(f"  {email} / {password} / {role}{suffix}")
