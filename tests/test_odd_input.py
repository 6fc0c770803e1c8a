"""Odd input never crashes the app (issue 13, finding 9): every route of the url_map is sent
ids past the databases' integers, page numbers of 10**20, NUL bytes and unpaired surrogates
in the path, the query string, forms and JSON, JSON nested 100,000 deep and CR/LF in
``next=``. Each answer is a 4xx (never a 500) and nothing is written. The text fields'
length limits and the dates' range are tested here too."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from assets.models import Asset
from core.extensions import db
from tests import factories

pytestmark = pytest.mark.slow

HUGE_IDS = [2**31, 2**63]
HUGE_PAGE = str(10**20)
NUL = "\x00"
SURROGATE_JSON = '{"code": "\\ud800", "name": "\\udfff", "description": "\\ud800"}'
NUL_JSON = '{"code": "CS\\u0000", "name": "\\u0000", "description": "\\u0000"}'
DEEP_JSON = "[" * 100_000 + "]" * 100_000
# Query parameters some list or page reads (filters, ids, search, redirects).
QUERY_NAMES = [
    "q",
    "grid",
    "kind",
    "status",
    "asset",
    "contractor",
    "page",
    "per_page",
    "next",
    "sort",
    "lang",
    "from",
    "to",
    "id",
    "ids",
]
ID_QUERY_NAMES = ("contractor", "contractor_id", "id", "ids", "asset", "plan", "inspection")
SKIPPED_ENDPOINTS = {"static"}
# The forms that name records by id: sent ids past the databases' integers (other forms
# get only poisoned values, refused before their view, so the sweep writes nothing).
FORM_ID_ENDPOINTS = {
    "inspections.inspection_bulk",
    "plans.plan_new",
    "hazards.hazard_new",
    "calendar.feed_new",
    "users.user_new",
    "contractors.contractor_user_add",
}


def same_site(location: str) -> bool:
    """A redirect to this app: no other host, no ``//`` or backslash path, no CR/LF."""
    parts = urlsplit(location)
    return (
        parts.netloc in ("", "localhost")
        and not parts.path.startswith("//")
        and "\\" not in location
        and "\r" not in location
        and "\n" not in location
    )


# Caches the dashboard fills as it reads (on-time totals per past due date, the overdue
# trend's past weeks: dashboard.trend), not records.
DERIVED_TABLES = {"on_time_days", "overdue_weeks", "overdue_week_totals"}


def row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
        if table.name not in DERIVED_TABLES
    }


@pytest.fixture
def seeded(app, district):
    """An admin (signed in on the returned client, and with a token), an asset, a scheduled
    inspection, a hazard."""
    with app.app_context():
        factories.gen_user("admin@example.org", "admin")
        factories.gen_asset()
        factories.gen_inspection("CS-001", date(2026, 3, 20))
        factories.gen_hazard("HZ-2026-0001", "general", "CS-001")
        db.session.commit()
        token = factories.gen_token("admin@example.org")
        db.session.commit()
    client = app.test_client()
    assert client.post(
        "/login", data={"email": "admin@example.org", "password": factories.PASSWORD}
    ).status_code in (302, 303)
    return client, {"Authorization": f"Bearer {token}"}


def rules(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED_ENDPOINTS),
        key=lambda rule: rule.rule,
    )


def path_for(rule, value_for) -> str:
    path = rule.rule
    for name, converter in rule._converters.items():
        path = path.replace(f"<{name}>", value_for(name, converter))
        for prefix in ("int", "path", "string"):
            path = path.replace(f"<{prefix}:{name}>", value_for(name, converter))
    return path


def ordinary_value(name, converter) -> str:
    return "1" if isinstance(converter, IntegerConverter) else "CS-001"


def requests_for(rule):
    """(method, url, kwargs, the status expected or None for any 4xx) for one rule."""
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    int_args = [
        name
        for name, converter in rule._converters.items()
        if isinstance(converter, IntegerConverter)
    ]
    text_args = [name for name in rule._converters if name not in int_args]
    ordinary = path_for(rule, ordinary_value)
    for method in methods:
        for huge in HUGE_IDS:
            if int_args:
                url = path_for(
                    rule,
                    lambda name, converter, huge=huge: (
                        str(huge) if name in int_args else ordinary_value(name, converter)
                    ),
                )
                yield method, url, {}, (404,)
        if text_args:
            url = path_for(
                rule,
                lambda name, converter: quote("CS" + NUL) if name in text_args else "1",
            )
            yield method, url, {}, (400,)
        nul_query = "&".join(f"{name}={quote(NUL)}" for name in QUERY_NAMES)
        yield method, f"{ordinary}?{nul_query}", {}, (400,)
        if method == "GET":
            yield method, f"{ordinary}?page={HUGE_PAGE}&per_page={HUGE_PAGE}", {}, None
            huge_ids = "&".join(f"{name}={2**63}" for name in ID_QUERY_NAMES)
            yield method, f"{ordinary}?{huge_ids}", {}, None
            yield method, f"{ordinary}?next=/%0D%0ALocation:%20http://evil.example", {}, None
        else:
            form = {name: NUL for name in ("code", "name", "description", "reason", "ids")}
            yield method, ordinary, {"data": form}, (400,)
            if rule.endpoint in FORM_ID_ENDPOINTS:
                huge_form = {"ids": str(2**63), "contractor_id": str(2**63), "id": str(2**63)}
                yield method, ordinary, {"data": huge_form}, None
            for body in (DEEP_JSON, SURROGATE_JSON, NUL_JSON):
                yield method, ordinary, {"data": body, "content_type": "application/json"}, (400,)


