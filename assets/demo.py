"""`flask demo load`: the demo district."""

from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="The demo district.")
