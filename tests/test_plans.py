"""Inspection plans: the create/update service, its checks, and the administrators' pages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from accounts.models import Contractor
from assets.models import Asset, AssetStatus, Grid
from core.audit import AuditEntry
from core.extensions import db
from inspections.models import Inspection, InspectionPlan, InspectionStatus
from inspections.plans.services import (
    PlanOverlapError,
    PlanValidationError,
    cadence_words,
    covered_asset_count,
    create_plan,
    next_due_dates,
    parse_asset_codes,
    plan_checklist,
    plan_overlaps,
    scope_words,
    set_plan_active,
    update_plan,
    validated_plan_values,
)
from tests.factories import (
    blocker_data,
    charging_station_data,
    gen_asset,
    gen_contractor,
    gen_inspection,
    gen_plan,
)

D = date.fromisoformat
TODAY = D("2026-03-05")
# 2026-03-05 10:00 in Shanghai.
NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
def registry(app, district, frozen_clock):
    """CS-001 and CS-002 in G1-01, EB-0001 in G2-02, contractor Fixers Ltd; time frozen."""
    frozen_clock.set(NOW)
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_asset(charging_station_data(2))
        gen_asset(blocker_data(1))
        gen_contractor("Fixers Ltd")
        db.session.commit()
    return app


def fixers_id() -> int:
    return db.session.scalar(select(Contractor.id).where(Contractor.name == "Fixers Ltd"))


def plan_values(**changes) -> dict:
    values = {
        "name": "Charging stations monthly",
        "contractor_id": fixers_id(),
        "asset_kind": "charging_station",
        "grid": "",
        "asset_codes": "",
        "cadence_every": "1",
        "cadence_unit": "month",
        "start_on": "2026-01-10",
        "end_on": "",
        "checklist": None,
        "active": True,
    }
    values.update(changes)
    return values


def counts() -> tuple[int, int, int]:
    """(plans, inspections, audit entries about plans)."""
    return (
        db.session.scalar(select(func.count(InspectionPlan.id))),
        db.session.scalar(select(func.count(Inspection.id))),
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.entity_type == "plan")
        ),
    )


def due_dates(plan_id: int, status: str | None = None) -> list[tuple[str, date]]:
    query = (
        select(Inspection)
        .where(Inspection.plan_id == plan_id)
        .order_by(Inspection.due_on, Inspection.asset_id)
    )
    if status is not None:
        query = query.where(Inspection.status == status)
    return [(row.asset.code, row.due_on) for row in db.session.scalars(query)]


# --- The service ---------------------------------------------------------------------------


def test_create_generates_the_plans_inspections_and_audits(registry):
    with registry.app_context():
        saved = create_plan(plan_values())
        db.session.commit()
        assert saved.created == 6  # two stations x 10 March, April, May
        assert due_dates(saved.plan.id) == [
            (code, D(day))
            for day in ("2026-03-10", "2026-04-10", "2026-05-10")
            for code in ("CS-001", "CS-002")
        ]
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "plan"))
        assert entry.action == "create"
        assert entry.entity_key == str(saved.plan.id)
        assert entry.after["contractor"] == "Fixers Ltd"
        assert entry.after["cadence_unit"] == "month"


def test_checklist_subset_is_stored_in_the_kinds_order(registry):
    with registry.app_context():
        chosen = ["camera_working", "cutoff_when_full"]
        plan = create_plan(plan_values(checklist=chosen)).plan
        db.session.commit()
        assert plan.checklist == ["cutoff_when_full", "camera_working"]
        assert [item.key for item in plan_checklist(plan)] == plan.checklist


def test_the_whole_checklist_is_stored_as_none(registry):
    from assets.kinds import KINDS

    with registry.app_context():
        every_key = [item.key for item in KINDS["charging_station"].checklist]
        plan = create_plan(plan_values(checklist=list(reversed(every_key)))).plan
        assert plan.checklist is None
        assert len(plan_checklist(plan)) == len(every_key)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"checklist": ["detects_ebike"]}, "checklist", "detects_ebike"),  # a blocker item
        ({"checklist": []}, "checklist", "at least one"),
        ({"asset_kind": "", "checklist": ["camera_working"]}, "checklist", "kind"),
        ({"asset_codes": "CS-001, CS-404\nXX-9"}, "asset_codes", "CS-404, XX-9"),
        ({"asset_codes": "CS-001 EB-0001"}, "asset_codes", "EB-0001"),  # not a station
        ({"grid": "G2", "asset_codes": "CS-001"}, "asset_codes", "CS-001"),  # not in G2
        ({"end_on": "2026-01-09"}, "end_on", "before the start"),
        ({"start_on": "2026-02-30"}, "start_on", "YYYY-MM-DD"),
        ({"start_on": ""}, "start_on", "start date"),
        ({"cadence_every": "0"}, "cadence_every", "1"),
        ({"cadence_every": "two"}, "cadence_every", "1"),
        ({"cadence_unit": "fortnight"}, "cadence_unit", "months"),
        ({"asset_kind": "fire_truck"}, "asset_kind", "fire_truck"),
        ({"grid": "G9"}, "grid", "G9"),
        ({"contractor_id": "999"}, "contractor_id", "contractor"),
        ({"contractor_id": ""}, "contractor_id", "contractor"),
        ({"name": "  "}, "name", "name"),
    ],
)
def test_bad_plans_are_refused_naming_the_field_and_write_nothing(registry, changes, field, words):
    with registry.app_context():
        with pytest.raises(PlanValidationError) as raised:
            create_plan(plan_values(**changes))
        db.session.rollback()
        assert field in raised.value.errors
        assert words.lower() in " ".join(raised.value.errors[field]).lower()
        assert counts() == (0, 0, 0)


def test_every_bad_field_is_reported_at_once(registry):
    with registry.app_context():
        with pytest.raises(PlanValidationError) as raised:
            create_plan(plan_values(name="", asset_codes="NOPE-1", end_on="2025-01-01"))
        assert set(raised.value.errors) == {"name", "asset_codes", "end_on"}


def test_codes_one_per_line_or_comma_separated():
    assert parse_asset_codes(" cs-001,CS-002\n\nEB-0001 ,cs-001") == ["CS-001", "CS-002", "EB-0001"]
    assert parse_asset_codes("  \n ") is None
    assert parse_asset_codes(None) is None


def test_first_level_grid_covers_its_children(registry):
    with registry.app_context():
        plan = create_plan(plan_values(asset_kind="", grid="G1")).plan
        assert covered_asset_count(plan) == 2
        assert "G1" in scope_words(plan)
        plan = create_plan(plan_values(asset_kind="", grid="G2-02", name="Blockers")).plan
        assert covered_asset_count(plan) == 1


def test_explicit_codes_limit_the_plan(registry):
    with registry.app_context():
        saved = create_plan(plan_values(asset_codes="cs-002"))
        assert saved.plan.asset_codes == ["CS-002"]
        assert {code for code, _day in due_dates(saved.plan.id)} == {"CS-002"}
        assert "CS-002" in scope_words(saved.plan)


def test_edit_regenerates_only_future_not_started_inspections(registry):
    with registry.app_context():
        plan = create_plan(plan_values(asset_codes="CS-001")).plan
        past = gen_inspection("CS-001", D("2026-02-10"), plan=plan)  # overdue, kept
        done = db.session.scalar(
            select(Inspection).where(
                Inspection.plan_id == plan.id, Inspection.due_on == D("2026-04-10")
            )
        )
        done.status = InspectionStatus.COMPLETED
        done.completed_at = NOW
        db.session.commit()
        past_id, done_id = past.id, done.id

        saved = update_plan(plan, plan_values(asset_codes="CS-001", start_on="2026-01-20"))
        db.session.commit()

        assert saved.removed == 2  # 10 March and 10 May; 10 April is completed
        assert saved.created == 3  # 20 March, April, May
        assert due_dates(plan.id) == [
            ("CS-001", D("2026-02-10")),
            ("CS-001", D("2026-03-20")),
            ("CS-001", D("2026-04-10")),
            ("CS-001", D("2026-04-20")),
            ("CS-001", D("2026-05-20")),
        ]
        assert db.session.get(Inspection, past_id).status == InspectionStatus.SCHEDULED
        assert db.session.get(Inspection, done_id).status == InspectionStatus.COMPLETED
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "update"))
        assert entry.before == {"start_on": "2026-01-10"}
        assert entry.after == {"start_on": "2026-01-20"}


def test_renaming_keeps_the_inspections_as_they_are(registry):
    with registry.app_context():
        plan = create_plan(plan_values()).plan
        db.session.commit()
        ids = set(db.session.scalars(select(Inspection.id)))
        saved = update_plan(plan, plan_values(name="Stations, monthly"))
        db.session.commit()
        assert (saved.created, saved.removed, saved.changed) == (0, 0, True)
        assert set(db.session.scalars(select(Inspection.id))) == ids
        unchanged = update_plan(plan, plan_values(name="Stations, monthly"))
        assert unchanged.changed is False


def test_a_new_contractor_takes_over_the_future_inspections(registry):
    with registry.app_context():
        plan = create_plan(plan_values()).plan
        other = gen_contractor("Other Co")
        saved = update_plan(plan, plan_values(contractor_id=other.id))
        db.session.commit()
        assert saved.removed == saved.created == 6
        owners = set(db.session.scalars(select(Inspection.contractor_id)))
        assert owners == {other.id}


def test_deactivating_removes_future_scheduled_inspections(registry):
    with registry.app_context():
        plan = create_plan(plan_values()).plan
        gen_inspection("CS-001", D("2026-02-10"), plan=plan)
        db.session.commit()
        saved = set_plan_active(plan, False)
        db.session.commit()
        assert saved.removed == 6
        assert due_dates(plan.id) == [("CS-001", D("2026-02-10"))]
        assert next_due_dates(plan) == []
        saved = set_plan_active(plan, True)
        db.session.commit()
        assert saved.created == 6


def test_words_for_cadence_scope_and_next_dates(registry):
    with registry.app_context():
        plan = create_plan(plan_values(end_on="2026-12-31")).plan
        assert cadence_words(plan) == "every 1 month from 2026-01-10 until 2026-12-31"
        plan.cadence_unit, plan.cadence_every = "week", 2
        assert cadence_words(plan).startswith("every 2 weeks from 2026-01-10")
        plan.cadence_unit, plan.cadence_every = "month", 1
        assert next_due_dates(plan, 3) == [D("2026-03-10"), D("2026-04-10"), D("2026-05-10")]
        plan.end_on = D("2026-04-30")
        assert next_due_dates(plan, 3) == [D("2026-03-10"), D("2026-04-10")]
        plan.asset_kind = None
        assert scope_words(plan) == "all assets"


# --- The pages ------------------------------------------------------------------------------


def form_data(**changes) -> dict:
    data = {
        "name": "Stations monthly",
        "contractor_id": "",
        "asset_kind": "charging_station",
        "grid": "",
        "asset_codes": "",
        "cadence_every": "1",
        "cadence_unit": "month",
        "start_on": "2026-01-10",
        "end_on": "",
        "active": "y",
        "checklist_charging_station": ["cutoff_when_full", "no_flying_wire"],
    }
    data.update(changes)
    return data


@pytest.fixture
def english(client):
    """The pages in English (the default language is Chinese)."""
    client.get("/lang/en")
    return client


@pytest.fixture
def admin_client(registry, english, auth, admin):
    auth.login(admin)
    return english


def contractor_id_in(app) -> str:
    with app.app_context():
        return str(fixers_id())


def test_admin_creates_a_plan_on_the_page(registry, admin_client):
    data = form_data(contractor_id=contractor_id_in(registry))
    response = admin_client.post("/plans/new", data=data, follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "6 inspections scheduled." in page
    assert "every 1 month from 2026-01-10" in page
    assert "Chargers cut off when the battery is full" in page
    assert "Camera working" not in page  # not chosen
    assert "2026-03-10" in page and "2026-08-10" in page  # next due dates
    with registry.app_context():
        plan = db.session.scalar(select(InspectionPlan))
        assert plan.checklist == ["cutoff_when_full", "no_flying_wire"]
        assert counts() == (1, 6, 1)


def test_plan_list_shows_each_plan_in_words(registry, admin_client):
    with registry.app_context():
        create_plan(plan_values(name="Stations <monthly>"))
        db.session.commit()
    page = admin_client.get("/plans/").get_data(as_text=True)
    assert "Stations &lt;monthly&gt;" in page
    assert "every 1 month from 2026-01-10" in page
    assert "2026-03-10" in page  # next due
    assert "Fixers Ltd" in page
    assert '<td class="number">2</td>' in page  # assets covered


def covered_as_stored(plan: InspectionPlan) -> int:
    """The assets ``plan`` covers, picked in Python from every stored asset."""
    grids = {grid.id: grid for grid in db.session.scalars(select(Grid))}
    covered = {plan.grid_id} | {g.id for g in grids.values() if g.parent_id == plan.grid_id}
    return sum(
        1
        for asset in db.session.scalars(select(Asset))
        if asset.status != AssetStatus.RETIRED
        and (plan.asset_kind is None or asset.kind == plan.asset_kind)
        and (plan.grid_id is None or asset.grid_id in covered)
        and (plan.asset_codes is None or asset.code in plan.asset_codes)
    )


def test_the_plan_pages_count_the_assets_each_plan_covers_as_stored(registry, admin_client):
    """The list and each plan's page: kind, grid (a first-level grid with its children),
    codes or everything, retired assets left out, as the stored assets say."""
    with registry.app_context():
        gen_asset(charging_station_data(3, status="retired"))
        gen_asset(charging_station_data(4))
        gen_asset(blocker_data(2))
        gen_asset(blocker_data(3, longitude=119.15, latitude=36.715))  # in G1-01
        g1 = db.session.scalar(select(Grid.id).where(Grid.code == "G1"))
        g2_02 = db.session.scalar(select(Grid.id).where(Grid.code == "G2-02"))
        plans = [
            gen_plan(name="Stations", asset_kind="charging_station"),
            gen_plan(name="All in G1", grid_id=g1),
            gen_plan(name="Blockers in G2-02", asset_kind="elevator_blocker", grid_id=g2_02),
            gen_plan(name="Listed", asset_codes=["CS-003", "EB-0001"]),
            gen_plan(name="Everything"),
        ]
        db.session.commit()
        expected = {plan.id: covered_as_stored(plan) for plan in plans}
    assert sorted(expected.values()) == [1, 2, 3, 4, 6]
    page = admin_client.get("/plans/").get_data(as_text=True)
    for plan_id, count in expected.items():
        row = page[page.index(f'data-plan="{plan_id}"') :]
        row = row[: row.index("</tr>")]
        assert f'<td class="number">{count}</td>' in row, (plan_id, count)
        detail = admin_client.get(f"/plans/{plan_id}").get_data(as_text=True)
        assert f'<dd id="plan-asset-count">{count}</dd>' in detail, (plan_id, count)


def test_unknown_codes_on_the_page_are_a_form_error_and_write_nothing(registry, admin_client):
    data = form_data(contractor_id=contractor_id_in(registry), asset_codes="CS-001\nCS-777")
    response = admin_client.post("/plans/new", data=data)
    assert response.status_code == 400
    assert "Unknown asset codes: CS-777." in response.get_data(as_text=True)
    with registry.app_context():
        assert counts() == (0, 0, 0)


def test_end_before_start_on_the_page_writes_nothing(registry, admin_client):
    data = form_data(contractor_id=contractor_id_in(registry), end_on="2025-12-31")
    response = admin_client.post("/plans/new", data=data)
    assert response.status_code == 400
    assert "The end date cannot be before the start date." in response.get_data(as_text=True)
    with registry.app_context():
        assert counts() == (0, 0, 0)


def test_no_kind_means_the_whole_default_checklist(registry, admin_client):
    data = form_data(contractor_id=contractor_id_in(registry), asset_kind="", grid="G1")
    response = admin_client.post("/plans/new", data=data)
    assert response.status_code == 302
    with registry.app_context():
        plan = db.session.scalar(select(InspectionPlan))
        assert plan.asset_kind is None and plan.checklist is None


def test_admin_edits_and_deactivates_on_the_page(registry, admin_client):
    with registry.app_context():
        plan_id = create_plan(plan_values()).plan.id
        db.session.commit()
    assert admin_client.get(f"/plans/{plan_id}/edit").status_code == 200
    data = form_data(contractor_id=contractor_id_in(registry), cadence_unit="quarter")
    response = admin_client.post(f"/plans/{plan_id}/edit", data=data, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "6 future inspections removed." in page
    assert "2 inspections scheduled." in page  # 10 April for each station
    assert "every 1 quarter from 2026-01-10" in page
    with registry.app_context():
        assert due_dates(plan_id) == [("CS-001", D("2026-04-10")), ("CS-002", D("2026-04-10"))]

    response = admin_client.post(f"/plans/{plan_id}/deactivate", follow_redirects=True)
    assert "2 future inspections removed." in response.get_data(as_text=True)
    with registry.app_context():
        assert db.session.get(InspectionPlan, plan_id).active is False
        assert due_dates(plan_id) == []
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "plan")
        ).all()
        assert actions == ["create", "update", "update"]


def test_a_bad_edit_changes_nothing(registry, admin_client):
    with registry.app_context():
        plan_id = create_plan(plan_values()).plan.id
        db.session.commit()
        before = counts()
    data = form_data(contractor_id=contractor_id_in(registry), checklist_charging_station=[])
    response = admin_client.post(f"/plans/{plan_id}/edit", data=data)
    assert response.status_code == 400
    assert "Tick at least one checklist item." in response.get_data(as_text=True)
    with registry.app_context():
        assert counts() == before
        assert db.session.get(InspectionPlan, plan_id).name == "Charging stations monthly"


def test_officer_can_view_but_not_write(registry, english, auth, officer):
    client = english
    with registry.app_context():
        plan_id = create_plan(plan_values()).plan.id
        db.session.commit()
    auth.login(officer)
    assert client.get("/plans/").status_code == 200
    page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "Charging stations monthly" in page
    assert f"/plans/{plan_id}/edit" not in page
    assert client.get("/plans/new").status_code == 403
    data = form_data(contractor_id=contractor_id_in(registry))
    assert client.post("/plans/new", data=data).status_code == 403
    assert client.post(f"/plans/{plan_id}/edit", data=data).status_code == 403
    assert client.post(f"/plans/{plan_id}/deactivate").status_code == 403
    with registry.app_context():
        assert counts() == (1, 6, 1)
        assert db.session.get(InspectionPlan, plan_id).active is True


def test_contractor_users_get_403(registry, client, auth, contractor_user):
    with registry.app_context():
        plan_id = create_plan(plan_values()).plan.id
        db.session.commit()
    auth.login(contractor_user)
    for url in ("/plans/", f"/plans/{plan_id}", "/plans/new", f"/plans/{plan_id}/edit"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/plans/{plan_id}/deactivate").status_code == 403
    assert client.post("/plans/new", data=form_data()).status_code == 403
    with registry.app_context():
        assert counts() == (1, 6, 1)


def test_unknown_plan_is_404(registry, admin_client):
    assert admin_client.get("/plans/999").status_code == 404
    assert admin_client.post("/plans/999/deactivate").status_code == 404


# --- Overlapping plans ----------------------------------------------------------------------


def others_id() -> int:
    return gen_contractor("Others Co").id


@pytest.mark.parametrize(
    ("existing", "new", "shared"),
    [
        ({}, {}, ["CS-001", "CS-002"]),  # by kind
        ({"grid": "G1"}, {"asset_codes": "CS-002"}, ["CS-002"]),  # grid vs code list
        ({"asset_codes": "CS-001"}, {"grid": "G1-01"}, ["CS-001"]),  # code list vs grid
        ({"asset_kind": ""}, {}, ["CS-001", "CS-002"]),  # a plan of every kind
    ],
)
def test_a_plan_covering_assets_of_another_active_plan_is_refused(registry, existing, new, shared):
    with registry.app_context():
        first = create_plan(plan_values(name="District", **existing)).plan
        db.session.commit()
        before = counts()
        with pytest.raises(PlanOverlapError) as refused:
            create_plan(plan_values(name="Second", contractor_id=others_id(), **new))
        db.session.rollback()
        (overlap,) = refused.value.overlaps
        assert (overlap.plan_id, overlap.contractor, overlap.count, overlap.codes) == (
            first.id,
            "Fixers Ltd",
            len(shared),
            shared,
        )
        assert "District" in str(refused.value) and "Fixers Ltd" in str(refused.value)
        assert counts() == before


@pytest.mark.parametrize(
    "new",
    [
        {"asset_kind": "elevator_blocker"},  # another kind
        {"grid": "G2"},  # elsewhere
        {"start_on": "2025-01-10", "end_on": "2025-12-31"},  # before the other started
        {"active": False},  # an inactive plan overlaps nothing
    ],
)
def test_no_overlap_for_another_kind_place_period_or_an_inactive_plan(registry, new):
    with registry.app_context():
        create_plan(plan_values(name="District"))
        db.session.commit()
        assert plan_overlaps(validated_plan_values(plan_values(name="B", **new))) == []


def test_an_inactive_plan_is_not_overlapped_and_a_plan_not_by_itself(registry):
    with registry.app_context():
        old = create_plan(plan_values(name="Old")).plan
        set_plan_active(old, False)
        db.session.commit()
        plan = create_plan(plan_values(name="New")).plan
        db.session.commit()
        update_plan(plan, plan_values(name="New name"))  # itself is no overlap
        db.session.commit()
        with pytest.raises(PlanOverlapError):
            update_plan(old, plan_values(name="Old"))
        db.session.rollback()


def test_a_confirmed_overlap_is_saved_and_audited(registry):
    with registry.app_context():
        first = create_plan(plan_values(name="District")).plan
        db.session.commit()
        second = create_plan(
            plan_values(name="Second", contractor_id=others_id()), allow_overlap=True
        ).plan
        db.session.commit()
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity_key == str(second.id), AuditEntry.action == "overlap_confirmed"
            )
        )
        assert entry.after == {
            "overlaps": [{"plan": first.id, "count": 2, "codes": ["CS-001", "CS-002"]}]
        }


def test_an_overlap_on_the_page_needs_create_anyway(registry, admin_client):
    with registry.app_context():
        create_plan(plan_values(name="District"))
        db.session.commit()
        before = counts()
    data = form_data(contractor_id=contractor_id_in(registry), name="Second")
    response = admin_client.post("/plans/new", data=data)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "2 assets are already covered by the plan District of Fixers Ltd" in page
    assert "CS-001, CS-002" in page and 'id="allow-overlap"' in page
    with registry.app_context():
        assert counts() == before
    response = admin_client.post("/plans/new", data={**data, "allow_overlap": "y"})
    assert response.status_code == 302
    with registry.app_context():
        assert db.session.scalar(select(func.count(InspectionPlan.id))) == 2
        assert (
            db.session.scalar(
                select(func.count(AuditEntry.id)).where(AuditEntry.action == "overlap_confirmed")
            )
            == 1
        )


def test_the_plan_glossary_reads_right_in_chinese(registry, client, auth, admin):
    """A plan is 启用/停用 (not the asset's 正常), and its schedule's unit is 周期单位 (not a
    building's 单元)."""
    with registry.app_context():
        active = create_plan(plan_values(name="充电站月检")).plan.id
        stopped = create_plan(
            plan_values(name="已停的计划", active=False), allow_overlap=True
        ).plan.id
        db.session.commit()
    auth.login(admin)
    client.get("/lang/zh")
    listing = client.get("/plans/").get_data(as_text=True)
    assert "启用" in listing
    assert "正常" not in listing
    assert "启用" in client.get(f"/plans/{active}").get_data(as_text=True)
    assert "停用" in client.get(f"/plans/{stopped}").get_data(as_text=True)
    form = client.get("/plans/new").get_data(as_text=True)
    assert "周期单位" in form
    assert ">单元<" not in form
