"""The Imports page: upload, preview every bad row in the user's language, write only on
confirmation; the importers' own checks (the command line's), all or nothing."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import func, select

from assets.models import Asset, Grid
from core.audit import AuditEntry
from core.extensions import db
from tests import factories
from tests.test_import_export import BLOCKER, STATION, write_csv

GOOD_ROWS = [STATION, {**BLOCKER, "code": "EB-0002"}]
BAD_ROWS = [
    {**STATION, "code": "XX-1"},
    STATION | {"code": "CS-002"},
    {**BLOCKER, "elevator_number": ""},
    {**BLOCKER, "code": "EB-0003", "kind": "fire_hose"},
]


@pytest.fixture
def harbour_garden(app, district):
    with app.app_context():
        factories.gen_site()
        db.session.commit()


@pytest.fixture
def admin_client(client, auth, admin, harbour_garden):
    auth.login(admin)
    client.get("/lang/en")
    return client


def upload(client, path: Path, importer: str = "assets", **fields):
    data = {"importer": importer, "file": (io.BytesIO(path.read_bytes()), path.name), **fields}
    return client.post("/imports/", data=data, content_type="multipart/form-data")


def asset_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Asset.id)))


def grid_codes(app) -> list[str]:
    with app.app_context():
        query = select(Grid.code).where(Grid.code.like("ZF%")).order_by(Grid.code)
        return db.session.scalars(query).all()


def upload_folders(app) -> list[Path]:
    folder = Path(app.config["IMPORT_DIR"])
    return sorted(folder.iterdir()) if folder.exists() else []


def token_of(response) -> str:
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def test_only_administrators_see_the_imports_page(app, client, auth, officer, contractor_user):
    for email in (officer, contractor_user):
        auth.login(email)
        assert client.get("/imports/").status_code == 403
        path = write_csv(Path(app.config["PHOTO_DIR"]).parent / "rows.csv", GOOD_ROWS)
        assert upload(client, path).status_code == 403
        auth.logout()
    assert asset_count(app) == 0


def test_the_page_offers_each_importer_with_the_files_it_takes(app, admin_client):
    page = admin_client.get("/imports/").get_data(as_text=True)
    assert 'id="import-assets"' in page
    assert 'accept=".csv,.geojson,.json' in page or 'accept=".csv,' in page
    assert 'href="/imports/"' in page  # the admin's menu leads here


def test_a_good_file_is_previewed_then_written_only_on_confirmation(app, admin_client, tmp_path):
    path = write_csv(tmp_path / "assets.csv", GOOD_ROWS)
    response = upload(admin_client, path)
    assert response.status_code == 303
    token = token_of(response)
    preview = admin_client.get(f"/imports/{token}")
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert re.search(r'id="import-count">2<', page)
    assert "assets.csv" in page
    assert asset_count(app) == 0  # checked, nothing written

    confirmed = admin_client.post(f"/imports/{token}/apply")
    assert confirmed.status_code == 303
    assert asset_count(app) == 2
    with app.app_context():
        codes = db.session.scalars(select(Asset.code).order_by(Asset.code)).all()
        actors = db.session.scalars(
            select(AuditEntry.actor).where(AuditEntry.entity_type == "asset")
        ).all()
    assert codes == ["CS-001", "EB-0002"]
    assert actors == ["admin@example.org"] * 2
    assert upload_folders(app) == []
    assert "imported from assets.csv: 2" in admin_client.get("/imports/").get_data(as_text=True)
    # A second confirmation of the same upload finds nothing to apply.
    assert admin_client.post(f"/imports/{token}/apply").status_code == 404
    assert asset_count(app) == 2


def test_a_bad_file_lists_every_bad_row_and_writes_nothing(app, admin_client, tmp_path):
    path = write_csv(tmp_path / "assets.csv", BAD_ROWS)
    response = upload(admin_client, path)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    rows = re.findall(r'<tr data-where="([^"]+)">', page)
    assert set(rows) == {"line 2", "line 4", "line 5"}
    assert "Codes of this kind look like CS-001." in page
    assert "elevator_number" in page
    assert "Unknown kind" in page
    assert "Nothing was imported: 3 places in the file are bad." in page
    assert "/apply" not in page  # nothing to confirm
    assert asset_count(app) == 0
    assert upload_folders(app) == []


def test_the_preview_speaks_the_users_language(app, client, auth, admin, harbour_garden, tmp_path):
    auth.login(admin)
    client.get("/lang/zh")
    path = write_csv(tmp_path / "assets.csv", [{**STATION, "code": "XX-1"}])
    page = upload(client, path).get_data(as_text=True)
    assert '<tr data-where="line 2"><td>行 2</td>' in page
    assert "Codes of this kind look like" not in page
    assert "CS-001" in page  # the example code inside the Chinese reason
    assert "未导入" in page


def test_a_file_of_the_wrong_type_or_no_file_is_refused(app, admin_client, tmp_path):
    path = tmp_path / "assets.txt"
    path.write_text("code,kind\n")
    response = upload(admin_client, path)
    assert response.status_code == 400
    assert "This file type cannot be imported here" in response.get_data(as_text=True)
    response = admin_client.post(
        "/imports/", data={"importer": "assets"}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "Choose a file to upload." in response.get_data(as_text=True)
    response = upload(admin_client, write_csv(tmp_path / "a.csv", GOOD_ROWS), importer="nothing")
    assert response.status_code == 400
    assert upload_folders(app) == []
    assert asset_count(app) == 0


def test_an_unreadable_file_is_a_file_problem(app, admin_client, tmp_path):
    path = tmp_path / "assets.geojson"
    path.write_text("{not json")
    response = upload(admin_client, path)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<tr data-where="file">' in page
    assert "not valid JSON" in page
    assert asset_count(app) == 0


def test_a_file_over_the_import_limit_is_refused(app, admin_client, tmp_path):
    app.config["IMPORT_MAX_BYTES"] = 1000
    path = write_csv(tmp_path / "assets.csv", GOOD_ROWS)
    path.write_bytes(path.read_bytes() + b"\n" * 2000)
    assert upload(admin_client, path).status_code == 413
    assert asset_count(app) == 0
    assert upload_folders(app) == []


def test_what_changed_since_the_check_is_caught_on_confirmation(app, admin_client, tmp_path):
    token = token_of(upload(admin_client, write_csv(tmp_path / "assets.csv", GOOD_ROWS)))
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        db.session.commit()
    response = admin_client.post(f"/imports/{token}/apply")
    assert response.status_code == 409
    assert "an asset with code CS-001 exists already" in response.get_data(as_text=True)
    assert asset_count(app) == 1


def test_an_upload_is_only_its_uploaders(app, client, auth, admin, harbour_garden, tmp_path):
    auth.login(admin)
    token = token_of(upload(client, write_csv(tmp_path / "assets.csv", GOOD_ROWS)))
    auth.logout()
    with app.app_context():
        factories.gen_user("second-admin@example.org", "admin")
        db.session.commit()
    auth.login("second-admin@example.org")
    assert client.get(f"/imports/{token}").status_code == 404
    assert client.post(f"/imports/{token}/apply").status_code == 404
    assert client.post(f"/imports/{token}/cancel").status_code == 404
    assert client.get("/imports/../../secret_key").status_code == 404
    assert asset_count(app) == 0
    assert len(upload_folders(app)) == 1


def test_cancelling_an_upload_forgets_it(app, admin_client, tmp_path):
    token = token_of(upload(admin_client, write_csv(tmp_path / "assets.csv", GOOD_ROWS)))
    response = admin_client.post(f"/imports/{token}/cancel")
    assert response.status_code == 303
    assert upload_folders(app) == []
    assert admin_client.get(f"/imports/{token}").status_code == 404
    assert asset_count(app) == 0


def test_grids_from_a_zipped_shapefile_with_the_crs_given_on_the_page(app, admin_client, tmp_path):
    from tests.test_grid_import import write_shapefile, zhifu_rows, zipped

    transformer = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    rows = zhifu_rows()
    for row in rows:
        row["geometry"] = shapely.transform(
            row["geometry"].segmentize(0.001),
            lambda x, y: transformer.transform(x, y),
            interleaved=False,
        )
    archive = zipped(write_shapefile(tmp_path / "gk", rows, None).parent, tmp_path / "网格.zip")

    refused = upload(admin_client, archive, importer="grids")
    assert refused.status_code == 422
    assert "declares no coordinate reference system" in refused.get_data(as_text=True)
    assert grid_codes(app) == []

    response = upload(admin_client, archive, importer="grids", **{"grids-crs": "EPSG:4549"})
    assert response.status_code == 303
    preview = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'id="import-count">6<', preview)
    assert "网格.zip" in preview
    assert grid_codes(app) == []
    admin_client.post(f"/imports/{token_of(response)}/apply")
    assert grid_codes(app) == ["ZF1", "ZF1-01", "ZF1-02", "ZF2", "ZF2-01", "ZF2-02"]


def test_the_grids_card_offers_its_field_options(app, admin_client):
    page = admin_client.get("/imports/").get_data(as_text=True)
    for option in ("code_field", "name_field", "level_field", "parent_field", "crs"):
        assert f'name="grids-{option}"' in page
