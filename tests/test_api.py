"""The JSON API: /api/v1/assets, /api/v1/assets/<code>, /api/v1/grids, /api/v1/openapi.json."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from assets.models import Asset
from core.audit import AuditEntry
from core.extensions import db
from tests.factories import (
    INSIDE_G1_01,
    INSIDE_G2_02,
    OUTSIDE_DISTRICT,
    BearerClient,
    blocker_data,
    charging_station_data,
    gen_asset,
    gen_token,
)

# Inside G1-02 (north-west) and G2-01 (south-east).
INSIDE_G1_02 = (119.15, 36.745)
INSIDE_G2_01 = (119.25, 36.715)


def seed(app, *records):
    with app.app_context():
        for record in records:
            gen_asset(record)
        db.session.commit()


def counts(app) -> tuple[int, int]:
    with app.app_context():
        assets = db.session.scalar(select(func.count(Asset.id)))
        audits = db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.entity_type == "asset")
        )
        return assets, audits


def codes(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [feature["id"] for feature in response.json["features"]]


def error_fields(response, location: str = "json") -> set[str]:
    assert response.status_code == 422, (response.status_code, response.json)
    assert response.json["code"] == 422
    assert response.json["status"] == "Unprocessable Entity"
    return set(response.json["errors"][location])


@pytest.fixture
def mixed(app, district):
    """CS-001 G1-01 active, CS-002 G1-02 faulty, CS-003 G2-01, EB-0001 G2-02 retired."""
    seed(
        app,
        charging_station_data(1, name="Harbour east", address="1 Harbour Road"),
        charging_station_data(
            2,
            longitude=INSIDE_G1_02[0],
            latitude=INSIDE_G1_02[1],
            status="faulty",
            address="9 Hill Street",
        ),
        charging_station_data(
            3, longitude=INSIDE_G2_01[0], latitude=INSIDE_G2_01[1], address="5 Sea Lane"
        ),
        blocker_data(1, status="retired", name="Tower 3 lift"),
    )


# Listing


def test_list_is_a_feature_collection_ordered_by_code(api, mixed):
    response = api.get("/api/v1/assets")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.json
    assert body["type"] == "FeatureCollection"
    assert codes(response) == ["CS-001", "CS-002", "CS-003", "EB-0001"]
    assert body["numberMatched"] == 4
    assert body["numberReturned"] == 4
    first = body["features"][0]
    assert first["type"] == "Feature"
    assert first["geometry"] == {"type": "Point", "coordinates": list(INSIDE_G1_01)}
    properties = first["properties"]
    assert properties["code"] == "CS-001"
    assert properties["kind"] == "charging_station"
    assert properties["grid"] == "G1-01"
    assert properties["status"] == "active"
    assert properties["attributes"]["ports"] == 10
    assert set(properties) == {
        "code",
        "kind",
        "name",
        "status",
        "grid",
        "site",
        "address",
        "installed_on",
        "manufacturer",
        "model",
        "serial_number",
        "attributes",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=elevator_blocker", ["EB-0001"]),
        ("kind=charging_station", ["CS-001", "CS-002", "CS-003"]),
        ("status=faulty", ["CS-002"]),
        ("status=retired", ["EB-0001"]),
        ("grid=G1-01", ["CS-001"]),
        ("grid=G1", ["CS-001", "CS-002"]),
        ("grid=g2", ["CS-003", "EB-0001"]),
        ("grid=G2-02", ["EB-0001"]),
        ("q=harbour", ["CS-001"]),
        ("q=Sea%20Lane", ["CS-003"]),
        ("q=cs-00", ["CS-001", "CS-002", "CS-003"]),
        ("q=lift", ["EB-0001"]),
        ("q=%25", []),
        ("kind=charging_station&grid=G1&status=active", ["CS-001"]),
    ],
)
def test_filters(api, mixed, query, expected):
    response = api.get(f"/api/v1/assets?{query}")
    assert codes(response) == expected
    assert response.json["numberMatched"] == len(expected)


def test_bbox_is_exact(api, app, district):
    """Points just inside, just outside (each side) and on the edge."""
    box = (119.14, 36.71, 119.16, 36.72)
    seed(
        app,
        charging_station_data(1, longitude=119.15, latitude=36.715),
        charging_station_data(2, longitude=119.14, latitude=36.71),  # on the corner
        charging_station_data(3, longitude=119.1600001, latitude=36.715),  # just east
        charging_station_data(4, longitude=119.1399999, latitude=36.715),  # just west
        charging_station_data(5, longitude=119.15, latitude=36.7200001),  # just north
        charging_station_data(6, longitude=119.15, latitude=36.7099999),  # just south
        charging_station_data(7, longitude=119.159999, latitude=36.719999),
        charging_station_data(8, longitude=119.25, latitude=36.745),  # far away
    )
    response = api.get("/api/v1/assets?bbox=" + ",".join(map(str, box)))
    assert codes(response) == ["CS-001", "CS-002", "CS-007"]
    assert response.json["numberMatched"] == 3


def test_bbox_combines_with_other_filters(api, mixed):
    response = api.get("/api/v1/assets?bbox=119.1,36.7,119.3,36.76&status=active&per_page=1")
    assert codes(response) == ["CS-001"]
    assert response.json["numberMatched"] == 2


@pytest.mark.parametrize(
    "bbox",
    [
        "119.1,36.7,119.2",
        "a,b,c,d",
        "119.2,36.7,119.1,36.76",
        "119.1,36.76,119.2,36.7",
        "119.1,36.7,119.1,36.76",
        "119.1,36.7,200,36.76",
        "119.1,-91,119.2,36.76",
        "119.1,36.7,inf,36.76",
        "nan,36.7,119.2,36.76",
        "119.1,36.7,119.2,36.76,1",
    ],
)
def test_malformed_bbox_is_422(api, mixed, bbox):
    assert error_fields(api.get(f"/api/v1/assets?bbox={bbox}"), "query") == {"bbox"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=abc", "page"),
        ("page=0", "page"),
        ("per_page=0", "per_page"),
        ("per_page=1001", "per_page"),
        ("per_page=x", "per_page"),
        ("kind=fire_truck", "kind"),
        ("status=broken", "status"),
        ("grid=G9", "grid"),
    ],
)
def test_bad_query_arguments_are_422(api, mixed, query, field):
    assert error_fields(api.get(f"/api/v1/assets?{query}"), "query") == {field}


def test_pagination_numbers_and_links(api, mixed):
    first = api.get("/api/v1/assets?per_page=3&kind=charging_station&per_page=3")
    assert codes(first) == ["CS-001", "CS-002", "CS-003"]
    assert (first.json["numberMatched"], first.json["numberReturned"]) == (3, 3)
    assert {link["rel"] for link in first.json["links"]} == {"self"}

    page1 = api.get("/api/v1/assets?per_page=3")
    body = page1.json
    assert codes(page1) == ["CS-001", "CS-002", "CS-003"]
    assert (body["numberMatched"], body["numberReturned"], body["page"], body["per_page"]) == (
        4,
        3,
        1,
        3,
    )
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert set(links) == {"self", "next"}
    next_url = urlsplit(links["next"])
    assert next_url.path == "/api/v1/assets"
    assert parse_qs(next_url.query) == {"page": ["2"], "per_page": ["3"]}

    page2 = api.get(f"{next_url.path}?{next_url.query}")
    assert codes(page2) == ["EB-0001"]
    assert (page2.json["numberReturned"], page2.json["page"]) == (1, 2)
    links2 = {link["rel"]: link["href"] for link in page2.json["links"]}
    assert set(links2) == {"self", "prev"}
    assert parse_qs(urlsplit(links2["prev"]).query)["page"] == ["1"]


def test_links_keep_the_filters(api, mixed):
    response = api.get("/api/v1/assets?kind=charging_station&per_page=2")
    links = {link["rel"]: link["href"] for link in response.json["links"]}
    assert parse_qs(urlsplit(links["next"]).query) == {
        "kind": ["charging_station"],
        "page": ["2"],
        "per_page": ["2"],
    }


def test_default_and_configured_page_size(app, api, mixed):
    app.config["API_PAGE_SIZE"] = 2
    app.config["API_MAX_PAGE_SIZE"] = 3
    assert api.get("/api/v1/assets").json["per_page"] == 2
    assert error_fields(api.get("/api/v1/assets?per_page=4"), "query") == {"per_page"}


def test_page_past_the_end_is_empty(api, mixed):
    response = api.get("/api/v1/assets?page=5&per_page=3")
    assert codes(response) == []
    assert response.json["numberMatched"] == 4
    links = {link["rel"]: link["href"] for link in response.json["links"]}
    assert parse_qs(urlsplit(links["prev"]).query)["page"] == ["2"]


# One asset


def test_get_one_asset(api, mixed):
    response = api.get("/api/v1/assets/EB-0001")
    assert response.status_code == 200
    feature = response.json
    assert feature["type"] == "Feature"
    assert feature["id"] == "EB-0001"
    assert feature["geometry"]["coordinates"] == list(INSIDE_G2_02)
    assert feature["properties"]["grid"] == "G2-02"
    assert feature["properties"]["attributes"]["detection_method"] == "ai_camera"
    assert api.get("/api/v1/assets/eb-0001").json["id"] == "EB-0001"


def test_unknown_asset_is_404_json(api, mixed):
    response = api.get("/api/v1/assets/CS-999")
    assert response.status_code == 404
    assert response.is_json
    assert response.json["code"] == 404
    assert api.patch("/api/v1/assets/CS-999", json={"name": "x"}).status_code == 404


# Access


def test_without_a_token_is_401(client, mixed):
    for response in (
        client.get("/api/v1/assets"),
        client.get("/api/v1/assets/CS-001"),
        client.get("/api/v1/grids"),
        client.post("/api/v1/assets", json=charging_station_data(9)),
        client.patch("/api/v1/assets/CS-001", json={"name": "x"}),
        client.get("/api/v1/assets", headers={"Authorization": "Bearer wrong"}),
    ):
        assert response.status_code == 401
        assert response.is_json


def test_contractor_can_read_but_not_write(app, client, contractor_user, mixed):
    with app.app_context():
        token = gen_token(contractor_user)
        db.session.commit()
    contractor = BearerClient(client, token)
    before = counts(app)
    assert contractor.get("/api/v1/assets").status_code == 200
    created = contractor.post("/api/v1/assets", json=charging_station_data(9))
    assert created.status_code == 403
    assert created.is_json
    changed = contractor.patch("/api/v1/assets/CS-001", json={"name": "Mine now"})
    assert changed.status_code == 403
    assert counts(app) == before
    assert api_name(app, "CS-001") == "Harbour east"


def test_session_login_works_for_the_api(client, auth, officer, mixed):
    auth.login(officer)
    assert codes(client.get("/api/v1/assets?kind=elevator_blocker")) == ["EB-0001"]


def test_session_writes_need_a_csrf_token_bearer_writes_do_not(
    app, client, auth, api, officer, mixed
):
    auth.login(officer)
    app.config["WTF_CSRF_ENABLED"] = True
    before = counts(app)
    refused = client.patch("/api/v1/assets/CS-001", json={"name": "Forged"})
    assert refused.status_code == 400
    assert refused.is_json
    assert counts(app) == before
    assert api_name(app, "CS-001") == "Harbour east"
    accepted = api.patch("/api/v1/assets/CS-001", json={"name": "Renamed"})
    assert accepted.status_code == 200, accepted.json


def test_session_writes_work_without_csrf_in_tests(client, auth, officer, mixed):
    auth.login(officer)
    response = client.patch("/api/v1/assets/CS-001", json={"name": "Renamed"})
    assert response.status_code == 200, response.json


def api_name(app, code: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Asset.name).where(Asset.code == code))


# Creating


def test_post_creates_an_asset_with_a_derived_grid_and_audit_entry(app, api, district):
    data = charging_station_data(
        12, longitude=INSIDE_G2_02[0], latitude=INSIDE_G2_02[1], installed_on="2024-05-01"
    )
    response = api.post("/api/v1/assets", json=data)
    assert response.status_code == 201, response.json
    assert response.headers["Location"].endswith("/api/v1/assets/CS-012")
    feature = response.json
    assert feature["id"] == "CS-012"
    assert feature["geometry"]["coordinates"] == list(INSIDE_G2_02)
    assert feature["properties"]["grid"] == "G2-02"
    assert feature["properties"]["installed_on"] == "2024-05-01"
    assert feature["properties"]["attributes"]["ports"] == 10
    assert api.get(response.headers["Location"]).json == feature
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "asset")
        ).one()
        assert (entry.action, entry.entity_key, entry.actor) == (
            "create",
            "CS-012",
            "officer@example.org",
        )


def test_post_refuses_a_grid_in_the_body(app, api, district):
    response = api.post("/api/v1/assets", json=charging_station_data(1, grid="G2-02"))
    assert error_fields(response) == {"grid"}
    assert counts(app) == (0, 0)


def test_duplicate_code_is_409(app, api, mixed):
    before = counts(app)
    response = api.post("/api/v1/assets", json=charging_station_data(1))
    assert response.status_code == 409
    assert response.json["code"] == 409
    assert counts(app) == before


def test_commit_race_is_409(app, api, district, monkeypatch):
    """Another request inserts the same code between the check and the commit."""
    import assets.services

    seed(app, charging_station_data(1))
    monkeypatch.setattr(assets.services, "code_exists", lambda code: False)
    before = counts(app)
    response = api.post("/api/v1/assets", json=charging_station_data(1))
    assert response.status_code == 409
    assert counts(app) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"latitude": 91}, "latitude"),
        ({"latitude": -90.5}, "latitude"),
        ({"longitude": "abc"}, "longitude"),
        ({"longitude": 181}, "longitude"),
        ({"longitude": INSIDE_G1_01[1], "latitude": INSIDE_G1_01[0]}, "location"),
        ({"longitude": OUTSIDE_DISTRICT[0], "latitude": OUTSIDE_DISTRICT[1]}, "location"),
        ({"kind": "fire_truck"}, "kind"),
        ({"code": "EB-0001"}, "code"),
        ({"status": "broken"}, "status"),
        ({"name": ""}, "name"),
        ({"installed_on": "2024-13-01"}, "installed_on"),
        ({"installed_on": "yesterday"}, "installed_on"),
        ({"installed_on": "2999-01-01"}, "installed_on"),
        ({"site": "Nowhere Gardens"}, "site"),
        ({"attributes": {"ports": 4, "turbo": True}}, "attributes.turbo"),
        ({"attributes": {"canopy": True}}, "attributes.ports"),
        ({"attributes": {"ports": 0}}, "attributes.ports"),
        ({"attributes": {"ports": "many"}}, "attributes.ports"),
        ({"attributes": [1, 2]}, "attributes"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_post_422_names_the_field_and_writes_nothing(app, api, district, overrides, field):
    response = api.post("/api/v1/assets", json=charging_station_data(1, **overrides))
    assert field in error_fields(response)
    assert counts(app) == (0, 0)


def test_post_missing_required_fields_is_422(app, api, district):
    response = api.post("/api/v1/assets", json={"kind": "charging_station"})
    assert {"code", "name", "longitude", "latitude"} <= error_fields(response)
    assert counts(app) == (0, 0)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("[1, 2]", "application/json"),
        ('"text"', "application/json"),
        ("{not json", "application/json"),
        ("code=CS-001", "application/x-www-form-urlencoded"),
    ],
)
def test_body_that_is_not_a_json_object_is_refused(app, api, district, body, content_type):
    response = api.post("/api/v1/assets", data=body, content_type=content_type)
    assert response.status_code in (400, 422)
    assert response.is_json
    assert counts(app) == (0, 0)


def test_oversized_body_is_413_json(app, api, district):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    data = charging_station_data(1, notes="x" * 2000)
    response = api.post("/api/v1/assets", json=data)
    assert response.status_code == 413
    assert response.is_json
    assert response.json["code"] == 413
    assert counts(app) == (0, 0)


# Changing


def test_patch_moving_the_point_changes_the_grid(app, api, mixed):
    response = api.patch(
        "/api/v1/assets/CS-001",
        json={"longitude": INSIDE_G2_02[0], "latitude": INSIDE_G2_02[1], "name": "Moved"},
    )
    assert response.status_code == 200, response.json
    assert response.json["properties"]["grid"] == "G2-02"
    assert response.json["properties"]["name"] == "Moved"
    assert response.json["properties"]["attributes"]["ports"] == 10
    assert codes(api.get("/api/v1/assets?grid=G2-02")) == ["CS-001", "EB-0001"]
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_type == "asset", AuditEntry.action == "update"
            )
        ).one()
        assert entry.after["grid"] == "G2-02"


def test_patch_changes_only_what_it_names(api, mixed):
    response = api.patch("/api/v1/assets/CS-002", json={"attributes": {"ports": 4}})
    assert response.status_code == 200, response.json
    properties = response.json["properties"]
    assert properties["attributes"]["ports"] == 4
    assert properties["attributes"]["canopy"] is True
    assert (properties["status"], properties["grid"]) == ("faulty", "G1-02")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"latitude": 91}, "latitude"),
        ({"longitude": OUTSIDE_DISTRICT[0], "latitude": OUTSIDE_DISTRICT[1]}, "location"),
        ({"kind": "elevator_blocker"}, "kind"),
        ({"code": "CS-100"}, "code"),
        ({"attributes": {"ports": -1}}, "attributes.ports"),
        ({"grid": "G2-02"}, "grid"),
        ({"installed_on": "2024-02-30"}, "installed_on"),
    ],
)
def test_patch_422_writes_nothing(app, api, mixed, changes, field):
    before = api.get("/api/v1/assets/CS-001").json
    audits = counts(app)
    response = api.patch("/api/v1/assets/CS-001", json=changes)
    assert field in error_fields(response)
    assert api.get("/api/v1/assets/CS-001").json == before
    assert counts(app) == audits


# Grids


def test_grids_are_geojson_polygons(api, district):
    response = api.get("/api/v1/grids")
    assert response.status_code == 200
    body = response.json
    assert body["type"] == "FeatureCollection"
    by_code = {feature["id"]: feature for feature in body["features"]}
    assert sorted(by_code) == ["G1", "G1-01", "G1-02", "G2", "G2-01", "G2-02"]
    g1_01 = by_code["G1-01"]
    assert g1_01["geometry"]["type"] == "Polygon"
    ring = g1_01["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1]
    assert {tuple(point) for point in ring} == {
        (119.10, 36.70),
        (119.20, 36.70),
        (119.20, 36.73),
        (119.10, 36.73),
    }
    assert g1_01["properties"]["parent"] == "G1"
    assert g1_01["properties"]["level"] == 2
    assert by_code["G1"]["properties"]["parent"] is None
    assert set(g1_01["properties"]) == {
        "code",
        "name",
        "level",
        "parent",
        "leader_name",
        "leader_phone",
    }


def test_grids_level_filter(api, district):
    assert codes(api.get("/api/v1/grids?level=1")) == ["G1", "G2"]
    assert len(codes(api.get("/api/v1/grids?level=2"))) == 4
    assert error_fields(api.get("/api/v1/grids?level=3"), "query") == {"level"}


# OpenAPI


def test_openapi_document_is_valid_and_lists_the_api(api):
    import openapi_spec_validator as validator

    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    validator.validate(spec)
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/assets"])
    assert {"get", "patch"} <= set(paths["/api/v1/assets/{code}"])
    assert "get" in paths["/api/v1/grids"]
    parameters = {p["name"] for p in paths["/api/v1/assets"]["get"]["parameters"]}
    assert {"kind", "status", "grid", "bbox", "q", "page", "per_page"} <= parameters
    post = paths["/api/v1/assets"]["post"]
    assert "requestBody" in post
    assert {"201", "409", "422"} <= set(post["responses"])
    schemas = spec["components"]["schemas"]
    assert {"AssetCollection", "AssetFeature", "AssetInput", "GridCollection"} <= set(schemas)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
