"""The contractor pages: companies, their contacts and dates, and their users."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from accounts.models import ApiToken, Contractor, User
from accounts.services import user_by_email
from core.audit import AuditEntry
from core.extensions import db
from inspections.models import Inspection, InspectionStatus
from tests.factories import (
    PASSWORD,
    charging_station_data,
    gen_asset,
    gen_contractor,
    gen_inspection,
    gen_token,
    gen_user,
)

D = date.fromisoformat


def contractor_form(**changes) -> dict:
    data = {
        "name": "Blue Flame Services",
        "contact_email": "office@blueflame.example.org",
        "contact_phone": "+86 536-1234 5678",
        "active_from": "2026-01-01",
        "active_until": "2026-12-31",
    }
    data.update(changes)
    return data


def counts() -> tuple[int, int, int]:
    """(contractors, users, audit entries)."""
    return (
        db.session.scalar(select(func.count(Contractor.id))),
        db.session.scalar(select(func.count(User.id))),
        db.session.scalar(select(func.count(AuditEntry.id))),
    )


def contractor_id(name: str) -> int:
    return db.session.scalar(select(Contractor.id).where(Contractor.name == name))


@pytest.fixture
def english(client):
    """The pages in English (the default language is Chinese)."""
    client.get("/lang/en")
    return client


@pytest.fixture
def as_admin(app, english, auth, admin):
    auth.login(admin)
    return english


@pytest.fixture
def fixers(app):
    """Fixers Ltd with one user and an open inspection; returns its id."""
    with app.app_context():
        contractor = gen_contractor("Fixers Ltd")
        gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
        db.session.commit()
        return contractor.id


def test_admin_creates_a_contractor(app, as_admin):
    response = as_admin.post("/contractors/new", data=contractor_form())
    assert response.status_code == 302
    with app.app_context():
        contractor = db.session.scalar(select(Contractor))
        assert contractor.name == "Blue Flame Services"
        assert contractor.contact_email == "office@blueflame.example.org"
        assert contractor.contact_phone == "+86 536-1234 5678"
        assert (contractor.active_from, contractor.active_until) == (
            D("2026-01-01"),
            D("2026-12-31"),
        )
        assert response.headers["Location"].endswith(f"/contractors/{contractor.id}")
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "contractor"))
        assert (entry.action, entry.entity_key) == ("create", str(contractor.id))
        assert entry.after["name"] == "Blue Flame Services"
        assert entry.user_id is not None


def test_list_shows_contacts_dates_users_and_open_inspections(app, district, as_admin, fixers):
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_inspection("CS-001", D("2026-03-10"))
        gen_inspection("CS-001", D("2026-04-10"))
        done = gen_inspection("CS-001", D("2026-02-10"))
        done.status = InspectionStatus.COMPLETED
        gen_contractor("Quiet Co")
        db.session.commit()
    page = as_admin.get("/contractors/").get_data(as_text=True)
    assert "Fixers Ltd" in page and "Quiet Co" in page
    assert "office@example.org" in page
    row = page[page.index(f'data-contractor="{fixers}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="number user-count">1</td>' in row
    assert '<td class="number open-count">2</td>' in row


def open_as_stored(contractor: int) -> int:
    """The contractor's scheduled inspections, picked in Python from every stored one."""
    return sum(
        1
        for inspection in db.session.scalars(select(Inspection))
        if inspection.contractor_id == contractor
        and inspection.status == InspectionStatus.SCHEDULED
    )


def test_open_inspections_are_counted_up_to_the_lists_cap(app, district, as_admin, fixers):
    """The list and each company's page count its open inspections as stored, up to
    LIST_COUNT_CAP (the lists' cap: a province's contractor has tens of thousands), then
    say "more than"."""
    app.config["LIST_COUNT_CAP"] = 3
    with app.app_context():
        gen_asset(charging_station_data(1))
        for month in (3, 4, 5, 6):
            gen_inspection("CS-001", D(f"2026-{month:02d}-10"))
        done = gen_inspection("CS-001", D("2026-02-10"))
        done.status = InspectionStatus.COMPLETED
        quiet = gen_contractor("Quiet Co").id
        for month in (3, 4, 5):
            gen_inspection("CS-001", D(f"2026-{month:02d}-10"), contractor="Quiet Co")
        gen_contractor("Idle Co")
        db.session.commit()
        idle = contractor_id("Idle Co")
        stored = {company: open_as_stored(company) for company in (fixers, quiet, idle)}
    assert stored == {fixers: 4, quiet: 3, idle: 0}
    shown = {fixers: "More than 3", quiet: "3", idle: "0"}
    page = as_admin.get("/contractors/").get_data(as_text=True)
    for company, words in shown.items():
        row = page[page.index(f'data-contractor="{company}"') :]
        row = row[: row.index("</tr>")]
        assert f'<td class="number open-count">{words}</td>' in row, (company, words)
        detail = as_admin.get(f"/contractors/{company}").get_data(as_text=True)
        assert f'<dd id="open-inspections">{words}</dd>' in detail, (company, words)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "fixers ltd"}, "A contractor with this name exists already."),
        ({"name": ""}, "This field is required."),
        ({"contact_email": "not-an-email"}, "Invalid email address."),
        ({"contact_phone": "call me maybe"}, "Digits, spaces, + and - only."),
        ({"active_until": "2025-12-31"}, "The end date cannot be before the start date."),
        ({"active_from": "2026-13-01"}, "Not a valid date value."),
    ],
)
def test_bad_contractor_is_a_form_error_and_writes_nothing(app, as_admin, fixers, changes, message):
    with app.app_context():
        before = counts()
    response = as_admin.post("/contractors/new", data=contractor_form(**changes))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert counts() == before


