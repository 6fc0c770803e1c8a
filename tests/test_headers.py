"""Security headers on every kind of response, the cookies' flags, and CSRF for every API
write that no valid token authenticates (core/security.py, core/api.py, accounts/auth.py).
What the policy lets a real browser do is checked in tests/test_csp_browser.py."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app import config_from_environment, create_app
from assets.models import Asset
from core.extensions import db
from tests import factories, helpers
from tests.factories import charging_station_data

NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{20,})'")


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_security_headers(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    policy = directives(response)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    scripts = policy["script-src"]
    # A response that rendered no page before Talisman made its nonce (a redirect to sign
    # in) has none: it has no inline script either.
    assert scripts[0] == "'self'" and all(NONCE.fullmatch(source) for source in scripts[1:])
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy["style-src-elem"]


@pytest.fixture
def signed_in(client, auth, officer, district):
    with client.application.app_context():
        factories.gen_asset(charging_station_data(1))
        db.session.commit()
    auth.login(officer)
    return client


@pytest.mark.parametrize(
    ("path", "status", "mimetype"),
    [
        ("/assets/", 200, "text/html"),
        ("/assets/CS-001", 200, "text/html"),
        ("/map", 200, "text/html"),
        ("/api/v1/assets", 200, "application/geo+json"),
        ("/api/v1/openapi.json", 200, "application/json"),
        ("/static/css/app.css", 200, "text/css"),
        ("/static/js/app.js", 200, "text/javascript"),
        ("/sw.js", 200, "text/javascript"),
        ("/manifest.webmanifest", 200, "application/manifest+json"),
        ("/healthz", 200, None),
        ("/no-such-page", 404, "text/html"),
        ("/assets/CS-999", 404, "text/html"),
        ("/api/v1/assets/CS-999", 404, "application/json"),
    ],
)
def test_every_kind_of_response_carries_the_security_headers(signed_in, path, status, mimetype):
    response = signed_in.get(path)
    response.close()  # a static file's handle
    assert response.status_code == status
    if mimetype:
        assert response.mimetype == mimetype
    assert_security_headers(response)
    assert "Strict-Transport-Security" not in response.headers  # BASE_URL is http here


def test_the_sign_in_page_and_a_redirect_carry_them_too(client):
    assert_security_headers(client.get("/login"))
    redirected = client.get("/assets/")
    assert redirected.status_code == 302
    assert_security_headers(redirected)


def inline_elements(html: str) -> list[str]:
    """The attributes of each inline <script> or <style> (not JSON data blocks)."""
    return [
        attributes
        for _tag, attributes in re.findall(r"<(script|style)\b(?![^>]*\bsrc=)([^>]*)>", html)
        if "application/json" not in attributes
    ]


def test_inline_scripts_and_styles_carry_the_responses_nonce(signed_in):
    """Every inline <script> and <style> of a page (folium's included) has this response's
    nonce, a new one each time; no inline event handler or javascript: URL is left."""
    first = signed_in.get("/map")
    nonce = NONCE.search(directives(first)["script-src"][1]).group(1)
    assert directives(first)["style-src-elem"] == ["'self'", f"'nonce-{nonce}'"]
    assert len(inline_elements(first.get_data(as_text=True))) >= 3
    pages = ("/", "/map", "/assets/", "/assets/CS-001", "/assets/new", "/hazards/new")
    for path in (*pages, "/assets/CS-001/label", "/inspections/", "/calendar/", "/profile"):
        response = signed_in.get(path)
        assert response.status_code == 200, path
        page_nonce = NONCE.search(directives(response)["script-src"][1]).group(1)
        html = response.get_data(as_text=True)
        for attributes in inline_elements(html):
            assert f'nonce="{page_nonce}"' in attributes, (path, attributes)
        assert not re.search(r"<[^>]+\son[a-z]+=", html), path
        assert "javascript:" not in html, path
    second = signed_in.get("/map")
    assert NONCE.search(directives(second)["script-src"][1]).group(1) != nonce


def test_a_server_error_page_carries_them(database_url):
    app = create_app(helpers.test_config(database_url, TESTING=False))
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    from accounts import auth

    auth.PUBLIC_ENDPOINTS.add("boom")
    try:
        response = app.test_client().get("/boom")
    finally:
        auth.PUBLIC_ENDPOINTS.discard("boom")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    assert response.status_code == 500
    assert_security_headers(response)


def test_tile_servers_are_allowed_images_for_the_configured_tiles(database_url):
    expected = {
        "osm": ["https://tile.openstreetmap.org"],
        "gaode": [f"https://webrd0{n}.is.autonavi.com" for n in "1234"],
        "tianditu": [f"https://t{n}.tianditu.gov.cn" for n in "01234567"],
        "none": [],
    }
    for setting, origins in expected.items():
        app = create_app(helpers.test_config(database_url, MAP_TILES=setting, TIANDITU_KEY="k3y"))
        response = app.test_client().get("/login")
        assert directives(response)["img-src"] == ["'self'", "data:", "blob:", *origins]
        with app.app_context():
            db.engine.dispose()


# --- HTTPS: HSTS and Secure cookies ----------------------------------------------------------


def cookie_flags(response, name: str) -> set[str]:
    (header,) = [
        value for value in response.headers.getlist("Set-Cookie") if value.startswith(name + "=")
    ]
    return {part.strip().lower() for part in header.split(";")[1:]}


def sign_in_remembered(app, officer_email: str):
    client = app.test_client()
    response = client.post(
        "/login", data={"email": officer_email, "password": factories.PASSWORD, "remember": "y"}
    )
    assert response.status_code == 302
    return response


def test_plain_http_sends_no_hsts_and_cookies_are_not_secure(app, officer):
    response = sign_in_remembered(app, officer)
    assert "Strict-Transport-Security" not in response.headers
    session = cookie_flags(response, "session")
    remember = cookie_flags(response, "remember_token")
    for flags in (session, remember):
        assert "httponly" in flags and "samesite=lax" in flags
        assert "secure" not in flags


@pytest.fixture
def https_app(database_url, officer):
    app = create_app(helpers.test_config(database_url, BASE_URL="https://registry.example.org"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_https_base_url_sends_hsts_and_secure_cookies(https_app, officer):
    response = sign_in_remembered(https_app, officer)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    for name in ("session", "remember_token"):
        flags = cookie_flags(response, name)
        assert {"secure", "httponly", "samesite=lax"} <= flags, name
    page = https_app.test_client().get("/static/css/app.css")
    page.close()
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert_security_headers(page)


def test_https_only_can_be_switched_off_and_is_read_from_the_environment(database_url, officer):
    assert config_from_environment({"HTTPS_ONLY": "off"}) == {"HTTPS_ONLY": False}
    assert config_from_environment({"HSTS_MAX_AGE": "600"}) == {"HSTS_MAX_AGE": 600}
    app = create_app(
        helpers.test_config(database_url, BASE_URL="https://registry.example.org", HTTPS_ONLY=False)
    )
    response = sign_in_remembered(app, officer)
    assert "Strict-Transport-Security" not in response.headers
    assert "secure" not in cookie_flags(response, "session")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- CSRF: skipped only for a valid API token ---------------------------------------------------


def asset_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count(Asset.id)))
        db.session.remove()
        return count


@pytest.mark.parametrize("authorization", ["Bearer ", "Bearer", "Bearer junk", "bearer  "])
def test_a_session_with_a_bogus_bearer_header_writes_nothing(
    app, client, auth, officer, district, authorization
):
    assert auth.login(officer).status_code == 302
    app.config["WTF_CSRF_ENABLED"] = True
    headers = {"Authorization": authorization}
    created = client.post("/api/v1/assets", json=charging_station_data(5), headers=headers)
    assert created.status_code == 401, created.json
    assert created.is_json
    changed = client.post(
        "/api/v1/hazards",
        json={"category": "other", "description": "x", "longitude": 119.2, "latitude": 36.7},
        headers=headers,
    )
    assert changed.status_code == 401
    assert asset_count(app) == 0
    # without the header the cookie session still needs its CSRF token
    refused = client.post("/api/v1/assets", json=charging_station_data(5))
    assert refused.status_code == 400
    assert asset_count(app) == 0


def test_a_valid_token_without_a_cookie_writes_without_csrf(app, officer, officer_token, district):
    app.config["WTF_CSRF_ENABLED"] = True
    fresh = app.test_client()  # no cookie at all
    headers = {"Authorization": f"Bearer {officer_token}"}
    created = fresh.post("/api/v1/assets", json=charging_station_data(5), headers=headers)
    assert created.status_code == 201, created.json
    assert asset_count(app) == 1
    assert "Set-Cookie" not in created.headers  # a token request starts no session


def test_the_token_not_the_cookie_decides_who_writes(
    app, client, auth, officer, contractor_user, district
):
    """A signed-in officer's browser sending a contractor's token acts as the contractor."""
    with app.app_context():
        contractor_token = factories.gen_token(contractor_user)
        db.session.commit()
    auth.login(officer)
    app.config["WTF_CSRF_ENABLED"] = True
    headers = {"Authorization": f"Bearer {contractor_token}"}
    created = client.post("/api/v1/assets", json=charging_station_data(5), headers=headers)
    assert created.status_code == 403
    assert asset_count(app) == 0
