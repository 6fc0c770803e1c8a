"""Any district, not only the demo: its name where people read it, maps that open on its own
grids (not on coordinates written for Weifang), the whole country before it has any."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from app import config_from_environment
from core.extensions import db
from maps import build
from tests import factories
from tests.test_alerts import monday_8am_shanghai

# Zhifu District, Yantai: two first-level grids, one split in two.
ZHIFU = [
    ("ZF1", "芝罘西片区", 1, None, (121.36, 37.52, 121.40, 37.56)),
    ("ZF2", "芝罘东片区", 1, None, (121.40, 37.52, 121.44, 37.56)),
    ("ZF1-01", "西南网格", 2, "ZF1", (121.36, 37.52, 121.40, 37.54)),
]
ZHIFU_CENTRE = (37.54, 121.40)


@pytest.fixture
def zhifu(app):
    with app.app_context():
        grids = {}
        for code, name, level, parent, bounds in ZHIFU:
            grids[code] = factories.gen_grid(code, name, level, grids.get(parent), bounds)
        db.session.commit()


def map_centre(html: str) -> tuple[float, float, int]:
    found = re.search(r"center: \[([-\d.]+), ([-\d.]+)\],.*?\"zoom\": (\d+)", html, re.S)
    return float(found.group(1)), float(found.group(2)), int(found.group(3))


def test_the_district_name_comes_from_the_environment():
    assert config_from_environment({"DISTRICT_NAME": "芝罘区"})["DISTRICT_NAME"] == "芝罘区"


def test_pages_and_the_installed_app_carry_the_district_name(app, client, auth, officer):
    app.config["DISTRICT_NAME"] = "芝罘区 <b>&</b>"
    auth.login(officer)
    page = client.get("/assets/").get_data(as_text=True)
    assert '<span class="district">芝罘区 &lt;b&gt;&amp;&lt;/b&gt;</span>' in page
    assert "· 芝罘区 &lt;b&gt;&amp;&lt;/b&gt;</title>" in page
    assert "<b>&</b>" not in page
    manifest = json.loads(client.get("/manifest.webmanifest").get_data(as_text=True))
    assert manifest["name"].startswith("芝罘区 <b>&</b> ")


def test_without_a_name_the_header_is_the_products(app, client, auth, officer):
    auth.login(officer)
    page = client.get("/assets/").get_data(as_text=True)
    assert 'class="district"' not in page


def test_the_weekly_email_subject_names_the_district(database_url, smtp, frozen_clock):
    from app import create_app
    from tests.factories import gen_alert_district
    from tests.helpers import alert_config

    app = create_app(alert_config(database_url, smtp.port, DISTRICT_NAME="芝罘区"))
    frozen_clock.set(monday_8am_shanghai(date(2026, 3, 16)))
    with app.app_context():
        gen_alert_district()
    result = app.test_cli_runner().invoke(args=["alerts", "send-weekly", "--dry-run"])
    assert result.exit_code == 0, result.output
    subjects = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert subjects
    assert all("芝罘区 · " in line for line in subjects)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_map_opens_on_the_imported_grids(app, client, auth, officer, zhifu):
    app.config["MAP_TILES"] = "none"
    auth.login(officer)
    html = client.get("/map").get_data(as_text=True)
    lat, lon, zoom = map_centre(html)
    assert (lat, lon) == pytest.approx(ZHIFU_CENTRE)
    assert zoom == build.DISTRICT_ZOOM


def test_the_point_picker_opens_on_the_imported_grids(app, zhifu):
    app.config["MAP_TILES"] = "none"
    with app.app_context(), app.test_request_context("/"):
        html = str(build.point_picker_map(None, None))
    lat, lon, zoom = map_centre(html)
    assert (lat, lon) == pytest.approx(ZHIFU_CENTRE)
    assert zoom == build.DISTRICT_ZOOM


def test_before_any_grid_the_maps_show_the_country(app, client, auth, officer):
    app.config["MAP_TILES"] = "none"
    auth.login(officer)
    lat, lon, zoom = map_centre(client.get("/map").get_data(as_text=True))
    assert (lat, lon, zoom) == (*build.COUNTRY_VIEW[0], build.COUNTRY_VIEW[1])
    with app.app_context(), app.test_request_context("/"):
        picker = str(build.point_picker_map(None, None))
    assert map_centre(picker) == (*build.COUNTRY_VIEW[0], build.COUNTRY_VIEW[1])
