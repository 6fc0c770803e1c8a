"""One scope for contractors, and contracts that end (issue 13, finding 6).

The listings of assets (pages, API, export, QR) are pinned with the others in
``test_access_policy``. Here: an asset's history shows a contractor only what its own
company did, and a company whose contract has ended (``active_until`` before the district's
today) is nobody: its users cannot sign in, their sessions and API tokens stop, its calendar
feed is gone, and nothing is written on their behalf.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.services import contractor_named, user_by_email
from core.audit import AuditEntry
from core.clock import district_today
from core.extensions import db
from hazards.models import Hazard
from inspections.calendar import create_feed
from inspections.models import Inspection
from tests.factories import (
    BearerClient,
    charging_station_data,
    gen_asset,
    gen_inspection,
    gen_token,
    gen_user,
)

FIXER, RIVAL, OFFICER = "fixer@example.org", "rival@example.org", "officer@example.org"


def audit(actor_email: str | None, before: str, after: str) -> AuditEntry:
    user = user_by_email(actor_email) if actor_email else None
    return AuditEntry(
        user_id=user.id if user else None,
        actor=actor_email or "command line",
        action="status",
        entity_type="asset",
        entity_key="CS-001",
        before={"status": before},
        after={"status": after},
    )


@pytest.fixture
def shared_asset(app, district):
    """CS-001, inspected by Fixers Ltd and by Rivals Inc, with a status change by each and
    one by an officer."""
    with app.app_context():
        gen_user(OFFICER, "officer")
        gen_user(FIXER, "contractor", contractor="Fixers Ltd")
        gen_user(RIVAL, "contractor", contractor="Rivals Inc")
        gen_asset(charging_station_data(1))
        gen_inspection("CS-001", district_today())
        gen_inspection("CS-001", district_today(), contractor="Rivals Inc")
        db.session.add_all(
            [
                audit(FIXER, "active", "faulty"),
                audit(OFFICER, "faulty", "active"),
                audit(RIVAL, "active", "retired"),
            ]
        )
        db.session.commit()


@pytest.mark.parametrize(
    ("email", "shown"),
    [(OFFICER, {FIXER, OFFICER, RIVAL}), (FIXER, {FIXER}), (RIVAL, {RIVAL})],
)
def test_asset_history_shows_a_contractor_its_own_company_only(
    client, auth, shared_asset, email, shown
):
    auth.login(email)
    page = client.get("/assets/CS-001")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    actors = {each for each in (FIXER, OFFICER, RIVAL) if each in text}
    assert actors == shown


# Ended contracts


@pytest.fixture
def contract(app, district):
    """Fixers Ltd's user with a session-less client, a token and a feed, and an inspection
    due today; ``contract.end(days_ago)`` moves the company's last day."""

    class Contract:
        def __init__(self) -> None:
            with app.app_context():
                gen_user(OFFICER, "officer")
                gen_user(FIXER, "contractor", contractor="Fixers Ltd")
                gen_asset(charging_station_data(1))
                self.inspection = gen_inspection("CS-001", district_today()).id
                self.token = gen_token(FIXER)
                self.feed = create_feed(contractor_named("Fixers Ltd"), None)
                db.session.commit()

        def end(self, days_ago: int) -> None:
            with app.app_context():
                company = contractor_named("Fixers Ltd")
                company.active_until = district_today() - timedelta(days=days_ago)
                db.session.commit()

        def written(self) -> tuple:
            with app.app_context():
                inspection = db.session.get(Inspection, self.inspection)
                return (
                    inspection.status,
                    db.session.scalar(select(func.count(Hazard.id))),
                    db.session.scalar(select(func.count(AuditEntry.id))),
                )

    return Contract()


def test_the_last_day_of_a_contract_is_still_in_it(client, auth, contract):
    contract.end(0)
    assert auth.login(FIXER).status_code == 302
    assert client.get("/inspections/").status_code == 200
    assert client.get(f"/calendar/{contract.feed}.ics").status_code == 200
    assert BearerClient(client, contract.token).get("/api/v1/inspections").status_code == 200


def test_an_ended_contract_cannot_sign_in(client, auth, contract):
    contract.end(1)
    response = auth.login(FIXER)
    assert response.status_code == 403
    assert "Fixers Ltd" in response.get_data(as_text=True)
    assert "合同已于" in response.get_data(as_text=True)
    assert client.get("/inspections/").status_code == 302  # no session was made


def test_a_session_stops_when_the_contract_ends(client, auth, contract):
    assert auth.login(FIXER).status_code == 302
    assert client.get("/inspections/").status_code == 200
    contract.end(1)
    response = client.get("/inspections/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    login_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Fixers Ltd" in login_page and "合同已于" in login_page


def test_an_api_token_stops_when_the_contract_ends(client, contract):
    api = BearerClient(client, contract.token)
    assert api.get("/api/v1/inspections").status_code == 200
    contract.end(1)
    response = api.get("/api/v1/inspections")
    assert response.status_code == 403
    assert response.is_json
    assert "Fixers Ltd" in response.json["message"] and "合同已于" in response.json["message"]


def test_the_calendar_feed_stops_when_the_contract_ends(client, contract):
    assert client.get(f"/calendar/{contract.feed}.ics").status_code == 200
    contract.end(1)
    response = client.get(f"/calendar/{contract.feed}.ics")
    assert response.status_code == 410
    assert b"BEGIN:VCALENDAR" not in response.data


def test_nothing_is_written_for_an_ended_contract(client, auth, contract):
    assert auth.login(FIXER).status_code == 302
    contract.end(1)
    before = contract.written()
    api = BearerClient(client, contract.token)
    answers = {
        "result": "pass",
        "answers": {},
        "completed_at": "2026-03-10T01:30:00Z",
    }
    refused = [
        api.post(f"/api/v1/inspections/{contract.inspection}/result", json=answers),
        api.post(
            "/api/v1/hazards",
            json={
                "category": "other",
                "severity": "general",
                "description": "x",
                "asset": "CS-001",
            },
        ),
    ]
    assert [response.status_code for response in refused] == [403, 403]
    page = client.post(f"/inspections/{contract.inspection}/log", data={"result": "pass"})
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    hazard = client.post("/hazards/new", data={"category": "other", "description": "x"})
    assert hazard.status_code == 302 and "/login" in hazard.headers["Location"]
    assert contract.written() == before
