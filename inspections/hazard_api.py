"""JSON API for the hazard register."""

from __future__ import annotations

from flask_smorest import Api, Blueprint

blp = Blueprint("hazards_api", __name__, url_prefix="/api/v1", description="Hazards")


def register_api(api: Api) -> None:
    api.register_blueprint(blp)
