"""Every route × every kind of user × every method, on a copy of the demo district.

``ACCESS`` names, for each endpoint (and method, where they differ), the rule it answers
to; ``RULES`` says what each rule gives each kind of user:

- anonymous: nobody signed in;
- own: the contractor (安消) whose inspection, hazard, photo and asset the sample ids name;
- other: the other contractor (鸢都), for whom those records do not exist (404);
- officer, scoped (an officer with a grid scope) and admin: the district's staff.

An answer is one of: ``ok`` (served: 2xx, a redirect that is not to the login page, or for a
write the form or a 4xx about its content: 400/409/422), ``login`` (302 to /login), 401,
403, 404, 410. A route that is not in ``ACCESS`` fails the test with its name: a new route
must say who may use it. Writes run on the copy (sent without their form fields, they are
refused for their content where they are allowed; the few that act on an id alone act on
throwaway records).
"""

from __future__ import annotations

import io
import re
import shutil

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from werkzeug.datastructures import FileStorage

from accounts.models import ApiToken, Contractor, User, UserSession
from accounts.services import create_user, issue_api_token
from alerts.models import AlertDelivery
from app import create_app
from assets.models import Asset
from core import spatial
from core.extensions import db
from demo.district import ACCOUNTS, ANXIAO, YUANDU
from evidence.photos import add_photos, check_photos
from hazards.models import Hazard
from inspections.calendar import create_feed
from inspections.models import Inspection, InspectionPlan, InspectionStatus
from tests import helpers
from tests.factories import png_bytes

pytestmark = pytest.mark.slow

ROLES = ("anonymous", "own", "other", "officer", "scoped", "admin")
PASSWORDS = {email: password for email, password, *_rest in ACCOUNTS}
ADMIN, OFFICER = ACCOUNTS[0][0], ACCOUNTS[1][0]
OWN, OTHER = ACCOUNTS[2][0], ACCOUNTS[3][0]
SCOPED = "scoped-officer@example.org"
SPARE_CONTRACTOR_USER = "spare@anxiao.example.cn"
SPARE_USER = "spare-officer@example.org"
SWEEP_PASSWORD = "sweep-password-2026"

PAGE = {"anonymous": "login"}
API = {"anonymous": 401}
STAFF = ("officer", "scoped", "admin")


def rule(anonymous, own, other, officer, scoped, admin) -> dict[str, object]:
    return dict(zip(ROLES, (anonymous, own, other, officer, scoped, admin), strict=True))


RULES = {
    "public": rule("ok", "ok", "ok", "ok", "ok", "ok"),
    "signed in": rule("login", "ok", "ok", "ok", "ok", "ok"),
    "staff": rule("login", 403, 403, "ok", "ok", "ok"),
    "admin": rule("login", 403, 403, 403, 403, "ok"),
    # A record of the own contractor: the other one gets 404 (it does not exist for him).
    "owned": rule("login", "ok", 404, "ok", "ok", "ok"),
    "contractor": rule("login", "ok", "ok", 403, 403, 403),
    "api signed in": rule(401, "ok", "ok", "ok", "ok", "ok"),
    "api staff write": rule(401, 403, 403, "ok", "ok", "ok"),
    "api staff": rule(401, 403, 403, "ok", "ok", "ok"),
    "api admin write": rule(401, 403, 403, 403, 403, "ok"),
    "api owned": rule(401, "ok", 404, "ok", "ok", "ok"),
    "api public": rule("ok", "ok", "ok", "ok", "ok", "ok"),
    "sign out": rule("login", "login", "login", "login", "login", "login"),
    # A step only staff take on a record the own contractor sees: 403 for him, 404 for the
    # other contractor.
    "staff on owned": rule("login", 403, 404, "ok", "ok", "ok"),
    # The calendar feed's tokens: contractors manage their own, admins any company's.
    "feed managers": rule("login", "ok", "ok", 403, 403, "ok"),
    # Records the demo does not have (no weekly alert sent yet, no upload pending): the rule
    # still keeps everyone else out.
    "staff, none here": rule("login", 403, 403, 404, 404, 404),
    "admin, none here": rule("login", 403, 403, 403, 403, 404),
    # Another user's sign-in or token: nobody's to end from the profile page.
    "own only": rule("login", 404, 404, 404, 404, 404),
}

