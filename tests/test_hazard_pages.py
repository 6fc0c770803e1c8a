"""Hazard pages: the filtered list and its overdue count, contractor isolation, the report
form, status steps, reopening, photos and the staff edit."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from accounts.services import user_by_email
from core.audit import AuditEntry
from core.extensions import db
from evidence.models import Photo
from hazards.models import Hazard, HazardEvent
from hazards.services import create_hazard, overdue_first_ordering
from tests.factories import (
    INSIDE_G1_01,
    INSIDE_G2_02,
    charging_station_data,
    gen_asset,
    gen_contractor,
    gen_site,
    gen_user,
    png_bytes,
)

D = date.fromisoformat
FROZEN = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
def english(client):
    """The pages in English (the default language is Chinese)."""
    client.get("/lang/en")


@pytest.fixture
def register(app, district, officer, contractor_user, frozen_clock, english):
    """Four hazards (see the comments) and a user of another contractor; returns codes."""
    frozen_clock.set(FROZEN)
    with app.app_context():
        gen_site()
        gen_asset(charging_station_data(1, site="Harbour Garden"))
        gen_user("other@example.org", "contractor", contractor="Others Co")
        fixers = gen_contractor("Fixers Ltd").id
        officer_user = user_by_email(officer)

        def add(status, found_by=officer_user, **values):
            base = {
                "category": "flying_wire_charging",
                "severity": "general",
                "description": "Cable <b>from</b> a window",
                "longitude": INSIDE_G2_02[0],
                "latitude": INSIDE_G2_02[1],
            }
            hazard = create_hazard({**base, **values}, found_by=found_by)
            hazard.status = status
            return hazard.code

        codes = {
            # G1-01, major, open, past its deadline: overdue.
            "overdue": add(
                "open",
                severity="major",
                longitude=INSIDE_G1_01[0],
                latitude=INSIDE_G1_01[1],
                found_on="2026-02-01",
                deadline="2026-03-01",
            ),
            # G2-02, rectifying, deadline ahead; Fixers Ltd responsible.
            "fixers": add(
                "rectifying",
                category="blocked_exit",
                found_on="2026-03-02",
                responsible_contractor_id=fixers,
            ),
            # Verified long ago: past its deadline but not overdue.
            "verified": add("verified", found_on="2026-01-05", deadline="2026-01-10"),
            # At CS-001 (G1-01), reported by the Fixers Ltd user, rectified.
            "asset": add(
                "rectified",
                found_by=user_by_email(contractor_user),
                longitude=None,
                latitude=None,
                asset_code="CS-001",
                found_on="2026-03-09",
            ),
        }
        db.session.commit()
        return codes


def listed(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return re.findall(r'<tr data-code="([^"]+)"', response.get_data(as_text=True))


def overdue_count(response) -> int:
    return int(re.search(r'data-count="(\d+)"', response.get_data(as_text=True)).group(1))


def counts(app) -> tuple[int, int, int, int]:
    """(hazards, events, hazard audit entries, photos)."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Hazard.id))),
            db.session.scalar(select(func.count(HazardEvent.id))),
            db.session.scalar(
                select(func.count(AuditEntry.id)).where(AuditEntry.entity_type == "hazard")
            ),
            db.session.scalar(select(func.count(Photo.id))),
        )


def status_of(app, code: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Hazard.status).where(Hazard.code == code))


def photo_files(app) -> list[Path]:
    directory = Path(app.config["PHOTO_DIR"])
    return sorted(directory.iterdir()) if directory.exists() else []


def report(**overrides):
    data = {
        "category": "ebike_in_corridor",
        "severity": "major",
        "description": "Three e-bikes charging in the stairwell",
        "asset_code": "",
        "longitude": "119.25",
        "latitude": "36.745",
        "site_id": "",
        "responsible": "",
        "found_on": "",
        "deadline": "",
    }
    data.update(overrides)
    return data


# --- The list ------------------------------------------------------------------------------


