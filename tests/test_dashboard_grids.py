"""The dashboard at province size (issue 14): past ``DASHBOARD_GRID_ROWS`` grids it lists only
the worst grids (most overdue inspections, then hazards, then by code) and links to the full
list (``/dashboard/grids``: every grid, worst first or by code, paged, filtered by grid); under
it, the grid hierarchy as before."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from html import unescape

from core.extensions import db
from dashboard import stats
from tests import factories
from tests.test_dashboard_overdue import NOW, late  # noqa: F401 (a fixture)
from tests.test_maps import count_queries

# late's counts, and one more overdue inspection in G1-02 (a tie on inspections with G2-02,
# broken by G2-02's overdue hazard): (grid, overdue inspections, overdue hazards), worst first
WORST_FIRST = [("G1-01", 2, 1), ("G2-02", 1, 1), ("G1-02", 1, 0), ("G2-01", 0, 0)]


def grid_rows(html: str, table: str) -> list[str]:
    body = re.search(rf'<table id="{table}".*?</table>', html, re.S).group(0)
    return re.findall(r'<tr[^>]*data-grid="([^"]+)"', body)


def row_counts(html: str, table: str, code: str) -> tuple[int, int]:
    body = re.search(rf'<table id="{table}".*?</table>', html, re.S).group(0)
    row = re.search(rf'<tr[^>]*data-grid="{code}".*?</tr>', body, re.S).group(0)
    inspections, hazards = re.findall(r">(\d+)</a>", row)
    return int(inspections), int(hazards)


def one_more_overdue(app) -> None:
    with app.app_context():
        factories.gen_inspection("CS-002", date(2026, 3, 1))
        db.session.commit()


def test_past_the_limit_the_dashboard_lists_the_worst_grids(
    app,
    client,
    auth,
    late,  # noqa: F811
    frozen_clock,
):
    frozen_clock.set(NOW)
    one_more_overdue(app)
    app.config["DASHBOARD_GRID_ROWS"] = 3
    auth.login("officer@example.org")
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert grid_rows(html, "overdue-by-grid") == [code for code, *_n in WORST_FIRST[:3]]
    for code, inspections, hazards in WORST_FIRST[:3]:
        assert row_counts(html, "overdue-by-grid", code) == (inspections, hazards)
    assert "The 3 grids with the most overdue inspections, of 4." in html
    # the grid map is not drawn (its regions would be every grid): the table says it all
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, re.S).group(1))
    assert data["grids"] is None
    # the assets by grid: the 3 holding the most; the filter offers every grid up to
    # GRID_SELECT_LIMIT, whatever DASHBOARD_GRID_ROWS (tests/test_grid_filter.py)
    assert len(grid_rows(html, "by-grid")) == 3 + 1  # and the "no grid" row
    assert len(set(re.findall(r'<option value="(G[^"]*)"', html))) == 6
    # the link leads to every grid, worst first
    link = unescape(re.search(r'href="([^"]+)" id="all-grids-link"', html).group(1))
    assert link == "/dashboard/grids"
    listed = client.get(link, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert grid_rows(listed, "grid-list") == [code for code, *_n in WORST_FIRST]
    for code, inspections, hazards in WORST_FIRST:
        assert row_counts(listed, "grid-list", code) == (inspections, hazards)
    assert "4 grids." in listed


def test_under_the_limit_the_dashboard_shows_the_hierarchy(
    app,
    client,
    auth,
    late,  # noqa: F811
    frozen_clock,
):
    frozen_clock.set(NOW)
    auth.login("officer@example.org")
    html = client.get("/").get_data(as_text=True)
    assert grid_rows(html, "overdue-by-grid") == ["G1", "G1-01", "G1-02", "G2", "G2-01", "G2-02"]
    assert 'id="all-grids-link"' in html
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, re.S).group(1))
    assert len(data["grids"]["features"]) == 4


def test_the_full_list_pages_orders_and_filters(
    app,
    client,
    auth,
    late,  # noqa: F811
    frozen_clock,
):
    frozen_clock.set(NOW)
    one_more_overdue(app)
    auth.login("officer@example.org")
    first = client.get("/dashboard/grids?per_page=3").get_data(as_text=True)
    assert grid_rows(first, "grid-list") == ["G1-01", "G2-02", "G1-02"]
    next_page = unescape(re.search(r'rel="next" href="([^"]+)"', first).group(1))
    assert next_page == "/dashboard/grids?per_page=3&page=2"
    second = client.get(next_page).get_data(as_text=True)
    assert grid_rows(second, "grid-list") == ["G2-01"]
    by_code = client.get("/dashboard/grids?sort=code").get_data(as_text=True)
    assert grid_rows(by_code, "grid-list") == ["G1-01", "G1-02", "G2-01", "G2-02"]
    in_g2 = client.get("/dashboard/grids?grid=G2").get_data(as_text=True)
    assert grid_rows(in_g2, "grid-list") == ["G2-02", "G2-01"]
    assert client.get("/dashboard/grids?sort=nonsense").status_code == 400
    assert client.get("/dashboard/grids?page=0").status_code == 400


def test_a_contractor_counts_its_own_in_the_full_list(
    app,
    client,
    auth,
    late,  # noqa: F811
    frozen_clock,
):
    frozen_clock.set(NOW)
    auth.login("fixer@example.org")
    html = client.get("/dashboard/grids").get_data(as_text=True)
    # Fixers Ltd's own overdue inspections (both in G1-01), no hazard of its
    assert row_counts(html, "grid-list", "G1-01") == (2, 0)
    assert row_counts(html, "grid-list", "G2-02") == (0, 0)


def overdue_card(html: str) -> int:
    return int(re.search(r'id="card-overdue">.*?class="stat">(\d+)<', html, re.S).group(1))


def test_the_numbers_are_reused_until_the_data_changes(
    app,
    client,
    auth,
    late,  # noqa: F811
    frozen_clock,
):
    """A second look at the dashboard reuses the numbers of the first (only the data version
    and the page's own reads run); a committed write, or the next day, counts again."""
    frozen_clock.set(NOW)
    auth.login("officer@example.org")
    statements, stop = count_queries(app)
    first = client.get("/").get_data(as_text=True)
    counted = len(statements)
    statements.clear()
    again = client.get("/").get_data(as_text=True)
    content = re.compile(r"<h1>.*</main>", re.S)  # not the header's nonce or CSRF token
    assert content.search(again).group(0) == content.search(first).group(0)
    stop()
    assert len(statements) < counted / 3
    assert not [s for s in statements if "GROUP BY" in s]
    assert overdue_card(first) == 3
    one_more_overdue(app)
    assert overdue_card(client.get("/").get_data(as_text=True)) == 4
    with app.app_context():
        factories.gen_inspection("CS-002", date(2026, 3, 11))  # due today: not yet overdue
        db.session.commit()
    assert overdue_card(client.get("/").get_data(as_text=True)) == 4
    frozen_clock.set(NOW + timedelta(days=1))  # the next day, with nothing written: it is
    auth.login("officer@example.org")  # (a session lasts SESSION_HOURS)
    with app.app_context():
        expected = stats.overdue_count(date(2026, 3, 12))
    assert expected == 5
    assert overdue_card(client.get("/").get_data(as_text=True)) == expected
