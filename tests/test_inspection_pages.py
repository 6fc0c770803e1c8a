"""Inspection pages: the list and its filters, the detail, the logging form, photos,
cancelling, and the QR label's landing page; a contractor never sees another's records."""

from __future__ import annotations

import io
import re
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
    INSIDE_G1_01,
    blocker_data,
    charging_station_data,
    gen_asset,
    gen_inspection,
    gen_user,
    png_bytes,
)

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 2026-03-10


@pytest.fixture(autouse=True)
def frozen(frozen_clock):
    frozen_clock.set(NOW)


@pytest.fixture(autouse=True)
def english(client):
    client.get("/lang/en")


@pytest.fixture
def field(app, district, officer, contractor_user):
    """Inspections by id name: overdue CS-001, due-soon EB-0001, later CS-001, and a rival's."""
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_asset(blocker_data(1))  # G2-02
        gen_user("rival@example.org", "contractor", contractor="Rivals Inc")
        ids = {
            "overdue": gen_inspection("CS-001", date(2026, 3, 1)).id,
            "soon": gen_inspection("EB-0001", date(2026, 3, 12)).id,
            "later": gen_inspection("CS-001", date(2026, 4, 10)).id,
            "rival": gen_inspection("CS-001", date(2026, 3, 5), contractor="Rivals Inc").id,
        }
        db.session.commit()
        return ids


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [int(found) for found in re.findall(r'<tr data-id="(\d+)"', response.text)]


def form_data(**changes) -> dict:
    data = {f"item_{key}": "pass" for key in CS_ITEMS}
    data.update(result="pass", notes="Fine", completed_at="2026-03-10T09:45")
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


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


# The list


def test_officer_sees_all_sorted_by_due_date(client, auth, officer, field):
    auth.login(officer)
    response = client.get("/inspections/")
    assert listed(response) == [field["overdue"], field["rival"], field["soon"], field["later"]]
    assert "Rivals Inc" in response.text
    assert "inspection-overdue" in response.text and "inspection-due_soon" in response.text


def test_contractor_sees_only_its_own(client, auth, contractor_user, field):
    auth.login(contractor_user)
    response = client.get("/inspections/")
    assert listed(response) == [field["overdue"], field["soon"], field["later"]]
    assert "Rivals Inc" not in response.text
    # The contractor filter is for staff; a contractor naming another gets its own list.
    assert listed(client.get("/inspections/?contractor=Rivals+Inc")) == listed(response)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=overdue", ["overdue", "rival"]),
        ("overdue=1", ["overdue", "rival"]),
        ("status=due_soon", ["soon"]),
        ("due_soon=1", ["soon"]),
        ("status=scheduled", ["overdue", "rival", "soon", "later"]),
        ("status=completed", []),
        ("kind=elevator_blocker", ["soon"]),
        ("grid=G2", ["soon"]),
        ("grid=G1-01", ["overdue", "rival", "later"]),
        ("contractor=Rivals+Inc", ["rival"]),
        ("asset=eb-0001", ["soon"]),
        ("due_from=2026-03-05&due_to=2026-03-12", ["rival", "soon"]),
        ("flagged=yes", []),
        ("flagged=no", ["overdue", "rival", "soon", "later"]),
    ],
)
def test_list_filters(client, auth, officer, field, query, expected):
    auth.login(officer)
    assert listed(client.get(f"/inspections/?{query}")) == [field[name] for name in expected]


@pytest.mark.parametrize("query", ["due_from=soon", "status=sleeping", "page=0", "flagged=maybe"])
def test_bad_filters_are_400(client, auth, officer, field, query):
    auth.login(officer)
    assert client.get(f"/inspections/?{query}").status_code == 400


def test_list_pages(client, auth, officer, field):
    auth.login(officer)
    first = client.get("/inspections/?per_page=3&status=scheduled")
    assert listed(first) == [field["overdue"], field["rival"], field["soon"]]
    assert "page=2" in first.text
    assert listed(client.get("/inspections/?per_page=3&status=scheduled&page=2")) == [
        field["later"]
    ]


