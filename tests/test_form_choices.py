"""Forms whose choices grow with the registry: up to ``FORM_SELECT_LIMIT`` sites (property
companies) the hazard report's site (the hazard forms' responsible party) is a select of them
all and the asset form suggests every site's name, as before; past it each is a text field for
the name, the page no longer grows, and a name nothing has is refused (400, nothing written)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from accounts.models import Contractor, User
from accounts.services import user_by_email
from assets.models import Asset, Grid, PropertyCompany, Site
from core.audit import AuditEntry
from core.extensions import db
from hazards.models import Hazard
from hazards.services import create_hazard
from inspections.models import InspectionPlan
from tests.factories import (
    INSIDE_G1_01,
    charging_station_data,
    gen_asset,
    gen_contractor,
    gen_grid,
    gen_site,
    gen_user,
)
from tests.test_asset_pages import form_data
from tests.test_plans import form_data as plan_form_data

FROZEN = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
LIMIT = 3


@pytest.fixture
def english(client):
    client.get("/lang/en")
    return client


@pytest.fixture
def registry(app, district, officer, contractor_user, frozen_clock, english):
    """Four sites of four property companies (past a limit of 3), CS-001 at Harbour Garden,
    another contractor, and one hazard (HZ-2026-0001, Harbour Property responsible)."""
    frozen_clock.set(FROZEN)
    app.config["FORM_SELECT_LIMIT"] = LIMIT
    with app.app_context():
        gen_site()
        for number in range(1, 4):
            gen_site(f"Hill Court {number}", f"Hill Property {number}")
        gen_asset(charging_station_data(1, site="Harbour Garden"))
        gen_user("other@example.org", "contractor", contractor="Others Co")
        gen_contractor("Fixers Ltd")
        create_hazard(
            {
                "category": "blocked_exit",
                "severity": "general",
                "description": "Boxes in the exit",
                "asset_code": "CS-001",
            },
            found_by=user_by_email(officer),
        )
        db.session.commit()


def add_sites(app, count: int, start: int) -> None:
    """``count`` more sites, each of its own property company, with long names."""
    with app.app_context():
        for number in range(start, start + count):
            gen_site(f"Riverside Residential Compound {number:05d}", f"River Property {number:05d}")
        db.session.commit()


def report(**overrides) -> dict:
    data = {
        "category": "ebike_in_corridor",
        "severity": "major",
        "description": "Three e-bikes charging in the stairwell",
        "longitude": str(INSIDE_G1_01[0]),
        "latitude": str(INSIDE_G1_01[1]),
    }
    data.update(overrides)
    return data


def written(app) -> tuple[int, int, int]:
    """(hazards, assets, audit entries)."""
    with app.app_context():
        counts = tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Hazard, Asset, AuditEntry)
        )
        db.session.remove()
    return counts


def latest_hazard(app) -> tuple[str | None, str | None, str | None]:
    """The last hazard's (site, responsible company, responsible contractor) names."""
    with app.app_context():
        hazard = db.session.scalar(select(Hazard).order_by(Hazard.id.desc()).limit(1))
        names = tuple(
            thing.name if thing is not None else None
            for thing in (hazard.site, hazard.responsible_company, hazard.responsible_contractor)
        )
        db.session.remove()
    return names


