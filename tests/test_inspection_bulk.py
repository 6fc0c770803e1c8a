"""Bulk actions on the inspection list (``inspections.bulk``): cancel, reassign, reschedule a
selection at once, all or nothing, each inspection audited with the reason."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from accounts.models import Contractor
from accounts.services import user_by_email
from core.audit import AuditEntry
from core.errors import ConflictError
from core.extensions import db
from inspections.bulk import bulk_change
from inspections.models import Inspection
from inspections.results import InspectionNotFoundError, InspectionValidationError
from tests.factories import (
    blocker_data,
    charging_station_data,
    gen_asset,
    gen_contractor,
    gen_inspection,
    gen_plan,
)

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 2026-03-10
OFFICER = "officer@example.org"


@pytest.fixture
def field(app, district, officer, contractor_user, frozen_clock):
    """Three scheduled inspections of one plan (CS-001, EB-0001), one completed, one
    cancelled; Other Co in force, Gone Co whose contract ended."""
    frozen_clock.set(NOW)
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_asset(blocker_data(1))
        plan = gen_plan()
        ids = {
            "cs_march": gen_inspection("CS-001", date(2026, 3, 1), plan=plan).id,
            "eb_march": gen_inspection("EB-0001", date(2026, 3, 12), plan=plan).id,
            "cs_april": gen_inspection("CS-001", date(2026, 4, 10), plan=plan).id,
            "done": gen_inspection("CS-001", date(2026, 2, 10), plan=plan).id,
            "gone": gen_inspection("EB-0001", date(2026, 2, 10), plan=plan).id,
        }
        db.session.get(Inspection, ids["done"]).status = "completed"
        db.session.get(Inspection, ids["gone"]).status = "cancelled"
        ids["other_co"] = gen_contractor("Other Co").id
        gone = gen_contractor("Gone Co")
        gone.active_until = date(2026, 3, 1)
        ids["gone_co"] = gone.id
        ids["fixers"] = gen_contractor("Fixers Ltd").id
        db.session.commit()
        return ids


@pytest.fixture
def ctx(app, field):
    with app.app_context():
        yield


SIGN_IN_ACTIONS = ("login", "login_failed", "login_locked")


def state(app=None) -> list[tuple]:
    """Every inspection's (id, contractor, due date, status, reason), and the audit count."""
    rows = db.session.execute(
        select(
            Inspection.id,
            Inspection.contractor_id,
            Inspection.due_on,
            Inspection.status,
            Inspection.cancelled_reason,
        ).order_by(Inspection.id)
    ).all()
    # Sign-ins are audited too (accounts.sessions); the bulk actions' own entries are counted.
    audits = db.session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.action.not_in(SIGN_IN_ACTIONS))
    )
    return [tuple(row) for row in rows] + [("audits", audits)]


def audits(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )


def officer():
    return user_by_email(OFFICER)


# --- The service ------------------------------------------------------------------------------


def test_cancel_a_selection(field, ctx):
    ids = [field["cs_march"], field["eb_march"]]
    bulk_change(ids, "cancel", " Assets removed ", officer())
    db.session.commit()
    for number in ids:
        inspection = db.session.get(Inspection, number)
        assert (inspection.status, inspection.cancelled_reason) == ("cancelled", "Assets removed")
    entries = audits("cancel")
    assert sorted(int(entry.entity_key) for entry in entries) == sorted(ids)
    assert all(entry.before["status"] == "scheduled" for entry in entries)
    assert all(entry.after["cancelled_reason"] == "Assets removed" for entry in entries)
    assert db.session.get(Inspection, field["cs_april"]).status == "scheduled"


def test_reassign_a_selection(field, ctx):
    ids = [field["cs_march"], field["cs_april"]]
    bulk_change(ids, "reassign", "Fixers is overloaded", officer(), contractor_id=field["other_co"])
    db.session.commit()
    for number in ids:
        assert db.session.get(Inspection, number).contractor_id == field["other_co"]
    assert db.session.get(Inspection, field["eb_march"]).contractor_id == field["fixers"]
    entries = audits("reassign")
    assert len(entries) == 2
    for entry in entries:
        assert entry.before["contractor_id"] == field["fixers"]
        assert entry.after["contractor_id"] == field["other_co"]
        assert entry.after["reason"] == "Fixers is overloaded"


