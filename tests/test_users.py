"""Accounts in the browser: the administrators' Users pages, every action and every refusal
(each refused one writes nothing), sessions and tokens that stop at once, and an officer's
grid scope (the weekly email, the default grid filter of his pages)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from accounts.models import ApiToken, Contractor, User, UserSession, secret_hash
from accounts.services import (
    AccountConflict,
    AccountError,
    create_user,
    deactivate_user,
    set_grid_scope,
    user_by_email,
)
from app import create_app
from assets.models import Grid
from core.audit import AuditEntry
from core.extensions import db
from tests import conftest, helpers
from tests.factories import (
    PASSWORD,
    blocker_data,
    charging_station_data,
    gen_alert_district,
    gen_asset,
    gen_contractor,
    gen_district,
    gen_hazard,
    gen_inspection,
    gen_token,
    gen_user,
)
from tests.helpers import html_of, text_of

NEW_PASSWORD = "a brand new secret"


def counts() -> tuple[int, int, int, int]:
    """(users, contractors, live API tokens, audit entries)."""
    return (
        db.session.scalar(select(func.count(User.id))),
        db.session.scalar(select(func.count(Contractor.id))),
        db.session.scalar(select(func.count(ApiToken.id)).where(ApiToken.revoked_at.is_(None))),
        db.session.scalar(select(func.count(AuditEntry.id))),
    )


def user_row(email: str) -> User:
    db.session.expire_all()
    return user_by_email(email)


def audit(action: str, email: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.entity_key == email)
            .order_by(AuditEntry.id)
        )
    )


def user_id(email: str) -> int:
    return db.session.scalar(select(User.id).where(User.email == email))


@pytest.fixture
def english(client):
    """The pages in English (the default language is Chinese)."""
    client.get("/lang/en")
    return client


@pytest.fixture
def people(app, district):
    """An admin, an officer with a token, a contractor company with one user; committed."""
    with app.app_context():
        gen_user("admin@example.org", "admin")
        gen_user("officer@example.org", "officer")
        gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
        gen_contractor("Blue Fire Co")
        token = gen_token("officer@example.org")
        db.session.commit()
    return {"officer_token": token}


@pytest.fixture
def as_admin(app, english, auth, people):
    auth.login("admin@example.org")
    return english


def other_client(app, email: str, password: str = PASSWORD, remember: bool = False):
    """A second browser, signed in as ``email``."""
    other = app.test_client()
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    assert other.post("/login", data=data).status_code == 302
    assert other.get("/").status_code == 200
    return other


def api_status(app, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return app.test_client().get("/api/v1/assets", headers=headers).status_code


def lands_on_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


# --- The list ----------------------------------------------------------------------------


def test_list_shows_every_user_with_role_contractor_scope_status_and_tokens(app, as_admin):
    with app.app_context():
        officer = user_by_email("officer@example.org")
        set_grid_scope(officer, "G1")
        db.session.commit()
    page = as_admin.get("/users/").get_data(as_text=True)
    for email in ("admin@example.org", "officer@example.org", "fixer@example.org"):
        assert f'data-user="{email}"' in page
    officer_row = page.split('data-user="officer@example.org"')[1].split("</tr>")[0]
    assert "Safety officer" in officer_row and "G1 Grid one" in officer_row
    assert re.search(r'class="count tokens">1<', officer_row)
    fixer_row = page.split('data-user="fixer@example.org"')[1].split("</tr>")[0]
    assert "Fixers Ltd" in fixer_row and "Contractor" in fixer_row
    assert "3 users found." in page


def test_list_filters_by_role_and_status_and_pages(app, as_admin):
    with app.app_context():
        deactivate_user(user_by_email("fixer@example.org"))
        for number in range(3):
            gen_user(f"officer{number}@example.org", "officer")
        db.session.commit()
    page = as_admin.get("/users/?role=officer").get_data(as_text=True)
    assert "4 users found." in page and "fixer@example.org" not in page
    page = as_admin.get("/users/?active=no").get_data(as_text=True)
    assert "1 users found." in page and 'data-user="fixer@example.org"' in page
    page = as_admin.get("/users/?active=yes&role=contractor").get_data(as_text=True)
    assert "0 users found." in page
    first = as_admin.get("/users/?role=officer&per_page=3").get_data(as_text=True)
    assert first.count("<tr data-user=") == 3
    assert "/users/?role=officer&amp;per_page=3&amp;page=2" in first
    second = as_admin.get("/users/?role=officer&per_page=3&page=2").get_data(as_text=True)
    assert second.count("<tr data-user=") == 1
    assert as_admin.get("/users/?role=boss").status_code == 400
    assert as_admin.get("/users/?active=maybe").status_code == 400


def test_header_links_users_for_admins_only(app, english, auth, people):
    auth.login("admin@example.org")
    assert 'href="/users/"' in english.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("officer@example.org")
    assert 'href="/users/"' not in english.get("/").get_data(as_text=True)


@pytest.mark.parametrize("email", ["officer@example.org", "fixer@example.org"])
def test_only_admins_may_use_the_users_pages(app, client, auth, people, email):
    auth.login(email)
    with app.app_context():
        target = user_id("officer@example.org")
        before = counts()
    for url in ("/users/", "/users/new", f"/users/{target}"):
        assert client.get(url).status_code == 403, url
    for url in (
        "/users/new",
        f"/users/{target}/deactivate",
        f"/users/{target}/reactivate",
        f"/users/{target}/password",
        f"/users/{target}/password/generate",
        f"/users/{target}/scope",
        f"/users/{target}/tokens/revoke",
        f"/users/{target}/tokens/1/revoke",
    ):
        assert client.post(url, data={"grid": "G1"}).status_code == 403, url
    with app.app_context():
        assert counts() == before


def test_unknown_user_is_404(as_admin):
    assert as_admin.get("/users/999").status_code == 404
    assert as_admin.post("/users/999/deactivate").status_code == 404


# --- Creating users ----------------------------------------------------------------------------


def new_user_form(**changes) -> dict:
    data = {
        "email": "Zhang.Wei@Example.org",
        "name": "Zhang Wei",
        "role": "officer",
        "contractor": "",
        "grid": "",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    data.update(changes)
    return data


def test_admin_creates_users_of_every_role(app, client, as_admin, auth):
    with app.app_context():
        blue = db.session.scalar(select(Contractor.id).where(Contractor.name == "Blue Fire Co"))
    cases = [
        new_user_form(email="boss@example.org", role="admin", name=""),
        new_user_form(grid="G1-02"),
        new_user_form(email="worker@example.org", role="contractor", contractor=str(blue)),
    ]
    for data in cases:
        response = as_admin.post("/users/new", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        boss = user_row("boss@example.org")
        officer = user_row("zhang.wei@example.org")
        worker = user_row("worker@example.org")
        assert (boss.role, boss.contractor_id, boss.grid_id) == ("admin", None, None)
        assert (officer.role, officer.name, officer.grid.code) == ("officer", "Zhang Wei", "G1-02")
        assert (worker.role, worker.contractor.name, worker.grid_id) == (
            "contractor",
            "Blue Fire Co",
            None,
        )
        assert officer.check_password(NEW_PASSWORD) and officer.session_version == 1
        entry = audit("create", "zhang.wei@example.org")[0]
        assert entry.actor == "admin@example.org"
        assert entry.after == {
            "role": "officer",
            "contractor": None,
            "name": "Zhang Wei",
            "grid": "G1-02",
        }
        assert audit("create", "worker@example.org")[0].after["contractor"] == "Blue Fire Co"
        stored = db.session.execute(text("SELECT before, after FROM audit_entries")).all()
        assert NEW_PASSWORD not in str(stored)
    page = as_admin.get(f"/users/{officer.id}").get_data(as_text=True)
    assert "zhang.wei@example.org" in page and "G1-02 Grid one north" in page
    auth.logout()
    assert auth.login("zhang.wei@example.org", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "officer@example.org"}, "A user with the email officer@example.org exists"),
        ({"email": "OFFICER@example.org"}, "A user with the email officer@example.org exists"),
        ({"role": "contractor"}, "A contractor user needs a contractor."),
        ({"role": "admin", "grid": "G1"}, "A user with the role Administrator has no grid scope."),
        ({"role": "contractor", "grid": "G1"}, "has no grid scope."),
        ({"grid": "G9"}, "No grid has the code G9."),
        ({"contractor": "FIRST"}, "Only contractor users belong to a contractor."),
        ({"contractor": "999", "role": "contractor"}, "Not a valid choice."),
        ({"password": "short", "confirm": "short"}, "at least 8 characters"),
        ({"confirm": "something else"}, "The two passwords differ."),
        ({"email": "not-an-email"}, "Invalid email address."),
        ({"role": "boss"}, "Not a valid choice."),
    ],
)
def test_bad_new_user_is_a_form_error_and_writes_nothing(app, as_admin, changes, message):
    changes = dict(changes)
    with app.app_context():
        before = counts()
        if changes.get("contractor") == "FIRST":
            changes["contractor"] = str(db.session.scalar(select(Contractor.id).limit(1)))
    response = as_admin.post("/users/new", data=new_user_form(**changes))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert "The user was not created" in page
    with app.app_context():
        assert counts() == before


def test_new_user_form_offers_contractors_and_grids(as_admin):
    page = as_admin.get("/users/new").get_data(as_text=True)
    assert ">Blue Fire Co</option>" in page and ">Fixers Ltd</option>" in page
    assert 'value="G1-01"' in page and ">The whole district</option>" in page


# --- Deactivating and reactivating -------------------------------------------------------------


def test_deactivation_ends_sessions_and_tokens_at_once(app, as_admin, people):
    officer_browser = other_client(app, "officer@example.org")
    remembered = other_client(app, "officer@example.org", remember=True)
    remembered.delete_cookie("session")  # as after closing the browser: the cookie signs in
    assert remembered.get("/assets/").status_code == 200
    headers = {"Authorization": f"Bearer {people['officer_token']}"}
    assert app.test_client().get("/api/v1/assets", headers=headers).status_code == 200
    with app.app_context():
        officer = user_id("officer@example.org")
    response = as_admin.post(f"/users/{officer}/deactivate")
    assert response.status_code == 302
    assert lands_on_login(officer_browser.get("/assets/"))
    # the remember-me cookie alone (the session cookie gone, as after closing the browser)
    remembered.delete_cookie("session")
    assert lands_on_login(remembered.get("/assets/"))
    assert app.test_client().get("/api/v1/assets", headers=headers).status_code == 401
    with app.app_context():
        row = user_row("officer@example.org")
        assert (row.active, row.session_version) == (False, 2)
        assert db.session.scalar(select(ApiToken.revoked_at)) is not None
        (entry,) = audit("update", "officer@example.org")
        assert (entry.before, entry.after) == ({"active": True}, {"active": False})
        (revoked,) = audit("revoke_tokens", "officer@example.org")
        assert (revoked.before, revoked.after) == ({"live_tokens": 1}, {"live_tokens": 0})
    page = as_admin.get(f"/users/{officer}").get_data(as_text=True)
    assert "Deactivated" in page and "Reactivate" in page


def test_reactivated_user_signs_in_anew(app, as_admin, auth, people):
    with app.app_context():
        officer = user_id("officer@example.org")
    old_browser = other_client(app, "officer@example.org")
    as_admin.post(f"/users/{officer}/deactivate")
    assert as_admin.post(f"/users/{officer}/reactivate").status_code == 302
    assert lands_on_login(old_browser.get("/"))  # the ended session stays ended
    other_client(app, "officer@example.org")  # a new sign-in works
    with app.app_context():
        assert user_row("officer@example.org").active is True
        entries = audit("update", "officer@example.org")
        assert [entry.after for entry in entries] == [{"active": False}, {"active": True}]


def test_an_admin_cannot_deactivate_himself(app, as_admin):
    with app.app_context():
        me = user_id("admin@example.org")
        before = counts()
    response = as_admin.post(f"/users/{me}/deactivate")
    assert response.status_code == 409
    assert "You cannot deactivate yourself." in response.get_data(as_text=True)
    with app.app_context():
        assert counts() == before
        assert user_row("admin@example.org").active is True
    assert as_admin.get("/users/").status_code == 200  # still signed in


def test_the_last_active_admin_is_never_taken_away(app, runner, people):
    with app.app_context():
        before = counts()
    result = runner.invoke(args=["users", "deactivate", "admin@example.org"])
    assert result.exit_code == 1
    assert "admin@example.org is the last active administrator." in result.output
    with app.app_context():
        assert counts() == before
        assert user_row("admin@example.org").active is True
        gen_user("second@example.org", "admin")
        db.session.commit()
    result = runner.invoke(args=["users", "deactivate", "admin@example.org"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        admin = user_by_email("admin@example.org")
        second = user_by_email("second@example.org")
        assert admin.active is False
        with pytest.raises(AccountConflict):
            deactivate_user(second, None)
        db.session.rollback()
        assert user_row("second@example.org").active is True
    result = runner.invoke(args=["users", "reactivate", "admin@example.org"])
    assert result.exit_code == 0 and "reactivated" in result.output


def test_contractor_page_deactivation_uses_the_same_service(app, as_admin, people):
    fixer_browser = other_client(app, "fixer@example.org")
    with app.app_context():
        company = db.session.scalar(select(Contractor.id).where(Contractor.name == "Fixers Ltd"))
        fixer = user_id("fixer@example.org")
    response = as_admin.post(f"/contractors/{company}/users/{fixer}/deactivate")
    assert response.status_code == 302
    assert lands_on_login(fixer_browser.get("/"))
    with app.app_context():
        assert user_row("fixer@example.org").session_version == 2


# --- Passwords ---------------------------------------------------------------------------------


def test_typed_password_reset_ends_the_users_sessions(app, as_admin, auth, people):
    with app.app_context():
        officer = user_id("officer@example.org")
        before_hash = user_row("officer@example.org").password_hash
    officer_browser = other_client(app, "officer@example.org")
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert as_admin.post(f"/users/{officer}/password", data=data).status_code == 302
    assert lands_on_login(officer_browser.get("/"))
    with app.app_context():
        row = user_row("officer@example.org")
        assert row.check_password(NEW_PASSWORD) and row.password_hash != before_hash
        assert row.session_version == 2
        (entry,) = audit("reset_password", "officer@example.org")
        assert (entry.before, entry.after) == (None, {"generated": False})
        assert entry.actor == "admin@example.org"
    headers = {"Authorization": f"Bearer {people['officer_token']}"}
    assert app.test_client().get("/api/v1/assets", headers=headers).status_code == 200
    other_client(app, "officer@example.org", NEW_PASSWORD)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"password": NEW_PASSWORD, "confirm": "another one"}, "The two passwords differ."),
        ({"password": "short", "confirm": "short"}, "at least 8 characters"),
        ({"password": "", "confirm": ""}, "This field is required."),
    ],
)
def test_bad_password_reset_writes_nothing(app, as_admin, data, message):
    with app.app_context():
        officer = user_id("officer@example.org")
        before = (counts(), user_row("officer@example.org").password_hash)
    response = as_admin.post(f"/users/{officer}/password", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        row = user_row("officer@example.org")
        assert (counts(), row.password_hash) == before
        assert row.session_version == 1


def test_generated_password_is_shown_once_and_works(app, as_admin, people):
    with app.app_context():
        officer = user_id("officer@example.org")
    response = as_admin.post(f"/users/{officer}/password/generate")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    password = re.search(r'id="generated-password-value">([^<]+)<', page).group(1)
    assert len(password) >= 16
    assert password not in as_admin.get(f"/users/{officer}").get_data(as_text=True)
    with app.app_context():
        row = user_row("officer@example.org")
        assert row.check_password(password) and row.session_version == 2
        (entry,) = audit("reset_password", "officer@example.org")
        assert entry.after == {"generated": True}
        stored = db.session.execute(text("SELECT before, after FROM audit_entries")).all()
        assert password not in str(stored)
    other_client(app, "officer@example.org", password)


def test_an_admin_resetting_his_own_password_stays_signed_in(app, as_admin):
    other_admin_browser = other_client(app, "admin@example.org")
    with app.app_context():
        me = user_id("admin@example.org")
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert as_admin.post(f"/users/{me}/password", data=data).status_code == 302
    assert as_admin.get("/users/").status_code == 200
    assert lands_on_login(other_admin_browser.get("/users/"))


# --- Sessions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("legacy_id", ["{id}", "{id}:1"])
def test_a_session_from_before_0011_is_nobody(app, people, legacy_id):
    """Sessions signed in before migration 0011 held the user's id (and session version),
    which anyone who knew the id could have forged with the key: they have no session row."""
    legacy = app.test_client()
    with app.app_context():
        officer = user_id("officer@example.org")
    with legacy.session_transaction() as stored:
        stored["_user_id"] = legacy_id.format(id=officer)
        stored["_fresh"] = True
    assert lands_on_login(legacy.get("/"))


@pytest.mark.parametrize("session_id", ["x", "1:x", "1:2:3", "", ":1", "9" * 40, "1:" + "9" * 40])
def test_a_malformed_session_id_is_nobody(app, people, session_id):
    browser = app.test_client()
    with browser.session_transaction() as stored:
        stored["_user_id"] = session_id
    assert lands_on_login(browser.get("/"))


def test_the_session_keeps_a_secret_whose_hash_is_its_row(app, client, auth, people):
    auth.login("officer@example.org")
    with client.session_transaction() as stored:
        kept = stored["_user_id"]
    with app.app_context():
        row = db.session.scalar(select(UserSession))
        assert row.secret_hash == secret_hash(kept) and kept != row.secret_hash
        assert row.user_id == user_id("officer@example.org") and len(kept) >= 40
    assert client.get("/").status_code == 200


# --- API tokens ----------------------------------------------------------------------------


def test_revoke_one_token_and_then_all(app, as_admin, people):
    with app.app_context():
        second = gen_token("officer@example.org")
        third = gen_token("officer@example.org")
        db.session.commit()
        officer = user_id("officer@example.org")
        second_id = db.session.scalar(
            select(ApiToken.id).where(ApiToken.token_hash == ApiToken.hash_of(second))
        )
    page = as_admin.get(f"/users/{officer}").get_data(as_text=True)
    assert page.count("data-token=") == 3
    response = as_admin.post(f"/users/{officer}/tokens/{second_id}/revoke")
    assert response.status_code == 302
    api = app.test_client()
    assert (
        api.get("/api/v1/assets", headers={"Authorization": f"Bearer {second}"}).status_code == 401
    )
    assert (
        api.get("/api/v1/assets", headers={"Authorization": f"Bearer {third}"}).status_code == 200
    )
    with app.app_context():
        (entry,) = audit("revoke_token", "officer@example.org")
        assert entry.before == {"token": second_id, "revoked_at": None}
        assert entry.after["token"] == second_id and entry.after["revoked_at"]
    assert as_admin.get("/users/").get_data(as_text=True).count('class="count tokens">2<') == 1
    assert as_admin.post(f"/users/{officer}/tokens/revoke").status_code == 302
    assert (
        api.get("/api/v1/assets", headers={"Authorization": f"Bearer {third}"}).status_code == 401
    )
    with app.app_context():
        live = select(func.count(ApiToken.id)).where(ApiToken.revoked_at.is_(None))
        assert db.session.scalar(live) == 0
        (entry,) = audit("revoke_tokens", "officer@example.org")
        assert (entry.before, entry.after) == ({"live_tokens": 2}, {"live_tokens": 0})
        assert user_row("officer@example.org").active is True  # tokens only


def test_revoking_a_token_that_is_not_the_users_live_one_writes_nothing(app, as_admin, people):
    with app.app_context():
        gen_token("fixer@example.org")
        db.session.commit()
        officer = user_id("officer@example.org")
        fixers_token = db.session.scalar(
            select(ApiToken.id).join(User).where(User.email == "fixer@example.org")
        )
        before = counts()
    for token_id in (fixers_token, 999):
        response = as_admin.post(f"/users/{officer}/tokens/{token_id}/revoke")
        assert response.status_code == 400
        assert "This user has no such live API token." in response.get_data(as_text=True)
    with app.app_context():
        assert counts() == before


# --- Grid scope ------------------------------------------------------------------------------


def test_admin_sets_and_clears_an_officers_grid_scope(app, as_admin):
    with app.app_context():
        officer = user_id("officer@example.org")
    assert as_admin.post(f"/users/{officer}/scope", data={"grid": "g2"}).status_code == 302
    with app.app_context():
        assert user_row("officer@example.org").grid.code == "G2"
    assert as_admin.post(f"/users/{officer}/scope", data={"grid": ""}).status_code == 302
    with app.app_context():
        assert user_row("officer@example.org").grid_id is None
        entries = audit("update", "officer@example.org")
        assert [(e.before, e.after) for e in entries] == [
            ({"grid": None}, {"grid": "G2"}),
            ({"grid": "G2"}, {"grid": None}),
        ]


@pytest.mark.parametrize(
    ("email", "grid", "message"),
    [
        ("officer@example.org", "G7", "No grid has the code G7."),
        ("admin@example.org", "G1", "A user with the role Administrator has no grid scope."),
        ("fixer@example.org", "G1", "A user with the role Contractor has no grid scope."),
    ],
)
def test_bad_grid_scope_is_refused_and_writes_nothing(app, as_admin, email, grid, message):
    with app.app_context():
        target = user_id(email)
        before = counts()
    response = as_admin.post(f"/users/{target}/scope", data={"grid": grid})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert counts() == before
        assert user_row(email).grid_id is None


def test_scope_services_refuse_in_the_same_words(app, people):
    with app.app_context():
        with pytest.raises(AccountError, match="No grid has the code NOPE."):
            create_user("x@example.org", PASSWORD, "officer", grid="nope")
        db.session.rollback()
        with pytest.raises(AccountError, match="has no grid scope"):
            set_grid_scope(user_by_email("admin@example.org"), "G1")
        db.session.rollback()
        assert counts()[0] == 3


def test_cli_creates_an_officer_with_a_grid(app, runner, district):
    result = runner.invoke(
        args=["users", "create", "--role", "officer", "--email", "g@example.org",
              "--password", PASSWORD, "--grid", "G1-01"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["users", "create", "--role", "admin", "--email", "h@example.org",
              "--password", PASSWORD, "--grid", "G1-01"]
    )  # fmt: skip
    assert result.exit_code == 1 and "has no grid scope" in result.output
    with app.app_context():
        assert user_row("g@example.org").grid.code == "G1-01"
        assert user_by_email("h@example.org") is None


# --- The default grid of an officer's pages --------------------------------------------------


@pytest.fixture
def two_grids(app, district, frozen_clock):
    """CS-001 in G1-01 and EB-0001 in G2-02, each with an overdue inspection and a hazard;
    an officer scoped to G1, one without a scope, and an admin."""
    frozen_clock.set(datetime(2026, 3, 16, 4, 0, tzinfo=UTC))
    with app.app_context():
        grids = {grid.code: grid for grid in db.session.scalars(select(Grid))}
        gen_asset(charging_station_data(1))
        gen_asset(blocker_data(1))
        gen_inspection("CS-001", date(2026, 3, 1))
        gen_inspection("EB-0001", date(2026, 3, 2), contractor="Blue Fire Co")
        gen_hazard("HZ-2026-0001", "general", "CS-001", grid_id=grids["G1-01"].id)
        gen_hazard("HZ-2026-0002", "major", "EB-0001", grid_id=grids["G2-02"].id)
        create_user("scoped@example.org", PASSWORD, "officer", grid="G1")
        gen_user("officer@example.org", "officer")
        gen_user("admin@example.org", "admin")
        db.session.commit()


def stat(page: str, card: str) -> int:
    """The number on a dashboard card."""
    found = re.search(
        rf'id="card-{card}">\s*<div class="muted">[^<]*</div>\s*<div class="stat">(\d+)<', page
    )
    return int(found.group(1))


def rows_of(page: str, attribute: str) -> set[str]:
    return set(re.findall(rf'<tr {attribute}="([^"]+)"', page))


def drawn_on_map(client, **filters) -> int:
    """How many assets the map's view endpoint answers for the whole map."""
    answer = client.get("/api/v1/map/assets", query_string={"zoom": 13, **filters}).json
    return len(answer["points"]["code"])


