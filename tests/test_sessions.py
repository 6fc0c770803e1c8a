"""Sign-ins that can be revoked and sign-in hardening (issue 13, findings 4 and 5).

- A cookie copied before a logout, a password change, a deactivation and reactivation, or a
  role change is nobody afterwards: pages send it to the sign-in page, the API answers 401.
- Each sign-in has its own remember-me cookie, revocable alone; sign-ins expire.
- 20 failed sign-ins lock the account (from any address) and the address (for any account)
  with 429 and Retry-After, the right password included; failures and locks are audited.
- Unknown, deactivated and known emails cost the same password-hash work.
- Weak passwords are refused wherever a person chooses one, and nothing is written.
- API tokens: named, expiring, shown once, stored hashed, listed and revoked one by one on
  the profile page, and from the command line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from accounts import sessions
from accounts.models import ApiToken, User, UserSession, secret_hash
from accounts.services import user_by_email
from core.audit import AuditEntry
from core.extensions import db
from tests.factories import PASSWORD, gen_contractor, gen_token, gen_user

OFFICER = "officer@example.org"
ADMIN = "admin@example.org"
NEW_PASSWORD = "lantern orchard gravel 42"
WEAK_PASSWORDS = ["12345678", "password", "qwertyuiop", "iloveyou1"]
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def people(app):
    with app.app_context():
        gen_user(ADMIN, "admin")
        gen_user(OFFICER, "officer")
        gen_contractor("Fixers Ltd")
        db.session.commit()


def signed_in(
    app,
    email: str = OFFICER,
    password: str = PASSWORD,
    remember: bool = False,
    address: str = "127.0.0.1",
):
    """A browser of its own, signed in as ``email``."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    browser.get("/lang/en")
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    response = browser.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def copy_of(app, browser, names=("session", "remember_token")):
    """Another browser holding a copy of ``browser``'s cookies (those of ``names``)."""
    thief = app.test_client()
    for name in names:
        cookie = browser.get_cookie(name)
        if cookie is not None:
            thief.set_cookie(name, cookie.value)
    return thief


def lands_on_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def user_id(email: str) -> int:
    return user_by_email(email).id


def rejected_everywhere(thief) -> bool:
    return lands_on_login(thief.get("/")) and thief.get("/api/v1/assets").status_code == 401


# --- Session replay ----------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_is_nobody_after_it(app, people):
    browser = signed_in(app)
    thief = copy_of(app, browser, ["session"])
    assert thief.get("/").status_code == 200
    assert thief.get("/api/v1/assets").status_code == 200
    assert lands_on_login(browser.post("/logout"))
    assert rejected_everywhere(thief)
    with app.app_context():
        (row,) = db.session.scalars(select(UserSession)).all()
        assert row.revoked_at is not None


def test_a_remember_cookie_copied_before_logout_is_nobody_after_it(app, people):
    browser = signed_in(app, remember=True)
    thief = copy_of(app, browser, ["remember_token"])
    assert thief.get("/").status_code == 200
    browser.post("/logout")
    assert rejected_everywhere(thief)