# endpoint, or (endpoint, method) where the methods differ → rule
ACCESS: dict[str | tuple[str, str], str] = {
    "static": "public",
    "maps.static": "public",
    "core.healthz": "public",
    "core.switch_language": "public",
    "pwa.manifest": "public",
    "pwa.service_worker": "public",
    "calendar.feed": "public",
    "accounts.login": "public",
    "accounts.logout": "sign out",
    "accounts.profile": "signed in",
    "accounts.profile_password": "signed in",
    "accounts.profile_token_new": "signed in",
    "accounts.profile_token_revoke": "own only",
    "accounts.profile_session_revoke": "own only",
    "accounts.logout_everywhere": "sign out",
    "dashboard.index": "signed in",
    "dashboard.dashboard": "signed in",
    "dashboard.grid_list": "signed in",
    "maps.district": "signed in",
    "maps.asset_popup": "owned",
    "maps.hazard_popup": "owned",
    "maps_api.map_assets": "api signed in",
    "maps_api.map_hazards": "api signed in",
    "maps_api.map_grids": "api signed in",
    "assets.asset_list": "signed in",
    "assets.asset_export": "signed in",
    "assets.asset_detail": "owned",
    "assets.asset_new": "staff",
    "assets.asset_edit": "staff",
    "assets.asset_retire": "staff",
    "assets.asset_label": "staff",
    "assets.asset_label_svg": "staff",
    "assets.asset_label_png": "staff",
    "assets.asset_label_sheet": "staff",
    "inspections.inspection_list": "signed in",
    "inspections.inspection_export": "signed in",
    "inspections.inspection_detail": "owned",
    "inspections.inspection_log": "owned",
    "inspections.log_for_asset": "owned",
    "inspections.inspection_cancel": "staff",
    "inspections.inspection_bulk": "staff",
    "inspections.offline_list": "signed in",
    "inspections.inspection_photo": "owned",
    "hazards.hazard_list": "signed in",
    "hazards.hazard_export": "signed in",
    "hazards.hazard_detail": "owned",
    "hazards.hazard_new": "signed in",
    "hazards.hazard_edit": "staff",
    "hazards.hazard_photos": "owned",
    "hazards.hazard_status": "owned",
    # Rework: the service refuses a contractor (its own hazard's form again, 409), staff only.
    "hazards.hazard_rework": "owned",
    "hazards.hazard_reopen": "staff on owned",
    "hazards.hazard_photo": "owned",
    "calendar.feed_page": "signed in",
    "calendar.feed_new": "feed managers",
    "calendar.feed_revoke": "feed managers",
    "plans.plan_list": "staff",
    "plans.plan_detail": "staff",
    "plans.plan_new": "admin",
    "plans.plan_edit": "admin",
    "plans.plan_activate": "admin",
    "plans.plan_deactivate": "admin",
    "contractors.contractor_list": "staff",
    "contractors.contractor_detail": "staff",
    "contractors.contractor_new": "admin",
    "contractors.contractor_edit": "admin",
    "contractors.contractor_user_add": "admin",
    "contractors.contractor_user_deactivate": "admin",
    "contractors.contractor_user_reactivate": "admin",
    "alerts.alert_index": "staff",
    "alerts.alert_week": "staff, none here",
    "alerts.alert_delivery": "staff, none here",
    "imports.index": "admin",
    "imports.upload_file": "admin",
    "imports.preview": "admin, none here",
    "imports.apply": "admin, none here",
    "imports.cancel": "admin, none here",
    "users.user_list": "admin",
    "users.user_detail": "admin",
    "users.user_new": "admin",
    "users.user_deactivate": "admin",
    "users.user_reactivate": "admin",
    "users.user_password": "admin",
    "users.user_password_generate": "admin",
    "users.user_scope": "admin",
    "users.user_role": "admin",
    "users.user_token_revoke": "admin",
    "users.user_tokens_revoke": "admin",
    "api-docs.openapi_json": "api public",
    "assets_api.list_assets": "api signed in",
    "assets_api.get_asset": "api owned",
    "assets_api.create_asset_view": "api staff write",
    "assets_api.update_asset_view": "api staff write",
    "assets_api.list_grids": "api signed in",
    "inspections_api.list_inspections": "api signed in",
    "inspections_api.get_inspection": "api owned",
    "inspections_api.post_result": "api owned",
    "hazards_api.list_hazards": "api signed in",
    "hazards_api.get_hazard": "api owned",
    "hazards_api.create_hazard_view": "api signed in",
    "hazards_api.transition_hazard": "api owned",
    "plans_api.list_plans": "api staff",
    "plans_api.get_plan": "api staff",
    "plans_api.create_plan_view": "api admin write",
    "plans_api.update_plan_view": "api admin write",
}

# Asked last, in this order: a new feed token revokes the sample one, signing out ends the
# session.
LAST = (
    "calendar.feed_new",
    "calendar.feed_revoke",
    "accounts.logout_everywhere",
    "accounts.logout",
)