def test_an_officers_lists_open_on_his_grid(app, english, auth, two_grids):
    auth.login("scoped@example.org")
    page = english.get("/assets/").get_data(as_text=True)
    assert rows_of(page, "data-code") == {"CS-001"}
    assert '<option value="G1" selected>' in page
    assert '<option value="all">All grids</option>' in page
    page = english.get("/inspections/").get_data(as_text=True)
    assert "CS-001" in page and "EB-0001" not in page
    page = english.get("/hazards/").get_data(as_text=True)
    assert "HZ-2026-0001" in page and "HZ-2026-0002" not in page
    assert english.get("/map").status_code == 200
    assert drawn_on_map(english) == 1  # what the map's script fetches (no grid: his scope)
    page = english.get("/").get_data(as_text=True)
    assert stat(page, "overdue") == 1
    assert stat(page, "total") == 1
    assert "/inspections/?status=overdue&amp;grid=G1" in page


def test_an_explicit_grid_or_all_grids_still_works(app, english, auth, two_grids):
    auth.login("scoped@example.org")
    page = english.get("/assets/?grid=all").get_data(as_text=True)
    assert rows_of(page, "data-code") == {"CS-001", "EB-0001"}
    assert '<option value="all" selected>All grids</option>' in page
    page = english.get("/assets/?grid=all&per_page=1").get_data(as_text=True)
    assert "grid=all" in re.search(r'rel="next" href="([^"]+)"', page).group(1)
    assert rows_of(english.get("/assets/?grid=").get_data(as_text=True), "data-code") == {
        "CS-001",
        "EB-0001",
    }
    assert rows_of(english.get("/assets/?grid=G2").get_data(as_text=True), "data-code") == {
        "EB-0001"
    }
    page = english.get("/hazards/?grid=all").get_data(as_text=True)
    assert "HZ-2026-0001" in page and "HZ-2026-0002" in page
    page = english.get("/inspections/?grid=all").get_data(as_text=True)
    assert "CS-001" in page and "EB-0001" in page
    assert drawn_on_map(english, grid="all") == 2
    page = english.get("/dashboard?grid=all").get_data(as_text=True)
    assert stat(page, "overdue") == 2


