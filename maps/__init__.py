"""Maps: every asset's status at a glance, drawn with folium, working on a closed network."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from core.security import allow_sources
    from maps import api as map_api
    from maps import build, rollup, views

    rollup.register_commands(views.bp)
    app.register_blueprint(views.bp)
    map_api.register_api(api)
    rollup.register_jobs(app)
    # The small maps of other packages' pages (asset, hazard, the hazard form's point picker)
    # are drawn from their templates, so those packages need not import the maps.
    app.add_template_global(build.neighbourhood_map, "neighbourhood_map")
    app.add_template_global(build.point_picker_map, "point_picker_map")
    # The page's Content-Security-Policy lets images come from the configured tile servers.
    with app.app_context():
        allow_sources(app, "img-src", *build.tile_origins(build.tile_setting()))