def sqlite_copy(source_url: str, target_path) -> str:
    module = spatial.sqlite_module()
    source = module.connect(make_url(source_url).database)
    target = module.connect(str(target_path))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return f"sqlite:///{target_path}"


def postgis_copy(source_url: str) -> str:
    source = make_url(source_url)
    target = source.set(database=f"{source.database}_sweep")
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(
            text(f'CREATE DATABASE "{target.database}" TEMPLATE "{source.database}"')
        )
    admin.dispose()
    return target.render_as_string(hide_password=False)


@pytest.fixture
def demo_copy(backend, demo_app, tmp_path):
    """An app on a writable copy of the demo district (the demo database stays as loaded)."""
    source = demo_app.config["SQLALCHEMY_DATABASE_URI"]
    with demo_app.app_context():
        db.session.remove()
        db.engine.dispose()
    if backend == "spatialite":
        url = sqlite_copy(source, tmp_path / "sweep.sqlite")
    else:
        url = postgis_copy(source)
    app = create_app(
        helpers.test_config(
            url, PHOTO_DIR=str(tmp_path / "photos"), IMPORT_DIR=str(tmp_path / "imports")
        )
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if backend == "spatialite":
        shutil.rmtree(tmp_path, ignore_errors=True)


def photo_upload() -> list[FileStorage]:
    return [FileStorage(io.BytesIO(png_bytes()), filename="p.png", content_type="image/png")]


def samples(app) -> dict[str, dict[str, object]]:
    """Each endpoint's URL values: records of the own contractor (安消), and throwaway
    records for the writes that act on an id alone."""
    with app.app_context():
        own = db.session.scalar(select(Contractor).where(Contractor.name == ANXIAO))
        other = db.session.scalar(select(Contractor).where(Contractor.name == YUANDU))
        others_assets = select(Inspection.asset_id).where(Inspection.contractor_id == other.id)
        asset = db.session.scalar(
            select(Asset)
            .join(Inspection, Inspection.asset_id == Asset.id)
            .where(Inspection.contractor_id == own.id, Asset.id.not_in(others_assets))
            .order_by(Asset.code)
            .limit(1)
        )
        inspection = db.session.scalar(
            select(Inspection)
            .where(
                Inspection.contractor_id == own.id,
                Inspection.status == InspectionStatus.SCHEDULED,
                Inspection.asset_id == asset.id,
            )
            .order_by(Inspection.due_on)
            .limit(1)
        ) or db.session.scalar(
            select(Inspection)
            .where(
                Inspection.contractor_id == own.id,
                Inspection.status == InspectionStatus.SCHEDULED,
            )
            .order_by(Inspection.due_on)
            .limit(1)
        )
        hazard = db.session.scalar(
            select(Hazard)
            .where(
                (Hazard.reported_by_contractor_id == own.id)
                | (Hazard.responsible_contractor_id == own.id),
                Hazard.reported_by_contractor_id.is_distinct_from(other.id),
                Hazard.responsible_contractor_id.is_distinct_from(other.id),
            )
            .order_by(Hazard.code)
            .limit(1)
        )
        assert asset is not None and inspection is not None and hazard is not None
        [inspection_photo] = add_photos(check_photos(photo_upload()), inspection_id=inspection.id)
        [hazard_photo] = add_photos(
            check_photos(photo_upload()), hazard_id=hazard.id, stage="before"
        )
        create_user(SCOPED, SWEEP_PASSWORD, "officer", grid="G1")
        spare = create_user(SPARE_CONTRACTOR_USER, SWEEP_PASSWORD, "contractor", ANXIAO)
        spare_officer = create_user(SPARE_USER, SWEEP_PASSWORD, "officer")
        issue_api_token(spare_officer)
        feed = create_feed(own, None)
        db.session.flush()
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == spare_officer.id))
        # The other contractor's plan: deactivating it drops its scheduled inspections.
        plan = db.session.scalar(
            select(InspectionPlan)
            .where(InspectionPlan.contractor_id == other.id)
            .order_by(InspectionPlan.id)
            .limit(1)
        )
        delivery = db.session.scalar(select(AlertDelivery).order_by(AlertDelivery.id).limit(1))
        values = {
            "asset": {"code": asset.code},
            "inspection": {"id": inspection.id},
            "hazard": {"code": hazard.code},
            "inspection_photo": {"photo_id": inspection_photo.id},
            "hazard_photo": {"photo_id": hazard_photo.id},
            "feed": {"token": feed},
            "contractor": {"contractor_id": own.id, "user_id": spare.id},
            "user": {"user_id": spare_officer.id, "token_id": token.id},
            "plan": {"plan_id": plan.id, "id": plan.id},
            "delivery": {"delivery_id": delivery.id if delivery else 1},
            "week": {"week": "2026-W10"},
            "import": {"token": "0" * 32},
            "language": {"code": "en"},
            "static": {"filename": "favicon.svg"},
            "map_static": {"filename": "map.css"},
            "forms": {"calendar.feed_new": {"contractor": str(own.id)}},
        }
        db.session.commit()
        return values