@pytest.mark.parametrize("email", ["officer@example.org", "admin@example.org"])
def test_officers_without_scope_and_admins_see_the_district(app, english, auth, two_grids, email):
    auth.login(email)
    page = english.get("/assets/").get_data(as_text=True)
    assert rows_of(page, "data-code") == {"CS-001", "EB-0001"}
    assert '<option value="">All grids</option>' in page
    assert drawn_on_map(english) == 2
    page = english.get("/").get_data(as_text=True)
    assert stat(page, "overdue") == 2
    page = english.get("/dashboard?grid=G2").get_data(as_text=True)
    assert stat(page, "overdue") == 1


# --- The weekly email of a scoped officer ---------------------------------------------------


def test_a_scoped_officer_gets_the_weekly_email_of_his_grid_only(alert_app, smtp, frozen_clock):
    from alerts.services import send_weekly

    frozen_clock.set(datetime(2026, 3, 16, 0, 0, tzinfo=UTC))  # Monday 08:00 in Shanghai
    with alert_app.app_context():
        inspections = gen_alert_district()
        create_user("g1.officer@example.org", PASSWORD, "officer", grid="G1").locale = "en"
        create_user("g2.officer@example.org", PASSWORD, "officer", grid="G2-02")
        db.session.commit()
        send_weekly()
    today = date(2026, 3, 16)
    overdue = {i for i, row in inspections.items() if row["due_on"] < today}
    by_grid = {
        grid: {i for i in overdue if inspections[i]["grid"] == grid} for grid in ("G1-01", "G2-02")
    }
    assert by_grid["G1-01"] and by_grid["G2-02"]

    def linked(message) -> set[int]:
        return {int(found) for found in re.findall(r"/inspections/(\d+)\b", text_of(message))}

    (g1,) = smtp.inbox.to("g1.officer@example.org")
    assert linked(g1) == by_grid["G1-01"]  # G1 covers its second-level grid G1-01
    assert "HZ-2026-0001" in text_of(g1)  # the hazard in G1-01, overdue since 03-10
    assert "grid G1 " in g1["Subject"]
    assert html_of(g1).count('class="overdue-row"') == len(by_grid["G1-01"])
    (g2,) = smtp.inbox.to("g2.officer@example.org")
    assert linked(g2) == by_grid["G2-02"] and "HZ-2026-0001" not in text_of(g2)
    (district,) = smtp.inbox.to("officer@example.org")  # no scope: the whole district
    assert linked(district) == overdue
    (admin,) = smtp.inbox.to("admin@example.org")
    assert linked(admin) == overdue


