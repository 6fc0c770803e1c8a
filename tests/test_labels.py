"""QR labels: the right content types, the QR encodes the asset's next-inspection URL."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import segno
from PIL import Image

from assets import labels
from core.extensions import db
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
