"""QR labels: the right content types, the QR encodes the asset's next-inspection URL."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import segno
from PIL import Image
from sqlalchemy import select

from assets import labels
from assets.models import Asset
from core import clock
from core.extensions import db
from inspections.models import Inspection, InspectionStatus
from inspections.services import InspectionSummary, inspection_summaries
from tests import factories

EXPECTED_URL = "https://sar.example.org/inspections/asset/CS-001/next"


@pytest.fixture
def labelled(app, district, officer, contractor_user):
    app.config["BASE_URL"] = "https://sar.example.org/"
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1, address="1 <Harbour> Road"))
        factories.gen_asset(factories.charging_station_data(2, status="retired"))
        factories.gen_asset(factories.charging_station_data(3, longitude=119.25, latitude=36.745))
        factories.gen_asset(factories.blocker_data(1))
        db.session.commit()


def matrix_of_png(data: bytes, scale: int, border: int = 4) -> tuple[tuple[int, ...], ...]:
    """Read the modules back from a PNG segno drew (dark = 1), one pixel per module."""
    image = Image.open(io.BytesIO(data)).convert("L")
    modules = image.width // scale - 2 * border
    return tuple(
        tuple(
            int(image.getpixel(((border + x) * scale + scale // 2, (border + y) * scale + 1)) < 128)
            for x in range(modules)
        )
        for y in range(modules)
    )


def test_label_url(app, labelled):
    with app.test_request_context():
        assert labels.label_url("CS-001") == EXPECTED_URL
        assert labels.label_url("A/B 1") == (
            "https://sar.example.org/inspections/asset/A%2FB%201/next"
        )


def test_label_url_matches_the_logging_endpoint(app, labelled):
    from flask import url_for

    with app.test_request_context():
        assert labels.label_url("CS-001").endswith(
            url_for("inspections.log_for_asset", code="CS-001")
        )


def test_png_label_encodes_the_url(app, client, auth, labelled):
    auth.login("officer@example.org")
    response = client.get("/assets/CS-001/label.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG")
    expected = segno.make(EXPECTED_URL, error="m", boost_error=False)
    decoded = matrix_of_png(response.data, scale=8)
    assert decoded == tuple(tuple(int(bool(m)) for m in row) for row in expected.matrix)
    other = segno.make("https://sar.example.org/inspections/asset/CS-003/next", error="m")
    assert decoded != tuple(tuple(int(bool(m)) for m in row) for row in other.matrix)


def test_svg_label_encodes_the_url(app, client, auth, labelled):
    auth.login("officer@example.org")
    response = client.get("/assets/CS-001/label.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    buffer = io.BytesIO()
    segno.make(EXPECTED_URL, error="m", boost_error=False).save(
        buffer, kind="svg", scale=4, title="CS-001"
    )
    assert svg == buffer.getvalue().decode()
    assert "<svg" in svg


def test_label_page(app, client, auth, labelled):
    auth.login("officer@example.org")
    response = client.get("/assets/CS-001/label")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-asset="CS-001"' in html
    assert "Charging station 1" in html
    assert "1 &lt;Harbour&gt; Road" in html
    assert EXPECTED_URL in html
    with app.test_request_context():
        assert labels.label_svg_inline("CS-001") in html


def test_label_sheet_filters_by_kind_and_grid(app, client, auth, labelled):
    auth.login("officer@example.org")
    html = client.get("/assets/labels?kind=charging_station").get_data(as_text=True)
    assert re.findall(r'data-asset="([^"]+)"', html) == ["CS-001", "CS-003"]  # not retired
    html = client.get("/assets/labels?grid=G2").get_data(as_text=True)
    assert re.findall(r'data-asset="([^"]+)"', html) == ["CS-003", "EB-0001"]
    html = client.get("/assets/labels?kind=elevator_blocker&grid=G1").get_data(as_text=True)
    assert re.findall(r'data-asset="([^"]+)"', html) == []
    css = (Path(app.static_folder) / "css" / "app.css").read_text()
    assert "@page { size: A4" in css


def test_unknown_asset_is_404(app, client, auth, labelled):
    auth.login("officer@example.org")
    for suffix in ("label", "label.svg", "label.png"):
        assert client.get(f"/assets/NOPE/{suffix}").status_code == 404


def test_contractors_may_not_print_labels(app, client, auth, labelled):
    auth.login("fixer@example.org")
    for path in (
        "/assets/CS-001/label",
        "/assets/CS-001/label.svg",
        "/assets/CS-001/label.png",
        "/assets/labels",
    ):
        assert client.get(path).status_code == 403, path


# --- The QR code scales: a viewBox, the whole quiet zone, nothing to clip ------------------


def test_inline_svg_scales_with_its_quiet_zone(app, labelled):
    with app.test_request_context():
        svg = labels.label_svg_inline("CS-001")
    size = segno.make(EXPECTED_URL, error="m", boost_error=False).symbol_size(border=4)[0]
    opening = svg[: svg.index(">") + 1]
    assert f'viewBox="0 0 {size} {size}"' in opening  # one unit a module, 4 modules of border
    assert "width=" not in opening and "height=" not in opening  # CSS decides the size
    assert f'<path fill="#fff" d="M0 0h{size}v{size}h-{size}z"/>' in svg  # quiet zone painted


# --- BASE_URL on a loopback address ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:5000", True),
        ("http://127.1.2.3/", True),
        ("http://localhost:8000", True),
        ("http://LOCALHOST./", True),
        ("http://registry.localhost", True),
        ("http://[::1]:5000", True),
        ("http://0.0.0.0:5000", True),
        ("https://sar.example.org", False),
        ("http://192.168.10.5:5000", False),  # a district's closed network: phones reach it
        ("http://10.1.2.3", False),
        ("https://localhost.example.org", False),
    ],
)
def test_loopback_urls(url, loopback):
    assert labels.is_loopback_url(url) is loopback


def test_labels_warn_while_base_url_is_loopback(app, client, auth, labelled):
    app.config["BASE_URL"] = "http://127.0.0.1:5000"  # the default
    auth.login("officer@example.org")
    client.get("/lang/en")
    for path in ("/assets/CS-001/label", "/assets/labels?kind=charging_station"):
        html = client.get(path).get_data(as_text=True)
        # on screen, above the labels (not printed) ...
        assert html.count('class="flash flash-error label-base-url-warning" role="alert"') == 1
        assert "BASE_URL is http://127.0.0.1:5000" in html
        # ... and printed on every label, so a useless label is never stuck on an asset
        labels_shown = len(re.findall(r'data-asset="([^"]+)"', html))
        assert labels_shown >= 1
        assert html.count('class="qr-label-warning"') == labels_shown
    app.config["BASE_URL"] = "https://sar.example.org/"
    for path in ("/assets/CS-001/label", "/assets/labels?kind=charging_station"):
        html = client.get(path).get_data(as_text=True)
        assert "label-base-url-warning" not in html
        assert "qr-label-warning" not in html


# --- The public notice -------------------------------------------------------------------


# 2026-04-20 10:00 in Shanghai
NOTICE_NOW = datetime(2026, 4, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def frozen(app):
    clock.freeze(NOTICE_NOW)
    yield NOTICE_NOW
    clock.freeze(None)


def completed(inspection: Inspection, at: datetime) -> Inspection:
    inspection.status = InspectionStatus.COMPLETED
    inspection.completed_at = at
    inspection.result = "pass"
    return inspection


@pytest.fixture
def noticed(app, labelled, frozen):
    """CS-001: a plan of Fixers Ltd, two completed inspections (the latest late on 10 March
    in UTC, so 11 March in Shanghai), a cancelled one, an overdue one of Harbour Maintenance
    (its next) and a later one. CS-003: no inspection, covered by a plan in force (Blue Sky
    Fire), an ended plan, a paused plan and a plan of a contractor whose contract ended.
    EB-0001: nothing."""
    with app.app_context():
        fixers = factories.gen_contractor("Fixers Ltd")
        fixers.contact_phone = "0536-8888 1234"
        plan = factories.gen_plan("Fixers Ltd", asset_codes=["CS-001"])
        completed(
            factories.gen_inspection("CS-001", date(2026, 2, 10), plan=plan),
            datetime(2026, 2, 10, 3, 0, tzinfo=UTC),
        )
        completed(
            factories.gen_inspection("CS-001", date(2026, 3, 10), plan=plan),
            datetime(2026, 3, 10, 17, 30, tzinfo=UTC),
        )
        cancelled = factories.gen_inspection("CS-001", date(2026, 4, 1), "Old Co")
        cancelled.status = InspectionStatus.CANCELLED
        factories.gen_inspection("CS-001", date(2026, 4, 10), "Harbour Maintenance")
        factories.gen_inspection("CS-001", date(2026, 5, 10), plan=plan)
        factories.gen_plan("Blue Sky Fire", asset_kind="charging_station", asset_codes=["CS-003"])
        factories.gen_plan("Old Co", asset_codes=["CS-003"], end_on=date(2026, 4, 19))
        factories.gen_plan("Paused Co", asset_codes=["CS-003"], active=False)
        factories.gen_contractor("Ended Co").active_until = date(2026, 4, 19)
        factories.gen_plan("Ended Co", asset_codes=["CS-003"])
        db.session.commit()


def notice_of(html: str, code: str) -> dict[str, tuple[str, str]]:
    """The notice lines printed on the label of ``code``: key -> (label, value)."""
    label = re.search(rf'<article class="qr-label" data-asset="{code}">(.*?)</article>', html, re.S)
    assert label, code
    lines = re.findall(
        r'<div data-notice="([^"]+)"><dt>([^<]*)</dt><dd>([^<]*)</dd></div>', label.group(1)
    )
    return {key: (name, value) for key, name, value in lines}


def test_inspection_summaries(app, noticed):
    with app.app_context():
        ids = {asset.code: asset.id for asset in db.session.scalars(select(Asset))}
        summaries = inspection_summaries(list(ids.values()))
        first = summaries[ids["CS-001"]]
        assert [c.name for c in first.contractors] == ["Harbour Maintenance"]
        assert first.last_inspected_on == date(2026, 3, 11)  # in Shanghai
        assert first.next_due_on == date(2026, 4, 10)  # overdue, still the next to do
        third = summaries[ids["CS-003"]]
        assert [c.name for c in third.contractors] == ["Blue Sky Fire"]
        assert (third.last_inspected_on, third.next_due_on) == (None, None)
        assert summaries[ids["EB-0001"]] == InspectionSummary()
        assert inspection_summaries([]) == {}


def test_label_prints_the_public_notice(app, client, auth, noticed):
    auth.login("officer@example.org")
    client.get("/lang/en")
    html = client.get("/assets/CS-001/label").get_data(as_text=True)
    assert "qr-label-notice" not in html  # only when asked for
    html = client.get("/assets/CS-001/label?notice=1").get_data(as_text=True)
    assert notice_of(html, "CS-001") == {
        "code": ("Asset code", "CS-001"),
        "kind": ("Kind", "E-bike charging station"),
        "contractor": ("Contractor", "Harbour Maintenance"),
        "last_inspected": ("Last inspected", "2026-03-11"),
        "next_due": ("Next inspection due", "2026-04-10"),
    }
    assert EXPECTED_URL in html


def test_sheet_prints_each_assets_notice(app, client, auth, noticed):
    auth.login("officer@example.org")
    client.get("/lang/en")
    html = client.get("/assets/labels?notice=1").get_data(as_text=True)
    assert re.findall(r'data-asset="([^"]+)"', html) == ["CS-001", "CS-003", "EB-0001"]
    assert 'id="notice" name="notice" value="1" checked' in html
    assert notice_of(html, "CS-001")["contractor"] == ("Contractor", "Harbour Maintenance")
    assert notice_of(html, "CS-003")["contractor"] == ("Contractor", "Blue Sky Fire")
    assert notice_of(html, "CS-003")["next_due"] == ("Next inspection due", "—")
    assert notice_of(html, "EB-0001") == {
        "code": ("Asset code", "EB-0001"),
        "kind": ("Kind", "Elevator e-bike blocker"),
        "contractor": ("Contractor", "—"),
        "last_inspected": ("Last inspected", "—"),
        "next_due": ("Next inspection due", "—"),
    }
    # once Harbour Maintenance's inspection is done, the notice names the plan's contractor
    with app.app_context():
        upcoming = db.session.scalar(
            select(Inspection).where(Inspection.due_on == date(2026, 4, 10))
        )
        completed(upcoming, datetime(2026, 4, 19, 16, 30, tzinfo=UTC))
        db.session.commit()
    html = client.get("/assets/labels?notice=1").get_data(as_text=True)
    assert notice_of(html, "CS-001") == {
        "code": ("Asset code", "CS-001"),
        "kind": ("Kind", "E-bike charging station"),
        "contractor": ("Contractor", "Fixers Ltd (0536-8888 1234)"),
        "last_inspected": ("Last inspected", "2026-04-20"),
        "next_due": ("Next inspection due", "2026-05-10"),
    }


def test_notice_in_chinese_and_escaped(app, client, auth, noticed):
    with app.app_context():
        factories.gen_contractor("Harbour Maintenance").name = "<b>港区</b>维保"
        db.session.commit()
    auth.login("officer@example.org")
    client.get("/lang/zh")
    html = client.get("/assets/CS-001/label?notice=1").get_data(as_text=True)
    notice = notice_of(html, "CS-001")
    assert notice["kind"] == ("类型", "电动自行车充电站")
    assert notice["contractor"] == ("维保单位", "&lt;b&gt;港区&lt;/b&gt;维保")
