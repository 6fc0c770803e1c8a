"""The map's view endpoints (issue 14): points or clusters per box and zoom, the set-wise map
status equal to the page's, the filters and a contractor's scope, validation, the ETag on the
data version, hazards fetched by view, and a payload bounded whatever the registry's size."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import event, insert, select, update
from sqlalchemy.dialects import postgresql

from accounts.services import user_by_email
from assets.models import Asset, AssetStatus
from assets.services import asset_by_code
from core.clock import now_utc
from core.extensions import db
from core.spatial import (
    BBox,
    bulk_insert,
    deferred_spatial_index,
    latitude_of,
    longitude_of,
    point_value,
)
from core.versions import current_version
from hazards.models import Hazard
from inspections.models import Inspection, InspectionStatus
from maps import viewport
from maps.status import (
    MAP_STATUSES,
    MapFilters,
    map_assets_query,
    scope_of,
    setwise_status_expression,
)
from maps.viewport import View, cell_size, drawn_assets_query
from tests import factories
from tests.factories import (
    HAZARD_DAY,
    INSIDE_G1_01,
    INSIDE_G2_02,
    XSS_PAYLOADS,
    gen_hazard,
    gen_xss_district,
)

TODAY = HAZARD_DAY
MOMENT = datetime(2026, 3, 16, 4, 0, tzinfo=UTC)
ASSETS = "/api/v1/map/assets"
HAZARDS = "/api/v1/map/hazards"
DISTRICT_BOX = "119.10,36.70,119.30,36.76"
EXPECTED = {
    "CS-001": "red",  # overdue
    "CS-002": "red",  # faulty
    "CS-003": "red",  # open major hazard
    "CS-004": "orange",  # due soon
    "CS-005": "orange",  # open general hazard (rectifying)
    "CS-006": "green",  # due later
    "CS-007": "green",  # completed late, its major hazard verified
    "CS-008": "grey",  # retired, with an overdue inspection of another company
    "CS-009": "green",  # nothing
    "EB-0001": "orange",  # due today
}
OWN = {"CS-001", "CS-004", "CS-006", "CS-007", "EB-0001"}  # Fixers Ltd inspects these


@pytest.fixture
def status_district(app, district, frozen_clock):
    """Ten assets, one per reason of the map status (as tests/test_maps.py)."""
    frozen_clock.set(MOMENT)
    with app.app_context():
        for number in range(1, 10):
            factories.gen_asset(factories.charging_station_data(number))
        factories.gen_asset(factories.blocker_data(1))
        factories.gen_inspection("CS-001", TODAY - timedelta(days=1))
        asset_by_code("CS-002").status = AssetStatus.FAULTY
        gen_hazard("HZ-2026-0001", "major", "CS-003")
        factories.gen_inspection("CS-004", TODAY + timedelta(days=7))
        gen_hazard("HZ-2026-0002", "general", "CS-005", status="rectifying")
        factories.gen_inspection("CS-006", TODAY + timedelta(days=8))
        done = factories.gen_inspection("CS-007", TODAY - timedelta(days=5))
        done.status = InspectionStatus.COMPLETED
        gen_hazard("HZ-2026-0003", "major", "CS-007", status="verified")
        factories.gen_inspection("CS-008", TODAY - timedelta(days=30), contractor="Other Co")
        asset_by_code("CS-008").status = AssetStatus.RETIRED
        factories.gen_inspection("EB-0001", TODAY)
        db.session.commit()


def sign_in(auth, email: str) -> None:
    auth.login(email)


def points_of(answer: dict) -> dict[str, str]:
    points = answer["points"]
    return dict(zip(points["code"], points["status"], strict=True))


def recount(app, user_email: str | None, filters: MapFilters | None = None) -> dict:
    """code -> (status, longitude, latitude) from the page's own query (the reference)."""
    filters = filters or MapFilters()
    with app.app_context():
        user = user_by_email(user_email) if user_email else None
        rows = db.session.execute(map_assets_query(filters, user, TODAY)).all()
        return {row.code: (row.map_status, row.longitude, row.latitude) for row in rows}