def test_a_cookie_copied_before_a_password_change_is_nobody_after_it(app, people):
    browser = signed_in(app, remember=True)
    other_browser = signed_in(app)
    thief = copy_of(app, browser)
    data = {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = browser.post("/profile/password", data=data)
    assert response.status_code == 302
    # the browser that changed it goes on with a new sign-in; every other one has ended
    assert browser.get("/profile").status_code == 200
    assert rejected_everywhere(thief)
    assert rejected_everywhere(other_browser)
    with app.app_context():
        user = user_by_email(OFFICER)
        assert user.check_password(NEW_PASSWORD)
        assert [entry.action for entry in audit(OFFICER)][-1] == "change_password"
    signed_in(app, password=NEW_PASSWORD)


def test_a_cookie_copied_before_an_admin_reset_is_nobody_after_it(app, people):
    browser = signed_in(app)
    thief = copy_of(app, browser)
    admin = signed_in(app, ADMIN)
    with app.app_context():
        target = user_id(OFFICER)
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert admin.post(f"/users/{target}/password", data=data).status_code == 302
    assert rejected_everywhere(thief)
    assert rejected_everywhere(browser)


def test_a_cookie_copied_before_deactivation_stays_dead_after_reactivation(app, people):
    browser = signed_in(app, remember=True)
    thief = copy_of(app, browser)
    admin = signed_in(app, ADMIN)
    with app.app_context():
        target = user_id(OFFICER)
    assert admin.post(f"/users/{target}/deactivate").status_code == 302
    assert rejected_everywhere(copy_of(app, browser))
    assert admin.post(f"/users/{target}/reactivate").status_code == 302
    assert rejected_everywhere(thief)
    with app.app_context():
        live = db.session.scalar(
            select(func.count(UserSession.id)).where(
                UserSession.user_id == target, UserSession.revoked_at.is_(None)
            )
        )
        assert live == 0
    signed_in(app)  # a new sign-in works


def test_a_cookie_copied_before_a_role_change_is_nobody_after_it(app, people):
    browser = signed_in(app)
    thief = copy_of(app, browser)
    admin = signed_in(app, ADMIN)
    with app.app_context():
        target = user_id(OFFICER)
    response = admin.post(
        f"/users/{target}/role", data={"role": "contractor", "contractor": "Fixers Ltd"}
    )
    assert response.status_code == 302
    assert rejected_everywhere(thief)
    with app.app_context():
        user = user_by_email(OFFICER)
        assert (user.role, user.contractor.name) == ("contractor", "Fixers Ltd")
        (entry,) = [e for e in audit(OFFICER) if e.action == "update"]
        assert entry.before == {"role": "officer", "contractor": None}
    # the signed-in contractor sees a contractor's pages, not the officer's
    assert signed_in(app).get("/users/").status_code == 403


def test_an_admin_cannot_change_his_own_role_nor_leave_no_admin(app, people):
    admin = signed_in(app, ADMIN)
    with app.app_context():
        me = user_id(ADMIN)
    response = admin.post(f"/users/{me}/role", data={"role": "officer", "contractor": ""})
    assert response.status_code == 409
    assert "You cannot change your own role." in response.get_data(as_text=True)
    with app.app_context():
        assert user_by_email(ADMIN).role == "admin"


def test_sign_out_everywhere_ends_every_sign_in(app, people):
    first, second = signed_in(app), signed_in(app, remember=True)
    thief = copy_of(app, second)
    assert lands_on_login(first.post("/logout/everywhere"))
    for browser in (first, second, thief):
        assert rejected_everywhere(browser)


# --- Remember-me -------------------------------------------------------------------------------


def test_each_sign_in_has_its_own_remember_cookie_revocable_alone(app, people):
    laptop = signed_in(app, remember=True)
    phone = signed_in(app, remember=True)
    laptop_cookie = laptop.get_cookie("remember_token").value
    phone_cookie = phone.get_cookie("remember_token").value
    assert laptop_cookie != phone_cookie
    # the remember cookie alone (a browser restarted) brings each back
    assert copy_of(app, laptop, ["remember_token"]).get("/").status_code == 200
    assert copy_of(app, phone, ["remember_token"]).get("/").status_code == 200
    # the laptop ends the phone's sign-in from the profile page
    with app.app_context():
        phone_row = db.session.scalar(
            select(UserSession).where(
                UserSession.secret_hash
                == secret_hash(phone.get_cookie("remember_token").value.split("|")[0])
            )
        )
        assert phone_row is not None and phone_row.remember
        phone_id = phone_row.id
    assert laptop.post(f"/profile/sessions/{phone_id}/revoke").status_code == 302
    assert rejected_everywhere(copy_of(app, phone, ["remember_token"]))
    assert rejected_everywhere(phone)
    assert copy_of(app, laptop, ["remember_token"]).get("/").status_code == 200
    assert laptop.get("/").status_code == 200


def test_a_sign_in_expires(app, people, frozen_clock):
    frozen_clock.set(NOW)
    remembered = signed_in(app, remember=True)
    session_only = signed_in(app)
    cookie = remembered.get_cookie("remember_token")
    lifetime = cookie.expires - datetime.now(UTC)
    assert timedelta(days=13) < lifetime <= timedelta(days=14)
    frozen_clock.set(NOW + timedelta(hours=12, seconds=1))
    assert rejected_everywhere(copy_of(app, session_only))
    assert copy_of(app, remembered).get("/").status_code == 200
    frozen_clock.set(NOW + timedelta(days=14, seconds=1))
    assert rejected_everywhere(copy_of(app, remembered))


def test_a_session_row_notes_when_it_was_last_seen(app, people, frozen_clock):
    frozen_clock.set(NOW)
    browser = signed_in(app)
    frozen_clock.set(NOW + timedelta(minutes=5))
    assert browser.get("/").status_code == 200
    with app.app_context():
        row = db.session.scalar(select(UserSession))
        assert (row.created_at, row.last_seen_at) == (NOW, NOW + timedelta(minutes=5))
        assert row.address == "127.0.0.1"


def test_the_profile_lists_this_and_other_sign_ins(app, people):
    browser = signed_in(app)
    signed_in(app, address="10.0.0.7")
    page = browser.get("/profile").get_data(as_text=True)
    assert len(re.findall(r'<tr data-session="\d+"', page)) == 2
    assert "10.0.0.7" in page and "this browser" in page


# --- Brute force -------------------------------------------------------------------------------


def attempt(app, email: str, password: str, address: str):
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser.post("/login", data={"email": email, "password": password})


def audit(key: str, action: str | None = None) -> list[AuditEntry]:
    db.session.expire_all()
    query = select(AuditEntry).where(AuditEntry.entity_key == key).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def test_twenty_wrong_passwords_lock_the_account_from_any_address(app, people):
    for number in range(20):
        response = attempt(app, OFFICER, "wrong password", f"10.1.0.{number}")
        assert response.status_code == 401
    # the right password, from yet another address, during the lock
    response = attempt(app, OFFICER, PASSWORD, "10.1.1.1")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60
    assert "登录失败次数过多" in response.get_data(as_text=True)  # Too many failed sign-ins
    assert attempt(app, OFFICER, PASSWORD, "10.1.1.2").status_code == 429
    # another account from those addresses is not locked
    assert attempt(app, ADMIN, PASSWORD, "10.1.0.1").status_code == 302
    with app.app_context():
        failures = audit(OFFICER, "login_failed")
        assert len(failures) == 20
        assert {entry.after["reason"] for entry in failures} == {"password"}
        assert failures[0].actor == "10.1.0.0"
        (lock,) = audit(OFFICER, "login_locked")  # once per window, however many refused
        assert lock.after["scope"] == "account"
        assert audit(OFFICER, "login") == []
        assert db.session.scalar(select(func.count(UserSession.id))) == 1  # the admin's


def test_twenty_failures_from_one_address_lock_it_for_every_account(app, people):
    for number in range(20):
        response = attempt(app, f"nobody{number}@example.org", "guess", "10.2.0.9")
        assert response.status_code == 401
    response = attempt(app, OFFICER, PASSWORD, "10.2.0.9")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    # the officer from elsewhere signs in
    assert attempt(app, OFFICER, PASSWORD, "10.2.0.10").status_code == 302
    with app.app_context():
        assert len(audit("nobody7@example.org", "login_failed")) == 1
        (lock,) = audit("10.2.0.9", "login_locked")
        assert lock.after["scope"] == "address"


def test_successful_sign_ins_never_count(app, people):
    for _number in range(25):
        assert attempt(app, OFFICER, PASSWORD, "10.3.0.1").status_code == 302
    with app.app_context():
        assert len(audit(OFFICER, "login")) == 25


def test_each_app_counts_alone(app, people):
    """Limits live in the app's own limiter (tests: one per app instance)."""
    for _number in range(20):
        attempt(app, OFFICER, "wrong password", "10.4.0.1")
    assert attempt(app, OFFICER, PASSWORD, "10.4.0.1").status_code == 429
    app.extensions["login_limiter"].reset()
    assert attempt(app, OFFICER, PASSWORD, "10.4.0.1").status_code == 302


# --- Equal work for unknown accounts -----------------------------------------------------------


@pytest.fixture
def hash_checks(monkeypatch):
    """Each password-hash check of a sign-in (the real check runs; its method is noted)."""
    calls: list[str] = []
    real = sessions.check_password_hash

    def counted(stored: str, password: str) -> bool:
        calls.append(stored.split("$", 1)[0])
        return real(stored, password)

    monkeypatch.setattr(sessions, "check_password_hash", counted)
    return calls


def test_unknown_inactive_and_known_emails_cost_the_same_hash_work(app, people, hash_checks):
    with app.app_context():
        gen_user("gone@example.org", "officer").active = False
        db.session.commit()
        method = user_by_email(OFFICER).password_hash.split("$", 1)[0]
    for email in (OFFICER, "nobody@example.org", "gone@example.org"):
        hash_checks.clear()
        assert attempt(app, email, "wrong password", "10.5.0.1").status_code == 401
        assert hash_checks == [method], email
    # a deactivated account with its right password: refused after the same work
    hash_checks.clear()
    assert attempt(app, "gone@example.org", PASSWORD, "10.5.0.1").status_code == 401
    assert hash_checks == [method]
    with app.app_context():
        reasons = [
            entry.after["reason"]
            for entry in db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "login_failed")
                .order_by(AuditEntry.id)
            )
        ]
        assert reasons == ["password", "unknown", "inactive", "inactive"]