def test_reschedule_a_selection(field, ctx):
    ids = [field["cs_march"], field["eb_march"]]
    bulk_change(ids, "reschedule", "Snow", officer(), due_on="2026-03-20")
    db.session.commit()
    for number in ids:
        assert db.session.get(Inspection, number).due_on == date(2026, 3, 20)
    entries = audits("reschedule")
    assert {entry.before["due_on"] for entry in entries} == {"2026-03-01", "2026-03-12"}
    assert {entry.after["due_on"] for entry in entries} == {"2026-03-20"}
    assert {entry.after["reason"] for entry in entries} == {"Snow"}


def test_reschedule_to_today_is_allowed(field, ctx):
    bulk_change([field["cs_march"]], "reschedule", "Now", officer(), due_on=date(2026, 3, 10))
    db.session.commit()
    assert db.session.get(Inspection, field["cs_march"]).due_on == date(2026, 3, 10)


REFUSALS = [
    ("empty selection", lambda f: ([], "cancel", "Why", {}), "ids"),
    ("not a number", lambda f: (["x1"], "cancel", "Why", {}), "ids"),
    ("empty reason", lambda f: ([f["cs_march"]], "cancel", "  ", {}), "reason"),
    ("unknown action", lambda f: ([f["cs_march"]], "delete", "Why", {}), "action"),
    ("completed", lambda f: ([f["cs_march"], f["done"]], "cancel", "Why", {}), "ids"),
    ("cancelled", lambda f: ([f["gone"], f["cs_march"]], "cancel", "Why", {}), "ids"),
    ("unknown", lambda f: ([f["cs_march"], 99999], "cancel", "Why", {}), "ids"),
    (
        "past date",
        lambda f: ([f["cs_march"]], "reschedule", "Why", {"due_on": "2026-03-09"}),
        "due_on",
    ),
    ("no date", lambda f: ([f["cs_march"]], "reschedule", "Why", {}), "due_on"),
    (
        "bad date",
        lambda f: ([f["cs_march"]], "reschedule", "Why", {"due_on": "2026-02-30"}),
        "due_on",
    ),
    (
        "ended contract",
        lambda f: ([f["cs_march"]], "reassign", "Why", {"contractor_id": f["gone_co"]}),
        "contractor",
    ),
    (
        "unknown contractor",
        lambda f: ([f["cs_march"]], "reassign", "Why", {"contractor_id": 99999}),
        "contractor",
    ),
    ("no contractor", lambda f: ([f["cs_march"]], "reassign", "Why", {}), "contractor"),
]