# --- Status: set-wise equals the page's ---------------------------------------------------


def setwise_query(user):
    """The roll-up's way (``maps.rollup``): each set read once for the whole registry."""
    scope = scope_of(user)
    return select(
        Asset.code,
        setwise_status_expression(scope, TODAY).label("map_status"),
        longitude_of(Asset.location).label("longitude"),
        latitude_of(Asset.location).label("latitude"),
    ).where(scope.assets, Asset.location.is_not(None))


@pytest.mark.parametrize("way", ["view", "setwise"])
@pytest.mark.parametrize("who", [None, "officer@example.org", "fixer@example.org"])
def test_setwise_status_equals_the_page_status_for_every_reason(
    app, status_district, officer, contractor_user, who, way
):
    """The view's statuses (probed per asset) and the roll-up's (set-wise) are the page's."""
    expected = recount(app, who)
    with app.app_context():
        user = user_by_email(who) if who else None
        if way == "view":
            query = drawn_assets_query(MapFilters(), user, TODAY, None)
        else:
            query = setwise_query(user)
        rows = db.session.execute(query).all()
        setwise = {row.code: (row.map_status, row.longitude, row.latitude) for row in rows}
    assert setwise == expected
    if who == "fixer@example.org":
        assert set(setwise) == OWN
    else:
        assert {code: status for code, (status, *_xy) in setwise.items()} == EXPECTED


# Every combination of an asset's state, its inspections and its open hazards: what the
# probed status (the view's, which asks the question settling green first) and the set-wise
# status (the definition's order, maps.rollup) say of each must agree, for every user.
STATES = (AssetStatus.ACTIVE, AssetStatus.FAULTY, AssetStatus.RETIRED)
INSPECTIONS = {
    "none": [],
    "overdue": [-1],
    "due today": [0],
    "due soon": [7],
    "later": [8],
    "overdue and due soon": [-3, 5],
    "completed late": ["done"],
}
HAZARDS_OF_AN_ASSET = {
    "none": [],
    "general": [("general", "open")],
    "major": [("major", "rectified")],
    "major verified": [("major", "verified")],
    "general and major": [("general", "open"), ("major", "rectifying")],
}


@pytest.fixture
def every_combination(app, district, officer, contractor_user, frozen_clock):
    frozen_clock.set(MOMENT)
    with app.app_context():
        number = hazard_number = 0
        for state in STATES:
            for days in INSPECTIONS.values():
                for hazards in HAZARDS_OF_AN_ASSET.values():
                    number += 1
                    asset = factories.gen_asset(factories.charging_station_data(number))
                    asset.status = state
                    for day in days:
                        due = (
                            TODAY - timedelta(days=2)
                            if day == "done"
                            else TODAY + timedelta(days=day)
                        )
                        inspection = factories.gen_inspection(asset.code, due)
                        if day == "done":
                            inspection.status = InspectionStatus.COMPLETED
                    for severity, status in hazards:
                        hazard_number += 1
                        gen_hazard(
                            f"HZ-2026-{hazard_number:04d}", severity, asset.code, status=status
                        )
        db.session.commit()
    return number


@pytest.mark.parametrize("who", [None, "officer@example.org", "fixer@example.org"])
def test_the_probed_status_agrees_with_the_definition_for_every_combination(
    app, every_combination, who
):
    with app.app_context():
        user = user_by_email(who) if who else None
        probed = {
            row.code: row.map_status
            for row in db.session.execute(drawn_assets_query(MapFilters(), user, TODAY, None))
        }
        setwise = {row.code: row.map_status for row in db.session.execute(setwise_query(user))}
    assert probed == setwise
    if who == "fixer@example.org":
        assert probed  # the assets of its company's inspections
    else:
        assert len(probed) == every_combination
        assert set(probed.values()) == set(MAP_STATUSES)


# --- Points and clusters --------------------------------------------------------------------


