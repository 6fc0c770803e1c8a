"""The registry: grids, sites, property companies and assets, their pages, API, import and
export, and QR labels."""

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from assets import grid_cli, grid_import, views
    from assets.api import register_api
    from core.importing import Importer, register_importer

    app.register_blueprint(views.bp)
    app.register_blueprint(grid_cli.bp)
    register_api(api)
    register_importer(
        Importer(
            name="grids",
            label=_l("Grids"),
            extensions=grid_import.EXTENSIONS,
            check=grid_import.check_grid_file,
            apply=grid_import.apply_grid_file,
            order=1,
        )
    )
