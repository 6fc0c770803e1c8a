"""`flask demo load`: the demo district, deterministic and idempotent."""

from __future__ import annotations

from geoalchemy2.shape import to_shape
from shapely import union_all
from shapely.geometry import box
from sqlalchemy import func, select

from accounts.models import Contractor, User
from assets.demo import ACCOUNTS
from assets.io import export_assets
from assets.models import Asset, Grid, PropertyCompany, Site
from core.audit import AuditEntry
from core.extensions import db


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_grids_tile_the_district(demo_app):
    with demo_app.app_context():
        grids = db.session.scalars(select(Grid).order_by(Grid.code)).all()
        first = [grid for grid in grids if grid.level == 1]
        second = [grid for grid in grids if grid.level == 2]
        assert [grid.code for grid in first] == ["G1", "G2", "G3"]
        assert len(second) == 20
        assert sum(grid.code.startswith("G1-") for grid in second) == 8
        assert all(grid.parent.code == grid.code.split("-")[0] for grid in second)
        assert all(grid.name and grid.leader_name and grid.leader_phone for grid in grids)
        assert all(grid.leader_email.endswith("@xingang.example.cn") for grid in grids)
        district = box(119.10, 36.70, 119.30, 36.76)
        for level in (first, second):
            shapes = [to_shape(grid.boundary) for grid in level]
            assert union_all(shapes).equals(district)
            assert abs(sum(shape.area for shape in shapes) - district.area) < 1e-12


def test_demo_assets(demo_app):
    with demo_app.app_context():
        codes = db.session.scalars(select(Asset.code).order_by(Asset.code)).all()
        assert [c for c in codes if c.startswith("CS-")] == [f"CS-{n:03d}" for n in range(1, 71)]
        assert [c for c in codes if c.startswith("EB-")] == [f"EB-{n:04d}" for n in range(1, 385)]
        assert db.session.scalar(select(func.count()).where(Asset.grid_id.is_(None))) == 0
        assert db.session.scalar(select(func.count()).where(Asset.site_id.is_(None))) == 0
        faulty = db.session.scalar(select(func.count()).where(Asset.status == "faulty"))
        assert faulty == 3
        assert count(AuditEntry) >= 454
        blocker = db.session.scalar(select(Asset).where(Asset.code == "EB-0001"))
        assert len(blocker.attributes["registration_code"]) == 20
        assert blocker.attributes["registration_code"].isdigit()
        station = db.session.scalar(select(Asset).where(Asset.code == "CS-001"))
        assert station.attributes["ports"] in (10, 12, 16, 20)
        years = {asset.installed_on.year for asset in db.session.scalars(select(Asset))}
        assert years <= {2023, 2024, 2025}


def test_demo_sites_companies_and_accounts(demo_app):
    with demo_app.app_context():
        assert count(PropertyCompany) == 8
        assert count(Site) == 40
        assert (
            db.session.scalar(select(func.count()).where(Site.property_company_id.is_(None))) == 0
        )
        users = {user.email: user for user in db.session.scalars(select(User))}
        assert users["admin@xingang.example.cn"].role == "admin"
        assert users["officer@xingang.example.cn"].role == "officer"
        contractor_users = [user for user in users.values() if user.role == "contractor"]
        assert len({user.contractor.name for user in contractor_users}) == 2
        assert all(
            c.contact_email and c.contact_phone for c in db.session.scalars(select(Contractor))
        )
        for email, password, *_ in ACCOUNTS:
            assert users[email].check_password(password)


def test_demo_load_is_idempotent_and_deterministic(app, demo_app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "454 assets" in first.output
    assert "admin@xingang.example.cn / xingang-admin-2024" in first.output
    with app.app_context():
        counts = [count(model) for model in (Grid, Site, Asset, User, AuditEntry)]
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, again.output
    assert "nothing added" in again.output
    assert "officer@xingang.example.cn / xingang-officer-2024" in again.output
    with app.app_context():
        assert [count(model) for model in (Grid, Site, Asset, User, AuditEntry)] == counts
        fresh = export_assets("csv"), export_assets("geojson")
    with demo_app.app_context():
        assert (export_assets("csv"), export_assets("geojson")) == fresh