def test_a_deactivated_scoped_officer_gets_no_email(alert_app, smtp, frozen_clock):
    from alerts.services import send_weekly

    frozen_clock.set(datetime(2026, 3, 16, 0, 0, tzinfo=UTC))
    with alert_app.app_context():
        gen_alert_district()
        deactivate_user(create_user("gone@example.org", PASSWORD, "officer", grid="G1"))
        db.session.commit()
        send_weekly()
    assert smtp.inbox.to("gone@example.org") == []
    assert len(smtp.inbox.to("officer@example.org")) == 1


# --- Migration 0009 ---------------------------------------------------------------------------


def test_migration_0009_keeps_users_tokens_and_audit_both_ways(backend, tmp_path):
    from flask_migrate import downgrade, upgrade

    url = conftest.migrated_database(backend, tmp_path, "_mig0009")
    app = create_app(helpers.test_config(url))
    with app.app_context():
        downgrade(revision="0008")
        gen_district()
        connection = db.session.connection()
        connection.execute(
            text(
                "INSERT INTO users (email, name, password_hash, role, active, created_at) "
                "VALUES ('old@example.org', '', 'x', 'officer', :yes, :now)"
            ),
            {"yes": True, "now": datetime(2026, 1, 1, tzinfo=UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO api_tokens (user_id, token_hash, created_at) "
                "VALUES ((SELECT id FROM users), 'abc', :now)"
            ),
            {"now": datetime(2026, 1, 1, tzinfo=UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO audit_entries (at, user_id, actor, action, entity_type, entity_key) "
                "VALUES (:now, (SELECT id FROM users), 'old', 'create', 'user', 'old')"
            ),
            {"now": datetime(2026, 1, 1, tzinfo=UTC)},
        )
        db.session.commit()
        upgrade()
        user = user_row("old@example.org")
        assert (user.session_version, user.grid_id) == (1, None)
        set_grid_scope(user, "G1-02")
        db.session.commit()
        assert db.session.scalar(select(ApiToken.user_id)) == user.id
        assert db.session.scalar(select(AuditEntry.user_id)) == user.id
        old_id = user.id
        # a grid in use cannot be deleted from under the scope (the foreign key holds)
        with pytest.raises(IntegrityError, match="(?i)foreign key"):
            db.session.execute(text("DELETE FROM grids WHERE code = 'G1-02'"))
        db.session.rollback()
        downgrade(revision="0008")
        assert db.session.execute(text("SELECT user_id FROM api_tokens")).scalar() == old_id
        assert db.session.execute(text("SELECT user_id FROM audit_entries")).scalar() == old_id
        assert db.session.execute(text("SELECT email FROM users")).scalar() == "old@example.org"
        db.session.commit()
        upgrade()
        db.session.remove()
        db.engine.dispose()
