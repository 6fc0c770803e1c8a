"""The inspections JSON API: /api/v1/inspections, /api/v1/inspections/<id>, and logging a
result (JSON or multipart); a contractor's token never sees another contractor's records."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from assets.services import asset_by_code
from core.audit import AuditEntry
from core.extensions import db
from evidence.models import Photo
from hazards.models import Hazard
from inspections.models import Inspection
from tests.factories import (
    CS_ITEMS,
    BearerClient,
    blocker_data,
    charging_station_data,
    gen_asset,
    gen_inspection,
    gen_token,
    gen_user,
    png_bytes,
)

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 2026-03-10 10:00 in Shanghai


@pytest.fixture(autouse=True)
def frozen(frozen_clock):
    frozen_clock.set(NOW)


@pytest.fixture
def field(app, district, officer, contractor_user):
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_asset(blocker_data(1))  # G2-02
        gen_user("rival@example.org", "contractor", contractor="Rivals Inc")
        ids = {
            "overdue": gen_inspection("CS-001", date(2026, 3, 9)).id,
            "soon": gen_inspection("EB-0001", date(2026, 3, 10)).id,
            "later": gen_inspection("CS-001", date(2026, 4, 10)).id,
            "rival": gen_inspection("CS-001", date(2026, 3, 5), contractor="Rivals Inc").id,
        }
        db.session.commit()
        return ids


@pytest.fixture
def fixer(app, client, field):
    with app.app_context():
        token = gen_token("fixer@example.org")
        db.session.commit()
    return BearerClient(client, token)


@pytest.fixture
def rival(app, client, field):
    with app.app_context():
        token = gen_token("rival@example.org")
        db.session.commit()
    return BearerClient(client, token)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def body(**changes) -> dict:
    data = {"answers": dict.fromkeys(CS_ITEMS, "pass"), "result": "pass"}
    data.update(changes)
    return data


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


def error_fields(response, location: str = "json") -> set[str]:
    assert response.status_code == 422, (response.status_code, response.json)
    assert response.json["code"] == 422
    return set(response.json["errors"][location])


# Listing


def test_list_items_and_order(api, field):
    response = api.get("/api/v1/inspections")
    assert ids(response) == [field["rival"], field["overdue"], field["soon"], field["later"]]
    first = response.json["items"][1]
    assert first["asset"] == "CS-001"
    assert first["kind"] == "charging_station"
    assert first["contractor"] == "Fixers Ltd"
    assert first["due_on"] == "2026-03-09"
    assert first["status"] == "scheduled"
    assert first["derived_status"] == "overdue"
    assert first["photos"] == [] and first["flagged"] is False
    assert {"plan_id", "completed_at", "result", "answers", "notes", "distance_m"} <= set(first)
    assert response.json["numberMatched"] == 4


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=overdue", ["rival", "overdue"]),
        ("status=due_soon", ["soon"]),
        ("status=scheduled", ["rival", "overdue", "soon", "later"]),
        ("status=completed", []),
        ("contractor=Rivals Inc", ["rival"]),
        ("contractor=Nobody", []),
        ("asset=EB-0001", ["soon"]),
        ("kind=charging_station", ["rival", "overdue", "later"]),
        ("grid=G2", ["soon"]),
        ("due_from=2026-03-06&due_to=2026-03-10", ["overdue", "soon"]),
        ("flagged=true", []),
        ("status=overdue&contractor=Fixers Ltd", ["overdue"]),
    ],
)
def test_list_filters(api, field, query, expected):
    assert ids(api.get(f"/api/v1/inspections?{query}")) == [field[name] for name in expected]


def test_overdue_follows_the_district_day(api, field, frozen_clock):
    # 15:59 UTC is 23:59 in Shanghai: still the 10th.
    frozen_clock.set(datetime(2026, 3, 10, 15, 59, tzinfo=UTC))
    assert ids(api.get("/api/v1/inspections?status=overdue")) == [field["rival"], field["overdue"]]
    # 16:00 UTC is midnight in Shanghai: the 11th, and the blocker due on the 10th is overdue.
    frozen_clock.set(datetime(2026, 3, 10, 16, 0, tzinfo=UTC))
    assert ids(api.get("/api/v1/inspections?status=overdue")) == [
        field["rival"],
        field["overdue"],
        field["soon"],
    ]


def test_pagination(api, field):
    response = api.get("/api/v1/inspections?per_page=3")
    assert ids(response) == [field["rival"], field["overdue"], field["soon"]]
    assert response.json["numberMatched"] == 4
    rels = {link["rel"]: link["href"] for link in response.json["links"]}
    assert "page=2" in rels["next"]
    assert ids(api.get("/api/v1/inspections?per_page=3&page=2")) == [field["later"]]


@pytest.mark.parametrize(
    ("query", "field_name"),
    [
        ("status=sleeping", "status"),
        ("kind=teapot", "kind"),
        ("grid=G9", "grid"),
        ("due_from=tomorrow", "due_from"),
        ("per_page=100000", "per_page"),
        ("page=0", "page"),
    ],
)
def test_bad_query_is_422(api, field, query, field_name):
    assert error_fields(api.get(f"/api/v1/inspections?{query}"), "query") == {field_name}


def test_contractor_isolation(fixer, rival, field):
    assert ids(fixer.get("/api/v1/inspections")) == [
        field["overdue"],
        field["soon"],
        field["later"],
    ]
    # Another contractor's name: an empty list, exactly like a name that does not exist.
    other = fixer.get("/api/v1/inspections?contractor=Rivals Inc")
    missing = fixer.get("/api/v1/inspections?contractor=Nobody")
    assert ids(other) == [] and ids(missing) == []
    assert other.json["numberMatched"] == missing.json["numberMatched"] == 0
    assert ids(rival.get("/api/v1/inspections")) == [field["rival"]]
    assert fixer.get(f"/api/v1/inspections/{field['rival']}").status_code == 404
    assert fixer.get("/api/v1/inspections/99999").status_code == 404
    assert fixer.get(f"/api/v1/inspections/{field['overdue']}").status_code == 200


def test_a_stranger_gets_401(client, field):
    assert client.get("/api/v1/inspections").status_code == 401
    assert (
        client.post(f"/api/v1/inspections/{field['overdue']}/result", json=body()).status_code
        == 401
    )


# Logging a result


def test_result_as_json(app, fixer, field):
    inspection_id = field["overdue"]
    answers = dict.fromkeys(CS_ITEMS, "pass") | {"camera_working": "fail"}
    response = fixer.post(
        f"/api/v1/inspections/{inspection_id}/result",
        json=body(
            answers=answers,
            result="fail",
            notes="Camera dead",
            completed_at="2026-03-10T01:30:00Z",
            longitude=119.15,
            latitude=36.715,
            accuracy=5,
        ),
    )
    assert response.status_code == 201, response.json
    item = response.json
    assert response.headers["Location"].endswith(f"/api/v1/inspections/{inspection_id}")
    assert (item["id"], item["status"], item["result"]) == (inspection_id, "completed", "fail")
    assert item["derived_status"] == "completed"
    assert item["answers"] == answers
    assert item["completed_at"].startswith("2026-03-10T01:30:00")
    assert item["distance_m"] == 0 and item["flagged"] is False
    assert item["position"] == {"longitude": 119.15, "latitude": 36.715, "accuracy_m": 5.0}
    with app.app_context():
        assert asset_by_code("CS-001").status == "faulty"
        assert db.session.scalar(select(Hazard.inspection_id)) == inspection_id
    # Completing it again is a conflict, and writes nothing.
    before = written(app)
    again = fixer.post(f"/api/v1/inspections/{inspection_id}/result", json=body())
    assert again.status_code == 409
    assert again.is_json
    assert written(app) == before


def test_result_as_multipart_with_photos(app, fixer, field, client):
    inspection_id = field["overdue"]
    data = {
        "answers": json.dumps(dict.fromkeys(CS_ITEMS, "na")),
        "result": "pass",
        "notes": "",
        "longitude": "119.15",
        "latitude": "36.7180",  # about 334 m north
        "photos": [(io.BytesIO(png_bytes()), "a.png"), (io.BytesIO(png_bytes(5, 5)), "b.png")],
    }
    response = fixer.post(
        f"/api/v1/inspections/{inspection_id}/result",
        data=data,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    item = response.json
    assert item["flagged"] is True
    assert item["distance_m"] == pytest.approx(333.6, abs=1)
    assert len(item["photos"]) == 2
    assert all("/inspections/photos/" in url for url in item["photos"])
    listed = fixer.get("/api/v1/inspections?flagged=true").json["items"]
    assert [entry["id"] for entry in listed] == [inspection_id]


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"answers": {**dict.fromkeys(CS_ITEMS, "pass"), "coffee": "pass"}}, {"answers"}),
        (
            {"answers": {"camera_working": "pass"}},
            {f"answers.{k}" for k in CS_ITEMS} - {"answers.camera_working"},
        ),
        ({"result": None}, {"result"}),
        ({"completed_at": "2026-03-10T03:00:00Z"}, {"completed_at"}),
        ({"colour": "red"}, {"colour"}),
        ({"longitude": "east"}, {"longitude"}),
        ({"answers": ["pass"]}, {"answers"}),
    ],
)
def test_bad_json_results_are_422_by_field(app, fixer, field, changes, fields):
    data = body(**changes)
    if data.get("result") is None:
        del data["result"]
    before = written(app)
    response = fixer.post(f"/api/v1/inspections/{field['overdue']}/result", json=data)
    assert error_fields(response) == fields
    assert written(app) == before


def test_bad_multipart_photo_is_422_under_files(app, fixer, field):
    before = written(app)
    data = {
        "answers": json.dumps(dict.fromkeys(CS_ITEMS, "pass")),
        "result": "pass",
        "photos": [(io.BytesIO(png_bytes()), "a.png"), (io.BytesIO(b"hello"), "b.jpg")],
    }
    response = fixer.post(
        f"/api/v1/inspections/{field['overdue']}/result",
        data=data,
        content_type="multipart/form-data",
    )
    assert error_fields(response, "files") == {"photos"}
    assert written(app) == before
    bad_json = {"answers": "{not json", "result": "pass"}
    response = fixer.post(
        f"/api/v1/inspections/{field['overdue']}/result",
        data=bad_json,
        content_type="multipart/form-data",
    )
    assert error_fields(response, "form") == {"answers"}


def test_not_a_json_object_is_422(fixer, field):
    response = fixer.post(
        f"/api/v1/inspections/{field['overdue']}/result",
        data="[1, 2]",
        content_type="application/json",
    )
    assert error_fields(response) == {"_schema"}


def test_others_and_cancelled_inspections(app, fixer, api, field):
    before = written(app)
    response = fixer.post(f"/api/v1/inspections/{field['rival']}/result", json=body())
    assert response.status_code == 404 and response.is_json
    assert fixer.post("/api/v1/inspections/99999/result", json=body()).status_code == 404
    assert written(app) == before
    with app.app_context():
        from accounts.services import user_by_email
        from inspections.results import cancel_inspection

        cancel_inspection(
            db.session.get(Inspection, field["later"]), user_by_email("officer@example.org"), "x"
        )
        db.session.commit()
    before = written(app)
    assert (
        fixer.post(f"/api/v1/inspections/{field['later']}/result", json=body()).status_code == 409
    )
    assert written(app) == before
    # An officer may log any contractor's inspection.
    assert api.post(f"/api/v1/inspections/{field['rival']}/result", json=body()).status_code == 201


def test_session_writes_need_csrf(app, client, auth, contractor_user, field):
    auth.login(contractor_user)
    app.config["WTF_CSRF_ENABLED"] = True
    before = written(app)
    response = client.post(f"/api/v1/inspections/{field['overdue']}/result", json=body())
    assert response.status_code == 400
    assert response.is_json
    assert written(app) == before


def test_bearer_writes_need_no_csrf(app, fixer, field):
    app.config["WTF_CSRF_ENABLED"] = True
    response = fixer.post(f"/api/v1/inspections/{field['overdue']}/result", json=body())
    assert response.status_code == 201


# OpenAPI


def test_openapi_document_is_valid_and_lists_the_inspections_api(api):
    import openapi_spec_validator as validator

    spec = api.get("/api/v1/openapi.json").json
    validator.validate(spec)
    paths = spec["paths"]
    assert "get" in paths["/api/v1/inspections"]
    assert "get" in paths["/api/v1/inspections/{id}"]
    post = paths["/api/v1/inspections/{id}/result"]["post"]
    assert {"application/json", "multipart/form-data"} <= set(post["requestBody"]["content"])
    assert {"201", "404", "409", "422"} <= set(post["responses"])
    parameters = {p["name"] for p in paths["/api/v1/inspections"]["get"]["parameters"]}
    assert {"status", "contractor", "asset", "kind", "grid", "due_from", "due_to", "flagged"} <= (
        parameters
    )
    assert {"Inspection", "InspectionCollection", "ResultInput"} <= set(
        spec["components"]["schemas"]
    )
