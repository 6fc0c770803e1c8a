"""The demo district (Xingang): every domain's data, so it sits on top of them all."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    import demo.province  # noqa: F401  (adds `demo province` to the group)
    from demo.district import demo_cli

    app.cli.add_command(demo_cli)
