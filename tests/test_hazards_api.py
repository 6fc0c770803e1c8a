"""The hazard API: /api/v1/hazards (list, create), /hazards/<code>, /hazards/<code>/transitions."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from accounts.access import visible
from accounts.services import user_by_email
from core.audit import AuditEntry
from core.extensions import db
from evidence.models import Photo
from hazards.models import Hazard, HazardEvent
from hazards.services import create_hazard, hazard_overdue_clause, overdue_first_ordering
from tests.factories import (
    INSIDE_G1_01,
    INSIDE_G2_02,
    BearerClient,
    charging_station_data,
    gen_asset,
    gen_contractor,
    gen_hazard,
    gen_site,
    gen_token,
    png_bytes,
)

FROZEN = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
def fixer_api(app, client, contractor_user):
    with app.app_context():
        token = gen_token(contractor_user)
        db.session.commit()
    return BearerClient(client, token)


@pytest.fixture
def register(app, district, officer, contractor_user, frozen_clock):
    """HZ-2026-0001 overdue major open in G1-01; HZ-2026-0002 rectifying at CS-001 (G1-01),
    Fixers Ltd responsible; HZ-2026-0003 verified in G2-02."""
    frozen_clock.set(FROZEN)
    with app.app_context():
        gen_site()
        gen_asset(charging_station_data(1, site="Harbour Garden"))
        officer_user = user_by_email(officer)
        base = {"category": "blocked_exit", "severity": "general", "description": "Bikes"}
        g1 = {"longitude": INSIDE_G1_01[0], "latitude": INSIDE_G1_01[1]}
        g2 = {"longitude": INSIDE_G2_02[0], "latitude": INSIDE_G2_02[1]}
        specs = [
            (
                "open",
                {**g1, "severity": "major", "found_on": "2026-02-01", "deadline": "2026-03-01"},
            ),
            (
                "rectifying",
                {
                    "asset_code": "CS-001",
                    "category": "charger_fault",
                    "responsible_contractor_id": gen_contractor("Fixers Ltd").id,
                },
            ),
            ("verified", {**g2, "found_on": "2026-01-02", "deadline": "2026-01-03"}),
        ]
        for status, values in specs:
            hazard = create_hazard({**base, **values}, found_by=officer_user)
            hazard.status = status
        db.session.commit()


def codes(response) -> list[str]:
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/geo+json"
    return [feature["id"] for feature in response.json["features"]]


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Hazard.id))),
            db.session.scalar(select(func.count(HazardEvent.id))),
            db.session.scalar(
                select(func.count(AuditEntry.id)).where(AuditEntry.entity_type == "hazard")
            ),
        )


def error_fields(response) -> set[str]:
    assert response.status_code == 422, (response.status_code, response.json)
    assert response.json["code"] == 422
    return set(response.json["errors"]["json"])


# Reading


def test_list_is_a_feature_collection_overdue_first(api, register):
    response = api.get("/api/v1/hazards")
    assert codes(response) == ["HZ-2026-0001", "HZ-2026-0002", "HZ-2026-0003"]
    body = response.json
    assert (body["type"], body["numberMatched"], body["numberReturned"]) == (
        "FeatureCollection",
        3,
        3,
    )
    first = body["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": list(INSIDE_G1_01)}
    properties = first["properties"]
    assert properties["overdue"] is True
    assert (properties["grid"], properties["severity"], properties["status"]) == (
        "G1-01",
        "major",
        "open",
    )
    assert (properties["found_on"], properties["deadline"]) == ("2026-02-01", "2026-03-01")
    second = body["features"][1]["properties"]
    assert (second["asset"], second["site"], second["responsible_contractor"]) == (
        "CS-001",
        "Harbour Garden",
        "Fixers Ltd",
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=verified", ["HZ-2026-0003"]),
        ("severity=major", ["HZ-2026-0001"]),
        ("category=charger_fault", ["HZ-2026-0002"]),
        ("grid=G1", ["HZ-2026-0001", "HZ-2026-0002"]),
        ("grid=g2-02", ["HZ-2026-0003"]),
        ("overdue=true", ["HZ-2026-0001"]),
        ("overdue=false", ["HZ-2026-0002", "HZ-2026-0003"]),
        ("asset=cs-001", ["HZ-2026-0002"]),
        ("asset=CS-404", []),
    ],
)
def test_list_filters(api, register, query, expected):
    assert codes(api.get(f"/api/v1/hazards?{query}")) == expected


def test_list_paginates_with_links(api, register):
    response = api.get("/api/v1/hazards?per_page=2&page=2")
    assert codes(response) == ["HZ-2026-0003"]
    assert response.json["numberMatched"] == 3
    rels = {link["rel"] for link in response.json["links"]}
    assert rels == {"self", "prev"}


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=closed", "status"), ("grid=G9", "grid"), ("per_page=0", "per_page")],
)
def test_list_refuses_bad_filters(api, register, query, field):
    response = api.get(f"/api/v1/hazards?{query}")
    assert response.status_code == 422
    assert field in response.json["errors"]["query"]


def test_one_hazard_with_its_timeline(api, register):
    response = api.get("/api/v1/hazards/hz-2026-0002")
    assert response.status_code == 200
    properties = response.json["properties"]
    assert properties["code"] == "HZ-2026-0002"
    assert [event["to_status"] for event in properties["events"]] == ["open"]
    assert properties["events"][0]["actor"] == "officer@example.org"
    assert properties["photos"] == []
    missing = api.get("/api/v1/hazards/HZ-2026-0404")
    assert missing.status_code == 404 and missing.json["code"] == 404


def test_a_contractor_sees_only_its_hazards(fixer_api, register):
    assert codes(fixer_api.get("/api/v1/hazards")) == ["HZ-2026-0002"]
    assert fixer_api.get("/api/v1/hazards/HZ-2026-0002").status_code == 200
    assert fixer_api.get("/api/v1/hazards/HZ-2026-0001").status_code == 404
    response = fixer_api.post(
        "/api/v1/hazards/HZ-2026-0001/transitions", json={"status": "rectifying"}
    )
    assert response.status_code == 404


# A mix across pages: (code, status, deadline, severity, Fixers Ltd responsible). Found on
# 2026-01-01; today is 2026-03-10. Codes out of insertion order, deadlines tied across parts.
MIX = [
    ("HZ-2026-0107", "verified", "2026-03-10", "general", False),
    ("HZ-2026-0101", "open", "2026-03-01", "general", True),  # overdue
    ("HZ-2026-0110", "rectifying", "2026-04-01", "major", True),
    ("HZ-2026-0103", "rectified", "2026-02-20", "major", False),  # overdue
    ("HZ-2026-0102", "rectifying", "2026-03-01", "general", True),  # overdue, tie
    ("HZ-2026-0109", "open", "2026-03-10", "general", False),  # due today: not overdue
    ("HZ-2026-0104", "verified", "2026-01-03", "major", True),  # late, but verified
    ("HZ-2026-0108", "rectified", "2026-03-10", "major", True),
    ("HZ-2026-0106", "verified", "2026-03-10", "general", False),
    ("HZ-2026-0105", "open", "2026-02-28", "major", False),  # overdue
    ("HZ-2026-0111", "open", "2026-03-01", "major", True),  # overdue, tie
]


def point_of(code: str) -> tuple[float, float]:
    """Each hazard of the mix at its own point in G1-01."""
    number = int(code[-3:]) - 100
    return (INSIDE_G1_01[0] + number * 0.00001, INSIDE_G1_01[1])


@pytest.fixture
def mixed_register(app, district, contractor_user, frozen_clock):
    frozen_clock.set(FROZEN)
    with app.app_context():
        fixers = gen_contractor("Fixers Ltd").id
        for code, status, deadline, severity, theirs in MIX:
            gen_hazard(
                code,
                severity,
                location=point_of(code),
                status=status,
                found_on=date(2026, 1, 1),
                deadline=date.fromisoformat(deadline),
                responsible_contractor_id=fixers if theirs else None,
            )
        db.session.commit()


def sorted_as_before(app, email: str, *where) -> list[str]:
    """The codes in the order the list used to sort them: one ORDER BY over every match."""
    with app.app_context():
        today = FROZEN.date()
        query = visible(user_by_email(email), Hazard).where(*where)
        return db.session.scalars(
            query.with_only_columns(Hazard.code).order_by(*overdue_first_ordering(today))
        ).all()


@pytest.mark.parametrize(
    ("who", "query", "where"),
    [
        ("officer", "", ()),
        ("officer", "severity=major", (Hazard.severity == "major",)),
        ("officer", "overdue=false", (~hazard_overdue_clause(FROZEN.date()),)),
        ("contractor", "", ()),
    ],
)
def test_list_pages_are_the_overdue_first_order_page_by_page(
    app, client, mixed_register, officer, contractor_user, who, query, where
):
    """Read in parts (overdue, other unverified, verified: ``overdue_first_parts``), the
    pages give what one ORDER BY over every match gave, with the same counts and links."""
    email = officer if who == "officer" else contractor_user
    with app.app_context():
        token = gen_token(email)
        db.session.commit()
    reader = BearerClient(client, token)
    expected = sorted_as_before(app, email, *where)
    assert len(expected) >= 5  # several pages of 3
    per_page = 3
    last = -(-len(expected) // per_page)
    for page in range(1, last + 2):  # and one past the end
        response = reader.get(f"/api/v1/hazards?{query}&per_page={per_page}&page={page}")
        listed = codes(response)
        assert listed == expected[(page - 1) * per_page : page * per_page], page
        body = response.json
        assert (body["numberMatched"], body["numberReturned"]) == (len(expected), len(listed))
        assert (body["page"], body["per_page"]) == (page, per_page)
        rels = {link["rel"] for link in body["links"]}
        assert ("next" in rels) == (page < last)
        assert ("prev" in rels) == (page > 1)
        for feature in body["features"]:  # each point is its own hazard's
            assert feature["geometry"]["coordinates"] == list(point_of(feature["id"]))


def test_list_pages_never_sort_every_match(app, api, mixed_register):
    """Each page's keys come from the parts, in the order their indexes give (deadline,
    code): no statement orders by the overdue rank, which would sort every match
    (``tests/test_schema_indexes.py`` checks the parts' plans)."""
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert len(codes(api.get("/api/v1/hazards?per_page=3&page=2"))) == 3
    finally:
        event.remove(engine, "before_cursor_execute", record)
    ordered = [" ".join(statement.split()) for statement in statements if "ORDER BY" in statement]
    assert ordered
    assert not [statement for statement in ordered if "CASE" in statement.split("ORDER BY")[1]]
    assert all("ORDER BY hazards.deadline ASC, hazards.code ASC" in each for each in ordered)


# Creating


def test_create_a_hazard_at_an_asset(app, fixer_api, register):
    body = {
        "category": "ebike_in_lift",
        "severity": "major",
        "description": "E-bike in lift 2",
        "asset": "CS-001",
    }
    response = fixer_api.post("/api/v1/hazards", json=body)
    assert response.status_code == 201, response.json
    assert response.headers["Location"].endswith("/api/v1/hazards/HZ-2026-0004")
    properties = response.json["properties"]
    assert (properties["grid"], properties["asset"], properties["deadline"]) == (
        "G1-01",
        "CS-001",
        "2026-03-17",
    )
    assert properties["responsible_company"] == "Harbour Property"
    assert response.json["geometry"]["coordinates"] == list(INSIDE_G1_01)
    # The reporting contractor sees its report.
    assert "HZ-2026-0004" in codes(fixer_api.get("/api/v1/hazards"))


def test_create_with_a_point_and_named_parties(api, register):
    body = {
        "category": "other",
        "severity": "general",
        "description": "Blocked fire door",
        "longitude": INSIDE_G2_02[0],
        "latitude": INSIDE_G2_02[1],
        "site": "Harbour Garden",
        "responsible_contractor": "Fixers Ltd",
        "found_on": "2026-03-01",
        "deadline": "2026-03-05",
    }
    response = api.post("/api/v1/hazards", json=body)
    assert response.status_code == 201, response.json
    properties = response.json["properties"]
    assert (properties["grid"], properties["site"], properties["responsible_contractor"]) == (
        "G2-02",
        "Harbour Garden",
        "Fixers Ltd",
    )
    assert properties["responsible_company"] is None
    assert properties["deadline"] == "2026-03-05"


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"found_on": "2026-03-05", "deadline": "2026-03-04"}, {"deadline"}),
        ({"category": "arson"}, {"category"}),
        ({"description": None}, {"description"}),
        ({"longitude": "east"}, {"longitude"}),
        ({"longitude": None, "latitude": None, "asset": "CS-999"}, {"asset"}),
        (
            {"site": "Nowhere Garden", "responsible_company": "Nobody"},
            {"site", "responsible_company"},
        ),
        ({"found_on": "2026-13-01"}, {"found_on"}),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(app, api, register, changes, fields):
    body = {
        "category": "other",
        "severity": "general",
        "description": "x",
        "longitude": INSIDE_G2_02[0],
        "latitude": INSIDE_G2_02[1],
        **changes,
    }
    before = counts(app)
    assert error_fields(api.post("/api/v1/hazards", json=body)) == fields
    assert counts(app) == before


