from flask import Blueprint, render_template

from assets.cli import register_commands

bp = Blueprint("assets", __name__, template_folder="templates", cli_group="assets")
register_commands(bp)


@bp.get("/")
def dashboard():
    return render_template("assets/dashboard.html")


@bp.get("/assets/")
def asset_list():
    return render_template("assets/dashboard.html")
