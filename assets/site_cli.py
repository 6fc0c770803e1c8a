"""`flask sites import FILE`: a district's sites and property companies from its own file."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Blueprint

from assets.cli import refuse
from assets.site_import import apply_file, check_file
from core.importing import ImportCheck

bp = Blueprint("sites", __name__, cli_group="sites")


@bp.cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "geojson"]),
    help="Read the file as this format whatever its extension.",
)
@click.option("--sheet", help="The sheet of a workbook to read (default: the first).")
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change.")
def import_command(file: Path, fmt: str | None, sheet: str | None, dry_run: bool) -> None:
    """Import sites from a CSV (UTF-8 or GB18030/GBK), Excel (.xlsx) or GeoJSON FILE (name,
    address, property company and its contact, a point or a polygon; English or Chinese
    headers): every row, or nothing if any is bad. Sites are matched by name, property
    companies created by name."""
    options = {"format": fmt, "sheet": sheet}
    result = (check_file if dry_run else apply_file)(file, options)
    if not result.ok:
        raise refuse(file, result.sorted_problems())
    click.echo(summary_line(result, dry_run))


def summary_line(result: ImportCheck, dry_run: bool) -> str:
    counts = result.summary
    line = (
        f"sites created {counts.get('new', 0)}, updated {counts.get('updated', 0)}, "
        f"unchanged {counts.get('unchanged', 0)}; property companies created "
        f"{counts.get('companies_new', 0)}, updated {counts.get('companies_updated', 0)}"
    )
    return f"dry run (nothing written): would have {line}" if dry_run else line