def test_list_pages_keep_a_not_flagged_filter(client, auth, officer, field):
    auth.login(officer)
    first = client.get("/inspections/?per_page=3&flagged=no")
    assert listed(first) == [field["overdue"], field["rival"], field["soon"]]
    assert "flagged=no" in first.text.split('class="pagination"', 1)[1]


def close(app, inspection_id: int, status: str) -> None:
    with app.app_context():
        inspection = db.session.get(Inspection, inspection_id)
        inspection.status = status
        if status == "completed":
            inspection.completed_at = NOW
            inspection.result = "pass"
        db.session.commit()


@pytest.fixture
def history(app, field):
    """The field, and three closed inspections of CS-001: the oldest and newest completed
    and one cancelled in between."""
    with app.app_context():
        ids = {
            "done_old": gen_inspection("CS-001", date(2026, 1, 10)).id,
            "cancelled": gen_inspection("CS-001", date(2026, 2, 10)).id,
            "done_new": gen_inspection("CS-001", date(2026, 3, 2)).id,
        }
        db.session.commit()
    close(app, ids["done_old"], "completed")
    close(app, ids["cancelled"], "cancelled")
    close(app, ids["done_new"], "completed")
    return {**field, **ids}


def test_the_list_shows_the_most_urgent_first(client, auth, contractor_user, history):
    """Open work first, the longest overdue at the top, then the coming days; the closed ones
    after it, the latest first (not 1,620 records oldest first)."""
    auth.login(contractor_user)
    expected = ["overdue", "soon", "later", "done_new", "cancelled", "done_old"]
    assert listed(client.get("/inspections/")) == [history[name] for name in expected]
    assert 'value="urgent" selected' in client.get("/inspections/").text


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("due", ["done_old", "cancelled", "overdue", "done_new", "soon", "later"]),
        ("-due", ["later", "soon", "done_new", "overdue", "cancelled", "done_old"]),
        ("urgent", ["overdue", "soon", "later", "done_new", "cancelled", "done_old"]),
    ],
)
def test_staff_may_order_by_due_date(client, auth, officer, history, sort, expected):
    auth.login(officer)
    response = client.get(f"/inspections/?sort={sort}&contractor=Fixers+Ltd")
    assert listed(response) == [history[name] for name in expected]
    assert f'value="{sort}" selected' in response.text


def test_the_order_is_kept_across_pages_and_filters(client, auth, officer, history):
    auth.login(officer)
    first = client.get("/inspections/?sort=-due&per_page=2&status=completed")
    assert listed(first) == [history["done_new"], history["done_old"]]
    first = client.get("/inspections/?sort=due&per_page=2")
    assert listed(first) == [history["done_old"], history["cancelled"]]
    assert "sort=due" in first.text.split('class="pagination"', 1)[1]
    second = client.get("/inspections/?sort=due&per_page=2&page=2")
    assert listed(second) == [history["overdue"], history["done_new"]]
    assert client.get("/inspections/?sort=sideways").status_code == 400


def test_pages_run_on_from_the_open_work_into_the_closed(client, auth, contractor_user, history):
    """The most urgent order is paged as two parts (open, then closed): a page may span both."""
    auth.login(contractor_user)
    pages = [listed(client.get(f"/inspections/?per_page=2&page={page}")) for page in (1, 2, 3)]
    expected = [["overdue", "soon"], ["later", "done_new"], ["cancelled", "done_old"]]
    assert pages == [[history[name] for name in names] for names in expected]
    last = client.get("/inspections/?per_page=2&page=3")
    assert "6 inspections found." in last.text and 'rel="next"' not in last.text
    assert listed(client.get("/inspections/?per_page=2&page=4")) == []
    assert listed(client.get("/inspections/?per_page=4&page=2&status=completed")) == []
    completed = client.get("/inspections/?per_page=1&page=2&status=completed")
    assert listed(completed) == [history["done_old"]]


def result_count(response) -> str:
    return re.search(r'id="result-count">\s*([^<]*?)\s*<', response.text).group(1)


