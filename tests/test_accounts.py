from sqlalchemy import func, select

from accounts.models import ApiToken, User
from core.audit import AuditEntry
from core.extensions import db
from tests import factories


def test_login_and_logout(client, auth, officer):
    assert auth.login(officer).status_code == 302
    assert client.get("/").status_code == 200
    auth.logout()
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(client, auth, officer):
    response = auth.login(officer, "wrong password")
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_login_form_has_csrf_protection(app, officer):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/login", data={"email": officer, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_login_redirects_only_to_local_next(client, officer):
    response = client.post(
        "/login?next=//evil.example/x",
        data={"email": officer, "password": factories.PASSWORD},
    )
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_users_create_and_token_commands(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "contractor",
            "--email",
            "Field@Example.org",
            "--password",
            "long enough",
            "--contractor",
            "Weifang Fire Care",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "token", "field@example.org"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "field@example.org"))
        assert user.contractor.name == "Weifang Fire Care"
        assert user.check_password("long enough")
        assert user.password_hash != "long enough"
        stored = db.session.scalar(select(ApiToken.token_hash))
        assert stored == ApiToken.hash_of(token) and token not in stored
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["create", "issue_token"]
    response = app.test_client().get("/api/v1/assets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_users_create_refuses_bad_input_and_writes_nothing(app, runner, officer):
    cases = [
        ["--role", "officer", "--email", officer, "--password", "long enough"],
        ["--role", "contractor", "--email", "c@example.org", "--password", "long enough"],
        ["--role", "officer", "--email", "o2@example.org", "--password", "short"],
        ["--role", "officer", "--email", "not-an-email", "--password", "long enough"],
    ]
    for case in cases:
        result = runner.invoke(args=["users", "create", *case])
        assert result.exit_code != 0
        assert "Error" in result.output
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "boss",
            "--email",
            "b@x.org",
            "--password",
            "long enough",
        ]
    )
    assert result.exit_code == 2
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 1


def test_token_for_unknown_user(runner):
    result = runner.invoke(args=["users", "token", "nobody@example.org"])
    assert result.exit_code == 1
    assert "no user" in result.output


def test_bad_bearer_token_is_401(client, officer_token):
    response = client.get("/api/v1/assets", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.is_json
