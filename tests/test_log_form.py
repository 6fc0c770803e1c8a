"""The logging form without a browser: one set of position fields, the client's idempotency
key (a retry, a double tap or a second tab gives one result), the service worker, the web app
manifest and the contractor's offline list. The browser journeys are in test_log_browser.py."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from core.audit import AuditEntry
from core.extensions import db
from evidence.models import Photo
from hazards.models import Hazard
from inspections.models import Inspection
from tests.factories import (
    CS_ITEMS,
    INSIDE_G1_01,
    BearerClient,
    charging_station_data,
    gen_asset,
    gen_inspection,
    gen_token,
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
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_user("rival@example.org", "contractor", contractor="Rivals Inc")
        ids = {
            "overdue": gen_inspection("CS-001", date(2026, 3, 1)).id,
            "soon": gen_inspection("CS-001", date(2026, 3, 14)).id,
            "later": gen_inspection("CS-001", date(2026, 4, 10)).id,
            "rival": gen_inspection("CS-001", date(2026, 3, 12), contractor="Rivals Inc").id,
        }
        db.session.commit()
        return ids


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


def status_of(client, url: str) -> int:
    with client.get(url) as response:  # static files: closed, or a ResourceWarning
        return response.status_code


def inputs(page: str, name: str) -> list[str]:
    return re.findall(rf'<input[^>]*\bname="{name}"[^>]*>', page)


def test_the_form_has_one_set_of_position_fields(client, auth, contractor_user, field):
    """The hidden fields the script fills are the only ones: an empty second copy rendered
    before them (``form.hidden_tag()``) used to win, and the position was never saved."""
    auth.login(contractor_user)
    page = client.get(f"/inspections/{field['overdue']}/log").text
    for name in ("longitude", "latitude", "accuracy"):
        found = inputs(page, name)
        assert len(found) == 1, found
        assert f'id="stood-{name}"' in found[0]


def page_inputs(page: str, filled: dict[str, str]) -> list[tuple[str, str]]:
    """(name, value) of every input a browser would post, in page order: text and hidden
    inputs with their value (or ``filled[id]``, what a script put there), radios "pass"."""
    posted = []
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'\bname="([^"]+)"', tag)
        if name is None or 'type="file"' in tag:
            continue
        value = re.search(r'\bvalue="([^"]*)"', tag)
        tag_id = re.search(r'\bid="([^"]+)"', tag)
        if 'type="radio"' in tag:
            if value and value.group(1) == "pass":
                posted.append((name.group(1), "pass"))
            continue
        if tag_id and tag_id.group(1) in filled:
            posted.append((name.group(1), filled[tag_id.group(1)]))
        else:
            posted.append((name.group(1), value.group(1) if value else ""))
    return posted


def test_the_form_posts_the_position_the_script_filled_in(
    app, client, auth, contractor_user, field
):
    auth.login(contractor_user)
    page = client.get(f"/inspections/{field['overdue']}/log").text
    filled = {
        "stood-longitude": str(INSIDE_G1_01[0]),
        "stood-latitude": str(INSIDE_G1_01[1] + 0.00018),  # about 20 m north
        "stood-accuracy": "12",
    }
    data = MultiDict(page_inputs(page, filled))
    response = client.post(f"/inspections/{field['overdue']}/log", data=data)
    assert response.status_code == 302, response.text
    with app.app_context():
        inspection = db.session.get(Inspection, field["overdue"])
        assert inspection.stood_longitude == pytest.approx(INSIDE_G1_01[0])
        assert inspection.stood_latitude == pytest.approx(INSIDE_G1_01[1] + 0.00018)
        assert inspection.stood_accuracy_m == 12
        assert inspection.distance_m == pytest.approx(20, abs=1)
        assert inspection.flagged is False


# The idempotency key


KEY = "6f1c2a5e-3b7d-4e0a-9a51-2f8d7c4b1e90"


def body(**changes) -> dict:
    data = {"answers": dict.fromkeys(CS_ITEMS, "pass"), "result": "pass"}
    data.update(changes)
    return data


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


def test_the_api_answers_a_replayed_key_with_the_original_result(app, fixer, rival, field):
    url = f"/api/v1/inspections/{field['overdue']}/result"
    values = body(notes="Checked", longitude=INSIDE_G1_01[0], latitude=INSIDE_G1_01[1])
    first = fixer.post(url, json=values, headers={"Idempotency-Key": KEY})
    assert first.status_code == 201, first.json
    assert "Idempotent-Replayed" not in first.headers
    before = written(app)
    again = fixer.post(url, json=values, headers={"Idempotency-Key": KEY})
    assert again.status_code == 200, again.json
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert written(app) == before
    with app.app_context():
        assert db.session.get(Inspection, field["overdue"]).idempotency_key == KEY
    # Another key, or none, on the completed inspection: a conflict, as before.
    assert fixer.post(url, json=values, headers={"Idempotency-Key": "other"}).status_code == 409
    assert fixer.post(url, json=values).status_code == 409
    # The key proves nothing to a user who may not see the inspection.
    assert rival.post(url, json=values, headers={"Idempotency-Key": KEY}).status_code == 404
    assert written(app) == before


def test_the_key_may_be_a_field_of_a_multipart_body(app, fixer, field):
    url = f"/api/v1/inspections/{field['overdue']}/result"
    data = {
        "answers": json.dumps(dict.fromkeys(CS_ITEMS, "pass")),
        "result": "pass",
        "idempotency_key": KEY,
    }
    first = fixer.post(
        url,
        data={**data, "photos": (io.BytesIO(png_bytes()), "a.png")},
        content_type="multipart/form-data",
    )
    assert first.status_code == 201, first.json
    before = written(app)
    assert before[1] == 1
    again = fixer.post(
        url,
        data={**data, "photos": (io.BytesIO(png_bytes()), "a.png")},
        content_type="multipart/form-data",
    )
    assert (again.status_code, again.json) == (200, first.json)
    assert written(app) == before


@pytest.mark.parametrize(
    ("values", "headers"),
    [
        (body(idempotency_key="x" * 65), {}),
        (body(idempotency_key="not a key"), {}),
        (body(idempotency_key=KEY), {"Idempotency-Key": "another"}),
        (body(), {"Idempotency-Key": "<script>"}),
    ],
)
def test_a_bad_key_is_422_and_writes_nothing(app, fixer, field, values, headers):
    before = written(app)
    response = fixer.post(
        f"/api/v1/inspections/{field['overdue']}/result", json=values, headers=headers
    )
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]["json"]) == {"idempotency_key"}
    assert written(app) == before


def test_a_request_that_lost_the_race_sees_the_winner(app, contractor_user, field):
    """Two requests read the inspection as scheduled; the first completes it. The second
    writes nothing: the same key is answered with the first's result, another is a conflict."""
    from accounts.services import user_by_email
    from inspections.results import InspectionConflictError, record_result

    for key, inspection_id in ((KEY, field["overdue"]), ("second-tab", field["soon"])):
        with app.app_context():
            stale = db.session.get(Inspection, inspection_id)  # read: still scheduled
            assert stale.status == "scheduled"
            with app.app_context():  # the winner, in its own session
                winner = db.session.get(Inspection, inspection_id)
                record_result(
                    winner, user_by_email(contractor_user), body(notes="won", idempotency_key=KEY)
                )
                db.session.commit()
            loser = body(notes="lost", result="fail", idempotency_key=key)
            loser["answers"]["camera_working"] = "fail"
            if key == KEY:
                recorded = record_result(stale, user_by_email(contractor_user), loser)
                assert recorded.replayed is True
                assert recorded.inspection.notes == "won"
            else:
                with pytest.raises(InspectionConflictError):
                    record_result(stale, user_by_email(contractor_user), loser)
            db.session.rollback()
    assert written(app) == (2, 0, 2, 0)  # two results, two audit entries, no hazard