def test_every_route_answers_odd_input_with_a_4xx_and_writes_nothing(app, seeded):
    client, token_headers = seeded
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash is a 500 to report, not a raise
    with app.app_context():
        before = row_counts()
    wrong = []
    sent = 0
    for rule in rules(app):
        for method, url, kwargs, expected in requests_for(rule):
            headers = token_headers if url.startswith("/api/") else {}
            response = client.open(url, method=method, headers=headers, **kwargs)
            sent += 1
            status = response.status_code
            location = response.headers.get("Location", "")
            response.get_data()
            response.close()  # streamed exports end their generator here
            what = f"{method} {url[:100]} {str(kwargs.get('data', ''))[:30]!r}: {status}"
            if status >= 500 or (expected is not None and status not in expected):
                wrong.append(what)
            elif location and not same_site(location):
                wrong.append(f"{what} to {location}")
    with app.app_context():
        after = row_counts()
    assert client.get("/profile").status_code == 200  # still signed in: every page was reached
    assert sent > 500
    assert wrong == [], "\n".join(wrong)
    assert after == before


def test_huge_page_numbers_are_refused_on_pages_and_in_the_api(app, seeded):
    client, token_headers = seeded
    assert client.get(f"/assets/?page={HUGE_PAGE}").status_code == 400
    assert client.get(f"/inspections/?page={HUGE_PAGE}").status_code == 400
    response = client.get(f"/api/v1/assets?page={HUGE_PAGE}", headers=token_headers)
    assert response.status_code == 422
    assert "page" in response.json["errors"]["query"]
    response = client.get(f"/api/v1/inspections/{2**31}", headers=token_headers)
    assert response.status_code == 404
    assert response.json["code"] == 404


def test_nul_surrogates_and_deep_json_are_a_400_with_json_in_the_api(app, seeded):
    client, token_headers = seeded
    for body in (DEEP_JSON, SURROGATE_JSON, '{"code": "CS\\u0000"}'):
        response = client.post(
            "/api/v1/assets", data=body, content_type="application/json", headers=token_headers
        )
        assert response.status_code == 400, body[:40]
        assert response.json["code"] == 400
    response = client.get(f"/api/v1/assets/CS{quote(NUL)}", headers=token_headers)
    assert response.status_code == 400


def test_login_next_keeps_only_same_site_paths(app, seeded):
    client = app.test_client()
    for target in (
        "/%0D%0ALocation:%20http://evil.example",
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "//evil.example",
        "http://evil.example/",
        "/%09/evil.example",
    ):
        response = client.post(
            f"/login?next={target}",
            data={"email": "admin@example.org", "password": factories.PASSWORD},
        )
        assert response.status_code in (302, 303), target
        assert "evil" not in response.headers["Location"], target
    response = client.post(
        "/login?next=/assets/CS-001",
        data={"email": "admin@example.org", "password": factories.PASSWORD},
    )
    assert response.headers["Location"].endswith("/assets/CS-001")


def test_a_5000_character_code_is_refused_and_label_sheets_still_print(app, seeded):
    client, token_headers = seeded
    long_code = "CS-" + "1" * 4997
    data = factories.charging_station_data(2, code=long_code)
    response = client.post("/api/v1/assets", json=data, headers=token_headers)
    assert response.status_code == 422
    assert "code" in response.json["errors"]["json"]
    form = {key: value for key, value in data.items() if not isinstance(value, dict)}
    response = client.post("/assets/new", data=form)
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Asset)) == 1
    response = client.get("/assets/labels?grid=G1")
    assert response.status_code == 200


def test_found_date_in_year_1_is_refused(app, seeded):
    client, token_headers = seeded
    body = {
        "category": "other",
        "severity": "general",
        "description": "Blocked exit",
        "longitude": 119.15,
        "latitude": 36.715,
        "found_on": "0001-01-01",
    }
    response = client.post("/api/v1/hazards", json=body, headers=token_headers)
    assert response.status_code == 422
    assert "found_on" in response.json["errors"]["json"]
    body["found_on"] = "2026-03-10"
    response = client.post("/api/v1/hazards", json=body, headers=token_headers)
    assert response.status_code == 201
    assert response.json["properties"]["code"].startswith("HZ-2026-")
