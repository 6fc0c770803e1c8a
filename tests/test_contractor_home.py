"""A contractor's home (``/``): today's and overdue work first, then the coming days, each
with one tap to its logging form; staff keep the dashboard. (The phone's nearest-first order
is tested in a real browser: tests/test_phone_browser.py.)"""

from __future__ import annotations

import re

import pytest

from accounts.models import User
from core import clock
from core.extensions import db
from dashboard.work import open_work
from tests.work_field import COMING_BY_DUE, NOW, NOW_BY_DUE, POINTS, TODAY, gen_work_field


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW)
    yield
    clock.freeze(None)


@pytest.fixture(autouse=True)
def english(client):
    client.get("/lang/en")


@pytest.fixture
def work(app, district, officer, contractor_user):
    with app.app_context():
        ids = gen_work_field()
        db.session.commit()
        return ids


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, section_id
    return match.group(0)


def items(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<li class="work-item" data-id="(\d+)"', html)]


def names(work: dict[str, int], listed: list[int]) -> list[str]:
    by_id = {inspection_id: name for name, inspection_id in work.items()}
    return [by_id[inspection_id] for inspection_id in listed]


def test_a_contractor_lands_on_its_work(client, auth, contractor_user, work):
    auth.login(contractor_user)
    html = client.get("/").text
    assert "Today&#39;s work" in html or "Today's work" in html
    assert 'id="card-total"' not in html  # not the district's dashboard
    assert names(work, items(section(html, "work-now"))) == NOW_BY_DUE
    assert names(work, items(section(html, "work-coming"))) == COMING_BY_DUE
    for name in ("later", "done", "rival"):
        assert f'data-id="{work[name]}"' not in html
    assert "Rivals Inc" not in html


def test_each_item_has_its_logging_form_its_urgency_and_its_point(
    client, auth, contractor_user, work
):
    auth.login(contractor_user)
    html = client.get("/").text
    for name in NOW_BY_DUE + COMING_BY_DUE:
        item = re.search(rf'<li class="work-item" data-id="{work[name]}".*?</li>', html, re.S)
        assert f'href="/inspections/{work[name]}/log"' in item.group(0)
    far = re.search(rf'data-id="{work["overdue_far"]}".*?</li>', html, re.S).group(0)
    assert "Overdue by 9 d" in far
    assert 'data-lon="119.150000" data-lat="36.715000"' in far
    assert POINTS["CS-001"] == (119.15, 36.715)
    assert "Due today" in re.search(rf'data-id="{work["today"]}".*?</li>', html, re.S).group(0)
    # the coming days are grouped by day
    assert re.findall(r'<h3 class="work-day" data-day="([\d-]+)"', html) == [
        "2026-03-12",
        "2026-03-17",
    ]
    # each logging form opens for the contractor
    assert client.get(f"/inspections/{work['today']}/log").status_code == 200


def test_the_logging_link_leads_to_the_form(client, auth, contractor_user, work):
    auth.login(contractor_user)
    html = client.get("/").text
    link = re.search(r'<a class="button primary work-log" href="([^"]+)"', html).group(1)
    assert link == f"/inspections/{work['overdue_far']}/log"
    form = client.get(link)
    assert form.status_code == 200
    assert 'name="result"' in form.text


def test_staff_keep_the_dashboard(client, auth, officer, work):
    auth.login(officer)
    html = client.get("/").text
    assert 'id="card-total"' in html
    assert 'class="work-item"' not in html
    assert 'id="card-total"' in client.get("/dashboard").text


def test_the_dashboard_stays_at_its_own_address_for_a_contractor(
    client, auth, contractor_user, work
):
    auth.login(contractor_user)
    html = client.get("/dashboard").text
    assert 'id="card-overdue"' in html
    assert 'href="/dashboard"' in client.get("/").text


def test_nothing_due_says_so(app, client, auth, district, contractor_user):
    auth.login(contractor_user)
    html = client.get("/").text
    assert 'id="nothing-now"' in html and 'id="nothing-coming"' in html


def test_the_home_is_scoped_by_the_access_policy(app, work):
    with app.app_context():
        rival = db.session.query(User).filter_by(email="rival@example.org").one()
        mine = db.session.query(User).filter_by(email="fixer@example.org").one()
        lone = User(email="lone@example.org", role="contractor", contractor_id=None)
        assert names(work, [item.inspection.id for item in open_work(rival, TODAY).now]) == [
            "rival"
        ]
        assert open_work(lone, TODAY).total == 0
        found = open_work(mine, TODAY)
        assert names(work, [item.inspection.id for item in found.now]) == NOW_BY_DUE
        assert [item.days_overdue for item in found.now] == [9, 2, 0]
        assert (found.now[0].longitude, found.now[0].latitude) == pytest.approx(POINTS["CS-001"])


def test_a_long_backlog_is_cut_and_counted(app, client, auth, contractor_user, work, monkeypatch):
    """Each part is cut on its own: a backlog of overdue work leaves the coming days shown."""
    with app.app_context():
        mine = db.session.query(User).filter_by(email="fixer@example.org").one()
        found = open_work(mine, TODAY, limit=2)
        assert names(work, [item.inspection.id for item in found.now]) == NOW_BY_DUE[:2]
        coming = [item.inspection.id for day in found.coming for item in day.items]
        assert names(work, coming) == COMING_BY_DUE[:2]
        assert (found.now_left_out, found.coming_left_out, found.total) == (1, 1, 6)
    monkeypatch.setattr("dashboard.work.WORK_LIMIT", 2)
    auth.login(contractor_user)
    html = client.get("/").text
    assert re.search(
        r'id="now-left-out">1 more are not shown here.\s*<a href="/inspections/"', html
    )
    assert 'id="coming-left-out"' in html and "/inspections/?status=due_soon" in html
