"""`flask grids import FILE`: a district's grids from its own GIS file."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Blueprint

from assets.grid_import import apply_grid_file, check_grid_file
from core.importing import ImportCheck

bp = Blueprint("grids", __name__, cli_group="grids")


@bp.cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code-field", help="The field holding the grid's code (default code or 编码).")
@click.option("--name-field", help="The field holding its name (default name or 名称).")
@click.option("--level-field", help="The field holding its level, 1 or 2 (default level or 级别).")
@click.option(
    "--parent-field", help="The field holding its parent's code (default parent or 上级)."
)
@click.option(
    "--crs",
    help="The file's coordinate reference system (EPSG:4549…), when it declares none or "
    "declares it wrongly; it wins over what the file says.",
)
@click.option("--layer", help="The layer holding the grids, when the file has several.")
@click.option("--encoding", help="The text encoding of a Shapefile without a .cpg (GB18030…).")
@click.option(
    "--dry-run", is_flag=True, help="Check the file and say what would change; write nothing."
)
def import_command(file: Path, dry_run: bool, **settings: str | None) -> None:
    """Import grids from a GeoJSON, GeoPackage, Shapefile (.shp or .zip) or KML FILE: every
    feature, or nothing if any is bad. Grids are matched by code; assets follow their grid."""
    options = {name: value for name, value in settings.items() if value}
    result = (check_grid_file if dry_run else apply_grid_file)(file, options)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not result.ok:
        for problem in result.sorted_problems():
            click.echo(str(problem), err=True)
        raise click.ClickException(
            f"{len(result.problems)} problem(s) in {file.name}; nothing imported"
        )
    click.echo(summary_line(result, dry_run))


def summary_line(result: ImportCheck, dry_run: bool) -> str:
    counts = result.summary
    line = (
        f"created {counts.get('new', 0)}, updated {counts.get('updated', 0)}, "
        f"unchanged {counts.get('unchanged', 0)}, assets moved {counts.get('assets_moved', 0)}, "
        f"hazards moved {counts.get('hazards_moved', 0)}, warnings {len(result.warnings)}"
    )
    return f"dry run (nothing written): would have {line}" if dry_run else line