@pytest.mark.parametrize(
    ("case", "arguments", "field_name"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_refusals_write_nothing(field, ctx, case, arguments, field_name):
    before = state()
    ids, action, reason, extra = arguments(field)
    with pytest.raises(InspectionValidationError) as error:
        bulk_change(ids, action, reason, officer(), **extra)
    db.session.rollback()
    assert field_name in error.value.errors
    assert state() == before


def test_a_refusal_names_every_closed_inspection(field, ctx):
    before = state()
    ids = [field["cs_march"], field["done"], field["gone"], 99999]
    with pytest.raises(InspectionValidationError) as error:
        bulk_change(ids, "reschedule", "Why", officer(), due_on="2026-03-20")
    db.session.rollback()
    text = str(error.value)
    assert f"#{field['done']} CS-001 2026-02-10" in text
    assert f"#{field['gone']} EB-0001 2026-02-10" in text
    assert "#99999" in text
    assert f"#{field['cs_march']} " not in text
    assert state() == before


def test_a_reschedule_onto_the_plans_own_date_is_a_conflict(field, ctx):
    """CS-001 already has its plan's inspection on 2026-04-10: moving the March one there
    would break the one-per-plan-asset-date rule; nothing moves, the clash is named."""
    before = state()
    with pytest.raises(ConflictError) as error:
        bulk_change(
            [field["eb_march"], field["cs_march"]],
            "reschedule",
            "Why",
            officer(),
            due_on="2026-04-10",
        )
    db.session.rollback()
    assert error.value.http_status == 409
    assert f"#{field['cs_march']} CS-001" in str(error.value)
    assert state() == before


def test_two_selected_of_one_asset_cannot_share_a_date(field, ctx):
    before = state()
    with pytest.raises(ConflictError):
        bulk_change(
            [field["cs_march"], field["cs_april"]],
            "reschedule",
            "Why",
            officer(),
            due_on=NOW.date(),
        )
    db.session.rollback()
    assert state() == before


def test_only_staff(field, ctx):
    before = state()
    with pytest.raises(InspectionNotFoundError):
        bulk_change([field["cs_march"]], "cancel", "Why", user_by_email("fixer@example.org"))
    assert state() == before


# --- The page ---------------------------------------------------------------------------------


@pytest.fixture
def english(client):
    client.get("/lang/en")


def page_state(app) -> list[tuple]:
    with app.app_context():
        return state()


def test_the_list_has_the_bulk_form_for_staff_only(client, auth, field, english):
    auth.login(OFFICER)
    page = client.get("/inspections/").text
    assert 'id="bulk-form"' in page and 'class="bulk-actions' in page
    assert f'name="ids" value="{field["cs_march"]}" form="bulk-form"' in page
    assert 'aria-label="Select the inspection of CS-001 due on 2026-03-01"' in page
    assert f'value="{field["done"]}" form="bulk-form"' not in page  # closed: no box
    assert 'id="select-all"' in page and "js/bulk_select.js" in page
    options = re.findall(r'<option value="(\d+)">([^<]+)</option>', page)
    assert ("Other Co") in [name for _value, name in options]
    assert "Gone Co" not in [name for _value, name in options]
    auth.logout()
    auth.login("fixer@example.org")
    page = client.get("/inspections/").text
    assert "bulk-form" not in page and 'name="ids"' not in page


def test_a_contractor_is_refused(app, client, auth, field):
    before = page_state(app)
    auth.login("fixer@example.org")
    data = {"ids": [field["cs_march"]], "action": "cancel", "reason": "Mine now"}
    assert client.post("/inspections/bulk", data=data).status_code == 403
    assert page_state(app) == before


def test_reschedule_from_the_page(app, client, auth, field, english):
    auth.login(OFFICER)
    data = {
        "ids": [field["cs_march"], field["eb_march"]],
        "action": "reschedule",
        "due_on": "2026-03-20",
        "reason": "Road works",
    }
    response = client.post("/inspections/bulk?status=scheduled", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/inspections/?status=scheduled")
    assert "2 inspections changed." in client.get(response.headers["Location"]).text
    with app.app_context():
        assert db.session.get(Inspection, field["cs_march"]).due_on == date(2026, 3, 20)
        entries = audits("reschedule")
        assert [entry.after["reason"] for entry in entries] == ["Road works"] * 2
        assert {entry.actor for entry in entries} == {OFFICER}


def test_reassign_from_the_page(app, client, auth, field):
    auth.login(OFFICER)
    data = {
        "ids": [field["cs_april"]],
        "action": "reassign",
        "contractor": str(field["other_co"]),
        "reason": "Closer",
    }
    assert client.post("/inspections/bulk", data=data).status_code == 302
    with app.app_context():
        inspection = db.session.get(Inspection, field["cs_april"])
        assert db.session.get(Contractor, inspection.contractor_id).name == "Other Co"


def test_a_closed_inspection_refuses_the_page_with_the_list_again(
    app, client, auth, field, english
):
    before = page_state(app)
    auth.login(OFFICER)
    data = {"ids": [field["cs_march"], field["done"]], "action": "cancel", "reason": "Why"}
    response = client.post("/inspections/bulk", data=data)
    assert response.status_code == 422
    assert 'id="bulk-errors"' in response.text
    assert f"#{field['done']} CS-001 2026-02-10" in response.text
    assert f'value="{field["cs_march"]}" form="bulk-form"' in response.text
    assert re.search(rf'value="{field["cs_march"]}" form="bulk-form"[^>]*checked', response.text)
    assert '<tr data-id="' in response.text  # the list itself
    assert page_state(app) == before


def test_an_empty_reason_or_selection_is_refused_on_the_page(app, client, auth, field, english):
    before = page_state(app)
    auth.login(OFFICER)
    response = client.post("/inspections/bulk", data={"action": "cancel", "reason": ""})
    assert response.status_code == 422
    assert "Select at least one inspection." in response.text
    data = {"ids": [field["cs_march"]], "action": "cancel", "reason": " "}
    response = client.post("/inspections/bulk", data=data)
    assert response.status_code == 422
    assert "Give a reason for the change." in response.text
    data = {
        "ids": [field["cs_march"]],
        "action": "reschedule",
        "due_on": "2026-01-01",
        "reason": "x",
    }
    response = client.post("/inspections/bulk", data=data)
    assert response.status_code == 422
    assert "The new due date cannot be in the past." in response.text
    assert page_state(app) == before


def test_a_colliding_reschedule_answers_409_on_the_page(app, client, auth, field, english):
    before = page_state(app)
    auth.login(OFFICER)
    data = {
        "ids": [field["cs_march"]],
        "action": "reschedule",
        "due_on": "2026-04-10",
        "reason": "x",
    }
    response = client.post("/inspections/bulk", data=data)
    assert response.status_code == 409
    assert f"#{field['cs_march']} CS-001 2026-03-01 cannot move to 2026-04-10" in response.text
    assert page_state(app) == before