def test_a_district_is_answered_with_every_point_and_complete(
    client, auth, officer, status_district
):
    sign_in(auth, officer)
    response = client.get(f"{ASSETS}?zoom=13&bbox=119.24,36.74,119.26,36.75")
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["mode"] == "points"
    assert answer["complete"] is True  # all of them, not only the box's one blocker
    assert answer["truncated"] is False
    assert points_of(answer) == EXPECTED
    index = answer["points"]["code"].index("CS-001")
    assert answer["points"]["lat"][index] == INSIDE_G1_01[1]
    assert answer["points"]["lon"][index] == INSIDE_G1_01[0]
    assert answer["points"]["kind"][index] == "charging_station"


def test_more_than_the_point_limit_in_the_box_is_clustered(
    app, client, auth, officer, status_district, monkeypatch
):
    monkeypatch.setattr(viewport, "POINT_LIMIT", 3)
    sign_in(auth, officer)
    # The box holds only the blocker: points, but not complete (there are more elsewhere).
    answer = client.get(f"{ASSETS}?zoom=14&bbox=119.24,36.74,119.26,36.75").get_json()
    assert answer["mode"] == "points"
    assert answer["complete"] is False
    assert points_of(answer) == {"EB-0001": "orange"}
    # The whole district: more than three, so clusters.
    answer = client.get(f"{ASSETS}?zoom=12&bbox={DISTRICT_BOX}").get_json()
    assert answer["mode"] == "clusters"
    assert_clusters_recount(answer, recount(app, None), View(parse(DISTRICT_BOX), 12))


def parse(text: str) -> BBox:
    return BBox(*(float(part) for part in text.split(",")))


def assert_clusters_recount(answer: dict, reference: dict, view: View) -> None:
    """Each cluster's count, counts per status, worst status, centre and bounds equal a
    recount in Python of the reference rows in its cell."""
    width, height = cell_size(view)
    cells: dict[tuple[int, int], list] = {}
    for status, longitude, latitude in reference.values():
        key = (math.floor((longitude + 180) / width), math.floor((latitude + 90) / height))
        cells.setdefault(key, []).append((status, longitude, latitude))
    assert len(answer["clusters"]) == len(cells)
    for cluster in answer["clusters"]:
        key = (
            math.floor((cluster["lon"] + 180) / width),
            math.floor((cluster["lat"] + 90) / height),
        )
        members = cells[key]
        counts = Counter(status for status, _lon, _lat in members)
        assert cluster["count"] == len(members)
        assert cluster["counts"] == {status: counts.get(status, 0) for status in MAP_STATUSES}
        assert cluster["worst"] == next(status for status in MAP_STATUSES if counts[status])
        assert cluster["lon"] == pytest.approx(sum(m[1] for m in members) / len(members), abs=2e-6)
        assert cluster["lat"] == pytest.approx(sum(m[2] for m in members) / len(members), abs=2e-6)
        (south, west), (north, east) = cluster["bounds"]
        assert south == pytest.approx(min(m[2] for m in members), abs=2e-6)
        assert north == pytest.approx(max(m[2] for m in members), abs=2e-6)
        assert west == pytest.approx(min(m[1] for m in members), abs=2e-6)
        assert east == pytest.approx(max(m[1] for m in members), abs=2e-6)


@pytest.mark.postgis_only
def test_each_assets_status_is_probed_never_hashed_over_the_whole_table(app, status_district):
    """PostgreSQL planned the status's EXISTS questions as hashed sets of every overdue or
    due-soon inspection of the registry when it thought probing dearer: a dense street of a
    1M-asset district read 212,000 inspections (180 ms) for its 2,001 points. Here probing
    is priced out, as that street's size did; the status is still asked per asset."""
    with app.app_context():
        query = drawn_assets_query(MapFilters(), None, TODAY, BBox(119.10, 36.70, 119.30, 36.76))
        query = query.order_by(query.selected_columns.id).limit(viewport.POINT_LIMIT + 1)
        compiled = query.compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
        connection = db.session.connection()
        for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
            connection.exec_driver_sql(f"SET LOCAL {setting} = off")
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql(f"EXPLAIN (VERBOSE) {compiled}")
        )
        db.session.rollback()
    assert plan.count("SubPlan") >= 4, plan
    assert "hashed SubPlan" not in plan, plan