def test_list_puts_overdue_first_and_counts_them(client, auth, officer, register):
    auth.login(officer)
    response = client.get("/hazards/")
    codes = listed(response)
    assert codes[0] == register["overdue"]
    assert set(codes) == set(register.values())
    assert codes[-1] == register["verified"]
    assert overdue_count(response) == 1
    page = response.get_data(as_text=True)
    assert "Overdue by 9 d" in page  # deadline 1 March, today 10 March in Shanghai
    detail = client.get(f"/hazards/{register['overdue']}").get_data(as_text=True)
    assert "Cable &lt;b&gt;from&lt;/b&gt; a window" in detail  # user text is escaped


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=rectifying", {"fixers"}),
        ("status=unverified", {"overdue", "fixers", "asset"}),
        ("severity=major", {"overdue"}),
        ("category=blocked_exit", {"fixers"}),
        ("grid=G1", {"overdue", "asset"}),  # a first-level grid includes its children
        ("grid=G2-02", {"fixers", "verified"}),
        ("overdue=1", {"overdue"}),
        ("asset=cs-001", {"asset"}),
        ("found_from=2026-03-01&found_to=2026-03-05", {"fixers"}),
        ("status=verified&grid=G1", set()),
    ],
)
def test_list_filters(client, auth, officer, register, query, expected):
    auth.login(officer)
    assert set(listed(client.get(f"/hazards/?{query}"))) == {register[k] for k in expected}


def test_list_filters_by_responsible_party_and_counts_within_filters(
    app, client, auth, officer, register
):
    auth.login(officer)
    with app.app_context():
        fixers = gen_contractor("Fixers Ltd").id
    response = client.get(f"/hazards/?responsible=contractor:{fixers}")
    assert listed(response) == [register["fixers"]]
    assert overdue_count(response) == 0
    assert overdue_count(client.get("/hazards/?severity=major")) == 1


def test_list_refuses_a_bad_date(client, auth, officer, register):
    auth.login(officer)
    assert client.get("/hazards/?found_from=yesterday").status_code == 400


def result_count(response) -> str:
    return re.search(r'id="result-count">\s*([^<]*?)\s*<', response.text).group(1)


def pager(response) -> tuple[str, bool]:
    """The pagination's "Page … of …" and whether it has a next link."""
    nav = response.text.split('class="pagination"', 1)[1].split("</nav>", 1)[0]
    return re.search(r"<span>([^<]*)</span>", nav).group(1), 'rel="next"' in nav


def test_list_pages_through_overdue_open_and_verified_in_order(
    app, client, auth, officer, register
):
    """The list is read in parts (overdue, other unverified, verified; each by deadline then
    code): page after page gives the order of ``overdue_first_ordering``, and past
    LIST_COUNT_CAP rows it says "more than"."""
    with app.app_context():
        fixers = gen_contractor("Fixers Ltd").id
        officer_user = user_by_email(officer)
        for number, (status, found_on, deadline) in enumerate(
            [
                ("rectifying", "2026-01-20", "2026-02-20"),  # overdue
                ("open", "2026-03-01", "2026-03-10"),  # due today: not overdue
                ("verified", "2026-01-02", "2026-04-01"),
                ("rectified", "2026-03-05", "2026-03-20"),
                ("open", "2026-02-01", "2026-03-01"),  # overdue, the same deadline as one
            ]
        ):
            hazard = create_hazard(
                {
                    "category": "blocked_exit",
                    "severity": "general",
                    "description": f"Hazard {number}",
                    "longitude": INSIDE_G2_02[0],
                    "latitude": INSIDE_G2_02[1],
                    "found_on": found_on,
                    "deadline": deadline,
                    "responsible_contractor_id": fixers,
                },
                found_by=officer_user,
            )
            hazard.status = status
        db.session.commit()
        ruled = db.session.scalars(
            select(Hazard.code).order_by(*overdue_first_ordering(FROZEN.date()))
        ).all()
    app.config["LIST_COUNT_CAP"] = 4
    auth.login(officer)
    pages = [client.get(f"/hazards/?per_page=2&page={page}") for page in range(1, 6)]
    assert [code for page in pages for code in listed(page)] == ruled
    assert len(ruled) == 9
    assert [result_count(page) for page in pages] == [
        "More than 4 hazards found.",
        "More than 4 hazards found.",
        "More than 6 hazards found.",
        "More than 8 hazards found.",
        "9 hazards found.",
    ]
    assert [pager(page) for page in pages] == [
        ("Page 1 of more than 2", True),
        ("Page 2 of more than 2", True),
        ("Page 3 of more than 3", True),
        ("Page 4 of more than 4", True),
        ("Page 5 of 5", False),
    ]
    assert result_count(client.get("/hazards/?status=verified")) == "2 hazards found."
    assert overdue_count(pages[0]) == 3
    export = client.get("/hazards/export.csv").get_data(as_text=True)
    assert [line.split(",")[0] for line in export.strip().splitlines()[1:]] == ruled


