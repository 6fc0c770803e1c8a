"""A failed inspection hands off to its hazard: the confirmation links the hazard, the hazard
names the failed items by label in the reader's language (pages, API, map, email), carries the
inspection's photos as "before" photos (the same files) and links back to the inspection; the
inspections API gives the checklist in force; each user chooses a language on /profile."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from accounts.models import User
from app import create_app
from core import clock
from core.extensions import db
from evidence.models import Photo
from hazards.models import Hazard
from inspections.models import Inspection
from tests import conftest, factories
from tests.factories import (
    CS_ITEMS,
    charging_station_data,
    gen_asset,
    gen_inspection,
    gen_user,
    png_bytes,
)

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 2026-03-10
CUTOFF = {"en": "Chargers cut off when the battery is full", "zh": "充满后自动断电"}
CAMERA = {"en": "Camera working", "zh": "摄像头工作正常"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now_utc", lambda: NOW)


@pytest.fixture
def field(app, district, officer, contractor_user):
    """CS-001 with a scheduled inspection for Fixers Ltd; another contractor's user."""
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_user("rival@example.org", "contractor", contractor="Rivals Inc")
        inspection = gen_inspection("CS-001", date(2026, 3, 10))
        db.session.commit()
        return inspection.id


def form_data(**changes) -> dict:
    data = {f"item_{key}": "pass" for key in CS_ITEMS}
    data.update(result="pass", notes="", completed_at="2026-03-10T09:45")
    data.update(changes)
    return data


def log_a_failure(client, auth, inspection_id: int, photos: int = 1):
    """The contractor logs a FAIL through the form (cut-off and camera failed), with photos."""
    auth.login("fixer@example.org")
    data = form_data(
        item_cutoff_when_full="fail", item_camera_working="fail", result="fail", notes="Cable hot"
    )
    data["photos"] = [(io.BytesIO(png_bytes()), f"p{n}.png", "image/png") for n in range(photos)]
    return client.post(
        f"/inspections/{inspection_id}/log",
        data=data,
        content_type="multipart/form-data",
        headers=EN,
        follow_redirects=True,
    )


def the_hazard(app) -> Hazard:
    with app.app_context():
        (hazard,) = db.session.scalars(select(Hazard)).all()
        db.session.expunge(hazard)
        return hazard


def visible_text(html: str) -> str:
    """The page's text without tags and attributes (keys may sit in data-item attributes)."""
    return re.sub(r"<[^>]*>", " ", html)


# --- The confirmation -----------------------------------------------------------------------


def test_the_confirmation_of_a_failure_links_the_hazard_it_opened(app, client, auth, field):
    response = log_a_failure(client, auth, field)
    assert response.status_code == 200
    assert response.request.path == f"/inspections/{field}"
    hazard = the_hazard(app)
    link = f'<a href="/hazards/{hazard.code}" id="opened-hazard">{hazard.code}</a>'
    assert link in response.text  # the flash: a link, not escaped text
    assert "The failure opened hazard" in response.text
    # the inspection's page keeps saying so after the flash is gone
    page = client.get(f"/inspections/{field}", headers=EN).text
    assert f'<a href="/hazards/{hazard.code}">{hazard.code}</a>' in page
    assert 'id="opened-hazard"' not in page


def test_a_pass_flashes_no_hazard(app, client, auth, field):
    auth.login("fixer@example.org")
    response = client.post(
        f"/inspections/{field}/log", data=form_data(), headers=EN, follow_redirects=True
    )
    assert "Result saved." in response.text
    assert "opened-hazard" not in response.text and "Hazard opened" not in response.text


