"""`flask assets import FILE` and `flask assets export --format csv|geojson`."""

from flask import Blueprint


def register_commands(bp: Blueprint) -> None:
    pass
