"""`flask demo province`: a synthetic province of any size, for benchmarks and load tests.

A ``Province`` is made from (assets, inspections, seed, today) alone: the same arguments give
the same rows, byte for byte (ids included). Its small frame (grids, property companies,
contractors, users, plans) is held in memory; sites, assets, their inspections, hazards,
hazard events and "after" photos are generated grid by grid (each grid from its own seeded
generator) and streamed to the database in batches, so 10M inspections are never held at once.

Levels: the registry has two grid levels (``grids.level IN (1, 2)``; the map draws both,
``in_grid`` lets a first-level grid cover its children, the grid import accepts 1 and 2). So a
city is a first-level grid and its grids are second-level grids; a district is a block of its
city's grids and lives in their codes and names (``C03-02-07``: city 3, district 2, grid 7).

Each city has two contractors: one inspects its charging stations monthly, the other its
elevator blockers quarterly (one plan each, by city and kind: no asset is in two plans). An
asset gets the last ``k`` due dates of its plan up to today + the generation horizon
(``k`` = inspections / assets, the remainder one more for the first assets): the past ones
completed (a few failed, opening a hazard), some recent ones overdue, a few cancelled, the
coming ones scheduled. A failed inspection's hazard has come as far as its age allows
(open → rectifying → rectified with an "after" photo → verified by the grid's officer); an
asset with a hazard not yet verified is faulty. Sites also have hazards reported in the field.
Hazard codes are numbered per year in the order they are generated (grid by grid), and the
year's counter is left at the last number given.

Loading writes explicit ids, in one transaction, inside ``core.spatial.bulk_load``: PostGIS
through COPY with the tables' indexes, unique constraints and foreign keys made again once at
the end, then the sequences moved past the ids, and the tables analysed once committed
(``core.spatial.analyze_tables``); SpatiaLite through
executemany with its spatial index triggers deferred and its indexes made at the end. The
dashboard's roll-ups (the overdue trend's past weeks, the on-time totals) are then computed
for today, as its first visit would. Only the rows are synthetic: no audit entries are
written for them (the demo district's loader goes through the services instead).

Sizes: about 400 assets a grid; at 1M assets, 16 cities × 12 districts × 16 grids. A batch
holds ``assets_per_batch`` assets with their rows (5,000 assets: some 60k rows).
"""

from __future__ import annotations

import hashlib
import math
import random
import time as timer
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import click
from flask import current_app
from geoalchemy2 import WKTElement
from sqlalchemy import Table, exists, select
from werkzeug.security import _hash_internal

from assets.kinds import DETECTION_METHODS, KINDS
from core.clock import district_today, district_zone
from core.extensions import db
from core.spatial import EARTH_RADIUS_M, SRID, analyze_tables, bulk_insert, bulk_load, writing
from dashboard.stats import on_time_by_contractor
from dashboard.trend import overdue_trend
from demo.district import (
    BLOCKER_MAKERS,
    CANCEL_REASONS,
    FAILURE_NOTES,
    PASS_REMARKS,
    ROADS,
    SITE_NAMES,
    STATION_MAKERS,
    STEP_NOTES,
    demo_after_photo,
    demo_cli,
    station_details,
)
from evidence.photos import photo_dir
from hazards.services import FAILED_INSPECTION_CATEGORY
from inspections.cadence import add_months
from inspections.services import DEFAULT_HORIZON_DAYS

SEED = 20261130
EMAIL_DOMAIN = "province.example.cn"
PASSWORDS = {
    "admin": "province-admin-2026",
    "officer": "province-officer-2026",
    "contractor": "province-inspect-2026",
}
CITIES = (
    "济南市", "青岛市", "淄博市", "枣庄市", "东营市", "烟台市", "潍坊市", "济宁市",
    "泰安市", "威海市", "日照市", "临沂市", "德州市", "聊城市", "滨州市", "菏泽市",
)  # fmt: skip
DISTRICTS = (
    "历城区", "市中区", "高新区", "经开区", "东城区", "西城区", "南湖区", "北岭区",
    "滨海新区", "港城区", "河东区", "河西区", "新城区", "开发区", "临港区", "湖滨区",
)  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文海波宁辉鹏飞"
BRANDS = ("安居", "恒信", "锦华", "盛世", "海悦", "鸿运", "华府", "嘉禾", "润泽", "康宁")
CONTRACTOR_BRANDS = (("安消", "stations"), ("卫安", "blockers"))
DIRECT_HAZARDS = (
    ("ebike_in_corridor", "general", "单元楼道内停放电动自行车，堵塞疏散通道"),
    ("flying_wire_charging", "general", "楼道窗口私拉电线为电动自行车飞线充电"),
    ("ebike_in_lift", "general", "居民推电动自行车进入电梯，阻车器报警后仍强行进入"),
    ("blocked_exit", "major", "地下车库安全出口堆放杂物，疏散通道不畅"),
    ("extinguisher_expired", "general", "小区充电车棚配置的灭火器已过检验期"),
    ("extinguisher_missing", "major", "充电车棚未配置灭火器"),
)