def test_street_zoom_answers_points_even_past_the_limit(
    client, auth, officer, status_district, monkeypatch
):
    monkeypatch.setattr(viewport, "POINT_LIMIT", 3)
    sign_in(auth, officer)
    answer = client.get(f"{ASSETS}?zoom=17&bbox=119.14,36.71,119.16,36.72").get_json()
    assert answer["mode"] == "points"
    assert answer["truncated"] is True  # nine stations share the spot; three are drawn
    assert len(answer["points"]["code"]) == 3
    assert answer["complete"] is False


@pytest.mark.parametrize(("limit", "truncated"), [(9, False), (8, True)])
def test_street_zoom_says_truncated_only_past_the_limit(
    client, auth, officer, status_district, monkeypatch, limit, truncated
):
    """Nine stations share the spot: a limit of nine draws them all, eight draws eight."""
    monkeypatch.setattr(viewport, "POINT_LIMIT", limit)
    sign_in(auth, officer)
    answer = client.get(f"{ASSETS}?zoom=17&bbox=119.14,36.71,119.16,36.72").get_json()
    assert answer["truncated"] is truncated
    assert len(answer["points"]["code"]) == min(limit, 9)
    assert len(set(answer["points"]["code"])) == min(limit, 9)


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("status=red", {"CS-001", "CS-002", "CS-003"}),
        ("status=grey", {"CS-008"}),
        ("kind=elevator_blocker", {"EB-0001"}),
        ("grid=G2", {"EB-0001"}),
        ("q=CS-00", set(EXPECTED) - {"EB-0001"}),
        ("q=Blocker", {"EB-0001"}),
    ],
)
def test_filters_are_the_pages(client, auth, officer, status_district, query, codes):
    sign_in(auth, officer)
    answer = client.get(f"{ASSETS}?zoom=13&{query}").get_json()
    assert set(points_of(answer)) == codes
    page = client.get(f"/map?{query}")
    assert page.status_code == 200


def test_filters_apply_to_clusters(app, client, auth, officer, status_district, monkeypatch):
    monkeypatch.setattr(viewport, "POINT_LIMIT", 1)
    sign_in(auth, officer)
    answer = client.get(f"{ASSETS}?zoom=12&bbox={DISTRICT_BOX}&status=red").get_json()
    assert answer["mode"] == "clusters"
    reference = recount(app, None, MapFilters(status="red"))
    assert_clusters_recount(answer, reference, View(parse(DISTRICT_BOX), 12))
    assert sum(cluster["count"] for cluster in answer["clusters"]) == 3


def test_contractor_filter_for_staff(app, client, auth, officer, status_district):
    with app.app_context():
        other = factories.gen_contractor("Other Co").id
    sign_in(auth, officer)
    answer = client.get(f"{ASSETS}?zoom=13&contractor={other}").get_json()
    assert points_of(answer) == {"CS-008": "grey"}


def test_a_contractor_sees_only_its_assets_and_counts(
    app, client, auth, contractor_user, status_district, monkeypatch
):
    with app.app_context():
        other = factories.gen_contractor("Other Co").id
    sign_in(auth, contractor_user)
    answer = client.get(f"{ASSETS}?zoom=13").get_json()
    reference = recount(app, contractor_user)
    assert set(points_of(answer)) == OWN == set(reference)
    assert points_of(answer) == {code: status for code, (status, *_xy) in reference.items()}
    # Asking for another company's assets changes nothing.
    widened = client.get(f"{ASSETS}?zoom=13&contractor={other}").get_json()
    assert points_of(widened) == points_of(answer)
    # Clusters count its own assets only.
    monkeypatch.setattr(viewport, "POINT_LIMIT", 1)
    clusters = client.get(f"{ASSETS}?zoom=12&bbox={DISTRICT_BOX}").get_json()
    assert clusters["mode"] == "clusters"
    assert sum(cluster["count"] for cluster in clusters["clusters"]) == len(OWN)
    assert_clusters_recount(clusters, reference, View(parse(DISTRICT_BOX), 12))


