"""The logging form without a browser: one set of position fields, the client's idempotency
key (a retry, a double tap or a second tab gives one result), the service worker, the web app
manifest and the contractor's offline list. The browser journeys are in test_log_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from core import clock
from core.audit import AuditEntry
from core.extensions import db
from evidence.models import Photo
from hazards.models import Hazard
from inspections.models import Inspection
from tests.factories import (
    INSIDE_G1_01,
    charging_station_data,
    gen_asset,
    gen_inspection,
    gen_user,
)

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 2026-03-10
CS_ITEMS = (
    "cutoff_when_full",
    "extinguisher_in_date",
    "no_flying_wire",
    "canopy_and_wiring",
    "camera_working",
    "smoke_detector_working",
)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now_utc", lambda: NOW)


@pytest.fixture
def field(app, district, officer, contractor_user):
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_user("rival@example.org", "contractor", contractor="Rivals Inc")
        ids = {
            "overdue": gen_inspection("CS-001", date(2026, 3, 1)).id,
            "soon": gen_inspection("CS-001", date(2026, 3, 14)).id,
            "later": gen_inspection("CS-001", date(2026, 4, 10)).id,
            "rival": gen_inspection("CS-001", date(2026, 3, 12), contractor="Rivals Inc").id,
        }
        db.session.commit()
        return ids


def written(app) -> tuple:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).where(Inspection.status == "completed")),
            db.session.scalar(select(func.count(Photo.id))),
            db.session.scalar(
                select(func.count(AuditEntry.id)).where(AuditEntry.entity_type == "inspection")
            ),
            db.session.scalar(select(func.count(Hazard.id))),
        )


def inputs(page: str, name: str) -> list[str]:
    return re.findall(rf'<input[^>]*\bname="{name}"[^>]*>', page)


def test_the_form_has_one_set_of_position_fields(client, auth, contractor_user, field):
    """The hidden fields the script fills are the only ones: an empty second copy rendered
    before them (``form.hidden_tag()``) used to win, and the position was never saved."""
    auth.login(contractor_user)
    page = client.get(f"/inspections/{field['overdue']}/log").text
    for name in ("longitude", "latitude", "accuracy"):
        found = inputs(page, name)
        assert len(found) == 1, found
        assert f'id="stood-{name}"' in found[0]


def page_inputs(page: str, filled: dict[str, str]) -> list[tuple[str, str]]:
    """(name, value) of every input a browser would post, in page order: text and hidden
    inputs with their value (or ``filled[id]``, what a script put there), radios "pass"."""
    posted = []
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'\bname="([^"]+)"', tag)
        if name is None or 'type="file"' in tag:
            continue
        value = re.search(r'\bvalue="([^"]*)"', tag)
        tag_id = re.search(r'\bid="([^"]+)"', tag)
        if 'type="radio"' in tag:
            if value and value.group(1) == "pass":
                posted.append((name.group(1), "pass"))
            continue
        if tag_id and tag_id.group(1) in filled:
            posted.append((name.group(1), filled[tag_id.group(1)]))
        else:
            posted.append((name.group(1), value.group(1) if value else ""))
    return posted


def test_the_form_posts_the_position_the_script_filled_in(
    app, client, auth, contractor_user, field
):
    auth.login(contractor_user)
    page = client.get(f"/inspections/{field['overdue']}/log").text
    filled = {
        "stood-longitude": str(INSIDE_G1_01[0]),
        "stood-latitude": str(INSIDE_G1_01[1] + 0.00018),  # about 20 m north
        "stood-accuracy": "12",
    }
    data = MultiDict(page_inputs(page, filled))
    response = client.post(f"/inspections/{field['overdue']}/log", data=data)
    assert response.status_code == 302, response.text
    with app.app_context():
        inspection = db.session.get(Inspection, field["overdue"])
        assert inspection.stood_longitude == pytest.approx(INSIDE_G1_01[0])
        assert inspection.stood_latitude == pytest.approx(INSIDE_G1_01[1] + 0.00018)
        assert inspection.stood_accuracy_m == 12
        assert inspection.distance_m == pytest.approx(20, abs=1)
        assert inspection.flagged is False
