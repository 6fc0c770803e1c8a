"""``flask --app app inspections …``"""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from core.extensions import db
from inspections.services import DEFAULT_HORIZON_DAYS, generate_inspections

inspections_cli = AppGroup("inspections", help="Inspection plans and due inspections.")


def _parse_day(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@inspections_cli.command("generate")
@click.option(
    "--horizon-days",
    type=click.IntRange(min=0, max=3660),
    default=DEFAULT_HORIZON_DAYS,
    show_default=True,
    help="How many days ahead to create due inspections.",
)
@click.option(
    "--today",
    callback=_parse_day,
    metavar="YYYY-MM-DD",
    help="Generate as if today were this date (default: today in the district).",
)
def generate_command(horizon_days: int, today: date | None) -> None:
    """Create the due inspections of every active plan over the rolling horizon."""
    created = generate_inspections(today=today, horizon_days=horizon_days)
    db.session.commit()
    click.echo(f"Created {created} inspection(s) over the next {horizon_days} days.")