def test_a_contractor_cannot_name_another_contractor(app, fixer_api, register):
    with app.app_context():
        gen_contractor("Others Co")
        db.session.commit()
    body = {
        "category": "other",
        "severity": "general",
        "description": "x",
        "asset": "CS-001",
        "responsible_contractor": "Others Co",
    }
    assert error_fields(fixer_api.post("/api/v1/hazards", json=body)) == {"responsible_contractor"}


# Transitions


def rectify(client, url: str, photos: int = 1, **fields):
    """A rectified step as multipart/form-data with ``photos`` PNG files."""
    data = {"status": "rectified", **fields}
    data["photos"] = [(io.BytesIO(png_bytes()), f"after-{n}.png") for n in range(photos)]
    return client.post(url, data=data, content_type="multipart/form-data")


def after_photos(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(Photo.id))
            .join(Hazard, Photo.hazard_id == Hazard.id)
            .where(Hazard.code == code, Photo.stage == "after")
        )


def status_of(app, code: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Hazard.status).where(Hazard.code == code))


def test_rectified_needs_an_after_photo_and_writes_nothing_without_one(app, api, register):
    url = "/api/v1/hazards/HZ-2026-0002/transitions"
    before = counts(app)
    response = api.post(url, json={"status": "rectified", "note": "done"})
    assert response.status_code == 422
    assert set(response.json["errors"]["files"]) == {"photos"}
    response = rectify(api, url, photos=0)
    assert set(response.json["errors"]["files"]) == {"photos"}
    # not an image: refused the same way
    data = {"status": "rectified", "photos": [(io.BytesIO(b"not an image"), "a.png")]}
    response = api.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and set(response.json["errors"]["files"]) == {"photos"}
    # an unknown file field
    data = {"status": "rectified", "picture": [(io.BytesIO(png_bytes()), "a.png")]}
    response = api.post(url, data=data, content_type="multipart/form-data")
    assert set(response.json["errors"]["files"]) == {"picture"}
    assert counts(app) == before and after_photos(app, "HZ-2026-0002") == 0
    assert status_of(app, "HZ-2026-0002") == "rectifying"
    response = rectify(api, url, photos=2, note="New charger")
    assert response.status_code == 200, response.json
    photos = response.json["properties"]["photos"]
    assert [photo["stage"] for photo in photos] == ["after", "after"]
    assert after_photos(app, "HZ-2026-0002") == 2


