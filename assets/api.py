from flask_smorest import Api, Blueprint

blp = Blueprint("assets_api", __name__, url_prefix="/api/v1", description="Assets and grids")


def register_api(api: Api) -> None:
    api.register_blueprint(blp)


@blp.get("/assets")
def list_assets():
    return {"type": "FeatureCollection", "features": []}