# --- Password policy ---------------------------------------------------------------------------


def counts():
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count(User.id))),
        db.session.scalar(select(func.count(AuditEntry.id))),
        db.session.scalar(select(User.password_hash).where(User.email == OFFICER)),
    )


@pytest.mark.parametrize("weak", WEAK_PASSWORDS)
def test_weak_passwords_are_refused_everywhere_and_nothing_written(app, people, runner, weak):
    admin = signed_in(app, ADMIN)
    officer = signed_in(app)
    with app.app_context():
        target = user_id(OFFICER)
        before = counts()
    new_user = {
        **{"email": "new@example.org", "role": "officer", "contractor": "", "grid": ""},
        **{"password": weak, "confirm": weak},
    }
    refusals = [
        admin.post("/users/new", data=new_user),
        admin.post(f"/users/{target}/password", data={"password": weak, "confirm": weak}),
        officer.post(
            "/profile/password",
            data={"current_password": PASSWORD, "password": weak, "confirm": weak},
        ),
    ]
    for response in refusals:
        assert response.status_code == 400
        assert "too easy to guess" in response.get_data(as_text=True)
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "officer",
            "--email",
            "cli@example.org",
            "--password",
            weak,
        ]
    )
    assert result.exit_code != 0 and "too easy to guess" in result.output
    with app.app_context():
        assert counts() == before
    assert officer.get("/profile").status_code == 200  # no sign-in ended