def page(client, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return answer.get_data(as_text=True)


# --- Below the limit: as before --------------------------------------------------------------


def test_below_the_limit_the_site_and_party_are_selects_of_them_all(app, client, auth, registry):
    app.config["FORM_SELECT_LIMIT"] = 200
    auth.login("officer@example.org")
    html = page(client, "/hazards/new")
    sites = re.search(r'<select id="site_id" name="site_id">(.*?)</select>', html, re.S).group(1)
    assert "Hill Court 3" in sites and "Harbour Garden" in sites
    assert 'name="site_name"' not in html
    party = re.search(r'<select id="responsible" name="responsible">(.*?)</select>', html, re.S)
    assert "Hill Property 2" in party.group(1) and "Fixers Ltd" in party.group(1)
    assert "<datalist" not in html
    assets_form = page(client, "/assets/new")
    suggested = re.search(r'<datalist id="site-names">(.*?)</datalist>', assets_form, re.S)
    assert suggested.group(1).count("<option") == 4


# --- Past the limit: text fields, pages that no longer grow ------------------------------------


@pytest.mark.parametrize(
    "path", ["/hazards/new", "/hazards/HZ-2026-0001/edit", "/assets/new", "/assets/CS-001/edit"]
)
def test_past_the_limit_the_page_no_longer_grows_with_sites_and_companies(
    app, client, auth, registry, path
):
    auth.login("officer@example.org")
    before = page(client, path)
    add_sites(app, 30, start=1)
    after = page(client, path)
    assert "Riverside" not in after and "River Property" not in after
    assert len(after) == len(before)


def test_past_the_limit_the_report_form_has_text_fields(app, client, auth, registry):
    auth.login("officer@example.org")
    html = page(client, "/hazards/new")
    assert not re.search(r'<select[^>]*name="(site_id|responsible)"', html)
    assert re.search(r'<label for="site_name">Site</label>\s*<input[^>]*name="site_name"', html)
    assert re.search(
        r'<input type="text" id="responsible" name="responsible" value="" '
        r'list="responsible-choices"',
        html,
    )
    options = re.search(r'<datalist id="responsible-choices">(.*?)</datalist>', html, re.S)
    assert re.findall(r'<option value="([^"]*)"', options.group(1)) == [
        "Fixers Ltd",
        "Others Co",
    ]
    assert "Type a property company's or a contractor's full name." in html
    assert "Hill Court" not in html and "Hill Property" not in html


def test_a_contractor_is_offered_only_its_own_company(app, client, auth, registry):
    auth.login("fixer@example.org")
    html = page(client, "/hazards/new")
    options = re.search(r'<datalist id="responsible-choices">(.*?)</datalist>', html, re.S)
    assert re.findall(r'<option value="([^"]*)"', options.group(1)) == ["Fixers Ltd"]
    assert "Others Co" not in html


# --- Past the limit: typed names are stored ---------------------------------------------------


@pytest.mark.parametrize(
    ("user", "typed", "stored"),
    [
        # a site and a property company, typed with spaces around them
        (
            "fixer@example.org",
            {"site_name": " Hill Court 2 ", "responsible": " Hill Property 3 "},
            ("Hill Court 2", "Hill Property 3", None),
        ),
        # the contractor's own company
        ("fixer@example.org", {"responsible": "Fixers Ltd"}, (None, None, "Fixers Ltd")),
        # staff may name any contractor
        ("officer@example.org", {"responsible": "Others Co"}, (None, None, "Others Co")),
        # no party: the typed site's property company
        (
            "officer@example.org",
            {"site_name": "Hill Court 1"},
            ("Hill Court 1", "Hill Property 1", None),
        ),
        # the asset's site and its company when neither is typed
        (
            "officer@example.org",
            {"asset_code": "CS-001", "longitude": "", "latitude": ""},
            ("Harbour Garden", "Harbour Property", None),
        ),
    ],
)
def test_typed_names_are_stored(app, client, auth, registry, user, typed, stored):
    auth.login(user)
    response = client.post("/hazards/new", data=report(**typed))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert latest_hazard(app) == stored


@pytest.mark.parametrize(
    ("user", "typed", "message"),
    [
        ("officer@example.org", {"site_name": "Nowhere Court"}, "Unknown site: Nowhere Court."),
        # a site's id is not its name
        ("officer@example.org", {"site_name": "1"}, "Unknown site: 1."),
        (
            "officer@example.org",
            {"responsible": "Nobody Property"},
            "No property company or contractor is named Nobody Property.",
        ),
        # another contractor does not exist for a contractor user
        (
            "fixer@example.org",
            {"responsible": "Others Co"},
            "No property company or contractor is named Others Co.",
        ),
        # the select's values mean nothing in the text field
        (
            "officer@example.org",
            {"responsible": "company:1"},
            "No property company or contractor is named company:1.",
        ),
    ],
)
def test_an_unknown_name_is_refused_and_nothing_is_written(
    app, client, auth, registry, user, typed, message
):
    auth.login(user)
    before = written(app)
    response = client.post("/hazards/new", data=report(**typed))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true"' in html
    assert "Three e-bikes charging in the stairwell" in html  # the input is kept
    assert written(app) == before


def test_staff_edit_shows_and_changes_the_party_by_name(app, client, auth, registry):
    auth.login("officer@example.org")
    html = page(client, "/hazards/HZ-2026-0001/edit")
    assert re.search(r'id="responsible" name="responsible" value="Harbour Property"', html)
    data = {"severity": "general", "deadline": "2026-04-09", "description": "Boxes"}
    before = written(app)
    refused = client.post(
        "/hazards/HZ-2026-0001/edit", data={**data, "responsible": "Hill Property 9"}
    )
    assert refused.status_code == 400
    assert "No property company or contractor is named Hill Property 9." in refused.get_data(
        as_text=True
    )
    assert written(app) == before
    saved = client.post(
        "/hazards/HZ-2026-0001/edit", data={**data, "responsible": "Hill Property 1"}
    )
    assert saved.status_code == 302
    with app.app_context():
        hazard = db.session.scalar(select(Hazard).where(Hazard.code == "HZ-2026-0001"))
        assert hazard.responsible_company.name == "Hill Property 1"
        assert hazard.description == "Boxes"
    # an empty name clears the party
    assert (
        client.post("/hazards/HZ-2026-0001/edit", data={**data, "responsible": ""}).status_code
        == 302
    )
    with app.app_context():
        hazard = db.session.scalar(select(Hazard).where(Hazard.code == "HZ-2026-0001"))
        assert (hazard.responsible_company_id, hazard.responsible_contractor_id) == (None, None)


def test_the_asset_form_takes_a_typed_site_and_refuses_an_unknown_one(app, client, auth, registry):
    auth.login("officer@example.org")
    html = page(client, "/assets/new")
    assert re.search(r'<datalist id="site-names"></datalist>', html)
    before = written(app)
    record = charging_station_data(7)
    refused = client.post("/assets/new", data=form_data(record, site="Nowhere Court"))
    assert refused.status_code == 400
    assert "Unknown site: Nowhere Court." in refused.get_data(as_text=True)
    assert written(app) == before
    saved = client.post("/assets/new", data=form_data(record, site="Hill Court 3"))
    assert saved.status_code == 302
    with app.app_context():
        asset = db.session.scalar(select(Asset).where(Asset.code == "CS-007"))
        assert asset.site.name == "Hill Court 3"
        assert db.session.scalar(select(func.count()).select_from(Site)) == 4
        assert db.session.scalar(select(func.count()).select_from(PropertyCompany)) == 4


# --- The hazard list's responsible filter ------------------------------------------------------


def listed(client, **query) -> list[str]:
    answer = client.get("/hazards/", query_string=query)
    assert answer.status_code == 200
    return re.findall(r'<tr data-code="([^"]+)"', answer.get_data(as_text=True))


@pytest.fixture
def three_parties(app, registry, officer):
    """HZ-2026-0001 (Harbour Property, from ``registry``), HZ-2026-0002 (Hill Property 1)
    and HZ-2026-0003 (Fixers Ltd), all reported by the officer."""
    with app.app_context():
        fixers = db.session.scalar(select(Contractor.id).where(Contractor.name == "Fixers Ltd"))
        for values in ({"site_name": "Hill Court 1"}, {"responsible_contractor_id": fixers}):
            create_hazard(
                {**report(category="blocked_exit", severity="general"), **values},
                found_by=user_by_email(officer),
            )
        db.session.commit()


def test_past_the_limit_the_list_filter_is_a_text_field_and_does_not_grow(
    app, client, auth, three_parties
):
    auth.login("officer@example.org")
    html = page(client, "/hazards/")
    assert not re.search(r'<select[^>]*name="responsible"', html)
    assert re.search(
        r'<input type="search" id="filter-responsible" name="responsible" value="" '
        r'list="filter-responsible-choices"',
        html,
    )
    options = re.search(r'<datalist id="filter-responsible-choices">(.*?)</datalist>', html, re.S)
    assert re.findall(r'<option value="([^"]*)"', options.group(1)) == ["Fixers Ltd", "Others Co"]
    assert "Hill Property 2" not in html
    add_sites(app, 30, start=1)
    assert len(page(client, "/hazards/")) == len(html)


@pytest.mark.parametrize("limit", [LIMIT, 200])
def test_the_list_filters_by_a_typed_party_name(app, client, auth, three_parties, limit):
    app.config["FORM_SELECT_LIMIT"] = limit
    auth.login("officer@example.org")
    assert listed(client, responsible="Hill Property 1") == ["HZ-2026-0002"]
    assert listed(client, responsible="Harbour Property") == ["HZ-2026-0001"]
    assert listed(client, responsible="Fixers Ltd") == ["HZ-2026-0003"]
    with app.app_context():
        company = db.session.scalar(
            select(PropertyCompany.id).where(PropertyCompany.name == "Hill Property 1")
        )
    assert listed(client, responsible=f"company:{company}") == ["HZ-2026-0002"]  # old links
    html = page(client, "/hazards/?responsible=Hill+Property+1")
    assert 'id="filter-responsible-unknown"' not in html


@pytest.mark.parametrize(
    ("user", "typed"),
    [("officer@example.org", "Nobody Property"), ("fixer@example.org", "Others Co")],
)
def test_an_unknown_party_lists_nothing_and_says_so(app, client, auth, three_parties, user, typed):
    auth.login(user)
    assert listed(client, responsible=typed) == []
    html = page(client, f"/hazards/?responsible={typed}")
    assert f"No property company or contractor is named {typed}." in html
    assert 'aria-describedby="filter-responsible-hint filter-responsible-unknown"' in html


# --- Grid fields of the plan and user forms past GRID_SELECT_LIMIT ----------------------------

NEW_PASSWORD = "a long and unusual passphrase 42"


def grid_field(html: str) -> tuple[str, list[str]]:
    """The grid field's tag name and the codes its datalist suggests."""
    select = re.search(r'<select[^>]*name="grid"', html)
    suggested = re.search(r'<datalist id="grid-choices">(.*?)</datalist>', html, re.S)
    codes = re.findall(r'<option value="([^"]*)"', suggested.group(1)) if suggested else []
    return ("select" if select else "input"), codes


def plan_form(app, **changes) -> dict:
    """test_plans' plan form, for the contractor the test app made."""
    return plan_form_data(contractor_id=app.config["TEST_CONTRACTOR_ID"], **changes)


def user_form(**changes) -> dict:
    return {
        "email": "zhang.wei@example.org",
        "name": "Zhang Wei",
        "role": "officer",
        "contractor": "",
        "grid": "",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        **changes,
    }


@pytest.fixture
def as_admin(app, client, auth, district, english, frozen_clock):
    frozen_clock.set(FROZEN)
    with app.app_context():
        gen_user("admin@example.org", "admin")
        app.config["TEST_CONTRACTOR_ID"] = str(gen_contractor("Fixers Ltd").id)
        db.session.commit()
    auth.login("admin@example.org")
    return client


@pytest.mark.parametrize("limit", [200, 3])
def test_the_plan_and_user_forms_name_a_grid_by_its_code_past_the_limit(app, as_admin, limit):
    """The district's six grids: a select of them all up to the limit; past it a text field
    suggesting the two first-level grids (and the current one). Either way a typed or chosen
    code is stored and one no grid has is refused, nothing written."""
    app.config["GRID_SELECT_LIMIT"] = limit
    expected = ("select", []) if limit == 200 else ("input", ["G1", "G2"])
    for path in ("/plans/new", "/users/new"):
        assert grid_field(page(as_admin, path)) == expected, path

    before = written(app)
    refused = as_admin.post("/plans/new", data=plan_form(app, grid="G9-99"))
    assert refused.status_code == 400
    assert "No grid has the code G9-99." in refused.get_data(as_text=True)
    refused = as_admin.post("/users/new", data=user_form(grid="g9"))
    assert refused.status_code == 400
    assert "No grid has the code G9." in refused.get_data(as_text=True)
    assert written(app) == before

    assert as_admin.post("/plans/new", data=plan_form(app, grid="g1-02")).status_code == 302
    assert as_admin.post("/users/new", data=user_form(grid="G2-01")).status_code == 302
    with app.app_context():
        plan = db.session.scalar(select(InspectionPlan))
        officer = db.session.scalar(select(User).where(User.email == "zhang.wei@example.org"))
        assert (plan.grid.code, officer.grid.code) == ("G1-02", "G2-01")
        plan_id, officer_id = plan.id, officer.id
        db.session.remove()
    # the current grid is suggested too, and stays in the field
    for path in (f"/plans/{plan_id}/edit", f"/users/{officer_id}"):
        html = page(as_admin, path)
        if limit == 3:
            code = "G1-02" if "plans" in path else "G2-01"
            assert grid_field(html) == ("input", sorted(["G1", "G2", code]))
            assert re.search(rf'name="grid"[^>]*type="text" value="{code}"', html)
    scope = as_admin.post(f"/users/{officer_id}/scope", data={"grid": "G7"})
    assert scope.status_code == 400
    assert "No grid has the code G7." in scope.get_data(as_text=True)
    assert as_admin.post(f"/users/{officer_id}/scope", data={"grid": "g1"}).status_code == 302
    with app.app_context():
        assert db.session.get(User, officer_id).grid.code == "G1"


def test_past_the_grid_limit_the_forms_do_not_grow_with_grids(app, as_admin):
    app.config["GRID_SELECT_LIMIT"] = 3
    before = {path: len(page(as_admin, path)) for path in ("/plans/new", "/users/new")}
    with app.app_context():
        parent = db.session.scalar(select(Grid).where(Grid.code == "G1"))
        for number in range(5, 40):
            bounds = (119.10, 36.70, 119.11, 36.71)
            gen_grid(f"G1-{number:02d}", f"Extra grid number {number}", 2, parent, bounds)
        db.session.commit()
    assert {path: len(page(as_admin, path)) for path in before} == before
