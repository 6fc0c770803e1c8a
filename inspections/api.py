"""JSON API for inspections: the list with filters, and logging a result."""

from __future__ import annotations

from flask_smorest import Api, Blueprint

blp = Blueprint("inspections_api", __name__, url_prefix="/api/v1", description="Inspections")


def register_api(api: Api) -> None:
    api.register_blueprint(blp)
