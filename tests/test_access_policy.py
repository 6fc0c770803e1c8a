"""The one access policy (accounts/access.py), pinned: every kind of user × every listing.

Two contractors work in one district. Staff see everything; each contractor's user sees its
own company's inspections, the hazards it reported or is responsible for, their photos and
the assets of its inspections; a contractor-role user without a company sees nothing. Each
listing below is read the way its users read it (pages, API, map, dashboard, photo URLs) and
must show exactly what the ownership rule gives.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from accounts import access
from accounts.models import User
from accounts.services import user_by_email
from assets.models import Asset
from core.extensions import db
from dashboard import stats
from evidence.models import Photo
from evidence.photos import add_photos, check_photos
from hazards.models import Hazard
from hazards.services import create_hazard
from inspections.models import Inspection
from tests import factories
from tests.factories import charging_station_data, gen_asset, gen_inspection, gen_user, png_bytes

pytestmark = pytest.mark.slow

USER_KINDS = ("admin", "officer", "fixers", "others", "no_company")
EMAILS = {
    "admin": "admin@example.org",
    "officer": "officer@example.org",
    "fixers": "fixer@example.org",
    "others": "other@example.org",
    "no_company": "nobody@example.org",
}
COMPANY = {"fixers": "Fixers Ltd", "others": "Others Co"}
PAST = date(2026, 1, 5)  # overdue whenever the suite runs


def photo_upload() -> list:
    return [FileStorage(io.BytesIO(png_bytes()), filename="p.png", content_type="image/png")]


@pytest.fixture
def two_companies(app, district, tmp_path):
    """CS-001 inspected by Fixers Ltd, CS-002 by Others Co, CS-003 by nobody; a hazard of
    each company and one of a property company; a photo on each company's record."""
    with app.app_context():
        for email in ("admin@example.org", "officer@example.org"):
            gen_user(email, email.split("@")[0])
        gen_user(EMAILS["fixers"], "contractor", contractor="Fixers Ltd")
        gen_user(EMAILS["others"], "contractor", contractor="Others Co")
        orphan = User(email=EMAILS["no_company"], role="contractor", contractor_id=None)
        orphan.set_password(factories.PASSWORD)
        db.session.add(orphan)
        for number in (1, 2, 3):
            gen_asset(charging_station_data(number))
        fixers_work = gen_inspection("CS-001", PAST, contractor="Fixers Ltd")
        gen_inspection("CS-002", PAST, contractor="Others Co")
        base = {"category": "other", "severity": "general", "description": "Found on a round"}
        fixers_hazard = create_hazard(
            {**base, "asset_code": "CS-001"}, found_by=user_by_email(EMAILS["fixers"])
        )
        others_hazard = create_hazard(
            {**base, "asset_code": "CS-002"}, found_by=user_by_email(EMAILS["others"])
        )
        create_hazard({**base, "asset_code": "CS-003"}, found_by=user_by_email(EMAILS["officer"]))
        add_photos(check_photos(photo_upload()), inspection_id=fixers_work.id)
        add_photos(check_photos(photo_upload()), hazard_id=others_hazard.id, stage="before")
        db.session.flush()
        assert fixers_hazard.reported_by_contractor_id is not None
        db.session.commit()


def owned_by(kind: str, model) -> set:
    """What ``kind`` must see of ``model``, from the rule written out by hand."""
    rows = db.session.scalars(select(model)).all()
    if kind in ("admin", "officer"):
        return {row.id for row in rows}
    if kind == "no_company":
        return set()
    company = COMPANY[kind]

    def owns(row) -> bool:
        if isinstance(row, Inspection):
            return row.contractor.name == company
        if isinstance(row, Hazard):
            parties = (row.reported_by_contractor, row.responsible_contractor)
            return any(party is not None and party.name == company for party in parties)
        if isinstance(row, Photo):
            return owns(row.inspection) if row.inspection is not None else owns(row.hazard)
        if isinstance(row, Asset):
            return any(owns(inspection) for inspection in row.inspections)
        raise AssertionError(row)

    return {row.id for row in rows if owns(row)}


@pytest.mark.parametrize("model", [Inspection, Hazard, Photo, Asset])
@pytest.mark.parametrize("kind", USER_KINDS)
def test_sql_filter_and_python_check_are_twins(app, two_companies, kind, model):
    with app.app_context():
        user = user_by_email(EMAILS[kind])
        by_sql = set(db.session.scalars(access.visible(user, model).with_only_columns(model.id)))
        by_python = {
            row.id for row in db.session.scalars(select(model)) if access.may_see(user, row)
        }
        assert by_sql == by_python == owned_by(kind, model)


def test_the_system_sees_everything(app, two_companies):
    with app.app_context():
        for model in (Inspection, Hazard, Photo, Asset):
            everything = set(db.session.scalars(select(model.id)))
            visible = access.visible(None, model).with_only_columns(model.id)
            assert set(db.session.scalars(visible)) == everything
            assert {
                row.id for row in db.session.scalars(select(model)) if access.may_see(None, row)
            } == everything