SAMPLE_OF = {
    "static": "static",
    "maps.static": "map_static",
    "core.switch_language": "language",
    "calendar.feed": "feed",
    "maps.asset_popup": "asset",
    "maps.hazard_popup": "hazard",
    "inspections.log_for_asset": "asset",
    "inspections.inspection_photo": "inspection_photo",
    "hazards.hazard_photo": "hazard_photo",
    "alerts.alert_week": "week",
    "alerts.alert_delivery": "delivery",
    "plans_api.get_plan": "plan",
    "plans_api.update_plan_view": "plan",
    "accounts.profile_token_revoke": "user",
    "accounts.profile_session_revoke": "user",
}
SAMPLE_BY_PREFIX = {
    "assets": "asset",
    "assets_api": "asset",
    "inspections": "inspection",
    "inspections_api": "inspection",
    "hazards": "hazard",
    "hazards_api": "hazard",
    "plans": "plan",
    "contractors": "contractor",
    "users": "user",
    "imports": "import",
}


def url_values(endpoint: str, values: dict) -> dict:
    name = SAMPLE_OF.get(endpoint) or SAMPLE_BY_PREFIX.get(endpoint.split(".")[0])
    return dict(values.get(name, {})) if name else {}


def concrete(rule: str, values: dict) -> str:
    """The rule's path with each variable filled from ``values``."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda match: str(values[match.group(1)]), rule)


def answer(response) -> object:
    status = response.status_code
    if status == 302 and "/login" in response.headers.get("Location", ""):
        return "login"
    if status in (401, 403, 404, 410):
        return status
    return "ok"


def sign_in(app, role: str):
    client = app.test_client()
    email = {"own": OWN, "other": OTHER, "officer": OFFICER, "scoped": SCOPED, "admin": ADMIN}
    if role != "anonymous":
        password = PASSWORDS.get(email[role], SWEEP_PASSWORD)
        response = client.post("/login", data={"email": email[role], "password": password})
        assert response.status_code == 302, (role, response.status_code)
    return client


def another_users_sign_in(app) -> int:
    """The id of a live sign-in of the spare officer (none of the swept users')."""
    response = app.test_client().post(
        "/login", data={"email": SPARE_USER, "password": SWEEP_PASSWORD}
    )
    assert response.status_code == 302
    with app.app_context():
        return db.session.scalar(
            select(UserSession.id).join(User).where(User.email == SPARE_USER).limit(1)
        )


def test_every_route_has_an_access_rule_and_keeps_it(demo_copy):
    app = demo_copy
    values = samples(app)
    values["user"]["session_id"] = another_users_sign_in(app)
    requests = []
    missing = []
    for url_rule in app.url_map.iter_rules():
        for method in sorted(url_rule.methods - {"HEAD", "OPTIONS"}):
            name = ACCESS.get((url_rule.endpoint, method)) or ACCESS.get(url_rule.endpoint)
            if name is None:
                missing.append(f"{method} {url_rule.rule} ({url_rule.endpoint})")
                continue
            requests.append((url_rule.endpoint in LAST, url_rule, method, name))
    assert not missing, "routes without an access rule in ACCESS: " + ", ".join(missing)
    requests.sort(key=lambda each: LAST.index(each[1].endpoint) if each[0] else -1)
    clients = {role: sign_in(app, role) for role in ROLES}
    wrong = []
    counted = 0
    for _last, url_rule, method, name in requests:
        path = concrete(url_rule.rule, url_values(url_rule.endpoint, values))
        form = values["forms"].get(url_rule.endpoint, {})
        for role, client in clients.items():
            if method == "GET":
                response = client.get(path)
            else:
                response = client.open(path, method=method, data=form)
            counted += 1
            got, expected = answer(response), RULES[name][role]
            assert response.status_code < 500, (role, method, path, response.status_code)
            if got != expected:
                wrong.append(f"{role} {method} {path}: {got}, expected {expected} ({name})")
            response.close()
    assert not wrong, "\n".join(wrong)
    assert counted >= len(ROLES) * 90