def test_the_form_posted_twice_gives_one_result(app, client, auth, contractor_user, field):
    auth.login(contractor_user)
    url = f"/inspections/{field['overdue']}/log"
    page = client.get(url).text
    (tag,) = inputs(page, "idempotency_key")
    key = re.search(r'value="([^"]+)"', tag).group(1)
    assert re.fullmatch(r"[0-9a-f-]{36}", key)
    assert key not in client.get(f"/inspections/{field['soon']}/log").text  # one per form
    data = {f"item_{item}": "pass" for item in CS_ITEMS}
    data.update(result="pass", notes="Fine", idempotency_key=key)
    first = client.post(url, data={**data, "photos": (io.BytesIO(png_bytes()), "a.png")})
    assert first.status_code == 302
    before = written(app)
    assert before == (1, 1, 1, 0)
    again = client.post(url, data={**data, "photos": (io.BytesIO(png_bytes()), "a.png")})
    assert again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    assert "Result saved." in client.get(again.headers["Location"]).text
    assert written(app) == before
    # A new form (another key) on the completed inspection is still refused.
    refused = client.post(url, data={**data, "idempotency_key": "another-form"})
    assert refused.status_code == 409
    assert written(app) == before


# Offline: the service worker, the manifest and the contractor's list


def test_the_service_worker_is_served_for_the_whole_app(app, client):
    response = client.get("/sw.js")  # no session: browsers check for updates on their own
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response.headers["Cache-Control"]
    config = json.loads(re.match(r"self\.SAR_CONFIG = (.*);\n", response.text).group(1))
    assert config["workbox"] == "/static/vendor/workbox-7.4.1/"
    assert "workbox-cdn" not in response.text and "googleapis" not in response.text
    urls = {entry["url"]: entry["revision"] for entry in config["precache"]}
    for url in (
        "/static/css/app.css",
        "/static/js/outbox.js",
        "/static/js/offline.js",
        "/static/js/inspection_log.js",
        "/static/vendor/piexifjs-1.0.6/piexif.js",
    ):
        assert re.fullmatch(r"[0-9a-f]{16}", urls[url])
        assert status_of(client, url) == 200
    for name in ("workbox-sw.js", "workbox-precaching.prod.js", "workbox-expiration.prod.js"):
        assert status_of(client, config["workbox"] + name) == 200