# --- The hazard it opened -------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_hazard_page_names_the_failed_items_in_the_readers_language(
    app, client, auth, field, language
):
    log_a_failure(client, auth, field)
    hazard = the_hazard(app)
    auth.logout()
    auth.login("officer@example.org")
    client.get(f"/lang/{language}")
    page = client.get(f"/hazards/{hazard.code}").text
    items = re.search(r'<ul class="failed-items" id="failed-items">(.*?)</ul>', page).group(1)
    assert f'<li data-item="cutoff_when_full">{CUTOFF[language]}</li>' in items
    assert f'<li data-item="camera_working">{CAMERA[language]}</li>' in items
    assert "cutoff_when_full" not in visible_text(page)
    assert "Cable hot" in page  # the inspector's notes are the description
    # the inspection it came from, linked
    reference = re.search(r'<dd id="hazard-inspection">(.*?)</dd>', page, re.S).group(1)
    assert f'href="/inspections/{field}"' in reference and "CS-001" in reference


def test_the_label_is_looked_up_when_read_not_frozen_when_created(app, client, auth, field):
    """Logged in Chinese, read in English: the stored hazard keeps the keys."""
    auth.login("fixer@example.org")
    data = form_data(item_cutoff_when_full="fail", result="fail")
    client.post(f"/inspections/{field}/log", data=data, headers=ZH)
    hazard = the_hazard(app)
    assert hazard.failed_items == ["cutoff_when_full"]
    assert hazard.description == ""
    page = client.get(f"/hazards/{hazard.code}", headers=EN).text
    assert CUTOFF["en"] in page and CUTOFF["zh"] not in page


def test_the_hazard_carries_the_inspections_photos_as_before_photos(app, client, auth, field):
    log_a_failure(client, auth, field, photos=2)
    with app.app_context():
        hazard = db.session.scalar(select(Hazard))
        inspection = db.session.get(Inspection, field)
        assert hazard.inspection_id == field
        before = [photo for photo in hazard.photos if photo.stage == "before"]
        assert len(before) == 2 == len(inspection.photos)
        assert {p.stored_name for p in before} == {p.stored_name for p in inspection.photos}
        assert db.session.scalar(select(func.count(Photo.id))) == 4
        code, photo_ids = hazard.code, [photo.id for photo in before]
    assert len(list(Path(app.config["PHOTO_DIR"]).iterdir())) == 2  # no copies
    page = client.get(f"/hazards/{code}", headers=EN).text
    before_block = re.search(
        r'<div class="hazard-photo-stage" id="photos-before">(.*?)</div>', page, re.S
    )
    for photo_id in photo_ids:
        assert f'src="/hazards/photos/{photo_id}"' in before_block.group(1)
        response = client.get(f"/hazards/photos/{photo_id}")
        assert response.status_code == 200 and response.data == png_bytes()