def pager(response) -> tuple[str, bool]:
    """The pagination's "Page … of …" and whether it has a next link."""
    nav = response.text.split('class="pagination"', 1)[1].split("</nav>", 1)[0]
    return re.search(r"<span>([^<]*)</span>", nav).group(1), 'rel="next"' in nav


def test_the_list_counts_up_to_a_cap_and_pages_on(app, client, auth, contractor_user, history):
    """Past LIST_COUNT_CAP rows the list says "more than" (a province's ten million
    inspections are not counted for a page of 50); its pages still run to the end, in order,
    and the count is exact again where the end is in sight."""
    app.config["LIST_COUNT_CAP"] = 3
    auth.login(contractor_user)
    first = client.get("/inspections/?per_page=2")
    assert result_count(first) == "More than 3 inspections found."
    assert pager(first) == ("Page 1 of more than 1", True)
    second = client.get("/inspections/?per_page=2&page=2")
    assert result_count(second) == "More than 4 inspections found."
    assert pager(second) == ("Page 2 of more than 2", True)
    third = client.get("/inspections/?per_page=2&page=3")
    assert result_count(third) == "6 inspections found."
    assert pager(third) == ("Page 3 of 3", False)
    expected = ["overdue", "soon", "later", "done_new", "cancelled", "done_old"]
    walked = listed(first) + listed(second) + listed(third)
    assert walked == [history[name] for name in expected]
    # Under the cap, with a filter: exact.
    assert result_count(client.get("/inspections/?status=completed")) == "2 inspections found."
    # The export is the whole list, never capped.
    export = client.get("/inspections/export.csv")
    assert len(export.get_data(as_text=True).strip().splitlines()) == 1 + 6


# Another contractor's inspection does not exist


def test_contractor_isolation_is_404_everywhere(app, client, auth, contractor_user, field):
    auth.login(contractor_user)
    own = field["overdue"]
    client.post(
        f"/inspections/{own}/log",
        data={**form_data(), "photos": (io.BytesIO(png_bytes()), "a.png")},
        content_type="multipart/form-data",
    )
    with app.app_context():
        photo_id = db.session.scalar(select(Photo.id))
    auth.logout()
    auth.login("rival@example.org")
    assert client.get(f"/inspections/{own}").status_code == 404
    assert client.get(f"/inspections/{field['soon']}").status_code == 404
    assert client.get(f"/inspections/{field['soon']}/log").status_code == 404
    before = written(app)
    assert client.post(f"/inspections/{field['soon']}/log", data=form_data()).status_code == 404
    assert written(app) == before
    assert client.get(f"/inspections/photos/{photo_id}").status_code == 404
    assert client.get("/inspections/photos/99999").status_code == 404
    # The rival's own is fine; cancelling is for staff.
    assert client.get(f"/inspections/{field['rival']}").status_code == 200
    assert (
        client.post(f"/inspections/{field['rival']}/cancel", data={"reason": "x"}).status_code
        == 403
    )


# Logging through the form


def test_the_log_form_is_mobile_first_with_the_kinds_checklist(
    client, auth, contractor_user, field
):
    auth.login(contractor_user)
    response = client.get(f"/inspections/{field['overdue']}/log")
    assert response.status_code == 200
    page = response.text
    for key in CS_ITEMS:
        for answer in ("pass", "fail", "na"):
            assert f'name="item_{key}" type="radio" value="{answer}"' in page
    assert "Extinguisher present and in date" in page
    assert re.search(r'<input[^>]*accept="image/\*"[^>]*capture="environment"[^>]*multiple', page)
    assert 'enctype="multipart/form-data"' in page
    assert 'value="2026-03-10T10:00"' in page  # now, in district time
    for name in ("longitude", "latitude", "accuracy"):
        assert f'id="stood-{name}" name="{name}" type="hidden"' in page
    assert "js/inspection_log.js" in page
    assert "No position captured" in page


