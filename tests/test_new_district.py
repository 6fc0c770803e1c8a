"""A district that is not the demo moves in from its own files (docs/samples: Zhifu District
of Yantai): its grids from a GeoPackage in a projected CRS, its sites from a GB18030 CSV,
its assets from an xlsx, starting from an empty database, from the command line and from
the browser; the assets land in the right grids and sites on both databases, and the
Chinese CSV and xlsx exports import back byte-identical."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import func, select

from accounts.models import User
from assets.models import Asset, Grid, PropertyCompany, Site
from core.extensions import db
from tests import factories
from tests.helpers import CHROMIUM, WAIT_MS, Watched, serious_violations, served

SAMPLES = Path(__file__).resolve().parent.parent / "docs" / "samples"
GRIDS_FILE = SAMPLES / "grids.gpkg"
SITES_FILE = SAMPLES / "sites.csv"
ASSETS_FILE = SAMPLES / "assets.xlsx"

# The sample district's second-level grids (lon/lat rectangles) and their parents.
SECOND_LEVEL = {
    "ZF1-01": (121.36, 37.52, 121.40, 37.54),
    "ZF1-02": (121.36, 37.54, 121.40, 37.56),
    "ZF2-01": (121.40, 37.52, 121.44, 37.54),
    "ZF2-02": (121.40, 37.54, 121.44, 37.56),
}
PARENTS = {"ZF1-01": "ZF1", "ZF1-02": "ZF1", "ZF2-01": "ZF2", "ZF2-02": "ZF2"}


def expected_grid(longitude: float, latitude: float) -> str:
    found = [
        code
        for code, (west, south, east, north) in SECOND_LEVEL.items()
        if west < longitude < east and south < latitude < north
    ]
    assert len(found) == 1, f"sample point {longitude}, {latitude} is on a grid edge"
    return found[0]


def sample_assets() -> dict[str, dict]:
    """Each sample asset's code with its point, site and the grid it must land in."""
    workbook = openpyxl.load_workbook(ASSETS_FILE, read_only=True)
    try:
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    header = [str(name).strip() for name in rows[0]]
    column = {name: header.index(name) for name in ("编号", "经度", "纬度", "小区")}
    assets = {}
    for row in rows[1:]:
        if not row or row[column["编号"]] in (None, ""):
            continue
        longitude, latitude = float(row[column["经度"]]), float(row[column["纬度"]])
        assets[str(row[column["编号"]])] = {
            "site": row[column["小区"]] or None,
            "grid": expected_grid(longitude, latitude),
        }
    return assets


def stored_assets() -> dict[str, dict]:
    query = (
        select(Asset.code, Grid.code, Site.name)
        .outerjoin(Grid, Asset.grid_id == Grid.id)
        .outerjoin(Site, Asset.site_id == Site.id)
    )
    return {code: {"site": site, "grid": grid} for code, grid, site in db.session.execute(query)}


def assert_the_district_is_set_up(app) -> None:
    expected = sample_assets()
    assert len(expected) >= 10
    with app.app_context():
        grids = dict(db.session.execute(select(Grid.code, Grid.level).order_by(Grid.code)).all())
        assert grids == {"ZF1": 1, "ZF2": 1, **dict.fromkeys(SECOND_LEVEL, 2)}
        parents = {
            grid.code: grid.parent.code
            for grid in db.session.scalars(select(Grid).where(Grid.level == 2))
        }
        assert parents == PARENTS
        sites = db.session.scalars(select(Site).order_by(Site.name)).all()
        assert {site.name for site in sites} == {"幸福花园", "海景苑", "毓璜顶小区", "东山新村"}
        assert all(site.property_company is not None for site in sites)
        companies = {
            company.name: (company.contact_name, company.contact_phone)
            for company in db.session.scalars(select(PropertyCompany))
        }
        assert companies["烟台福安物业服务有限公司"] == ("王丽", "13905350001")
        assert companies["烟台宏达物业管理有限公司"] == ("赵强", "13905350002")
        assert stored_assets() == expected