def test_returning_for_rework_needs_an_officer_and_a_reason(
    app, api, fixer_api, register, frozen_clock
):
    url = "/api/v1/hazards/HZ-2026-0002/transitions"
    assert rectify(fixer_api, url).status_code == 200
    frozen_clock.set(FROZEN + timedelta(hours=2))
    before = counts(app)
    response = fixer_api.post(url, json={"status": "rectifying", "reason": "x"})
    assert response.status_code == 403
    assert error_fields(api.post(url, json={"status": "rectifying"})) == {"reason"}
    assert counts(app) == before and status_of(app, "HZ-2026-0002") == "rectified"
    response = api.post(url, json={"status": "rectifying", "reason": "Cover still loose"})
    assert response.status_code == 200, response.json
    event = response.json["properties"]["events"][-1]
    assert (event["from_status"], event["to_status"], event["note"]) == (
        "rectified",
        "rectifying",
        "Cover still loose",
    )
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_key == "HZ-2026-0002", AuditEntry.action == "status")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry.after == {
            "status": "rectifying",
            "note": "Cover still loose",
            "returned_for_rework": True,
        }
    # the earlier after photo does not count for the next rectification
    response = fixer_api.post(url, json={"status": "rectified"})
    assert response.status_code == 422 and "photos" in response.json["errors"]["files"]
    assert rectify(fixer_api, url).status_code == 200
    assert api.post(url, json={"status": "verified"}).json["properties"]["status"] == "verified"
    assert after_photos(app, "HZ-2026-0002") == 2