def test_logging_a_failure_with_a_photo_and_a_position(app, client, auth, contractor_user, field):
    auth.login(contractor_user)
    inspection_id = field["overdue"]
    data = form_data(
        item_camera_working="fail",
        item_smoke_detector_working="na",
        result="fail",
        notes="Camera <b>dead</b>",
        longitude=str(INSIDE_G1_01[0]),
        latitude=str(INSIDE_G1_01[1] + 0.002),  # about 222 m north
        accuracy="8",
    )
    data["photos"] = [
        (io.BytesIO(png_bytes(8, 6)), "one.png"),
        (io.BytesIO(png_bytes()), "two.png"),
    ]
    response = client.post(
        f"/inspections/{inspection_id}/log", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/inspections/{inspection_id}")
    with app.app_context():
        inspection = db.session.get(Inspection, inspection_id)
        assert inspection.status == "completed" and inspection.result == "fail"
        assert inspection.answers["camera_working"] == "fail"
        assert inspection.completed_at == datetime(2026, 3, 10, 1, 45, tzinfo=UTC)
        assert inspection.flagged is True
        assert inspection.distance_m == pytest.approx(222.4, abs=1)
        assert asset_by_code("CS-001").status == "faulty"
        assert db.session.scalar(select(Hazard.inspection_id)) == inspection_id
        photo_ids = [photo.id for photo in inspection.photos]
    assert len(photo_ids) == 2

    detail = client.get(f"/inspections/{inspection_id}")
    page = detail.text
    assert "Camera working" in page and "answer-fail" in page
    assert "Camera &lt;b&gt;dead&lt;/b&gt;" in page
    assert "222 m" in page and "Flagged" in page
    for photo_id in photo_ids:
        assert f'src="/inspections/photos/{photo_id}"' in page

    with client.get(f"/inspections/photos/{photo_ids[0]}") as photo:
        assert photo.status_code == 200
        assert photo.mimetype == "image/png"
        assert photo.headers["X-Content-Type-Options"] == "nosniff"
        assert "private" in photo.headers["Cache-Control"]
        assert "public" not in photo.headers["Cache-Control"]
        assert photo.data == png_bytes(8, 6)

    # Logged once; the form is closed now.
    again = client.get(f"/inspections/{inspection_id}/log")
    assert again.status_code == 302
    before = written(app)
    assert client.post(f"/inspections/{inspection_id}/log", data=form_data()).status_code == 409
    assert written(app) == before


def test_officers_see_photos_too(app, client, auth, contractor_user, officer, field):
    auth.login(contractor_user)
    data = {**form_data(), "photos": (io.BytesIO(png_bytes()), "a.png")}
    client.post(f"/inspections/{field['soon']}/log", data=data, content_type="multipart/form-data")
    auth.logout()
    auth.login(officer)
    with app.app_context():
        photo_id = db.session.scalar(select(Photo.id))
    # The blocker has its own checklist: the charging station's answers were refused.
    assert photo_id is None
    keys = ("detects_ebike", "doors_held_alarm", "camera_clean", "no_false_alarm")
    data = {f"item_{key}": "pass" for key in keys}
    data.update(result="pass", photos=(io.BytesIO(png_bytes()), "a.png"))
    response = client.post(
        f"/inspections/{field['soon']}/log", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    with app.app_context():
        photo_id = db.session.scalar(select(Photo.id))
    with client.get(f"/inspections/photos/{photo_id}") as photo:
        assert photo.status_code == 200


@pytest.mark.parametrize(
    ("changes", "photo", "message"),
    [
        ({"item_no_flying_wire": None}, None, "Answer this item."),
        ({"result": None}, None, "This field is required."),
        ({"item_camera_working": "fail"}, None, "An inspection with a failed item cannot pass."),
        ({"completed_at": "2026-03-10T11:00"}, None, "Must not be in the future."),
        ({}, (b"GIF89a not really", "a.jpg"), "a.jpg is not a readable image."),
    ],
)
def test_bad_input_re_renders_the_form_and_writes_nothing(
    app, client, auth, contractor_user, field, changes, photo, message
):
    auth.login(contractor_user)
    data = form_data(notes="Keep <this>", **changes)
    if photo:
        data["photos"] = [(io.BytesIO(png_bytes()), "ok.png"), (io.BytesIO(photo[0]), photo[1])]
    before = written(app)
    response = client.post(
        f"/inspections/{field['overdue']}/log", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert message in response.text
    assert "Keep &lt;this&gt;</textarea>" in response.text  # the typed values are kept
    assert 'id="log-form"' in response.text
    assert written(app) == before
    with app.app_context():
        assert db.session.get(Inspection, field["overdue"]).status == "scheduled"


def test_the_form_needs_its_csrf_token(app, client, auth, contractor_user, field):
    auth.login(contractor_user)
    app.config["WTF_CSRF_ENABLED"] = True
    before = written(app)
    response = client.post(f"/inspections/{field['overdue']}/log", data=form_data())
    assert response.status_code == 400
    assert written(app) == before


# Cancelling


def test_officer_cancels_with_a_reason(app, client, auth, officer, field):
    auth.login(officer)
    inspection_id = field["later"]
    assert 'id="cancel-form"' in client.get(f"/inspections/{inspection_id}").text
    response = client.post(f"/inspections/{inspection_id}/cancel", data={"reason": " "})
    assert response.status_code == 422
    assert "Give a reason for cancelling." in response.text
    with app.app_context():
        assert db.session.get(Inspection, inspection_id).status == "scheduled"
    response = client.post(f"/inspections/{inspection_id}/cancel", data={"reason": "Asset moved"})
    assert response.status_code == 302
    with app.app_context():
        inspection = db.session.get(Inspection, inspection_id)
        assert (inspection.status, inspection.cancelled_reason) == ("cancelled", "Asset moved")
    page = client.get(f"/inspections/{inspection_id}").text
    assert "Asset moved" in page and "inspection-cancelled" in page
    assert (
        client.post(f"/inspections/{inspection_id}/cancel", data={"reason": "x"}).status_code == 409
    )
    assert client.get(f"/inspections/{inspection_id}/log").status_code == 302


# The QR label's landing page


def test_log_for_asset_opens_the_next_due_inspection(app, client, auth, contractor_user, field):
    auth.login(contractor_user)
    response = client.get("/inspections/asset/cs-001/next")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/inspections/{field['overdue']}/log")
    assert client.get("/inspections/asset/CS-999/next").status_code == 404


def test_log_for_asset_without_a_due_inspection_goes_to_the_asset(
    app, client, auth, officer, contractor_user, field
):
    with app.app_context():
        gen_asset(charging_station_data(2))
        db.session.commit()
    # A contractor whose company never inspects CS-002 may not see it (accounts.access):
    # the label's link is a 404, as for an unknown code.
    auth.login(contractor_user)
    assert client.get("/inspections/asset/CS-002/next").status_code == 404
    auth.logout()
    auth.login(officer)
    response = client.get("/inspections/asset/CS-002/next", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/assets/CS-002")
    page = client.get(response.headers["Location"]).text
    assert "No inspection of CS-002 is due for you." in page


def test_log_for_asset_skips_other_contractors(app, client, auth, field):
    auth.login("rival@example.org")
    response = client.get("/inspections/asset/CS-001/next")
    assert response.headers["Location"].endswith(f"/inspections/{field['rival']}/log")


def test_the_overdue_list_says_how_late_and_leads_to_the_asset(client, auth, officer, field):
    auth.login(officer)
    page = client.get("/inspections/?status=overdue").text
    row = page.split(f'<tr data-id="{field["overdue"]}"')[1].split("</tr>")[0]
    assert '<span class="days-late">9 days late</span>' in row  # due 03-01, today 03-10
    assert '<a href="/assets/CS-001">CS-001</a>' in row
    soon = page.split(f'<tr data-id="{field["soon"]}"')
    assert len(soon) == 1  # not overdue: not listed
    client.get("/lang/zh")
    assert "逾期 9 天" in client.get("/inspections/?status=overdue").text