def run(runner, *args: str) -> str:
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_sample_district_is_set_up_from_its_files_on_the_command_line(app, runner):
    with app.app_context():
        assert db.session.scalar(select(func.count(Grid.id))) == 0
    run(runner, "grids", "import", str(GRIDS_FILE))
    run(runner, "sites", "import", str(SITES_FILE))
    run(runner, "assets", "import", str(ASSETS_FILE))
    assert_the_district_is_set_up(app)


@pytest.mark.parametrize(("fmt", "lang"), [("csv", "zh"), ("xlsx", "zh"), ("xlsx", "en")])
def test_the_districts_exports_import_back_byte_identical(app, runner, tmp_path, fmt, lang):
    run(runner, "grids", "import", str(GRIDS_FILE))
    run(runner, "sites", "import", str(SITES_FILE))
    run(runner, "assets", "import", str(ASSETS_FILE))
    first = tmp_path / f"first.{fmt}"
    run(runner, "assets", "export", "--format", fmt, "--lang", lang, "--output", str(first))
    with app.app_context():
        db.session.execute(Asset.__table__.delete())
        db.session.commit()
    run(runner, "assets", "import", str(first))
    again = tmp_path / f"again.{fmt}"
    run(runner, "assets", "export", "--format", fmt, "--lang", lang, "--output", str(again))
    assert again.read_bytes() == first.read_bytes()
    assert_the_district_is_set_up(app)


# --- In the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def first_admin(app, runner) -> str:
    """The district's first account, made on the command line as the README says."""
    run(
        runner,
        "users",
        "create",
        "--role",
        "admin",
        "--email",
        "chief@zhifu.example.cn",
        "--password",
        factories.PASSWORD,
    )
    return "chief@zhifu.example.cn"


@pytest.fixture
def admin_page(app, browser, first_admin) -> Iterator[Watched]:
    app.config["MAP_TILES"] = "none"
    with served(app) as base_url:
        watched = Watched(browser, base_url)
        watched.sign_in(first_admin, factories.PASSWORD)
        yield watched
        watched.close()


def import_in_browser(page, base_url: str, importer: str, path: Path) -> None:
    page.goto(base_url + "/imports/")
    card = page.locator(f"#import-{importer}")
    card.locator("input[type=file]").set_input_files(str(path))
    card.get_by_role("button", name="Upload and check").click()
    page.wait_for_selector("#import-ready")
    assert serious_violations(page) == []
    page.locator("form.import-apply button").click()
    page.wait_for_selector(".flash-success")
    assert path.name in page.locator(".flash-success").inner_text()


@pytest.mark.alternate_databases
def test_the_sample_district_is_set_up_from_its_files_in_the_browser(app, admin_page):
    page = admin_page.page
    for importer, path in (("grids", GRIDS_FILE), ("sites", SITES_FILE), ("assets", ASSETS_FILE)):
        import_in_browser(page, admin_page.base_url, importer, path)
    assert_the_district_is_set_up(app)
    with app.app_context():
        actors = {user.email for user in db.session.scalars(select(User))}
    assert actors == {"chief@zhifu.example.cn"}

    # The map opens on Zhifu and draws every asset.
    expected = len(sample_assets())
    admin_page.open_map(expected=expected)
    centre = page.evaluate(
        "() => { const map = Object.values(window).find(v => v && v._container && v.getCenter);"
        " const c = map.getCenter(); return [c.lat, c.lng]; }"
    )
    assert 37.52 < centre[0] < 37.56 and 121.36 < centre[1] < 121.44
    # The list filtered by a second-level grid holds exactly that grid's assets.
    in_grid = sorted(code for code, row in sample_assets().items() if row["grid"] == "ZF1-01")
    page.goto(admin_page.base_url + "/assets/?grid=ZF1-01&per_page=200")
    listed = page.locator("table tbody tr td:first-child").all_inner_texts()
    assert sorted(text.strip() for text in listed) == in_grid
    page.set_default_timeout(WAIT_MS)
    admin_page.assert_clean()