def test_a_short_password_and_a_wrong_current_one_are_refused(app, people):
    officer = signed_in(app)
    with app.app_context():
        before = counts()
    short = officer.post(
        "/profile/password",
        data={"current_password": PASSWORD, "password": "x7#", "confirm": "x7#"},
    )
    assert short.status_code == 400 and "at least 8 characters" in short.get_data(as_text=True)
    wrong = officer.post(
        "/profile/password",
        data={"current_password": "not it", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 400
    assert "This is not your current password." in wrong.get_data(as_text=True)
    for own in (OFFICER, "Officer@Example.org!", "officer2026"):
        data = {"current_password": PASSWORD, "password": own, "confirm": own}
        response = officer.post("/profile/password", data=data)
        assert response.status_code == 400, own
        assert "too easy to guess" in response.get_data(as_text=True)
    with app.app_context():
        assert counts() == before


def test_the_minimum_length_is_configurable(app, people, runner):
    app.config["PASSWORD_MIN_LENGTH"] = 30
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "officer",
            "--email",
            "cli@example.org",
            "--password",
            NEW_PASSWORD,
        ]
    )
    assert result.exit_code != 0 and "at least 30 characters" in result.output


# --- API tokens --------------------------------------------------------------------------------


def bearer(app, token: str) -> int:
    return (
        app.test_client()
        .get("/api/v1/assets", headers={"Authorization": f"Bearer {token}"})
        .status_code
    )