def test_an_inspection_photo_is_served_whole_private_and_revalidated(app, client, auth, field):
    """Read whole (no file handle left to the server), cached privately, 304 when unchanged."""
    log_a_failure(client, auth, field)
    with app.app_context():
        (photo_id,) = [photo.id for photo in db.session.get(Inspection, field).photos]
    response = client.get(f"/inspections/photos/{photo_id}")
    assert response.status_code == 200 and response.data == png_bytes()
    assert not response.is_streamed
    cache_control = {part.strip() for part in response.headers["Cache-Control"].split(",")}
    assert cache_control == {"private", "max-age=3600"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get(
        f"/inspections/photos/{photo_id}", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""


def test_a_contractor_that_may_see_the_hazard_sees_its_photos_not_the_inspection(
    app, client, auth, field
):
    """Made responsible for the hazard, another contractor sees it and its "before" photos,
    but the inspection stays another company's: no link to it, its photos 404."""
    log_a_failure(client, auth, field)
    with app.app_context():
        hazard = db.session.scalar(select(Hazard))
        rivals = db.session.scalar(select(User).where(User.email == "rival@example.org"))
        hazard.responsible_contractor_id = rivals.contractor_id
        hazard.responsible_company_id = None
        db.session.commit()
        code = hazard.code
        (shared,) = [photo.id for photo in hazard.photos]
        (original,) = [photo.id for photo in db.session.get(Inspection, field).photos]
    auth.logout()
    auth.login("rival@example.org")
    page = client.get(f"/hazards/{code}", headers=EN)
    assert page.status_code == 200
    assert client.get(f"/hazards/photos/{shared}").status_code == 200
    reference = re.search(r'<dd id="hazard-inspection">(.*?)</dd>', page.text, re.S).group(1)
    assert "href" not in reference and f"#{field}" in reference
    assert client.get(f"/inspections/{field}").status_code == 404
    assert client.get(f"/inspections/photos/{original}").status_code == 404
    assert client.get(f"/hazards/photos/{original}").status_code == 404
    detail = client.get(f"/api/v1/hazards/{code}", headers=EN).json["properties"]
    assert [photo["id"] for photo in detail["photos"]] == [shared]


def test_staff_may_leave_a_failed_inspections_hazard_without_description(app, client, auth, field):
    log_a_failure(client, auth, field)
    hazard = the_hazard(app)
    auth.logout()
    auth.login("officer@example.org")
    client.get("/lang/en")
    response = client.post(
        f"/hazards/{hazard.code}/edit",
        data={
            "severity": "major",
            "deadline": "2026-03-20",
            "description": "",
            "responsible": "",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/hazards/{hazard.code}").text
    assert CUTOFF["en"] in page


# --- The API ------------------------------------------------------------------------------


@pytest.fixture
def fixer_api(app, client, field):
    with app.app_context():
        token = factories.gen_token("fixer@example.org")
        db.session.commit()
    return factories.BearerClient(client, token)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_inspection_api_gives_the_checklist_in_force(app, fixer_api, field, language):
    with app.app_context():
        plan = factories.gen_plan(checklist=["camera_working", "cutoff_when_full"])
        db.session.get(Inspection, field).plan_id = plan.id
        db.session.commit()
    headers = ZH if language == "zh" else EN
    body = fixer_api.get(f"/api/v1/inspections/{field}", headers=headers).json
    # the plan's subset, in the kind's order, labelled in the asked language
    assert body["checklist"] == [
        {"key": "cutoff_when_full", "label": CUTOFF[language]},
        {"key": "camera_working", "label": CAMERA[language]},
    ]
    assert body["hazard"] is None
    # a program fills it: answers keyed by the checklist
    answers = {item["key"]: "fail" for item in body["checklist"]}
    posted = fixer_api.post(
        f"/api/v1/inspections/{field}/result",
        json={"answers": answers, "result": "fail"},
        headers=headers,
    )
    assert posted.status_code == 201
    code = posted.json["hazard"]
    assert re.fullmatch(r"HZ-2026-\d{4}", code)
    hazard = fixer_api.get(f"/api/v1/hazards/{code}", headers=headers).json["properties"]
    assert hazard["failed_items"] == [
        {"key": "cutoff_when_full", "label": CUTOFF[language]},
        {"key": "camera_working", "label": CAMERA[language]},
    ]
    separator = "、" if language == "zh" else ", "
    prefix = "不合格项：" if language == "zh" else "Failed items: "
    assert hazard["description"] == prefix + separator.join([CUTOFF[language], CAMERA[language]])
    listed = fixer_api.get("/api/v1/hazards", headers=headers).json["features"]
    assert listed[0]["properties"]["description"] == hazard["description"]


def test_without_accept_language_the_api_speaks_the_users_language(app, fixer_api, field):
    with app.app_context():
        db.session.scalar(select(User).where(User.email == "fixer@example.org")).locale = "en"
        db.session.commit()
    body = fixer_api.get(f"/api/v1/inspections/{field}").json
    assert body["checklist"][0] == {"key": "cutoff_when_full", "label": CUTOFF["en"]}
    # a program that asks gets what it asks for
    body = fixer_api.get(f"/api/v1/inspections/{field}", headers=ZH).json
    assert body["checklist"][0]["label"] == CUTOFF["zh"]


def resolved(spec: dict, schema: dict) -> dict:
    """A schema whose $refs resolve against the spec's components."""
    return {**schema, "components": spec["components"]}


def test_the_openapi_document_describes_and_matches_the_checklist(app, fixer_api, field):
    import openapi_spec_validator
    from openapi_schema_validator import OAS30Validator

    spec = fixer_api.get("/api/v1/openapi.json").json
    openapi_spec_validator.validate(spec)
    schemas = spec["components"]["schemas"]
    assert schemas["ChecklistItem"]["properties"].keys() == {"key", "label"}
    detail = schemas["InspectionDetail"]
    checklist = next(
        part["properties"]["checklist"]
        for part in [detail, *detail.get("allOf", [])]
        if "checklist" in part.get("properties", {})
    )
    assert checklist["items"]["$ref"] == "#/components/schemas/ChecklistItem"
    get = spec["paths"]["/api/v1/inspections/{id}"]["get"]["responses"]["200"]
    post = spec["paths"]["/api/v1/inspections/{id}/result"]["post"]["responses"]["201"]
    for response in (get, post):
        ref = response["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/InspectionDetail"
    hazard_properties = schemas["HazardProperties"]["properties"]
    assert hazard_properties["failed_items"]["items"]["$ref"] == (
        "#/components/schemas/ChecklistItem"
    )
    # the document is true: the answers validate against it
    validator = OAS30Validator(resolved(spec, {"$ref": "#/components/schemas/InspectionDetail"}))
    validator.validate(fixer_api.get(f"/api/v1/inspections/{field}").json)
    answers = {key: "pass" for key in CS_ITEMS} | {"camera_working": "fail"}
    posted = fixer_api.post(
        f"/api/v1/inspections/{field}/result", json={"answers": answers, "result": "fail"}
    ).json
    validator.validate(posted)
    validator = OAS30Validator(resolved(spec, {"$ref": "#/components/schemas/HazardDetail"}))
    validator.validate(fixer_api.get(f"/api/v1/hazards/{posted['hazard']}").json)


# --- The map popup --------------------------------------------------------------------------


def test_the_map_popup_names_the_failed_items_in_the_readers_language(app, client, auth, field):
    app.config["MAP_TILES"] = "none"
    log_a_failure(client, auth, field)
    assert client.get("/map", headers=ZH).status_code == 200
    (code,) = client.get("/api/v1/map/hazards").json["hazards"]["code"]
    html = client.get(f"/map/hazard-popup/{code}", headers=ZH).text  # fetched on click
    assert "不合格项：" + CUTOFF["zh"] + "、" + CAMERA["zh"] + "\nCable hot" in html
    assert "cutoff_when_full" not in html


# --- A language per user ----------------------------------------------------------------------


def test_a_user_who_chose_english_reads_english_whatever_the_browser_says(app, client, auth, field):
    auth.login("fixer@example.org")
    page = client.get("/inspections/", headers=ZH).text
    assert '<html lang="zh-CN">' in page
    assert 'href="/profile"' in page  # the header links the profile page
    profile = client.get("/profile", headers=ZH)
    assert profile.status_code == 200 and "个人资料" in profile.text
    response = client.post("/profile", data={"locale": "en"}, headers=ZH, follow_redirects=True)
    assert response.status_code == 200
    assert "Your settings are saved." in response.text
    assert '<html lang="en">' in response.text
    with app.app_context():
        assert db.session.scalar(select(User.locale).where(User.email == "fixer@example.org")) == (
            "en"
        )
    for path in ("/inspections/", f"/inspections/{field}", "/hazards/", "/"):
        page = client.get(path, headers=ZH).text
        assert '<html lang="en">' in page, path
    # the header's switch no longer decides: the choice is changed on the profile page
    client.get("/lang/zh", headers=ZH)
    assert '<html lang="en">' in client.get("/inspections/", headers=ZH).text
    # handing the choice back: the browser and the switch decide again
    client.post("/profile", data={"locale": ""}, headers=ZH)
    assert '<html lang="zh-CN">' in client.get("/inspections/", headers=ZH).text
    client.get("/lang/en", headers=ZH)
    assert '<html lang="en">' in client.get("/inspections/", headers=ZH).text


def test_an_unknown_language_is_refused_and_nothing_changes(app, client, auth, field):
    auth.login("fixer@example.org")
    response = client.post("/profile", data={"locale": "fr"}, headers=EN)
    assert response.status_code == 400
    assert "Choose one of the offered languages." in response.text
    with app.app_context():
        assert db.session.scalar(select(User.locale).where(User.email == "fixer@example.org")) is (
            None
        )


def test_the_profile_page_needs_a_sign_in(client):
    response = client.get("/profile")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_weekly_email_follows_the_language_chosen_on_the_profile(database_url, monkeypatch):
    """A contractor's user with an overdue inspection chooses English on the profile page (its
    browser says Chinese); the weekly email to it is English, its company's desk's Chinese."""
    from tests.helpers import SmtpServer, alert_config, free_port, html_of, text_of, wait_for

    smtp = SmtpServer(free_port())
    smtp.start()
    alert_app = create_app(alert_config(database_url, smtp.port))
    try:
        with alert_app.app_context():
            factories.gen_district()
            gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
            factories.gen_contractor("Fixers Ltd").contact_email = "desk@fixers.example"
            gen_asset(charging_station_data(1))
            gen_inspection("CS-001", date(2026, 3, 1))  # overdue on 2026-03-10
            db.session.commit()
        client = alert_app.test_client()
        client.post("/login", data={"email": "fixer@example.org", "password": factories.PASSWORD})
        assert client.post("/profile", data={"locale": "en"}, headers=ZH).status_code == 302
        with alert_app.app_context():
            from alerts.services import send_weekly

            send_weekly()
        wait_for(lambda: len(smtp.inbox.to("fixer@example.org")) == 1)
        wait_for(lambda: len(smtp.inbox.to("desk@fixers.example")) == 1)
        (english,) = smtp.inbox.to("fixer@example.org")
        (chinese,) = smtp.inbox.to("desk@fixers.example")
        assert "overdue" in english["Subject"].lower()
        assert "CS-001" in text_of(english) and "Overdue" in html_of(english)
        assert re.search(r"[\u4e00-\u9fff]", chinese["Subject"])
        assert not re.search(r"[\u4e00-\u9fff]", english["Subject"])
    finally:
        smtp.stop()
        with alert_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_weekly_email_names_a_hazards_failed_items_in_each_recipients_language(
    database_url, monkeypatch
):
    from tests.helpers import SmtpServer, alert_config, free_port, text_of, wait_for

    smtp = SmtpServer(free_port())
    smtp.start()
    alert_app = create_app(alert_config(database_url, smtp.port))
    try:
        with alert_app.app_context():
            from hazards.services import open_hazard_for_failed_inspection

            factories.gen_district()
            gen_user("officer@example.org", "officer").locale = "en"
            gen_user("admin@example.org", "admin").locale = "zh"
            fixer = gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
            gen_asset(charging_station_data(1))
            inspection = gen_inspection("CS-001", date(2026, 1, 10))
            inspection.answers = {key: "pass" for key in CS_ITEMS} | {"cutoff_when_full": "fail"}
            inspection.completed_at = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)
            open_hazard_for_failed_inspection(inspection, fixer)  # overdue since 2026-02-09
            db.session.commit()
            from alerts.services import send_weekly

            send_weekly()
        wait_for(lambda: len(smtp.inbox.to("admin@example.org")) == 1)
        wait_for(lambda: len(smtp.inbox.to("officer@example.org")) == 1)
        assert "不合格项：" + CUTOFF["zh"] in text_of(smtp.inbox.to("admin@example.org")[0])
        english = text_of(smtp.inbox.to("officer@example.org")[0])
        assert "Failed items: " + CUTOFF["en"] in english
        assert "cutoff_when_full" not in english
    finally:
        smtp.stop()
        with alert_app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- The migration of hazards opened before 0008 ----------------------------------------------


def test_migration_0008_keeps_the_keys_and_shares_the_photos_of_older_hazards(backend, tmp_path):
    """A database before 0008 with a hazard whose description named the failed items by key."""
    from flask_migrate import downgrade

    url = conftest.migrated_database(backend, tmp_path, "_mig0008")
    app = create_app(conftest.test_config(url))
    with app.app_context():
        downgrade(revision="0007")
        factories.gen_district()
        # the contractor only: a user row of today's model does not fit the schema of 0007
        factories.gen_contractor("Fixers Ltd")
        gen_asset(charging_station_data(1))
        db.session.commit()
        connection = db.session.connection()
        # in SQL: a row of today's model has columns (cancelled_at, 0012) the schema of 0007 lacks
        connection.execute(
            text(
                "INSERT INTO inspections (asset_id, contractor_id, due_on, status, flagged, "
                "created_at) SELECT assets.id, contractors.id, '2026-03-01', 'scheduled', "
                ":no, :now FROM assets, contractors"
            ),
            {"no": False, "now": NOW},
        )
        inspection = SimpleNamespace(
            **connection.execute(text("SELECT id, asset_id FROM inspections")).one()._asdict()
        )
        connection.execute(
            text(
                "UPDATE inspections SET status = 'completed', result = 'fail', answers = :answers "
                "WHERE id = :id"
            ),
            {
                "answers": '{"cutoff_when_full": "fail", "camera_working": "pass"}',
                "id": inspection.id,
            },
        )
        asset_id = inspection.asset_id
        hazard_rows = [
            ("HZ-2026-0001", "不合格项：cutoff_when_full\n线缆发烫", inspection.id),
            ("HZ-2026-0002", "Inspection failed.", inspection.id),
            ("HZ-2026-0003", "Failed items: x in the hall", None),
        ]
        for code, description, inspection_id in hazard_rows:
            connection.execute(
                text(
                    "INSERT INTO hazards (code, category, severity, description, location, "
                    "asset_id, inspection_id, found_on, deadline, status, status_changed_at, "
                    "created_at, updated_at) VALUES (:code, 'charger_fault', 'general', "
                    ":description, (SELECT location FROM assets WHERE id = :asset), :asset, "
                    ":inspection, '2026-03-01', '2026-03-31', 'open', :now, :now, :now)"
                ),
                {
                    "code": code,
                    "description": description,
                    "asset": asset_id,
                    "inspection": inspection_id,
                    "now": NOW,
                },
            )
        connection.execute(
            text(
                "INSERT INTO photos (stored_name, content_type, size_bytes, width, height, "
                "inspection_id, uploaded_at) VALUES ('abc.png', 'image/png', 10, 4, 3, :id, :now)"
            ),
            {"id": inspection.id, "now": NOW},
        )
        db.session.commit()
        upgrade()
        db.session.expire_all()
        first, second, third = db.session.scalars(select(Hazard).order_by(Hazard.code)).all()
        assert (first.failed_items, first.description) == (["cutoff_when_full"], "线缆发烫")
        assert (second.failed_items, second.description) == (["cutoff_when_full"], "")
        assert (third.failed_items, third.description) == (None, "Failed items: x in the hall")
        assert [(p.stored_name, p.stage) for p in first.photos] == [("abc.png", "before")]
        assert [(p.stored_name, p.stage) for p in second.photos] == [("abc.png", "before")]
        # and back: the shared rows go, the file name is unique again
        db.session.commit()  # PostgreSQL: the read's locks would hold the migration's DDL
        downgrade(revision="0007")
        names = db.session.execute(text("SELECT stored_name, inspection_id FROM photos")).all()
        assert [tuple(row) for row in names] == [("abc.png", inspection.id)]
        db.session.remove()
        db.engine.dispose()