def test_bearer_token_works_and_anonymous_is_401(client, api, status_district):
    assert client.get(f"{ASSETS}?zoom=13").status_code == 401
    assert client.get(HAZARDS).status_code == 401
    response = api.get(f"{ASSETS}?zoom=13")
    assert response.status_code == 200
    assert points_of(response.get_json()) == EXPECTED


def test_gaode_tiles_get_drawn_coordinates(app, client, auth, officer, status_district):
    from maps.coords import wgs84_to_gcj02

    app.config["MAP_TILES"] = "gaode"
    sign_in(auth, officer)
    answer = client.get(f"{ASSETS}?zoom=13").get_json()
    index = answer["points"]["code"].index("EB-0001")
    lon, lat = wgs84_to_gcj02(*INSIDE_G2_02)
    assert answer["points"]["lon"][index] == pytest.approx(lon, abs=1e-6)
    assert answer["points"]["lat"][index] == pytest.approx(lat, abs=1e-6)


# --- Validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",  # no zoom
        "zoom=abc",
        "zoom=-1",
        "zoom=20",
        "zoom=13&bbox=1,2,3",
        "zoom=13&bbox=119.3,36.7,119.1,36.76",
        "zoom=13&bbox=119.1,36.7,200,36.76",
        "zoom=13&bbox=nan,1,2,3",
        "zoom=13&kind=rocket",
        "zoom=13&status=purple",
        "zoom=13&contractor=abc",
        "zoom=13&q=" + "x" * 201,
        "zoom=13&stauts=red",
    ],
)
def test_bad_views_are_refused_as_json_and_write_nothing(
    app, client, auth, officer, status_district, query
):
    with app.app_context():
        before = current_version(db.session)
    sign_in(auth, officer)
    response = client.get(f"{ASSETS}?{query}")
    assert response.status_code in (400, 422)
    assert response.is_json
    assert response.get_json()
    with app.app_context():
        assert current_version(db.session) == before


def test_bad_hazard_box_is_refused(client, auth, officer, status_district):
    sign_in(auth, officer)
    response = client.get(f"{HAZARDS}?bbox=1,2")
    assert response.status_code == 422
    assert "bbox" in str(response.get_json())


# --- ETag on the data version -------------------------------------------------------------------


def count_asset_queries(app):
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def note(_conn, _cursor, statement, *_args):
        if "assets" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    return engine, note, statements


