"""The plans JSON API: /api/v1/plans and /api/v1/plans/<id>; admins write, staff read, a
contractor is 403 as on the pages; an overlap with another active plan is 409 with the
overlap unless allow_overlap. Every answer is checked against the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from openapi_schema_validator import OAS30Validator
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.extensions import db
from inspections.models import Inspection, InspectionPlan
from tests.factories import (
    CS_ITEMS,
    BearerClient,
    blocker_data,
    charging_station_data,
    gen_asset,
    gen_contractor,
    gen_token,
)

NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)  # 2026-03-05 10:00 in Shanghai


@pytest.fixture
def registry(app, district, frozen_clock):
    """CS-001, CS-002 in G1-01, EB-0001 in G2-02; contractors Fixers Ltd and Others Co."""
    frozen_clock.set(NOW)
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_asset(charging_station_data(2))
        gen_asset(blocker_data(1))
        ids = {name: gen_contractor(name).id for name in ("Fixers Ltd", "Others Co")}
        db.session.commit()
    return ids


@pytest.fixture
def admin_api(app, client, admin, registry):
    with app.app_context():
        token = gen_token(admin)
        db.session.commit()
    return BearerClient(client, token)


@pytest.fixture
def spec(api):
    return api.get("/api/v1/openapi.json").json


def conforms(spec: dict, path: str, method: str, response) -> dict:
    """The response's JSON is valid against the schema the document gives for its status."""
    documented = spec["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, (response.status_code, response.json)
    schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    wrapped = {**schema, "components": spec["components"]}
    OAS30Validator(wrapped).validate(response.json)
    return response.json


def body(registry, **changes) -> dict:
    data = {
        "name": "Charging stations monthly",
        "contractor_id": registry["Fixers Ltd"],
        "asset_kind": "charging_station",
        "cadence_unit": "month",
        "start_on": "2026-01-10",
    }
    data.update(changes)
    return data


def counts(app) -> tuple[int, int, int]:
    """(plans, inspections, audit entries about plans)."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count(InspectionPlan.id))),
            db.session.scalar(select(func.count(Inspection.id))),
            db.session.scalar(
                select(func.count(AuditEntry.id)).where(AuditEntry.entity_type == "plan")
            ),
        )


def overlap_audits(app, plan_id: int) -> list[dict]:
    with app.app_context():
        return [
            entry.after
            for entry in db.session.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity_key == str(plan_id), AuditEntry.action == "overlap_confirmed"
                )
            )
        ]


def created(admin_api, spec, registry, **changes) -> dict:
    response = admin_api.post("/api/v1/plans", json=body(registry, **changes))
    assert response.status_code == 201, response.json
    return conforms(spec, "/api/v1/plans", "post", response)


# Reading


def test_list_and_detail(app, api, admin_api, spec, registry):
    first = created(admin_api, spec, registry, checklist=list(CS_ITEMS[:2]))
    created(admin_api, spec, registry, name="Blockers", asset_kind="elevator_blocker", active=False)
    response = api.get("/api/v1/plans")
    listing = conforms(spec, "/api/v1/plans", "get", response)
    assert [item["name"] for item in listing["items"]] == ["Charging stations monthly", "Blockers"]
    assert listing["numberMatched"] == 2
    item = listing["items"][0]
    assert item["contractor"] == "Fixers Ltd" and item["asset_count"] == 2
    assert item["next_due_on"] == "2026-03-10" and item["checklist"] == list(CS_ITEMS[:2])

    response = api.get("/api/v1/plans?per_page=1&page=2")
    paged = conforms(spec, "/api/v1/plans", "get", response)
    assert [item["name"] for item in paged["items"]] == ["Blockers"]
    assert paged["items"][0]["next_due_on"] is None  # inactive

    response = api.get(f"/api/v1/plans/{first['id']}")
    detail = conforms(spec, "/api/v1/plans/{id}", "get", response)
    assert detail["due_dates"][:2] == ["2026-03-10", "2026-04-10"]
    assert detail["start_on"] == "2026-01-10" and detail["grid"] is None

    response = api.get("/api/v1/plans/9999")
    assert conforms(spec, "/api/v1/plans/{id}", "get", response)["message"]
    assert response.status_code == 404


def test_bad_paging_is_422(api, spec, registry):
    response = api.get("/api/v1/plans?per_page=0")
    assert response.status_code == 422
    assert "per_page" in response.json["errors"]["query"]


def test_without_a_token_is_401(client, registry):
    for method, path in [
        ("get", "/api/v1/plans"),
        ("get", "/api/v1/plans/1"),
        ("post", "/api/v1/plans"),
        ("patch", "/api/v1/plans/1"),
    ]:
        response = getattr(client, method)(path, json={})
        assert response.status_code == 401, (method, path)
        assert response.is_json


def test_a_contractor_is_403_as_on_the_pages(app, client, contractor_user, spec, registry):
    with app.app_context():
        token = gen_token(contractor_user)
        db.session.commit()
    fixer = BearerClient(client, token)
    response = fixer.get("/api/v1/plans")
    assert conforms(spec, "/api/v1/plans", "get", response)["message"]
    assert response.status_code == 403
    response = fixer.get("/api/v1/plans/1")
    conforms(spec, "/api/v1/plans/{id}", "get", response)
    before = counts(app)
    response = fixer.post("/api/v1/plans", json=body(registry))
    conforms(spec, "/api/v1/plans", "post", response)
    assert response.status_code == 403
    assert counts(app) == before


def test_an_officer_may_read_but_not_write(app, api, admin_api, spec, registry):
    plan = created(admin_api, spec, registry)
    before = counts(app)
    response = api.post("/api/v1/plans", json=body(registry, name="Mine"))
    assert response.status_code == 403
    assert "administrators" in conforms(spec, "/api/v1/plans", "post", response)["message"]
    response = api.patch(f"/api/v1/plans/{plan['id']}", json={"name": "Mine"})
    assert response.status_code == 403
    conforms(spec, "/api/v1/plans/{id}", "patch", response)
    assert counts(app) == before


# Creating


def test_create_schedules_audits_and_answers_the_plan(app, admin_api, spec, registry):
    plan = created(admin_api, spec, registry, grid="g1", asset_codes=["cs-001"])
    assert plan["grid"] == "G1" and plan["asset_codes"] == ["CS-001"]
    assert plan["inspections_created"] == 3 and plan["inspections_removed"] == 0
    assert plan["active"] is True and plan["cadence_every"] == 1
    with app.app_context():
        stored = db.session.get(InspectionPlan, plan["id"])
        assert (stored.name, stored.contractor_id, stored.asset_codes) == (
            "Charging stations monthly",
            registry["Fixers Ltd"],
            ["CS-001"],
        )
        assert (
            db.session.scalar(
                select(func.count(Inspection.id)).where(Inspection.plan_id == plan["id"])
            )
            == 3
        )
        assert (
            db.session.scalar(
                select(AuditEntry.action).where(
                    AuditEntry.entity_type == "plan", AuditEntry.entity_key == str(plan["id"])
                )
            )
            == "create"
        )


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"name": ""}, {"name"}),
        ({"contractor_id": 9999}, {"contractor_id"}),
        ({"asset_kind": "spaceship"}, {"asset_kind"}),
        ({"grid": "G9"}, {"grid"}),
        ({"asset_codes": ["CS-001", "EB-0001", "XX-1"]}, {"asset_codes"}),
        ({"cadence_unit": "fortnight", "cadence_every": 0}, {"cadence_unit", "cadence_every"}),
        ({"end_on": "2025-01-01"}, {"end_on"}),
        ({"checklist": ["no_such_item"]}, {"checklist"}),
        ({"start_on": "10/01/2026"}, {"start_on"}),  # the schema's own check
        ({"colour": "red"}, {"colour"}),
    ],
)
def test_bad_input_is_422_naming_the_fields_and_writes_nothing(
    app, admin_api, spec, registry, changes, fields
):
    before = counts(app)
    response = admin_api.post("/api/v1/plans", json=body(registry, **changes))
    assert response.status_code == 422
    errors = conforms(spec, "/api/v1/plans", "post", response)["errors"]
    assert set(errors["json"]) == fields
    assert counts(app) == before


def test_missing_required_fields_are_422(app, admin_api, spec, registry):
    response = admin_api.post("/api/v1/plans", json={})
    assert response.status_code == 422
    errors = conforms(spec, "/api/v1/plans", "post", response)["errors"]["json"]
    assert {"name", "contractor_id", "cadence_unit", "start_on"} <= set(errors)
    assert counts(app) == (0, 0, 0)


def test_an_overlap_is_409_with_the_overlap_and_writes_nothing(app, admin_api, spec, registry):
    first = created(admin_api, spec, registry, name="District")
    before = counts(app)
    response = admin_api.post(
        "/api/v1/plans",
        json=body(registry, name="Second", contractor_id=registry["Others Co"]),
    )
    assert response.status_code == 409
    refused = conforms(spec, "/api/v1/plans", "post", response)
    assert refused["overlaps"] == [
        {
            "plan_id": first["id"],
            "plan": "District",
            "contractor": "Fixers Ltd",
            "count": 2,
            "codes": ["CS-001", "CS-002"],
        }
    ]
    assert "District" in refused["message"]
    assert counts(app) == before


def test_with_allow_overlap_it_is_created_and_the_overlap_audited(app, admin_api, spec, registry):
    first = created(admin_api, spec, registry, name="District")
    second = created(
        admin_api,
        spec,
        registry,
        name="Second",
        contractor_id=registry["Others Co"],
        asset_codes=["CS-002"],
        allow_overlap=True,
    )
    assert second["inspections_created"] == 3
    assert overlap_audits(app, second["id"]) == [
        {"overlaps": [{"plan": first["id"], "count": 1, "codes": ["CS-002"]}]}
    ]


# Changing


def test_patch_changes_only_what_it_names(app, admin_api, spec, registry):
    plan = created(admin_api, spec, registry, checklist=list(CS_ITEMS[:1]))
    response = admin_api.patch(f"/api/v1/plans/{plan['id']}", json={"name": "Renamed"})
    changed = conforms(spec, "/api/v1/plans/{id}", "patch", response)
    assert response.status_code == 200
    assert changed["name"] == "Renamed" and changed["checklist"] == list(CS_ITEMS[:1])
    assert (changed["inspections_created"], changed["inspections_removed"]) == (0, 0)
    with app.app_context():
        stored = db.session.get(InspectionPlan, plan["id"])
        assert (stored.name, stored.cadence_unit, stored.asset_kind) == (
            "Renamed",
            "month",
            "charging_station",
        )


def test_patch_to_another_kind_takes_its_whole_checklist(app, admin_api, spec, registry):
    plan = created(admin_api, spec, registry, checklist=list(CS_ITEMS[:1]))
    response = admin_api.patch(
        f"/api/v1/plans/{plan['id']}", json={"asset_kind": "elevator_blocker"}
    )
    changed = conforms(spec, "/api/v1/plans/{id}", "patch", response)
    assert changed["checklist"] is None and changed["asset_count"] == 1


def test_patch_causing_an_overlap_is_409_then_allowed(app, admin_api, spec, registry):
    first = created(admin_api, spec, registry, name="District", asset_codes=["CS-001"])
    second = created(
        admin_api,
        spec,
        registry,
        name="Second",
        contractor_id=registry["Others Co"],
        asset_codes=["CS-002"],
    )
    before = counts(app)
    path = f"/api/v1/plans/{second['id']}"
    response = admin_api.patch(path, json={"asset_codes": ["CS-001", "CS-002"]})
    assert response.status_code == 409
    refused = conforms(spec, "/api/v1/plans/{id}", "patch", response)
    assert refused["overlaps"][0]["plan_id"] == first["id"]
    assert refused["overlaps"][0]["codes"] == ["CS-001"]
    assert counts(app) == before
    with app.app_context():
        assert db.session.get(InspectionPlan, second["id"]).asset_codes == ["CS-002"]

    response = admin_api.patch(
        path, json={"asset_codes": ["CS-001", "CS-002"], "allow_overlap": True}
    )
    assert response.status_code == 200
    changed = conforms(spec, "/api/v1/plans/{id}", "patch", response)
    assert changed["asset_codes"] == ["CS-001", "CS-002"] and changed["inspections_created"] > 0
    assert overlap_audits(app, second["id"]) == [
        {"overlaps": [{"plan": first["id"], "count": 1, "codes": ["CS-001"]}]}
    ]


def test_patch_422_and_404_write_nothing(app, admin_api, spec, registry):
    plan = created(admin_api, spec, registry)
    before = counts(app)
    path = f"/api/v1/plans/{plan['id']}"
    response = admin_api.patch(path, json={"cadence_every": 1000, "grid": "G9"})
    assert response.status_code == 422
    errors = conforms(spec, "/api/v1/plans/{id}", "patch", response)["errors"]["json"]
    assert set(errors) == {"cadence_every", "grid"}
    response = admin_api.patch("/api/v1/plans/9999", json={"name": "X"})
    assert response.status_code == 404
    conforms(spec, "/api/v1/plans/{id}", "patch", response)
    assert counts(app) == before
    with app.app_context():
        assert db.session.get(InspectionPlan, plan["id"]).cadence_every == 1


def test_openapi_document_is_valid_and_lists_the_plans_api(spec):
    import openapi_spec_validator as validator

    validator.validate(spec)
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/plans"])
    assert {"get", "patch"} <= set(paths["/api/v1/plans/{id}"])
    assert {"201", "403", "409", "422"} <= set(paths["/api/v1/plans"]["post"]["responses"])
    assert {"200", "403", "404", "409", "422"} <= set(
        paths["/api/v1/plans/{id}"]["patch"]["responses"]
    )
    body = paths["/api/v1/plans"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/PlanInput")
    assert "allow_overlap" in spec["components"]["schemas"]["PlanInput"]["properties"]