def test_the_manifest_makes_the_app_installable(app, client):
    response = app.test_client().get("/manifest.webmanifest")  # fetched without the session
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    assert manifest["name"] == "消防安全设施台账"  # no session: the district's language
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert status_of(client, icon["src"]) == 200


def test_every_page_links_the_manifest_and_the_outbox(client, auth, contractor_user, field):
    assert 'rel="manifest"' in client.get("/login").text
    auth.login(contractor_user)
    page = client.get("/inspections/").text
    assert 'href="/manifest.webmanifest"' in page
    assert 'data-offline-list="/inspections/offline.json"' in page
    assert 'id="outbox"' in page and "1 result waiting to send" in page
    assert "js/outbox.js" in page and "js/offline.js" in page


def test_the_offline_list_holds_the_contractors_week(app, client, auth, contractor_user, field):
    assert client.get("/inspections/offline.json").status_code == 302  # signed out: sign in
    auth.login(contractor_user)
    with app.app_context():
        completed = gen_inspection("CS-001", date(2026, 3, 11))
        completed.status = "completed"
        db.session.commit()
    response = client.get("/inspections/offline.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    # Overdue and due within 7 days; not later, not done, not another contractor's.
    assert [item["id"] for item in body["inspections"]] == [field["overdue"], field["soon"]]
    assert body["pages"] == [
        "/",
        "/inspections/",
        f"/inspections/{field['overdue']}/log",
        f"/inspections/{field['soon']}/log",
    ]
    assert body["csrf_token"]
    with app.app_context():
        from accounts.services import user_by_email

        assert body["user"] == user_by_email(contractor_user).id


def test_staff_have_no_week_to_keep(client, auth, officer, field):
    auth.login(officer)
    body = client.get("/inspections/offline.json").get_json()
    assert body["inspections"] == [] and body["pages"] == ["/", "/inspections/"]


def test_the_form_carries_what_its_script_needs(client, auth, contractor_user, field):
    auth.login(contractor_user)
    page = client.get(f"/inspections/{field['overdue']}/log").text
    form = re.search(r'<form [^>]*id="log-form"[^>]*>', page).group(0)
    assert f'data-api="/api/v1/inspections/{field["overdue"]}/result"' in form
    assert f'data-asset-longitude="{INSIDE_G1_01[0]}"' in form
    assert f'data-asset-latitude="{INSIDE_G1_01[1]}"' in form
    assert 'data-flag-distance="150"' in form and 'data-max-edge="1600"' in form
    assert "vendor/piexifjs-1.0.6/piexif.js" in page


@pytest.mark.parametrize(
    ("accuracy", "shown", "hidden"),
    [
        ("12", "± 12 m", "The position was imprecise"),
        ("400", "The position was imprecise: ± 400 m is more than 150 m", "No position"),
        (None, "No position was captured.", "Accuracy"),
    ],
)
def test_the_record_shows_a_doubtful_position(
    client, auth, contractor_user, field, accuracy, shown, hidden
):
    auth.login(contractor_user)
    data = {f"item_{item}": "pass" for item in CS_ITEMS}
    data.update(result="pass")
    if accuracy:
        data.update(longitude=str(INSIDE_G1_01[0]), latitude=str(INSIDE_G1_01[1]))
        data.update(accuracy=accuracy)
    assert client.post(f"/inspections/{field['overdue']}/log", data=data).status_code == 302
    page = client.get(f"/inspections/{field['overdue']}").text
    assert shown in page
    assert hidden not in page