def test_etag_answers_304_without_the_map_query(app, client, auth, officer, status_district):
    sign_in(auth, officer)
    first = client.get(f"{ASSETS}?zoom=13")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    engine, note, statements = count_asset_queries(app)
    try:
        again = client.get(f"{ASSETS}?zoom=13", headers={"If-None-Match": etag})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert statements == []  # the version row only: no asset was read
    # Another query string, another tag.
    other = client.get(f"{ASSETS}?zoom=14", headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["ETag"] != etag


def test_an_orm_write_changes_the_etag(app, client, auth, officer, status_district):
    sign_in(auth, officer)
    etag = client.get(f"{ASSETS}?zoom=13").headers["ETag"]
    with app.app_context():
        asset_by_code("CS-009").status = AssetStatus.FAULTY
        db.session.commit()
    response = client.get(f"{ASSETS}?zoom=13", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert points_of(response.get_json())["CS-009"] == "red"
    assert response.headers["ETag"] != etag


def test_a_rolled_back_write_keeps_the_etag(app, client, auth, officer, status_district):
    sign_in(auth, officer)
    etag = client.get(f"{ASSETS}?zoom=13").headers["ETag"]
    with app.app_context():
        asset_by_code("CS-009").status = AssetStatus.FAULTY
        db.session.flush()
        db.session.rollback()
        db.session.commit()  # nothing left to write: no new version
    assert client.get(f"{ASSETS}?zoom=13", headers={"If-None-Match": etag}).status_code == 304


def test_bulk_writes_change_the_etag(app, client, auth, officer, status_district):
    sign_in(auth, officer)
    etag = client.get(f"{ASSETS}?zoom=13").headers["ETag"]
    with app.app_context():  # a Core UPDATE through the session (the bulk steps do this)
        db.session.execute(
            update(Inspection)
            .where(Inspection.asset_id == asset_by_code("CS-006").id)
            .values(due_on=TODAY - timedelta(days=2))
        )
        db.session.commit()
    response = client.get(f"{ASSETS}?zoom=13", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert points_of(response.get_json())["CS-006"] == "red"
    etag = response.headers["ETag"]
    with app.app_context():  # COPY on PostGIS: past the session's statement listener
        asset_id = asset_by_code("CS-009").id
        contractor_id = factories.gen_contractor("Fixers Ltd").id
        row = {
            "asset_id": asset_id,
            "contractor_id": contractor_id,
            "due_on": TODAY - timedelta(days=3),
            "status": "scheduled",
            "flagged": False,
            "created_at": now_utc(),
        }
        bulk_insert(db.session, Inspection.__table__, [row])
        db.session.commit()
    response = client.get(f"{ASSETS}?zoom=13", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert points_of(response.get_json())["CS-009"] == "red"


def test_a_new_day_changes_the_etag(api, status_district, frozen_clock):
    etag = api.get(f"{ASSETS}?zoom=13").headers["ETag"]
    frozen_clock.set(MOMENT + timedelta(days=1))
    response = api.get(f"{ASSETS}?zoom=13", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert points_of(response.get_json())["CS-006"] == "orange"  # due in 7 days now


def test_users_of_other_scopes_never_share_a_tag(
    client, auth, officer, contractor_user, status_district
):
    sign_in(auth, officer)
    staff = client.get(f"{ASSETS}?zoom=13").headers["ETag"]
    auth.logout()
    sign_in(auth, contractor_user)
    response = client.get(f"{ASSETS}?zoom=13", headers={"If-None-Match": staff})
    assert response.status_code == 200
    assert set(points_of(response.get_json())) == OWN


# --- Hazards -------------------------------------------------------------------------------------


def test_open_hazards_major_first(client, auth, officer, status_district, monkeypatch):
    sign_in(auth, officer)
    answer = client.get(HAZARDS).get_json()
    assert answer["complete"] is True
    assert answer["truncated"] is False
    assert answer["hazards"]["code"] == ["HZ-2026-0001", "HZ-2026-0002"]  # not the verified
    assert answer["hazards"]["severity"] == ["major", "general"]
    assert answer["hazards"]["lat"][0] == INSIDE_G1_01[1]
    monkeypatch.setattr(viewport, "HAZARD_LIMIT", 1)
    capped = client.get(f"{HAZARDS}?bbox={DISTRICT_BOX}").get_json()
    assert capped["complete"] is False
    assert capped["truncated"] is True
    assert capped["hazards"]["code"] == ["HZ-2026-0001"]
    elsewhere = client.get(HAZARDS + "?bbox=119.24,36.74,119.26,36.75").get_json()
    assert elsewhere["hazards"]["code"] == []
    assert elsewhere["truncated"] is False


def test_a_contractor_sees_only_its_hazards(app, client, auth, contractor_user, status_district):
    with app.app_context():
        fixers = factories.gen_contractor("Fixers Ltd").id
        hazard = db.session.scalar(select(Hazard).where(Hazard.code == "HZ-2026-0002"))
        hazard.responsible_contractor_id = fixers
        db.session.commit()
    sign_in(auth, contractor_user)
    assert client.get(HAZARDS).get_json()["hazards"]["code"] == ["HZ-2026-0002"]
    assert client.get("/map/hazard-popup/HZ-2026-0002").status_code == 200
    assert client.get("/map/hazard-popup/HZ-2026-0001").status_code == 404


def test_hazard_popups_escape_every_value(app, client, auth, officer, frozen_clock):
    frozen_clock.set(MOMENT)
    with app.app_context():
        gen_xss_district()
        db.session.commit()
    sign_in(auth, officer)
    codes = client.get(HAZARDS).get_json()["hazards"]["code"]
    assert len(codes) == len(XSS_PAYLOADS)
    for code in codes:
        html = client.get(f"/map/hazard-popup/{code}").get_data(as_text=True)
        payload = XSS_PAYLOADS[int(code[-4:]) - 1]
        assert str(escape(payload)) in html
        if "<" in payload:
            assert payload not in html
    assert client.get("/map/hazard-popup/HZ-2026-9999").status_code == 404


# --- The page embeds no asset, and the answers stay bounded ---------------------------------------


def test_the_page_embeds_no_asset_and_no_hazard(client, auth, officer, status_district):
    sign_in(auth, officer)
    html = client.get("/map").get_data(as_text=True)
    for code in [*EXPECTED, "HZ-2026-0001", "HZ-2026-0002"]:
        assert code not in html
    assert "SAR.viewport(" in html
    assert "/api/v1/map/assets" in html


def add_many_assets(count: int) -> None:
    """``count`` blockers spread over the district, 1 in 10 with an overdue inspection, fast
    (as bench/bench_map.py)."""
    rng = random.Random(14)
    now = now_utc()
    rows = [
        {
            "code": f"EB-{number:06d}",
            "kind": "elevator_blocker",
            "name": f"Blocker {number}",
            "location": point_value(
                round(rng.uniform(119.1001, 119.2999), 6), round(rng.uniform(36.7001, 36.7599), 6)
            ),
            "status": "active",
            "attributes": {},
            "created_at": now,
            "updated_at": now,
        }
        for number in range(1, count + 1)
    ]
    with deferred_spatial_index(db.session, "assets", "location"):
        for start in range(0, count, 5000):
            db.session.execute(insert(Asset.__table__), rows[start : start + 5000])
    contractor = factories.gen_contractor("Fixers Ltd").id
    ids = db.session.scalars(select(Asset.id).order_by(Asset.id)).all()
    db.session.execute(
        insert(Inspection.__table__),
        [
            {
                "asset_id": asset_id,
                "contractor_id": contractor,
                "due_on": TODAY - timedelta(days=2),
                "status": "scheduled",
                "flagged": False,
                "created_at": now,
            }
            for asset_id in ids[::10]
        ],
    )
    db.session.commit()


LIMIT_BYTES = 300_000


def test_answers_stay_bounded_at_20k_assets(app, client, auth, officer, district, frozen_clock):
    frozen_clock.set(MOMENT)
    with app.app_context():
        add_many_assets(20_000)
    sign_in(auth, officer)
    views = {
        "zoomed out": f"zoom=12&bbox={DISTRICT_BOX}",
        "everywhere": "zoom=3",
        "huge box at street zoom": "zoom=19&bbox=-180,-90,180,90",
        "street": "zoom=17&bbox=119.195,36.725,119.205,36.735",
    }
    for name, query in views.items():
        response = client.get(f"{ASSETS}?{query}")
        assert response.status_code == 200, name
        assert len(response.data) < LIMIT_BYTES, (name, len(response.data))
    clusters = client.get(f"{ASSETS}?{views['zoomed out']}").get_json()
    assert clusters["mode"] == "clusters"
    counts = Counter()
    for cluster in clusters["clusters"]:
        counts.update(cluster["counts"])
    assert sum(cluster["count"] for cluster in clusters["clusters"]) == 20_000
    assert counts["red"] == 2000
    street = client.get(f"{ASSETS}?{views['street']}").get_json()
    assert street["mode"] == "points"
    page = client.get("/map")
    assert len(page.data) < LIMIT_BYTES
    assert b"EB-000001" not in page.data
