"""The asset detail page shows the asset's inspections and hazards, scoped for contractors."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from assets.services import asset_by_code
from core.extensions import db
from core.spatial import point_value
from hazards.models import Hazard
from inspections.models import InspectionStatus
from tests import factories

NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)


@pytest.fixture
def asset_records(app, district, officer, contractor_user):
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        factories.gen_asset(factories.charging_station_data(2))
        gen = factories.gen_inspection
        done = gen("CS-001", date(2026, 2, 10))
        done.status = InspectionStatus.COMPLETED
        done.completed_at = datetime(2026, 2, 10, 3, tzinfo=UTC)
        done.result = "fail"
        gen("CS-001", date(2026, 3, 1))  # overdue on 2026-03-10
        gen("CS-001", date(2026, 3, 12))  # due soon
        gen("CS-001", date(2026, 3, 5), contractor="Other Co")
        gen("CS-002", date(2026, 3, 6))
        for code, reporter, deadline in (
            ("HZ-2026-0001", "Fixers Ltd", date(2026, 3, 1)),
            ("HZ-2026-0002", "Other Co", date(2026, 4, 1)),
        ):
            db.session.add(
                Hazard(
                    code=code,
                    category="charger_fault",
                    severity="major",
                    description="<b>sparks</b>",
                    location=point_value(*factories.INSIDE_G1_01),
                    asset_id=asset_by_code("CS-001").id,
                    found_on=date(2026, 2, 10),
                    deadline=deadline,
                    status="open",
                    reported_by_contractor_id=factories.gen_contractor(reporter).id,
                )
            )
        db.session.commit()


@pytest.fixture(autouse=True)
def frozen(frozen_clock):
    frozen_clock.set(NOW)


def rows(html: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert table, table_id
    return re.findall(r"<tr data-[a-z]+=.*?</tr>", table.group(1), re.S)


def test_officer_sees_every_inspection_and_hazard(app, client, auth, asset_records):
    auth.login("officer@example.org")
    html = client.get("/assets/CS-001").get_data(as_text=True)
    inspections = rows(html, "asset-inspections")
    assert len(inspections) == 4  # not CS-002's
    due = [re.search(r"\d{4}-\d\d-\d\d", row).group(0) for row in inspections]
    assert due == ["2026-03-12", "2026-03-05", "2026-03-01", "2026-02-10"]  # newest first
    statuses = [re.search(r'data-status="(\w+)"', row).group(1) for row in inspections]
    assert statuses == ["due_soon", "overdue", "overdue", "completed"]
    assert "result-fail" in inspections[3]
    assert re.search(r'href="/inspections/\d+"', inspections[0])
    hazards = rows(html, "asset-hazards")
    assert len(hazards) == 2
    overdue_row = next(row for row in hazards if "HZ-2026-0001" in row)
    assert 'href="/hazards/HZ-2026-0001"' in overdue_row
    assert "hazard-overdue" in overdue_row
    assert "hazard-overdue" not in next(row for row in hazards if "HZ-2026-0002" in row)
    assert 'id="print-label"' in html
    assert "/assets/CS-001/label" in html


def test_contractor_sees_only_its_own(app, client, auth, asset_records):
    auth.login("fixer@example.org")
    response = client.get("/assets/CS-001")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    inspections = rows(html, "asset-inspections")
    assert len(inspections) == 3
    assert "Other Co" not in html
    assert "2026-03-05" not in html
    hazards = rows(html, "asset-hazards")
    assert len(hazards) == 1
    assert "HZ-2026-0001" in hazards[0]
    assert "HZ-2026-0002" not in html
    assert 'id="print-label"' not in html  # labels are for staff


def test_history_is_limited(app, client, auth, district, officer):
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        for month in range(1, 13):
            for day in (1, 15):
                factories.gen_inspection("CS-001", date(2025, month, day))
        db.session.commit()
    auth.login(officer)
    html = client.get("/assets/CS-001").get_data(as_text=True)
    inspections = rows(html, "asset-inspections")
    assert len(inspections) == 20
    assert "2025-12-15" in inspections[0]


def test_no_records_yet(app, client, auth, district, officer):
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        db.session.commit()
    auth.login(officer)
    html = client.get("/assets/CS-001").get_data(as_text=True)
    assert 'id="asset-inspections"' not in html
    assert 'id="asset-hazards"' not in html