def listed_inspections_api(client) -> set:
    response = client.get("/api/v1/inspections?per_page=1000")
    assert response.status_code == 200
    return {item["id"] for item in response.get_json()["items"]}


def listed_inspections_page(client) -> set:
    page = client.get("/inspections/?per_page=200").get_data(as_text=True)
    return {
        inspection.id
        for inspection in db.session.scalars(select(Inspection))
        if f'href="/inspections/{inspection.id}"' in page
    }


def inspection_details(client) -> set:
    ids = set(db.session.scalars(select(Inspection.id)))
    return {i for i in ids if client.get(f"/inspections/{i}").status_code == 200}


def listed_hazards_api(client) -> set:
    response = client.get("/api/v1/hazards?per_page=1000")
    assert response.status_code == 200
    listed = {feature["id"] for feature in response.get_json()["features"]}
    return set(db.session.scalars(select(Hazard.id).where(Hazard.code.in_(listed))))


def hazard_details(client) -> set:
    hazards = db.session.scalars(select(Hazard)).all()
    return {h.id for h in hazards if client.get(f"/hazards/{h.code}").status_code == 200}


def photos_served(client) -> set:
    served = set()
    for photo in db.session.scalars(select(Photo)):
        prefix = "/inspections" if photo.inspection_id else "/hazards"
        with client.get(f"{prefix}/photos/{photo.id}") as response:
            if response.status_code == 200:
                served.add(photo.id)
    return served


def map_popups(client) -> set:
    assets = db.session.scalars(select(Asset)).all()
    return {a.id for a in assets if client.get(f"/map/popup/{a.code}").status_code == 200}


def asset_page_inspections(client) -> set:
    shown = set()
    for asset in db.session.scalars(select(Asset)):
        page = client.get(f"/assets/{asset.code}").get_data(as_text=True)
        shown |= {i.id for i in asset.inspections if f'data-inspection="{i.id}"' in page}
    return shown


def assets_with(client, url_of) -> set:
    """The assets whose URL (``url_of(code)``) is found (200, or a redirect onwards)."""
    assets = db.session.scalars(select(Asset)).all()
    return {a.id for a in assets if client.get(url_of(a.code)).status_code in (200, 302)}


def asset_ids(codes) -> set:
    return set(db.session.scalars(select(Asset.id).where(Asset.code.in_(list(codes)))))


def listed_assets_page(client) -> set:
    page = client.get("/assets/?per_page=200").get_data(as_text=True)
    assets = db.session.scalars(select(Asset)).all()
    return {a.id for a in assets if f'href="/assets/{a.code}"' in page}


def listed_assets_api(client, query: str = "") -> set:
    response = client.get(f"/api/v1/assets?per_page=1000{query}")
    assert response.status_code == 200
    return asset_ids(feature["id"] for feature in response.get_json()["features"])


def exported_assets(client) -> set:
    response = client.get("/assets/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    return asset_ids(row[0] for row in rows[1:])


LISTINGS = {
    "asset list page": (listed_assets_page, Asset),
    "asset pages": (lambda client: assets_with(client, lambda c: f"/assets/{c}"), Asset),
    "assets API": (listed_assets_api, Asset),
    "assets API by bbox": (
        lambda client: listed_assets_api(client, "&bbox=118.0,36.0,121.0,38.0"),
        Asset,
    ),
    "assets API search": (lambda client: listed_assets_api(client, "&q=CS"), Asset),
    "assets API items": (
        lambda client: assets_with(client, lambda c: f"/api/v1/assets/{c}"),
        Asset,
    ),
    "asset export": (exported_assets, Asset),
    "QR label's next inspection": (
        lambda client: assets_with(client, lambda c: f"/inspections/asset/{c}/next"),
        Asset,
    ),
    "inspections API": (listed_inspections_api, Inspection),
    "inspections page": (listed_inspections_page, Inspection),
    "inspection pages": (inspection_details, Inspection),
    "asset page inspections": (asset_page_inspections, Inspection),
    "hazards API": (listed_hazards_api, Hazard),
    "hazard pages": (hazard_details, Hazard),
    "photos": (photos_served, Photo),
    "map popups": (map_popups, Asset),
}


@pytest.mark.parametrize("listing", sorted(LISTINGS))
@pytest.mark.parametrize("kind", USER_KINDS)
def test_every_listing_follows_the_policy(app, client, auth, two_companies, kind, listing):
    read, model = LISTINGS[listing]
    auth.login(EMAILS[kind])
    with app.app_context():
        assert read(client) == owned_by(kind, model)


@pytest.mark.parametrize("kind", USER_KINDS)
def test_dashboard_counts_follow_the_policy(app, two_companies, kind):
    with app.app_context():
        user = user_by_email(EMAILS[kind])
        assert stats.overdue_count(user=user) == len(owned_by(kind, Inspection))
        open_hazards = sum(stats.open_hazards_by_severity(user).values())
        assert open_hazards == len(owned_by(kind, Hazard))