def test_forward_steps_and_reopening(app, api, register):
    url = "/api/v1/hazards/HZ-2026-0002/transitions"
    response = rectify(api, url, note="New charger")
    assert response.status_code == 200, response.json
    assert response.json["properties"]["status"] == "rectified"
    event = response.json["properties"]["events"][-1]
    assert (event["from_status"], event["to_status"], event["note"]) == (
        "rectifying",
        "rectified",
        "New charger",
    )
    assert api.post(url, json={"status": "verified"}).json["properties"]["status"] == "verified"
    response = api.post(url, json={"status": "open", "reason": "Sparks again"})
    assert response.status_code == 200
    assert response.json["properties"]["events"][-1]["note"] == "Sparks again"


def test_an_illegal_transition_is_409_and_writes_nothing(app, api, register):
    before = counts(app)
    response = api.post("/api/v1/hazards/HZ-2026-0001/transitions", json={"status": "verified"})
    assert response.status_code == 409
    assert response.json["code"] == 409 and response.json["message"]
    response = api.post("/api/v1/hazards/HZ-2026-0001/transitions", json={"status": "open"})
    assert response.status_code == 409  # an open hazard is not reopened
    assert counts(app) == before


def test_reopening_without_a_reason_is_422(app, api, register):
    before = counts(app)
    response = api.post("/api/v1/hazards/HZ-2026-0003/transitions", json={"status": "open"})
    assert error_fields(response) == {"reason"}
    assert error_fields(
        api.post("/api/v1/hazards/HZ-2026-0003/transitions", json={"status": "done"})
    ) == {"status"}
    assert counts(app) == before


