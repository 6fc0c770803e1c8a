import pytest
from sqlalchemy import inspect, text

from app import config_from_environment, create_app
from core import spatial
from core.extensions import db


def test_config_from_environment_types_values():
    config = config_from_environment(
        {
            "DATABASE_URL": "postgresql://u@h/d",
            "MAIL_PORT": "587",
            "MAIL_USE_TLS": "true",
            "STRICT_DISTRICT": "0",
            "TIMEZONE": "UTC",
        }
    )
    assert config == {
        "SQLALCHEMY_DATABASE_URI": "postgresql://u@h/d",
        "MAIL_PORT": 587,
        "MAIL_USE_TLS": True,
        "STRICT_DISTRICT": False,
        "TIMEZONE": "UTC",
    }


def test_environment_overrides_defaults_and_test_config_wins(monkeypatch, database_url):
    monkeypatch.setenv("TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("MAP_TILES", "none")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "MAP_TILES": "gaode"})
    assert app.config["TIMEZONE"] == "Europe/Berlin"
    assert app.config["MAP_TILES"] == "gaode"


def test_the_list_count_cap_comes_from_the_environment(monkeypatch, database_url):
    assert config_from_environment({"LIST_COUNT_CAP": "2500"}) == {"LIST_COUNT_CAP": 2500}
    monkeypatch.setenv("LIST_COUNT_CAP", "2500")
    assert create_app({"SQLALCHEMY_DATABASE_URI": database_url}).config["LIST_COUNT_CAP"] == 2500


def test_the_api_page_sizes_come_from_the_environment(monkeypatch, database_url):
    assert config_from_environment({"API_PAGE_SIZE": "25", "API_MAX_PAGE_SIZE": "200"}) == {
        "API_PAGE_SIZE": 25,
        "API_MAX_PAGE_SIZE": 200,
    }
    monkeypatch.setenv("API_PAGE_SIZE", "25")
    monkeypatch.setenv("API_MAX_PAGE_SIZE", "200")
    config = create_app({"SQLALCHEMY_DATABASE_URI": database_url}).config
    assert (config["API_PAGE_SIZE"], config["API_MAX_PAGE_SIZE"]) == (25, 200)


@pytest.mark.parametrize(("default", "maximum"), [(0, 100), (101, 100), (100, 1001), (2000, 2000)])
def test_page_sizes_the_api_document_could_not_state_are_refused(database_url, default, maximum):
    with pytest.raises(ValueError, match="API_PAGE_SIZE"):
        create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "API_PAGE_SIZE": default,
                "API_MAX_PAGE_SIZE": maximum,
            }
        )


def test_postgres_url_uses_psycopg3():
    assert spatial.normalise_database_url("postgres://a@b/c") == "postgresql+psycopg://a@b/c"
    assert spatial.normalise_database_url("sqlite:///x") == "sqlite:///x"


def test_healthz_needs_no_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_pages_need_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_api_needs_token(client):
    response = client.get("/api/v1/assets")
    assert response.status_code == 401
    assert response.is_json


def test_schema_has_spatial_indexes(app, backend):
    with app.app_context():
        connection = db.session.connection()
        if backend == "spatialite":
            rows = connection.execute(
                text(
                    "SELECT f_table_name, f_geometry_column, srid, spatial_index_enabled "
                    "FROM geometry_columns ORDER BY 1"
                )
            ).all()
            assert [tuple(row) for row in rows] == [
                ("assets", "location", 4326, 1),
                ("grids", "boundary", 4326, 1),
                ("hazards", "location", 4326, 1),
                ("sites", "location", 4326, 1),
            ]
            mode = connection.execute(text("PRAGMA journal_mode")).scalar()
            assert mode == "wal"
        else:
            rows = (
                connection.execute(
                    text(
                        "SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%USING gist%' "
                        "ORDER BY 1"
                    )
                )
                .scalars()
                .all()
            )
            assert rows == [
                "idx_assets_location",
                "idx_grids_boundary",
                "idx_hazards_location",
                "idx_sites_location",
            ]
            srids = connection.execute(
                text("SELECT f_table_name, srid FROM geometry_columns ORDER BY 1")
            ).all()
            assert [tuple(row) for row in srids] == [
                ("assets", 4326),
                ("grids", 4326),
                ("hazards", 4326),
                ("sites", 4326),
            ]
        assert "assets" in inspect(connection).get_table_names()


def test_spatialite_metadata_is_wgs84_only(app, backend):
    if backend != "spatialite":
        return
    with app.app_context():
        count = db.session.execute(text("SELECT count(*) FROM spatial_ref_sys")).scalar()
        assert count < 200  # WGS84 mode, not the ~6000-row EPSG table


def test_language_follows_browser_then_switch(client, auth, officer):
    auth.login(officer)
    page = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Dashboard" in page.get_data(as_text=True)
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "仪表盘" in page.get_data(as_text=True)
    client.get("/lang/en?next=/")
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "Dashboard" in page.get_data(as_text=True)


def test_language_switch_refuses_foreign_redirect(client):
    response = client.get("/lang/en?next=https://evil.example/")
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_chinese_catalog_is_complete_and_compiled():
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    def forms(text) -> tuple:
        """A message's id or string as a tuple: one form, or every plural form."""
        return tuple(text) if isinstance(text, list | tuple) else (text,)

    folder = Path(__file__).parent.parent / "translations" / "zh" / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as po_file:
        catalog = read_po(po_file)
    with open(folder / "messages.mo", "rb") as mo_file:
        compiled = {forms(m.id): forms(m.string) for m in read_mo(mo_file) if m.id}
    untranslated = [m.id for m in catalog if m.id and (not all(forms(m.string)) or m.fuzzy)]
    assert untranslated == []
    in_catalog = {forms(m.id): forms(m.string) for m in catalog if m.id}
    assert in_catalog == compiled, "run bin/translations compile"


def test_create_app_adds_no_global_listener_twice(database_url):
    from sqlalchemy.orm import Session

    from app import create_app
    from tests.conftest import test_config

    def listeners() -> list:
        return [
            *Session.dispatch.after_commit._clslevel[Session],
            *Session.dispatch.after_soft_rollback._clslevel[Session],
        ]

    create_app(test_config(database_url))
    before = listeners()
    for _ in range(3):
        create_app(test_config(database_url))
    assert listeners() == before
    assert len(before) == len(set(before))


def test_the_workbook_download_limit_comes_from_the_environment(monkeypatch, database_url):
    config = config_from_environment({"EXPORT_XLSX_MAX_ROWS": "200000"})
    assert config == {"EXPORT_XLSX_MAX_ROWS": 200_000}
    assert (
        create_app({"SQLALCHEMY_DATABASE_URI": database_url}).config["EXPORT_XLSX_MAX_ROWS"]
        == 500_000
    )