def test_admin_edits_a_contractor_and_the_change_is_audited(app, as_admin, fixers):
    assert as_admin.get(f"/contractors/{fixers}/edit").status_code == 200
    data = contractor_form(name="Fixers Ltd", contact_email="desk@fixers.example.org")
    response = as_admin.post(f"/contractors/{fixers}/edit", data=data)
    assert response.status_code == 302
    with app.app_context():
        contractor = db.session.get(Contractor, fixers)
        assert contractor.contact_email == "desk@fixers.example.org"
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity_type == "contractor", AuditEntry.action == "update"
            )
        )
        assert entry.entity_key == str(fixers)
        assert entry.before["contact_email"] == "office@example.org"
        assert entry.after["contact_email"] == "desk@fixers.example.org"
        assert "name" not in entry.after  # unchanged


def test_renaming_to_another_contractors_name_is_refused(app, as_admin, fixers):
    with app.app_context():
        gen_contractor("Other Co")
        db.session.commit()
        before = counts()
    response = as_admin.post(f"/contractors/{fixers}/edit", data=contractor_form(name="Other Co"))
    assert response.status_code == 400
    assert "A contractor with this name exists already." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contractor, fixers).name == "Fixers Ltd"
        assert counts() == before


def test_admin_adds_a_contractor_user_who_can_sign_in(app, client, as_admin, auth, fixers):
    data = {"email": "New.Fixer@Example.org", "name": "Li Wei", "password": "long enough"}
    response = as_admin.post(f"/contractors/{fixers}/users", data=data)
    assert response.status_code == 302
    with app.app_context():
        user = user_by_email("new.fixer@example.org")
        assert (user.role, user.contractor_id, user.name) == ("contractor", fixers, "Li Wei")
    page = as_admin.get(f"/contractors/{fixers}").get_data(as_text=True)
    assert "new.fixer@example.org" in page and "Li Wei" in page
    auth.logout()
    assert auth.login("new.fixer@example.org", "long enough").status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "x@example.org", "password": "short"}, "At least 8 characters."),
        ({"email": "nope", "password": "long enough"}, "Invalid email address."),
        (
            {"email": "fixer@example.org", "password": "long enough"},
            "A user with this email exists already.",
        ),
    ],
)
def test_bad_contractor_user_is_a_form_error_and_writes_nothing(
    app, as_admin, fixers, data, message
):
    with app.app_context():
        before = counts()
    response = as_admin.post(f"/contractors/{fixers}/users", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert counts() == before


def test_deactivate_and_reactivate_a_contractor_user(app, client, as_admin, auth, fixers):
    with app.app_context():
        user_id = user_by_email("fixer@example.org").id
        token = gen_token("fixer@example.org")
        db.session.commit()
    response = as_admin.post(f"/contractors/{fixers}/users/{user_id}/deactivate")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, user_id).active is False
        assert db.session.scalar(select(ApiToken.revoked_at)) is not None
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "update"))
        assert (entry.entity_type, entry.entity_key) == ("user", "fixer@example.org")
        assert (entry.before, entry.after) == ({"active": True}, {"active": False})
    auth.logout()
    assert auth.login("fixer@example.org").status_code == 401
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/assets", headers=headers).status_code == 401

    auth.login("admin@example.org")
    assert as_admin.post(f"/contractors/{fixers}/users/{user_id}/reactivate").status_code == 302
    auth.logout()
    assert auth.login("fixer@example.org", PASSWORD).status_code == 302


def test_a_user_of_another_contractor_is_404(app, as_admin, fixers):
    with app.app_context():
        other = gen_contractor("Other Co").id
        user_id = user_by_email("fixer@example.org").id
        db.session.commit()
    assert as_admin.post(f"/contractors/{other}/users/{user_id}/deactivate").status_code == 404
    assert as_admin.get("/contractors/999").status_code == 404
    with app.app_context():
        assert db.session.get(User, user_id).active is True


def test_officer_may_look_but_not_change(app, english, auth, officer, fixers):
    auth.login(officer)
    assert english.get("/contractors/").status_code == 200
    page = english.get(f"/contractors/{fixers}").get_data(as_text=True)
    assert "fixer@example.org" in page
    assert f"/contractors/{fixers}/edit" not in page
    assert "Add a user" not in page
    with app.app_context():
        user_id = user_by_email("fixer@example.org").id
        before = counts()
    assert english.get("/contractors/new").status_code == 403
    assert english.get(f"/contractors/{fixers}/edit").status_code == 403
    assert english.post("/contractors/new", data=contractor_form()).status_code == 403
    assert english.post(f"/contractors/{fixers}/edit", data=contractor_form()).status_code == 403
    data = {"email": "x@example.org", "password": "long enough"}
    assert english.post(f"/contractors/{fixers}/users", data=data).status_code == 403
    url = f"/contractors/{fixers}/users/{user_id}/deactivate"
    assert english.post(url).status_code == 403
    with app.app_context():
        assert counts() == before
        assert db.session.get(User, user_id).active is True


def test_contractor_users_get_403(app, client, auth, fixers):
    auth.login("fixer@example.org")
    with app.app_context():
        user_id = user_by_email("fixer@example.org").id
        before = counts()
    for url in (
        "/contractors/",
        f"/contractors/{fixers}",
        "/contractors/new",
        f"/contractors/{fixers}/edit",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post("/contractors/new", data=contractor_form()).status_code == 403
    data = {"email": "x@example.org", "password": "long enough"}
    assert client.post(f"/contractors/{fixers}/users", data=data).status_code == 403
    url = f"/contractors/{fixers}/users/{user_id}/deactivate"
    assert client.post(url).status_code == 403
    with app.app_context():
        assert counts() == before
