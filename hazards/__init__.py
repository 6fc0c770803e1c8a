"""The hazard register and its rectification loop: hazards found by inspections and grid
workers, followed open → rectifying → rectified → verified."""

from flask import Flask
from flask_smorest import Api

from assets.sections import AssetSection, register_asset_section


def init_app(app: Flask, api: Api) -> None:
    from assets.grids import LocatedRecords, register_located
    from hazards import views
    from hazards.api import register_api
    from hazards.models import Hazard

    app.register_blueprint(views.bp)
    register_asset_section(app, AssetSection(20, views.asset_hazards_card))
    register_api(api)
    register_located(LocatedRecords("hazard", Hazard))