# The lattice: every second-level grid is one cell; cities are blocks of cells with a gap of
# countryside between them (outside every grid, so no asset lies there).
WEST, SOUTH = 115.5, 34.5
CELL_LON, CELL_LAT = 0.012, 0.009  # about 1.07 km by 1.0 km here
CITY_GAP = 0.05
SITE_MARGIN = 0.0025  # a site keeps this far from its grid's edges
NEAR_SITE = 0.0012  # an asset lies this close to its site, so inside the grid
ASSETS_PER_GRID = 400
ASSETS_PER_SITE = 12
SITES_PER_COMPANY = 40
STATION_SHARE = 0.15
MAX_CITIES, MAX_DISTRICTS = 16, 12

# The history.
HORIZON_DAYS = DEFAULT_HORIZON_DAYS
RECENT_DAYS = 21  # overdue mostly among the inspections due in the last three weeks
RECENT_OVERDUE_RATE, OLD_OVERDUE_RATE, CANCEL_RATE = 0.08, 0.003, 0.004
FAIL_RATE, LATE_RATE, FAR_RATE = 0.025, 0.08, 0.005
DIRECT_HAZARD_RATE = 0.04  # per site, over the last year
WORKDAY_MINUTES = (8 * 60 + 30, 17 * 60 + 30)
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180  # on the sphere ``distance_m`` measures
TWO_PI = 2 * math.pi
ACCURACIES = (5.0, 8.0, 10.0, 12.0, 15.0, 20.0)
ONE_DAY = timedelta(days=1)
GAPS = {"rectifying": (1, 3), "rectified": (2, 8), "verified": (1, 4)}
FULL_STORY = ("rectifying", "rectified", "verified")

# Written in this order (foreign keys); the frame first, then the batches.
FRAME_TABLES = ("grids", "property_companies", "contractors", "users", "inspection_plans")
BATCH_TABLES = ("sites", "assets", "inspections", "hazards", "hazard_events", "photos")
COUNTERS = "hazard_code_counters"
# An inspection before anything happened to it (every column: COPY applies no defaults).
INSPECTION_TEMPLATE = dict.fromkeys(
    (
        "id", "plan_id", "asset_id", "contractor_id", "due_on", "status", "completed_at",
        "inspector_id", "result", "notes", "stood_longitude", "stood_latitude",
        "stood_accuracy_m", "distance_m", "flagged", "logged_at", "idempotency_key",
        "cancelled_reason", "cancelled_at", "created_at",
    )
)  # fmt: skip
INSPECTION_TEMPLATE.update(status="scheduled", flagged=False)


class ProvinceError(click.ClickException):
    """The province cannot be loaded here (the database holds data, bad sizes)."""


@dataclass(frozen=True)
class Settings:
    """What the rows depend on besides the arguments: the app's configuration."""

    deadline_days: dict[str, int]
    flag_distance_m: float
    hash_method: str

    @classmethod
    def from_app(cls) -> Settings:
        config = current_app.config
        return cls(
            {key: int(days) for key, days in config["HAZARD_DEADLINE_DAYS"].items()},
            float(config["INSPECTION_FLAG_DISTANCE_M"]),
            config["PASSWORD_HASH_METHOD"],
        )


@dataclass(frozen=True)
class Shape:
    """How many cities, districts per city (columns × rows) and grids per district."""

    cities: int
    district_columns: int
    district_rows: int
    grid_columns: int
    grid_rows: int

    @property
    def districts(self) -> int:
        return self.district_columns * self.district_rows

    @property
    def grids_per_district(self) -> int:
        return self.grid_columns * self.grid_rows

    @property
    def grids(self) -> int:
        return self.cities * self.districts * self.grids_per_district


def _rectangle(count: int) -> tuple[int, int]:
    columns = math.ceil(math.sqrt(count))
    return columns, math.ceil(count / columns)


def shape_for(assets: int) -> Shape:
    """About ``ASSETS_PER_GRID`` assets a grid, at least 2 × 2 × 2 grids; 16 cities at most
    (Shandong's), up to 12 districts a city, and the grids a district needs."""
    wanted = max(8, math.ceil(assets / ASSETS_PER_GRID))
    cities = min(MAX_CITIES, max(2, math.ceil(wanted / 160)))
    districts = min(MAX_DISTRICTS, max(2, math.ceil(wanted / (cities * 16))))
    grids = max(2, math.ceil(wanted / (cities * districts)))
    return Shape(cities, *_rectangle(districts), *_rectangle(grids))


def polygon(west: float, south: float, east: float, north: float) -> WKTElement:
    ring = f"{west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}"
    return WKTElement(f"POLYGON(({ring}))", srid=SRID)


def point(longitude: float, latitude: float) -> WKTElement:
    return WKTElement(f"POINT({longitude!r} {latitude!r})", srid=SRID)


def password_hash(password: str, method: str, salt: str) -> str:
    """What ``generate_password_hash`` stores, with a salt of ours instead of a random one, so
    the rows repeat (werkzeug's own hashing, in its format: ``check_password_hash`` reads it)."""
    hashed, actual_method = _hash_internal(method, salt, password)
    return f"{actual_method}${salt}${hashed}"


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def phone(rng: random.Random) -> str:
    return f"13{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}"


@dataclass
class GridCell:
    """A second-level grid as the batches need it."""

    index: int  # 0-based, in generation order
    id: int
    code: str
    city: int
    name: str
    bounds: tuple[float, float, float, float]
    assets: int
    sites: int
    first_site: int  # global 0-based index of its first site
    first_asset: int  # global 0-based index of its first asset
    officer_id: int
    officer_email: str