def test_list_paginates(client, auth, officer, register):
    auth.login(officer)
    first = client.get("/hazards/?per_page=3")
    second = client.get("/hazards/?per_page=3&page=2")
    assert len(listed(first)) == 3 and len(listed(second)) == 1
    assert "page=2" in first.get_data(as_text=True)


# --- Contractor isolation ----------------------------------------------------------------


def test_a_contractor_sees_only_its_hazards(app, client, auth, contractor_user, register):
    auth.login(contractor_user)
    assert set(listed(client.get("/hazards/"))) == {register["fixers"], register["asset"]}
    assert client.get(f"/hazards/{register['fixers']}").status_code == 200
    before = counts(app)
    other = register["overdue"]
    assert client.get(f"/hazards/{other}").status_code == 404
    assert client.post(f"/hazards/{other}/status", data={"status": "rectifying"}).status_code == 404
    assert client.post(f"/hazards/{other}/reopen", data={"reason": "x"}).status_code == 404
    upload = {"stage": "after", "photos": (io.BytesIO(png_bytes()), "a.png")}
    assert client.post(f"/hazards/{other}/photos", data=upload).status_code == 404
    assert client.get(f"/hazards/{other}/edit").status_code == 403
    assert counts(app) == before
    assert status_of(app, other) == "open"


def test_photos_are_served_only_to_those_who_see_the_hazard(
    app, client, auth, officer, contractor_user, register
):
    auth.login(officer)
    for code in (register["overdue"], register["fixers"]):
        upload = {"stage": "before", "photos": (io.BytesIO(png_bytes()), "p.png")}
        assert client.post(f"/hazards/{code}/photos", data=upload).status_code == 302
    with app.app_context():
        ids = dict(db.session.execute(select(Hazard.code, Photo.id).join(Photo.hazard)).all())
    response = client.get(f"/hazards/photos/{ids[register['overdue']]}")
    assert response.status_code == 200
    assert response.data == png_bytes()
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in response.headers["Cache-Control"]
    auth.logout()
    auth.login(contractor_user)
    assert client.get(f"/hazards/photos/{ids[register['overdue']]}").status_code == 404
    assert client.get(f"/hazards/photos/{ids[register['fixers']]}").status_code == 200
    assert client.get("/hazards/photos/99999").status_code == 404


# --- Reporting ------------------------------------------------------------------------------


def test_report_form_shows_the_default_deadlines(client, auth, contractor_user, register):
    auth.login(contractor_user)
    page = client.get("/hazards/new").get_data(as_text=True)
    assert "30 days" in page and "7 for a major" in page
    assert "js/hazard_form.js" in page
    assert "Others Co" not in page  # another contractor is never offered


def test_a_contractor_reports_a_hazard_with_a_photo(app, client, auth, contractor_user, register):
    auth.login(contractor_user)
    data = report(photos=(io.BytesIO(png_bytes()), "stairwell.png"))
    response = client.post("/hazards/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/hazards/HZ-2026-0005")
    with app.app_context():
        hazard = db.session.scalar(select(Hazard).where(Hazard.code == "HZ-2026-0005"))
        assert hazard.grid.code == "G2-02"
        assert hazard.deadline == D("2026-03-17")  # major: 7 days from today
        assert hazard.reported_by_contractor.name == "Fixers Ltd"
        (photo,) = hazard.photos
        assert photo.stage == "before"
        assert (Path(app.config["PHOTO_DIR"]) / photo.stored_name).read_bytes() == png_bytes()
    detail = client.get("/hazards/HZ-2026-0005")
    assert detail.status_code == 200
    assert f"/hazards/photos/{photo.id}" in detail.get_data(as_text=True)


