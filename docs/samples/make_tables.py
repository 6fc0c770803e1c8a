"""Write docs/samples/sites.csv and docs/samples/assets.xlsx: the sample district's sites and
assets as a district office keeps them in Excel.

Zhifu District of Yantai (烟台市芝罘区). ``sites.csv`` is CSV as Chinese Excel and WPS save it
(GB18030, CRLF line ends, no byte order mark) with the Chinese headers 名称/地址/物业公司/
联系人/联系电话/经度/纬度: the 4 sites of 2 property companies. ``assets.xlsx`` is 12 assets
(a charging station and two elevator blockers at each site, inside that site's grid) exactly
as ``flask assets export --format xlsx --lang zh`` writes them: Chinese headers, kinds,
statuses and 是/否, registration codes as text with their leading zero. To be sure of that
it is made by the app itself, on a temporary SpatiaLite database: the grids, then
``sites import`` of sites.csv, then the assets, then the export.

Run from the repository root: ``.venv/bin/python docs/samples/make_tables.py``. The output is
the same every time (the workbook's timestamps are fixed).
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SAMPLES = Path(__file__).resolve().parent
SITES_CSV = SAMPLES / "sites.csv"
ASSETS_XLSX = SAMPLES / "assets.xlsx"

# code, name, level, parent, (west, south, east, north) in WGS-84 degrees
GRIDS = [
    ("ZF1", "芝罘西片区", 1, None, (121.36, 37.52, 121.40, 37.56)),
    ("ZF2", "芝罘东片区", 1, None, (121.40, 37.52, 121.44, 37.56)),
    ("ZF1-01", "西南网格", 2, "ZF1", (121.36, 37.52, 121.40, 37.54)),
    ("ZF1-02", "西北网格", 2, "ZF1", (121.36, 37.54, 121.40, 37.56)),
    ("ZF2-01", "东南网格", 2, "ZF2", (121.40, 37.52, 121.44, 37.54)),
    ("ZF2-02", "东北网格", 2, "ZF2", (121.40, 37.54, 121.44, 37.56)),
]
FUAN = "烟台福安物业服务有限公司"
HONGDA = "烟台宏达物业管理有限公司"
SITES_HEADER = ["名称", "地址", "物业公司", "联系人", "联系电话", "经度", "纬度"]
# name, address, property company, contact, phone, longitude, latitude
SITES = [
    ("幸福花园", "烟台市芝罘区幸福路12号", FUAN, "王丽", "13905350001", "121.370", "37.530"),
    ("海景苑", "烟台市芝罘区海景路8号", FUAN, "", "", "121.385", "37.550"),
    (
        "毓璜顶小区",
        "烟台市芝罘区毓璜顶东路20号",
        HONGDA,
        "赵强",
        "13905350002",
        "121.415",
        "37.528",
    ),
    ("东山新村", "烟台市芝罘区东山路36号", HONGDA, "", "", "121.430", "37.548"),
]
STATION_MAKER = ("烟台安充科技有限公司", "AC-12S")
BLOCKER_MAKER = ("山东梯盾智能科技有限公司", "TD-V3")


def station(number, site, address, longitude, latitude, installed_on, **extra):
    return {
        "code": f"CS-{number:03d}",
        "kind": "charging_station",
        "name": f"{site}电动自行车充电站",
        "longitude": longitude,
        "latitude": latitude,
        "site": site,
        "address": address,
        "installed_on": installed_on,
        "manufacturer": STATION_MAKER[0],
        "model": STATION_MAKER[1],
        "serial_number": f"AC2024{number:04d}",
        **extra,
    }


def blocker(number, site, address, building, longitude, latitude, registration, **extra):
    return {
        "code": f"EB-{number:04d}",
        "kind": "elevator_blocker",
        "name": f"{site}{building}号楼1单元1号梯",
        "longitude": longitude,
        "latitude": latitude,
        "site": site,
        "address": address,
        "installed_on": "2024-09-20",
        "manufacturer": BLOCKER_MAKER[0],
        "model": BLOCKER_MAKER[1],
        "serial_number": f"TD{number:06d}",
        "attributes": {
            "building": str(building),
            "unit": "1",
            "elevator_number": "1",
            # Registration codes start with zeros: they must stay text.
            "registration_code": registration,
            "detection_method": "ai_camera",
        },
        **extra,
    }


def ports(count, canopy=True, extinguisher=True, camera=True, smoke_detector=False):
    return {
        "attributes": {
            "ports": count,
            "canopy": canopy,
            "extinguisher": extinguisher,
            "camera": camera,
            "smoke_detector": smoke_detector,
        }
    }


ASSETS = [
    station(1, "幸福花园", SITES[0][1], 121.3712, 37.5306, "2024-05-10", **ports(12)),
    blocker(1, "幸福花园", SITES[0][1], 1, 121.3695, 37.5296, "0370602024050001"),
    blocker(2, "幸福花园", SITES[0][1], 2, 121.3703, 37.5312, "0370602024050002"),
    station(
        2,
        "海景苑",
        SITES[1][1],
        121.3861,
        37.5507,
        "2024-06-18",
        notes="地下车库入口东侧",
        **ports(8, smoke_detector=True),
    ),
    blocker(3, "海景苑", SITES[1][1], 3, 121.3846, 37.5496, "0370602024060003"),
    blocker(4, "海景苑", SITES[1][1], 5, 121.3855, 37.5512, "0370602024060004"),
    station(
        3,
        "毓璜顶小区",
        SITES[2][1],
        121.4162,
        37.5287,
        "2023-11-02",
        status="faulty",
        notes="2号充电口不通电，已报修",
        **ports(16, camera=False),
    ),
    blocker(5, "毓璜顶小区", SITES[2][1], 2, 121.4143, 37.5274, "0370602023110005"),
    blocker(6, "毓璜顶小区", SITES[2][1], 6, 121.4155, 37.5291, "0370602023110006"),
    station(4, "东山新村", SITES[3][1], 121.4308, 37.5486, "2025-03-15", **ports(10)),
    blocker(7, "东山新村", SITES[3][1], 4, 121.4291, 37.5474, "0370602025030007"),
    blocker(8, "东山新村", SITES[3][1], 9, 121.4314, 37.5489, "0370602025030008"),
]


def sites_csv_bytes() -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(SITES_HEADER)
    writer.writerows(SITES)
    return buffer.getvalue().encode("gb18030")


def assets_xlsx_bytes(sites_csv: Path) -> bytes:
    from flask_migrate import upgrade
    from geoalchemy2 import WKTElement

    from app import create_app
    from assets import site_import
    from assets.io import export_assets
    from assets.models import Grid
    from assets.services import create_asset
    from core.extensions import db

    with tempfile.TemporaryDirectory() as temp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{temp}/samples.sqlite",
                "SECRET_KEY": "samples",
                "SCHEDULER_ENABLED": False,
                "STRICT_DISTRICT": True,
            }
        )
        with app.app_context():
            upgrade()
            grids: dict[str, Grid] = {}
            for code, name, level, parent, (west, south, east, north) in GRIDS:
                ring = f"{west} {south}, {east} {south}, {east} {north}, {west} {north}"
                grids[code] = Grid(
                    code=code,
                    name=name,
                    level=level,
                    parent=grids.get(parent),
                    boundary=WKTElement(f"POLYGON(({ring}, {west} {south}))", srid=4326),
                )
                db.session.add(grids[code])
            db.session.commit()
            check = site_import.apply_file(sites_csv, {})
            if not check.ok:
                raise SystemExit("\n".join(map(str, check.problems)))
            for data in ASSETS:
                create_asset(data)
            db.session.commit()
            content = export_assets("xlsx", "zh")
            db.session.remove()
            db.engine.dispose()
    return content


def main() -> None:
    SITES_CSV.write_bytes(sites_csv_bytes())
    ASSETS_XLSX.write_bytes(assets_xlsx_bytes(SITES_CSV))
    print(f"wrote {SITES_CSV.relative_to(ROOT)} and {ASSETS_XLSX.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
