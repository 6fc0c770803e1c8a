"""The registry: grids, sites, property companies and assets, their pages, API, import and
export, and QR labels."""

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from assets import io as asset_io
    from assets import site_cli, site_import, views
    from assets.api import register_api
    from core.importing import Importer, register_importer

    app.register_blueprint(views.bp)
    app.register_blueprint(site_cli.bp)
    register_api(api)
    register_importer(
        Importer(
            "sites",
            _l("Sites"),
            site_import.EXTENSIONS,
            site_import.check_file,
            site_import.apply_file,
            order=2,
        )
    )
    register_importer(
        Importer(
            "assets",
            _l("Assets"),
            (".csv", ".xlsx", ".geojson", ".json"),
            asset_io.check_file,
            asset_io.apply_file,
            order=3,
        )
    )