def new_token(browser, name: str, days: str = "") -> str:
    response = browser.post("/profile/tokens", data={"name": name, "days": days})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return re.search(r'id="new-token-value">([^<]+)<', response.get_data(as_text=True)).group(1)


def test_a_token_from_the_profile_is_named_shown_once_hashed_and_listed(app, people, frozen_clock):
    frozen_clock.set(NOW)
    browser = signed_in(app)
    token = new_token(browser, "field tablet")
    assert bearer(app, token) == 200
    page = browser.get("/profile").get_data(as_text=True)
    assert token not in page
    (row,) = re.findall(r'<tr data-token="\d+">.*?</tr>', page, re.S)
    assert "field tablet" in row
    assert "2026-06-01 10:00" in row  # created (Shanghai)
    assert "2026-08-30 10:00" in row  # expires: 90 days on
    with app.app_context():
        stored = db.session.scalar(select(ApiToken))
        assert stored.token_hash == secret_hash(token) and stored.name == "field tablet"
        assert stored.last_used_at == NOW
        assert stored.expires_at == NOW + timedelta(days=90)


def test_an_expired_token_is_refused(app, people, frozen_clock):
    frozen_clock.set(NOW)
    browser = signed_in(app)
    short_lived = new_token(browser, "one week", "7")
    default = new_token(browser, "default")
    frozen_clock.set(NOW + timedelta(days=7, seconds=1))
    assert bearer(app, short_lived) == 401
    assert bearer(app, default) == 200
    frozen_clock.set(NOW + timedelta(days=90, seconds=1))
    assert bearer(app, default) == 401


def test_a_token_longer_than_the_maximum_is_refused(app, people):
    browser = signed_in(app)
    response = browser.post("/profile/tokens", data={"name": "forever", "days": "366"})
    assert response.status_code == 400
    assert "A token lives 1 to 365 days." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 0


def test_tokens_are_revoked_one_by_one_from_the_profile(app, people):
    browser = signed_in(app)
    first, second = new_token(browser, "first"), new_token(browser, "second")
    with app.app_context():
        first_id = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "first"))
    assert browser.post(f"/profile/tokens/{first_id}/revoke").status_code == 302
    assert (bearer(app, first), bearer(app, second)) == (401, 200)
    page = browser.get("/profile").get_data(as_text=True)
    assert "second" in page and f'data-token="{first_id}"' not in page
    # another user's token cannot be revoked from here
    with app.app_context():
        other = gen_token(ADMIN)
        db.session.commit()
        other_id = db.session.scalar(
            select(ApiToken.id).where(ApiToken.token_hash == secret_hash(other))
        )
    assert browser.post(f"/profile/tokens/{other_id}/revoke").status_code == 404
    assert bearer(app, other) == 200


def test_the_command_line_names_limits_lists_and_revokes_tokens(app, people, runner):
    result = runner.invoke(args=["users", "token", OFFICER, "--name", "backup job", "--days", "30"])
    assert result.exit_code == 0, result.output
    first = result.output.strip()
    assert bearer(app, first) == 200
    too_long = runner.invoke(args=["users", "token", OFFICER, "--days", "400"])
    assert too_long.exit_code != 0 and "1 to 365 days" in too_long.output
    second = runner.invoke(args=["users", "token", OFFICER, "--name", "sync"]).output.strip()
    listed = runner.invoke(args=["users", "tokens", OFFICER]).output
    assert "backup job" in listed and "sync" in listed
    first_id = int(listed.splitlines()[-1].split("\t")[0])  # the oldest last
    result = runner.invoke(args=["users", "revoke-token", OFFICER, "--id", str(first_id)])
    assert result.exit_code == 0, result.output
    assert (bearer(app, first), bearer(app, second)) == (401, 200)
    replaced = runner.invoke(args=["users", "token", OFFICER, "--replace"]).output.strip()
    assert (bearer(app, second), bearer(app, replaced)) == (401, 200)
    result = runner.invoke(args=["users", "revoke-token", OFFICER, "--all"])
    assert result.exit_code == 0 and bearer(app, replaced) == 401
    with app.app_context():
        assert {entry.action for entry in audit(OFFICER)} >= {"issue_token", "revoke_token"}