@dataclass
class CityPeople:
    officer: tuple[int, str]  # (user id, email): verifies the hazards of the field
    plans: dict[str, int] = field(default_factory=dict)  # kind -> plan id
    contractors: dict[str, int] = field(default_factory=dict)  # kind -> contractor id
    inspectors: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # kind -> users
    companies: list[int] = field(default_factory=list)


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value


class Province:
    """The plan of a province; nothing is written until ``load_province``."""

    def __init__(
        self,
        assets: int,
        inspections: int | None = None,
        seed: int = SEED,
        today: date | None = None,
        settings: Settings | None = None,
    ) -> None:
        if assets < 1:
            raise ProvinceError("--assets must be at least 1")
        inspections = 10 * assets if inspections is None else inspections
        if inspections < 0:
            raise ProvinceError("--inspections cannot be negative")
        self.asset_count, self.inspection_count, self.seed = assets, inspections, seed
        self.today = district_today() if today is None else today
        self.settings = Settings.from_app() if settings is None else settings
        self.shape = shape_for(assets)
        self.per_asset, self.extra = divmod(inspections, assets)
        self.photo_bytes = after_photo_bytes()
        self.photo_name = hashlib.sha256(self.photo_bytes).hexdigest()[:32] + ".jpg"
        self._frame: dict[str, list[dict[str, Any]]] | None = None
        self.plan_due_dates: dict[int, list[date]] = {}  # plan id -> its due dates
        self.zone = district_zone()
        self._midnights: dict[date, datetime] = {}
        self._created: dict[date, datetime] = {}
        self.code_counters: dict[int, int] = {}  # year -> last hazard number, once generated

    # --- Moments in the district ---------------------------------------------------------------

    def moment(self, day: date, minutes: int) -> datetime:
        """``day`` at ``minutes`` past midnight in the district, as a UTC moment (counted from
        the day's midnight: on a day the clocks change, an hour off after the change)."""
        midnight = self._midnights.get(day)
        if midnight is None:
            local = datetime.combine(day, time(), self.zone)
            midnight = self._midnights[day] = local.astimezone(UTC)
        return midnight + timedelta(minutes=minutes)

    def working(self, rng: random.Random, day: date) -> datetime:
        """A moment of the working day (08:30–17:30)."""
        return self.moment(day, between(rng, *WORKDAY_MINUTES))

    def created_for(self, due_on: date) -> datetime:
        """When an inspection due on ``due_on`` was generated: as the horizon reached it."""
        created = self._created.get(due_on)
        if created is None:
            created = self._created[due_on] = self.moment(
                due_on - timedelta(days=HORIZON_DAYS), 120
            )
        return created

    # --- The frame: grids, companies, contractors, users, plans ------------------------------

    def _edge(self, city: int, column: int, row: int) -> tuple[float, float]:
        """The south-west corner of cell (column, row) of ``city``: every edge comes from here,
        so neighbours share their edges exactly and a city's edges are its grids' outer ones."""
        shape = self.shape
        city_columns = math.ceil(math.sqrt(shape.cities))
        width = shape.district_columns * shape.grid_columns * CELL_LON + CITY_GAP
        height = shape.district_rows * shape.grid_rows * CELL_LAT + CITY_GAP
        west = WEST + (city % city_columns) * width + column * CELL_LON
        south = SOUTH + (city // city_columns) * height + row * CELL_LAT
        return round(west, 6), round(south, 6)

    def _cell_bounds(self, city: int, column: int, row: int) -> tuple[float, float, float, float]:
        west, south = self._edge(city, column, row)
        east, north = self._edge(city, column + 1, row + 1)
        return west, south, east, north

    def frame(self) -> dict[str, list[dict[str, Any]]]:
        if self._frame is None:
            self._make_frame()
        return self._frame

    def _make_frame(self) -> None:
        rng = random.Random(f"province:{self.seed}:frame")  # noqa: S311 - synthetic data
        shape = self.shape
        tables: dict[str, list[dict[str, Any]]] = {name: [] for name in FRAME_TABLES}
        self.cells: list[GridCell] = []
        self.cities: list[CityPeople] = []
        ids = {name: Counter() for name in FRAME_TABLES}
        created = self.moment(self.today - timedelta(days=3 * 365), 9 * 60)
        hashes = {
            role: password_hash(
                password,
                self.settings.hash_method,
                hashlib.sha256(f"province:{self.seed}:{role}".encode()).hexdigest()[:16],
            )
            for role, password in PASSWORDS.items()
        }

        def add_user(email: str, role: str, name: str, **extra: Any) -> tuple[int, str]:
            row = {
                "id": ids["users"].next(),
                "email": email,
                "name": name,
                "password_hash": hashes[role],
                "role": role,
                "contractor_id": extra.get("contractor_id"),
                "locale": None,
                "active": True,
                "created_at": created,
                "grid_id": extra.get("grid_id"),
                "session_version": 1,
            }
            tables["users"].append(row)
            return row["id"], email

        add_user(f"admin@{EMAIL_DOMAIN}", "admin", "省级系统管理员")
        add_user(f"officer@{EMAIL_DOMAIN}", "officer", "省级安全专员")

        assets_per_grid, extra_assets = divmod(self.asset_count, shape.grids)
        grid_index = first_site = first_asset = 0
        per_city = shape.districts * shape.grids_per_district
        for city in range(shape.cities):
            city_name = CITIES[city]
            city_code = f"C{city + 1:02d}"
            columns = shape.district_columns * shape.grid_columns
            rows = shape.district_rows * shape.grid_rows
            west, south = self._edge(city, 0, 0)
            east, north = self._edge(city, columns, rows)
            city_id = ids["grids"].next()
            tables["grids"].append(
                {
                    "id": city_id,
                    "code": city_code,
                    "name": city_name,
                    "level": 1,
                    "parent_id": None,
                    "boundary": polygon(west, south, east, north),
                    "leader_name": person(rng),
                    "leader_phone": phone(rng),
                    "leader_email": f"{city_code.lower()}@{EMAIL_DOMAIN}",
                }
            )
            people = CityPeople(
                add_user(
                    f"{city_code.lower()}@{EMAIL_DOMAIN}",
                    "officer",
                    f"{city_name}安全专员",
                    grid_id=city_id,
                )
            )
            self.cities.append(people)
            city_assets = sum(
                assets_per_grid + (1 if index < extra_assets else 0)
                for index in range(grid_index, grid_index + per_city)
            )
            self._add_contractors(rng, tables, ids, people, city, city_id, city_assets, add_user)
            for district in range(shape.districts):
                district_column = district % shape.district_columns
                district_row = district // shape.district_columns
                for number in range(shape.grids_per_district):
                    column = district_column * shape.grid_columns + number % shape.grid_columns
                    row = district_row * shape.grid_rows + number // shape.grid_columns
                    code = f"{city_code}-{district + 1:02d}-{number + 1:02d}"
                    bounds = self._cell_bounds(city, column, row)
                    name = f"{city_name}{DISTRICTS[district]}第{number + 1}网格"
                    leader = person(rng)
                    grid_id = ids["grids"].next()
                    tables["grids"].append(
                        {
                            "id": grid_id,
                            "code": code,
                            "name": name,
                            "level": 2,
                            "parent_id": city_id,
                            "boundary": polygon(*bounds),
                            "leader_name": leader,
                            "leader_phone": phone(rng),
                            "leader_email": f"{code.lower()}@{EMAIL_DOMAIN}",
                        }
                    )
                    count = assets_per_grid + (1 if grid_index < extra_assets else 0)
                    sites = max(1, math.ceil(count / ASSETS_PER_SITE))
                    officer = add_user(
                        f"{code.lower()}@{EMAIL_DOMAIN}", "officer", leader, grid_id=grid_id
                    )
                    self.cells.append(
                        GridCell(
                            grid_index,
                            grid_id,
                            code,
                            city,
                            name,
                            bounds,
                            count,
                            sites,
                            first_site,
                            first_asset,
                            *officer,
                        )  # fmt: skip
                    )
                    grid_index += 1
                    first_site += sites
                    first_asset += count
            city_sites = sum(cell.sites for cell in self.cells if cell.city == city)
            for number in range(max(2, math.ceil(city_sites / SITES_PER_COMPANY))):
                brand, series = BRANDS[number % len(BRANDS)], number // len(BRANDS)
                suffix = (
                    "物业服务有限公司" if series == 0 else f"物业服务有限公司第{series + 1}分公司"
                )
                company_id = ids["property_companies"].next()
                tables["property_companies"].append(
                    {
                        "id": company_id,
                        "name": f"{city_name}{brand}{suffix}",
                        "contact_name": person(rng),
                        "contact_phone": phone(rng),
                    }
                )
                people.companies.append(company_id)
        self._frame = tables

    def _add_contractors(self, rng, tables, ids, people, city, city_id, city_assets, add_user):
        """Two contractors for the city: one for its stations, one for its blockers; a plan
        each, on the city's first-level grid and the kind (so no asset is in two plans)."""
        city_name, city_code = CITIES[city], f"c{city + 1:02d}"
        for (brand, _), kind, unit in zip(
            CONTRACTOR_BRANDS,
            ("charging_station", "elevator_blocker"),
            ("month", "quarter"),
            strict=True,
        ):
            contractor_id = ids["contractors"].next()
            slug = "ax" if kind == "charging_station" else "wa"
            tables["contractors"].append(
                {
                    "id": contractor_id,
                    "name": f"{city_name}{brand}消防维保有限公司",
                    "contact_email": f"service@{city_code}{slug}.{EMAIL_DOMAIN}",
                    "contact_phone": f"0{rng.randint(530, 539)}-{rng.randint(0, 9_999_999):07d}",
                    "active_from": None,
                    "active_until": None,
                }
            )
            people.contractors[kind] = contractor_id
            share = STATION_SHARE if kind == "charging_station" else 1 - STATION_SHARE
            inspectors = max(2, min(20, round(city_assets * share / 4000)))
            people.inspectors[kind] = [
                add_user(
                    f"inspector{number + 1}@{city_code}{slug}.{EMAIL_DOMAIN}",
                    "contractor",
                    person(rng),
                    contractor_id=contractor_id,
                )
                for number in range(inspectors)
            ]
            dates = self.plan_dates(unit, 1 + (city * 3 + len(people.plans) * 11) % 28)
            plan_id = ids["inspection_plans"].next()
            label = "充电站月度巡检" if kind == "charging_station" else "电梯阻车器季度巡检"
            plan_created = self.moment(dates[0] - timedelta(days=14), 9 * 60)
            tables["inspection_plans"].append(
                {
                    "id": plan_id,
                    "name": f"{city_name}{label}",
                    "contractor_id": contractor_id,
                    "asset_kind": kind,
                    "grid_id": city_id,
                    "cadence_unit": unit,
                    "cadence_every": 1,
                    "start_on": dates[0],
                    "end_on": None,
                    "active": True,
                    "created_at": plan_created,
                    "updated_at": plan_created,
                }
            )
            people.plans[kind] = plan_id
            self.plan_due_dates[plan_id] = dates

    def plan_dates(self, unit: str, day: int) -> list[date]:
        """The last ``per_asset`` (+1 with a remainder) due dates of a plan on ``day`` of the
        month, every month or quarter, up to today + the horizon; at least one (the plan's
        start, when nothing is inspected)."""
        end = self.today + timedelta(days=HORIZON_DAYS)
        last = date(end.year, end.month, day)
        if last > end:
            last = add_months(last, -1)
        step = 1 if unit == "month" else 3
        count = max(1, self.per_asset + (1 if self.extra else 0))
        return [add_months(last, -step * back) for back in range(count - 1, -1, -1)]

    # --- The batches: sites, assets, inspections, hazards --------------------------------------

    def batches(self, assets_per_batch: int = 5_000) -> Iterator[dict[str, list[dict[str, Any]]]]:
        """The rows of the grids, a few grids at a time (at least one grid a batch)."""
        self.frame()
        state = _BatchState()
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in BATCH_TABLES}
        held = 0
        for cell in self.cells:
            self._grid_rows(cell, state, batch)
            held += cell.assets
            if held >= assets_per_batch:
                yield batch
                batch, held = {name: [] for name in BATCH_TABLES}, 0
        if any(batch.values()):
            yield batch
        self.code_counters = dict(sorted(state.hazard_numbers.items()))

    def _grid_rows(self, cell: GridCell, state: _BatchState, out: dict[str, list]) -> None:
        rng = random.Random(f"province:{self.seed}:grid:{cell.index}")  # noqa: S311
        city = self.cities[cell.city]
        west, south, east, north = cell.bounds
        sites = []
        for number in range(cell.sites):
            index = cell.first_site + number
            base = SITE_NAMES[number % len(SITE_NAMES)]
            phase = number // len(SITE_NAMES)
            district = int(cell.code.split("-")[1]) - 1
            site = {
                "id": index + 1,
                "name": f"{CITIES[cell.city]}{DISTRICTS[district]}{cell.code[-2:]}网格·{base}"
                + (f"{phase + 1}期" if phase else ""),
                "address": f"{CITIES[cell.city]}{DISTRICTS[district]}"
                f"{rng.choice(ROADS)}{rng.randint(1, 999)}号",
                "property_company_id": city.companies[index % len(city.companies)],
                "longitude": round(rng.uniform(west + SITE_MARGIN, east - SITE_MARGIN), 6),
                "latitude": round(rng.uniform(south + SITE_MARGIN, north - SITE_MARGIN), 6),
            }
            sites.append(site)
            out["sites"].append(
                {
                    "id": site["id"],
                    "name": site["name"],
                    "address": site["address"],
                    "property_company_id": site["property_company_id"],
                    "location": point(site["longitude"], site["latitude"]),
                }
            )
        for number in range(cell.assets):
            site = sites[number % len(sites)]
            index = cell.first_asset + number
            self._asset_rows(rng, index, cell, city, site, number // len(sites), state, out)
        for site in sites:
            if rng.random() < DIRECT_HAZARD_RATE:
                self._direct_hazard(rng, cell, city, site, state, out)

    def _asset_rows(self, rng, index, cell, city, site, in_site, state, out) -> None:
        """Asset ``index`` (0-based, over the province) with its inspections and hazards."""
        kind = "charging_station" if rng.random() < STATION_SHARE else "elevator_blocker"
        number = state.kind_numbers[kind] = state.kind_numbers.get(kind, 0) + 1
        longitude = round(site["longitude"] + rng.uniform(-NEAR_SITE, NEAR_SITE), 6)
        latitude = round(site["latitude"] + rng.uniform(-NEAR_SITE, NEAR_SITE), 6)
        plan_id = city.plans[kind]
        dates = self.plan_due_dates[plan_id]
        wanted = self.per_asset + (1 if index < self.extra else 0)
        dates = dates[len(dates) - wanted :] if wanted else []
        first_due = dates[0] if dates else self.today
        # Installed, then registered a week later, before its first inspection was generated.
        installed = first_due - timedelta(days=rng.randint(HORIZON_DAYS + 10, HORIZON_DAYS + 300))
        asset_id = index + 1
        asset = {
            "id": asset_id,
            "code": KINDS[kind].code_for(number),
            "kind": kind,
            "location": point(longitude, latitude),
            "grid_id": cell.id,
            "site_id": site["id"],
            "installed_on": installed,
            "notes": None,
            "created_at": self.moment(installed + timedelta(days=7), 10 * 60),
        }
        asset.update(asset_details(rng, kind, site, in_site))
        context = AssetContext(
            asset_id, kind, longitude, latitude, asset["attributes"], cell, city, site
        )
        unverified = self._inspection_rows(rng, context, plan_id, dates, state, out)
        asset["status"] = "faulty" if unverified else "active"
        asset["updated_at"] = asset["created_at"]
        out["assets"].append(asset)

    def _inspection_rows(self, rng, asset: AssetContext, plan_id, dates, state, out) -> bool:
        """The asset's inspections and the hazards its failures opened; whether one of those
        is not verified yet (the asset is faulty then). The hot loop: 10M rows for 1M assets."""
        today, chance = self.today, rng.random
        recent_from = today - timedelta(days=RECENT_DAYS)
        inspectors = asset.city.inspectors[asset.kind]
        answers = applicable_answers(asset.kind, asset.attributes)  # shared by passed rows
        template = dict(INSPECTION_TEMPLATE, plan_id=plan_id, asset_id=asset.id)
        template["contractor_id"] = asset.city.contractors[asset.kind]
        ids, rows = state.ids["inspections"], out["inspections"]
        unverified = False
        for due_on in dates:
            row = template.copy()
            row["id"] = ids.next()
            row["due_on"] = due_on
            row["created_at"] = self.created_for(due_on)
            rows.append(row)
            if due_on >= today:
                continue
            roll = chance()
            recent = due_on >= recent_from
            if roll < (RECENT_OVERDUE_RATE if recent else OLD_OVERDUE_RATE):
                continue  # overdue: still scheduled
            if not recent and roll < OLD_OVERDUE_RATE + CANCEL_RATE:
                row["status"] = "cancelled"
                row["cancelled_reason"] = pick(rng, CANCEL_REASONS)
                row["cancelled_at"] = self.working(rng, due_on - timedelta(days=between(rng, 0, 5)))
                continue
            inspector = pick(rng, inspectors)
            day = completion_day(rng, due_on, today)
            completed_at = self.working(rng, day)
            row["status"] = "completed"
            row["completed_at"] = completed_at
            row["logged_at"] = completed_at + timedelta(seconds=between(rng, 20, 600))
            row["inspector_id"] = inspector[0]
            row["result"] = "pass"
            row["answers"] = answers
            if chance() < 0.04:
                row["notes"] = pick(rng, PASS_REMARKS)
            self._stood_near(rng, asset, row)
            if chance() < FAIL_RATE:
                passed = [key for key, answer in answers.items() if answer == "pass"]
                chosen = rng.sample(passed, 1 if chance() < 0.8 else 2)
                failed = [key for key in answers if key in chosen]  # in the checklist's order
                row["result"] = "fail"
                row["answers"] = {
                    key: "fail" if key in failed else answer for key, answer in answers.items()
                }
                row["notes"] = "；".join(FAILURE_NOTES[key] for key in failed)
                status = self._failure_hazard(rng, asset, row, day, inspector, failed, state, out)
                unverified = unverified or status != "verified"
        return unverified

    def _stood_near(self, rng: random.Random, asset: AssetContext, row: dict[str, Any]) -> None:
        """Where the inspector stood: a few metres off, or (flagged) a few hundred. The distance
        is the one walked out (the haversine of the points, to the centimetre, at this range)."""
        chance = rng.random
        metres = 180 + 220 * chance() if chance() < FAR_RATE else 2 + 23 * chance()
        bearing = TWO_PI * chance()
        row["stood_latitude"] = round(
            asset.latitude + metres * math.cos(bearing) / METRES_PER_DEGREE, 7
        )
        row["stood_longitude"] = round(
            asset.longitude + metres * math.sin(bearing) / asset.metres_per_degree_east, 7
        )
        row["stood_accuracy_m"] = pick(rng, ACCURACIES)
        row["distance_m"] = distance = round(metres, 1)
        row["flagged"] = distance > self.settings.flag_distance_m

    def _failure_hazard(self, rng, asset, inspection, day, inspector, failed, state, out) -> str:
        age = (self.today - day).days
        wanted = FULL_STORY if age > 45 else FULL_STORY[:2] if age > 20 else FULL_STORY[:1]
        if age <= 7:
            wanted = ()
        hazard = {
            "category": str(FAILED_INSPECTION_CATEGORY[asset.kind]),
            "severity": "general",
            "description": inspection["notes"],
            "location": point(asset.longitude, asset.latitude),
            "asset_id": asset.id,
            "inspection_id": inspection["id"],
            "failed_items": list(failed),
            "grid_id": asset.cell.id,
            "site_id": asset.site["id"],
            "found_by_id": inspector[0],
            "reported_by_contractor_id": inspection["contractor_id"],
        }
        actors = {"rectifying": inspector, "rectified": inspector}
        actors["verified"] = (asset.cell.officer_id, asset.cell.officer_email)
        found = (inspection["logged_at"], day)
        site = asset.site
        return self._hazard_rows(rng, hazard, found, inspector, wanted, actors, site, state, out)

    def _direct_hazard(self, rng, cell, city, site, state, out) -> None:
        category, severity, description = pick(rng, DIRECT_HAZARDS)
        found_on = self.today - timedelta(days=between(rng, 1, 365))
        found = (self.working(rng, found_on), found_on)
        age = (self.today - found_on).days
        wanted = FULL_STORY if age > 45 else FULL_STORY[:2] if age > 20 else FULL_STORY[:1]
        if age <= 7:
            wanted = ()
        officer = (cell.officer_id, cell.officer_email)
        hazard = {
            "category": category,
            "severity": severity,
            "description": description,
            "location": point(
                round(site["longitude"] + 0.0004, 6), round(site["latitude"] - 0.0003, 6)
            ),
            "asset_id": None,
            "inspection_id": None,
            "grid_id": cell.id,
            "site_id": site["id"],
            "found_by_id": officer[0],
            "reported_by_contractor_id": None,
        }
        actors = {"rectifying": officer, "rectified": officer, "verified": city.officer}
        self._hazard_rows(rng, hazard, found, officer, wanted, actors, site, state, out)

    def _hazard_rows(self, rng, hazard, found, finder, wanted, actors, site, state, out) -> str:
        """The hazard, its events (each step as far as today allows) and the "after" photo of
        its rectification; returns its status. ``found``: (the moment, the district's day)."""
        found_at, found_on = found
        year = found_on.year
        number = state.hazard_numbers[year] = state.hazard_numbers.get(year, 0) + 1
        hazard_id = state.ids["hazards"].next()
        times, steps, day = [found_at], [], found_on
        for step in wanted:
            day += timedelta(days=between(rng, *GAPS[step]))
            if day >= self.today:
                break
            times.append(self.working(rng, day))
            steps.append(step)
        status = steps[-1] if steps else "open"
        severity = hazard["severity"]
        hazard.update(
            id=hazard_id,
            code=f"HZ-{year}-{number:04d}",
            found_on=found_on,
            responsible_company_id=site["property_company_id"],
            responsible_contractor_id=None,
            deadline=found_on + timedelta(days=self.settings.deadline_days[severity]),
            status=status,
            status_changed_at=times[-1],
            created_at=times[0],
            updated_at=times[-1],
        )
        if hazard.get("failed_items") is None:
            hazard.pop("failed_items", None)
        out["hazards"].append(hazard)
        previous = None
        for moment, step, actor in zip(
            times, ["open", *steps], [finder, *(actors[step] for step in steps)], strict=True
        ):
            out["hazard_events"].append(
                {
                    "id": state.ids["hazard_events"].next(),
                    "hazard_id": hazard_id,
                    "from_status": previous,
                    "to_status": step,
                    "actor_id": actor[0],
                    "actor": actor[1],
                    "at": moment,
                    "note": STEP_NOTES.get(step),
                }
            )
            previous = step
            if step == "rectified":
                out["photos"].append(
                    {
                        "id": state.ids["photos"].next(),
                        "stored_name": self.photo_name,
                        "content_type": "image/jpeg",
                        "size_bytes": len(self.photo_bytes),
                        "width": PHOTO_SIZE[0],
                        "height": PHOTO_SIZE[1],
                        "inspection_id": None,
                        "hazard_id": hazard_id,
                        "stage": "after",
                        "uploaded_by_id": actor[0],
                        "uploaded_at": moment,
                    }
                )
        return status


@dataclass
class _BatchState:
    """What runs on from grid to grid: ids and code numbers."""

    ids: dict[str, Counter] = field(
        default_factory=lambda: {name: Counter() for name in BATCH_TABLES}
    )
    kind_numbers: dict[str, int] = field(default_factory=dict)
    hazard_numbers: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AssetContext:
    id: int
    kind: str
    longitude: float
    latitude: float
    attributes: dict[str, Any]
    cell: GridCell
    city: CityPeople
    site: dict[str, Any]
    metres_per_degree_east: float = 0.0

    def __post_init__(self) -> None:
        east = METRES_PER_DEGREE * math.cos(math.radians(self.latitude))
        object.__setattr__(self, "metres_per_degree_east", east)


PHOTO_SIZE = (64, 48)


def after_photo_bytes() -> bytes:
    """The one "after" photo every rectification shows (one file backs all their rows)."""
    return demo_after_photo().stream.read()


def asset_details(rng: random.Random, kind: str, site: dict[str, Any], in_site: int) -> dict:
    """Name, address, maker, model, serial and the kind's attributes."""
    if kind == "charging_station":
        ports = rng.choice((10, 12, 16, 20))
        maker, prefix = rng.choice(STATION_MAKERS)
        return {
            "name": f"{site['name']}{in_site + 1}号电动自行车充电站",
            "address": site["address"],
            **station_details(rng, maker, prefix, ports),
        }
    maker, prefix = rng.choice(BLOCKER_MAKERS)
    building, unit, elevator = in_site // 4 + 1, in_site // 2 % 2 + 1, in_site % 2 + 1
    return {
        "name": f"{site['name']}{building}号楼{unit}单元{elevator}号电梯阻车器",
        "address": f"{site['address']}{building}号楼{unit}单元",
        "manufacturer": maker,
        "model": f"{prefix}{rng.choice((100, 200, 300))}",
        "serial_number": f"{prefix.replace('-', '')}{rng.randint(0, 99_999_999):08d}",
        "attributes": {
            "building": f"{building}号楼",
            "unit": f"{unit}单元",
            "elevator_number": f"{elevator}号梯",
            "registration_code": f"{rng.randint(0, 10**20 - 1):020d}",
            "detection_method": rng.choice(DETECTION_METHODS),
        },
    }


def applicable_answers(kind: str, attributes: dict[str, Any]) -> dict[str, str]:
    """Every item passed; a station's camera and smoke detector items are "na" without one."""
    absent = {
        "camera_working": not attributes.get("camera", True),
        "smoke_detector_working": not attributes.get("smoke_detector", True),
    }
    return {item.key: "na" if absent.get(item.key) else "pass" for item in KINDS[kind].checklist}


def completion_day(rng: random.Random, due_on: date, today: date) -> date:
    """Mostly on or a few days before the due date; some late, never today or later."""
    if rng.random() < LATE_RATE and due_on + ONE_DAY < today:
        return min(due_on + timedelta(days=between(rng, 1, 12)), today - ONE_DAY)
    return due_on - timedelta(days=between(rng, 0, 4))


def pick(rng: random.Random, choices):
    """``rng.choice``, at a third of its cost (it is called tens of millions of times)."""
    return choices[int(rng.random() * len(choices))]


def between(rng: random.Random, low: int, high: int) -> int:
    """``rng.randint(low, high)``, cheaper."""
    return low + int(rng.random() * (high - low + 1))


# --- Loading ---------------------------------------------------------------------------------


def database_is_empty() -> bool:
    """No table of the registry holds a row."""
    for table in db.metadata.sorted_tables:
        if db.session.execute(select(exists().select_from(table))).scalar():
            return False
    return True


def write_rows(table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert complete rows with their ids; a JSON column left out of a row stays SQL NULL
    (rows are grouped by the columns they carry)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for group in groups.values():
        bulk_insert(db.session, table, group)


def _tables() -> dict[str, Table]:
    return db.metadata.tables


@dataclass
class LoadResult:
    counts: dict[str, int]
    seconds: float  # the whole load, roll-ups included
    roll_up_seconds: float = 0.0  # of which the dashboard's roll-ups


def load_province(province: Province, assets_per_batch: int = 5_000, progress=None) -> LoadResult:
    """Write the province into an empty database and commit; raises ProvinceError (nothing
    written) if any table holds a row. ``progress(counts)`` is called after each batch."""
    started = timer.perf_counter()
    tables = _tables()
    counts = {name: 0 for name in (*FRAME_TABLES, *BATCH_TABLES)}
    with writing():  # SQLite: the write lock before the check, so nobody writes in between
        if not database_is_empty():
            db.session.rollback()
            raise ProvinceError(
                "the database is not empty: load the province into a new database "
                "(flask --app app db upgrade on an empty one); nothing was written"
            )
        written_tables = [tables[name] for name in (*FRAME_TABLES, *BATCH_TABLES, COUNTERS)]
        with bulk_load(db.session, written_tables):
            frame = province.frame()
            for name in FRAME_TABLES:
                write_rows(tables[name], frame[name])
                counts[name] += len(frame[name])
            for batch in province.batches(assets_per_batch):
                for name in BATCH_TABLES:
                    write_rows(tables[name], batch[name])
                    counts[name] += len(batch[name])
                if progress is not None:
                    progress(counts)
            counters = [
                {"year": year, "last": last} for year, last in province.code_counters.items()
            ]
            write_rows(tables[COUNTERS], counters)
        if counts["photos"]:
            path = photo_dir() / province.photo_name
            if not path.exists():
                path.write_bytes(province.photo_bytes)
        db.session.commit()
    analyze_tables(table.name for table in written_tables)  # before the roll-ups read them
    written = timer.perf_counter()
    if province.today == district_today():
        # The dashboard's roll-ups, as its first visit would make them (past weeks, on time).
        overdue_trend(province.today)
        on_time_by_contractor(province.today)
        db.session.commit()
    finished = timer.perf_counter()
    return LoadResult(counts, finished - started, finished - written)


def _parse_day(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@demo_cli.command("province")
@click.option("--assets", type=click.IntRange(min=1), required=True, help="How many assets.")
@click.option(
    "--inspections",
    type=click.IntRange(min=0),
    help="How many inspections in all (default: 10 per asset).",
)
@click.option("--seed", type=int, default=SEED, show_default=True)
@click.option(
    "--today",
    callback=_parse_day,
    metavar="YYYY-MM-DD",
    help="The day the history leads up to (default: today in the district).",
)
def province_command(assets: int, inspections: int | None, seed: int, today: date | None):
    """Load a synthetic province (cities, districts, grids, sites, assets, years of
    inspections, hazards, users) into an empty database; the same arguments give the same
    rows."""
    province = Province(assets, inspections, seed, today)

    def progress(counts: dict[str, int]) -> None:
        click.echo(f"  {counts['assets']} assets, {counts['inspections']} inspections", err=True)

    result = load_province(province, progress=progress)
    click.echo(
        f"province (seed {seed}, today {province.today}): "
        + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in result.counts.items())
    )
    rows = sum(result.counts.values())
    click.echo(f"loaded {rows} rows in {result.seconds:.1f} s ({rows / result.seconds:.0f} rows/s)")
    click.echo("accounts: admin@" + EMAIL_DOMAIN + ", officer@" + EMAIL_DOMAIN + ", one officer")
    click.echo("  per city (c01@…) and per grid (c01-01-01@…), inspectors per contractor")
    click.echo(
        "  passwords: " + ", ".join(f"{role} {password}" for role, password in PASSWORDS.items())
    )
