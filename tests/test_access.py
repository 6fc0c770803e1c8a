"""A sweep over every route: nothing but /login, /healthz and static files answers a stranger."""

import re

PUBLIC = {
    "/login",
    "/healthz",
    "/lang/<code>",
    "/static/<path:filename>",
    "/calendar/<token>.ics",
    # The service worker and the web app manifest (core/pwa.py): fetched without the session.
    "/sw.js",
    "/manifest.webmanifest",
    # The API's OpenAPI document (no data: programs read it before they have a token).
    "/api/v1/openapi.json",
}


def concrete(rule: str) -> str:
    """The rule with each variable filled in: 1 for numbers, X for the rest."""
    return re.sub(r"<[^>]+>", "X", re.sub(r"<(int|float):[^>]+>", "1", rule))


def test_every_route_needs_a_login(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC or rule.endpoint.endswith(".static"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(concrete(rule.rule), method=method)
            checked += 1
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, rule.rule)
                assert response.is_json
            else:
                assert response.status_code in (302, 401), (method, rule.rule)
                if response.status_code == 302:
                    assert "/login" in response.headers["Location"]
    assert checked >= 5


def test_public_calendar_feed_answers_a_bad_token_with_404(client):
    response = client.get("/calendar/not-a-token.ics")
    assert response.status_code == 404
    assert b"BEGIN:VCALENDAR" not in response.data


def test_contractor_cannot_write_assets(app, client, auth, contractor_user, district):
    auth.login(contractor_user)
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("assets.", "assets_api.")):
            continue
        for method in rule.methods & {"POST", "PATCH", "PUT", "DELETE"}:
            response = client.open(concrete(rule.rule), method=method, json={})
            assert response.status_code in (403, 404), (method, rule.rule, response.status_code)