def test_a_report_at_an_asset_takes_its_point(app, client, auth, officer, register):
    auth.login(officer)
    data = report(longitude="", latitude="", asset_code="cs-001")
    assert client.post("/hazards/new", data=data).status_code == 302
    with app.app_context():
        hazard = db.session.scalar(select(Hazard).order_by(Hazard.id.desc()).limit(1))
        assert (hazard.asset.code, hazard.grid.code) == ("CS-001", "G1-01")
        assert hazard.responsible_company.name == "Harbour Property"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"found_on": "2026-03-08", "deadline": "2026-03-07"}, "Must not be before the day"),
        ({"asset_code": "CS-999", "longitude": "", "latitude": ""}, "No asset has this code"),
        ({"longitude": "119.5", "latitude": "36.9"}, "outside every grid"),
        ({"responsible": "contractor:999"}, "Unknown."),
        ({"photos": b"GIF89a not really"}, "not a readable image"),
    ],
)
def test_bad_reports_re_render_with_a_message_and_write_nothing(
    app, client, auth, contractor_user, register, overrides, message
):
    auth.login(contractor_user)
    before, files = counts(app), photo_files(app)
    data = report(photos=(io.BytesIO(png_bytes()), "good.png"))
    data.update(overrides)
    if isinstance(data["photos"], bytes):  # a fresh stream for each run
        data["photos"] = (io.BytesIO(data["photos"]), "x.png")
    response = client.post("/hazards/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert "Three e-bikes charging in the stairwell" in page  # the input is kept
    assert counts(app) == before
    assert photo_files(app) == files


def test_an_oversized_photo_is_refused(app, client, auth, officer, register):
    app.config["PHOTO_MAX_BYTES"] = 100
    auth.login(officer)
    before = counts(app)
    data = report(photos=(io.BytesIO(png_bytes(64, 64, (1, 2, 3)) + b"\0" * 200), "big.png"))
    response = client.post("/hazards/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "larger than" in response.get_data(as_text=True)
    assert counts(app) == before
    assert photo_files(app) == []


# --- Status steps ---------------------------------------------------------------------------


def test_a_status_step_with_an_after_photo(app, client, auth, contractor_user, register):
    auth.login(contractor_user)
    code = register["fixers"]
    page = client.get(f"/hazards/{code}").get_data(as_text=True)
    assert 'value="rectified"' in page and 'value="verified"' not in page
    assert 'id="reopen-form"' not in page
    data = {
        "status": "rectified",
        "note": "Exit cleared",
        "photos": (io.BytesIO(png_bytes()), "a.png"),
    }
    response = client.post(f"/hazards/{code}/status", data=data)
    assert response.status_code == 302
    assert status_of(app, code) == "rectified"
    with app.app_context():
        hazard = db.session.scalar(select(Hazard).where(Hazard.code == code))
        event = hazard.events[-1]
        assert (event.to_status, event.actor, event.note) == (
            "rectified",
            contractor_user,
            "Exit cleared",
        )
        assert [photo.stage for photo in hazard.photos] == ["after"]
    timeline = client.get(f"/hazards/{code}").get_data(as_text=True)
    assert "Exit cleared" in timeline and contractor_user in timeline


def test_an_illegal_step_shows_a_message_and_writes_nothing(app, client, auth, officer, register):
    auth.login(officer)
    code = register["overdue"]
    before = counts(app)
    response = client.post(f"/hazards/{code}/status", data={"status": "verified"})
    assert response.status_code == 409
    assert "cannot go from Open to Verified" in response.get_data(as_text=True)
    assert client.post(f"/hazards/{code}/status", data={"status": "closed"}).status_code == 400
    assert counts(app) == before
    assert status_of(app, code) == "open"


def test_a_contractor_cannot_verify_or_reopen(app, client, auth, contractor_user, register):
    auth.login(contractor_user)
    code = register["asset"]  # rectified, reported by Fixers Ltd
    before = counts(app)
    response = client.post(f"/hazards/{code}/status", data={"status": "verified"})
    assert response.status_code == 403
    assert "Only a safety officer verifies" in response.get_data(as_text=True)
    response = client.post(f"/hazards/{code}/reopen", data={"reason": "not fixed"})
    assert response.status_code == 403
    assert counts(app) == before
    assert status_of(app, code) == "rectified"


def test_an_officer_verifies_and_reopens_with_a_reason(app, client, auth, officer, register):
    auth.login(officer)
    code = register["asset"]
    assert client.post(f"/hazards/{code}/status", data={"status": "verified"}).status_code == 302
    before = counts(app)
    response = client.post(f"/hazards/{code}/reopen", data={"reason": "  "})
    assert response.status_code == 400
    assert "Give a reason for reopening" in response.get_data(as_text=True)
    assert counts(app) == before
    response = client.post(f"/hazards/{code}/reopen", data={"reason": "Cable is back"})
    assert response.status_code == 302
    assert status_of(app, code) == "open"
    assert "Cable is back" in client.get(f"/hazards/{code}").get_data(as_text=True)


def test_a_photo_upload_needs_an_image(app, client, auth, officer, register):
    auth.login(officer)
    code = register["overdue"]
    before = counts(app)
    upload = {"stage": "before", "photos": (io.BytesIO(b"%PDF-1.4"), "scan.jpg")}
    response = client.post(f"/hazards/{code}/photos", data=upload)
    assert response.status_code == 400
    assert "not a readable image" in response.get_data(as_text=True)
    assert client.post(f"/hazards/{code}/photos", data={"stage": "before"}).status_code == 400
    assert counts(app) == before
    assert photo_files(app) == []


# --- Staff edit -----------------------------------------------------------------------------


def test_staff_edit_keeps_the_deadline_after_the_finding(app, client, auth, officer, register):
    auth.login(officer)
    code = register["overdue"]  # found 1 February
    form = client.get(f"/hazards/{code}/edit")
    assert form.status_code == 200 and 'value="2026-03-01"' in form.get_data(as_text=True)
    before = counts(app)
    data = {"severity": "general", "deadline": "2026-01-31", "description": "x", "responsible": ""}
    response = client.post(f"/hazards/{code}/edit", data=data)
    assert response.status_code == 400
    assert "Must not be before the day" in response.get_data(as_text=True)
    assert counts(app) == before
    data["deadline"] = "2026-03-20"
    assert client.post(f"/hazards/{code}/edit", data=data).status_code == 302
    with app.app_context():
        hazard = db.session.scalar(select(Hazard).where(Hazard.code == code))
        assert (hazard.deadline, hazard.severity) == (D("2026-03-20"), "general")
        assert db.session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.entity_key == code, AuditEntry.action == "update"
            )
        )
    assert overdue_count(client.get("/hazards/")) == 0