def test_a_contractor_steps_but_never_verifies_or_reopens(app, fixer_api, register):
    url = "/api/v1/hazards/HZ-2026-0002/transitions"
    assert rectify(fixer_api, url).status_code == 200
    before = counts(app)
    response = fixer_api.post(url, json={"status": "verified"})
    assert response.status_code == 403 and response.json["code"] == 403
    assert fixer_api.post(url, json={"status": "open", "reason": "x"}).status_code == 403
    assert counts(app) == before


def test_session_writes_need_a_csrf_token(app, client, auth, officer, register):
    auth.login(officer)
    app.config["WTF_CSRF_ENABLED"] = True
    response = rectify(client, "/api/v1/hazards/HZ-2026-0002/transitions")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Hazard.status).where(Hazard.code == "HZ-2026-0002")) == (
            "rectifying"
        )


def test_openapi_documents_the_hazard_api(api):
    import openapi_spec_validator as validator

    spec = api.get("/api/v1/openapi.json").json
    validator.validate(spec)
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/hazards"])
    assert "get" in paths["/api/v1/hazards/{code}"]
    transitions = paths["/api/v1/hazards/{code}/transitions"]["post"]
    assert {"200", "403", "404", "409", "422"} <= set(transitions["responses"])
    assert {"application/json", "multipart/form-data"} <= set(transitions["requestBody"]["content"])
    parameters = {p["name"] for p in paths["/api/v1/hazards"]["get"]["parameters"]}
    assert {"status", "severity", "category", "grid", "overdue", "asset", "page"} <= parameters
    assert {"HazardCollection", "HazardDetail", "HazardInput", "Transition"} <= set(
        spec["components"]["schemas"]
    )
