"""The registry: grids, sites, property companies and assets, their pages, API, import and
export, and QR labels."""

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from assets import grid_cli, grid_import, site_cli, site_import, views
    from assets import io as asset_io
    from assets.api import register_api
    from assets.grids import LocatedRecords, register_located
    from assets.models import Asset
    from core.importing import Importer, ImportOption, register_importer
    from core.tables import FILE_FORMATS

    app.register_blueprint(views.bp)
    app.register_blueprint(grid_cli.bp)
    app.register_blueprint(site_cli.bp)
    register_api(api)
    register_located(LocatedRecords("asset", Asset, warn_outside=True))
    sheet = ImportOption("sheet", _l("Sheet"), _l("Of an .xlsx workbook; the first when empty"))
    register_importer(
        Importer(
            name="grids",
            label=_l("Grids"),
            # A Shapefile is several files: the page takes them zipped.
            extensions=tuple(ext for ext in grid_import.EXTENSIONS if ext != ".shp"),
            check=grid_import.check_grid_file,
            apply=grid_import.apply_grid_file,
            order=1,
            options=(
                ImportOption("code_field", _l("Field of the code"), _l("Default: code or 编码")),
                ImportOption("name_field", _l("Field of the name"), _l("Default: name or 名称")),
                ImportOption(
                    "level_field", _l("Field of the level (1 or 2)"), _l("Default: level or 级别")
                ),
                ImportOption(
                    "parent_field",
                    _l("Field of the parent grid's code"),
                    _l("Default: parent or 上级"),
                ),
                ImportOption(
                    "crs",
                    _l("Coordinate reference system"),
                    _l("Only when the file declares none or a wrong one, e.g. EPSG:4549"),
                ),
                ImportOption("layer", _l("Layer"), _l("When the file has several")),
                ImportOption(
                    "encoding",
                    _l("Text encoding"),
                    _l("Of a Shapefile without a .cpg file, e.g. GB18030"),
                ),
            ),
        )
    )
    register_importer(
        Importer(
            name="sites",
            label=_l("Sites"),
            extensions=site_import.EXTENSIONS,
            check=site_import.check_file,
            apply=site_import.apply_file,
            order=2,
            options=(sheet,),
        )
    )
    register_importer(
        Importer(
            name="assets",
            label=_l("Assets"),
            extensions=tuple(FILE_FORMATS),
            check=asset_io.check_file,
            apply=asset_io.apply_file,
            order=3,
            options=(sheet,),
        )
    )