# --- Evidence: after photos, verification and rework -------------------------------------


def test_rectifying_without_an_after_photo_is_refused_and_writes_nothing(
    app, client, auth, contractor_user, register
):
    auth.login(contractor_user)
    code = register["fixers"]
    page = client.get(f"/hazards/{code}").get_data(as_text=True)
    assert 'id="step-rectified"' in page and 'enctype="multipart/form-data"' in page
    assert "<select" not in page.split('id="next-steps"')[1]  # buttons, not a dropdown
    assert "data-confirm=" in page  # asked by static/js/app.js
    before = counts(app)
    response = client.post(f"/hazards/{code}/status", data={"status": "rectified", "note": "x"})
    assert response.status_code == 400
    assert "at least one photo" in response.get_data(as_text=True)
    assert counts(app) == before and photo_files(app) == []
    assert status_of(app, code) == "rectifying"


def test_an_officer_compares_photos_and_may_verify_or_return_for_rework(
    app, client, auth, officer, register
):
    auth.login(officer)
    code = register["asset"]  # rectified
    page = client.get(f"/hazards/{code}").get_data(as_text=True)
    assert 'id="verification"' in page
    assert 'id="compare-before"' in page and 'id="compare-after"' in page
    assert 'id="button-verified"' in page and 'id="button-rework"' in page
    assert page.count("data-confirm=") >= 3  # verify, return for rework, reopen
    before = counts(app)
    response = client.post(f"/hazards/{code}/rework", data={"reason": "   "})
    assert response.status_code == 400
    assert "Give a reason for returning it for rework" in response.get_data(as_text=True)
    assert counts(app) == before and status_of(app, code) == "rectified"
    response = client.post(f"/hazards/{code}/rework", data={"reason": "Cover still loose"})
    assert response.status_code == 302
    assert status_of(app, code) == "rectifying"
    page = client.get(f"/hazards/{code}").get_data(as_text=True)
    assert "Cover still loose" in page and 'id="button-rework"' not in page
    # a second time: only a rectified hazard is returned
    response = client.post(f"/hazards/{code}/rework", data={"reason": "again"})
    assert response.status_code == 409


def test_a_contractor_cannot_return_for_rework(app, client, auth, contractor_user, register):
    auth.login(contractor_user)
    code = register["asset"]
    page = client.get(f"/hazards/{code}").get_data(as_text=True)
    assert 'id="button-rework"' not in page and 'id="button-verified"' not in page
    before = counts(app)
    response = client.post(f"/hazards/{code}/rework", data={"reason": "fine"})
    assert response.status_code == 403
    assert counts(app) == before and status_of(app, code) == "rectified"
