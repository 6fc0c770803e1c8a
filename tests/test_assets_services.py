"""The registry's rules, called directly: validation, grid derivation, audit, bbox."""

import pytest
from sqlalchemy import func, select

from assets.grids import GridLocator, PointGridLocator
from assets.models import Asset
from assets.services import (
    AssetValidationError,
    AssetValidator,
    DuplicateCodeError,
    asset_by_code,
    create_asset,
    retire_asset,
    update_asset,
)
from core.audit import AuditEntry
from core.extensions import db
from core.spatial import BBox, bbox_filter
from tests import factories


def errors_for(app, data, strict=True):
    app.config["STRICT_DISTRICT"] = strict
    with pytest.raises(AssetValidationError) as caught:
        create_asset(data)
    db.session.rollback()
    return caught.value.errors


def test_create_derives_grid_and_audits(app, district):
    with app.app_context():
        asset = create_asset(factories.charging_station_data())
        db.session.commit()
        assert asset.grid.code == "G1-01"
        entry = db.session.scalar(select(AuditEntry))
        assert (entry.action, entry.entity_key, entry.actor) == ("create", "CS-001", "cli")
        assert entry.after["attributes"]["ports"] == 10


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"latitude": 91}, "latitude", "between"),
        ({"longitude": "abc"}, "longitude", "number"),
        ({"longitude": float("nan")}, "longitude", "between"),
        ({"longitude": 36.715, "latitude": 119.15}, "location", "swapped"),
        ({"longitude": 2.35, "latitude": 48.85}, "location", "outside China"),
        ({"longitude": 119.5, "latitude": 36.9}, "location", "outside every grid"),
        ({"kind": "fire_hose"}, "kind", "Unknown kind"),
        ({"code": "EB-0001"}, "code", "CS-001"),
        ({"name": " "}, "name", "required"),
        ({"installed_on": "2024-13-01"}, "installed_on", "date"),
        ({"installed_on": "2999-01-01"}, "installed_on", "future"),
        ({"status": "lost"}, "status", "one of"),
        ({"site": "Nowhere"}, "site", "Unknown site"),
        ({"attributes": {"ports": 0}}, "attributes.ports", "at least"),
        ({"attributes": {"ports": "many"}}, "attributes.ports", "whole number"),
        ({"attributes": {}}, "attributes.ports", "required"),
        ({"attributes": {"ports": 4, "floors": 3}}, "attributes.floors", "Unknown attribute"),
        ({"colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(app, district, overrides, field, words):
    with app.app_context():
        errors = errors_for(app, factories.charging_station_data(**overrides))
        assert field in errors, errors
        assert words.lower() in errors[field].lower()
        assert db.session.scalar(select(func.count(Asset.id))) == 0
        assert db.session.scalar(select(func.count(AuditEntry.id))) == 0


def test_outside_the_district_is_kept_as_no_grid_when_not_strict(app, district):
    app.config["STRICT_DISTRICT"] = False
    with app.app_context():
        asset = create_asset(
            factories.charging_station_data(
                longitude=factories.OUTSIDE_DISTRICT[0], latitude=factories.OUTSIDE_DISTRICT[1]
            )
        )
        db.session.commit()
        assert asset.grid_id is None


def test_duplicate_code_is_refused(app, district):
    with app.app_context():
        factories.gen_asset()
        db.session.commit()
        with pytest.raises(DuplicateCodeError):
            create_asset(factories.charging_station_data(name="Another"))


def test_move_rederives_grid_and_audits_only_changes(app, district):
    with app.app_context():
        factories.gen_asset()
        db.session.commit()
        asset = asset_by_code("cs-001")
        update_asset(
            asset,
            {"longitude": factories.INSIDE_G2_02[0], "latitude": factories.INSIDE_G2_02[1]},
        )
        db.session.commit()
        assert asset_by_code("CS-001").grid.code == "G2-02"
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
        assert set(entry.after) == {"longitude", "latitude", "grid"}
        assert entry.before["grid"] == "G1-01"


def test_update_cannot_change_code_or_kind(app, district):
    with app.app_context():
        asset = factories.gen_asset()
        db.session.commit()
        with pytest.raises(AssetValidationError) as caught:
            update_asset(asset, {"code": "CS-002", "kind": "elevator_blocker"})
        assert {"code", "kind"} <= set(caught.value.errors)


def test_retire_is_audited_once(app, district):
    with app.app_context():
        asset = factories.gen_asset()
        retire_asset(asset)
        retire_asset(asset)
        db.session.commit()
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["create", "retire"]


def test_grid_locator_prefers_second_level_and_covers_edges(app, district):
    with app.app_context():
        locator = GridLocator.from_database()
        assert locator.grid_for(119.15, 36.715).code == "G1-01"
        # On the shared edge of G1-01 and G1-02 the point is covered by both: the first code.
        assert locator.grid_for(119.15, 36.73).code == "G1-01"
        assert locator.grid_for(119.10, 36.70).code == "G1-01"
        assert locator.grid_for(119.31, 36.75) is None


def test_one_points_grid_read_through_the_index_is_the_locators(app, district):
    """A form's or an API write's point reads only the grids around it (``PointGridLocator``),
    and finds what the locator built from every grid finds: inside, on a shared edge (the
    first code), on a first-level grid's outer corner, a hair outside, and outside all."""
    points = [
        (119.15, 36.715),
        (119.15, 36.73),
        (119.10, 36.70),
        (119.1499999, 36.715),
        (119.1500001, 36.73),
        (119.31, 36.75),
    ]
    with app.app_context():
        every_grid = GridLocator.from_database()
        for longitude, latitude in points + [(lon + 0.0371, lat + 0.0113) for lon, lat in points]:
            expected = every_grid.grid_for(longitude, latitude)
            found = PointGridLocator().grid_for(longitude, latitude)
            assert (found and found.code) == (expected and expected.code), (longitude, latitude)
        assert PointGridLocator().grid_for(119.15, 36.73).code == "G1-01"


def test_one_points_grid_reads_only_the_grids_around_it(app, district, monkeypatch):
    seen: list[int] = []
    built = GridLocator.__init__

    def counting(self, areas):
        seen.append(len(areas))
        built(self, areas)

    monkeypatch.setattr(GridLocator, "__init__", counting)
    with app.app_context():
        total = len(GridLocator.from_database().areas)
        seen.clear()
        assert PointGridLocator().grid_for(119.16, 36.745).code == "G1-02"
    assert total == 6 and seen == [2]  # G1 and G1-02, not every grid


def test_bbox_filter_is_exact_on_both_backends(app, district):
    inside = [(119.150001, 36.715), (119.16, 36.72)]
    just_outside = [(119.149999, 36.715), (119.16, 36.7200001)]
    with app.app_context():
        for number, (lon, lat) in enumerate(inside + just_outside, start=1):
            factories.gen_asset(
                factories.charging_station_data(number, longitude=lon, latitude=lat)
            )
        db.session.commit()
        bbox = BBox(119.15, 36.71, 119.17, 36.72)
        codes = db.session.scalars(
            select(Asset.code)
            .where(bbox_filter(db.session.get_bind(), "assets", Asset.id, Asset.location, bbox))
            .order_by(Asset.code)
        ).all()
        assert codes == ["CS-001", "CS-002"]


def test_validator_reuses_one_grid_lookup(app, district):
    with app.app_context():
        validator = AssetValidator()
        first = validator.validate(factories.charging_station_data(1))
        second = validator.validate(factories.blocker_data(1))
        assert (first.grid.code, second.grid.code) == ("G1-01", "G2-02")


def test_bbox_query_plan_uses_the_spatial_index(app, district, backend):
    with app.app_context():
        factories.gen_asset()
        db.session.commit()
        bind = db.session.get_bind()
        query = select(Asset.code).where(
            bbox_filter(bind, "assets", Asset.id, Asset.location, BBox(119.1, 36.7, 119.2, 36.8))
        )
        sql = str(query.compile(bind, compile_kwargs={"literal_binds": True}))
        connection = db.session.connection()
        if backend == "spatialite":
            plan = " ".join(
                str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            )
            assert "idx_assets_location VIRTUAL TABLE" in plan
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))
            assert "idx_assets_location" in plan
