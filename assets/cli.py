"""`flask assets import FILE` and `flask assets export --format csv|geojson`."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click
from flask import Blueprint

from assets import io as asset_io


def progress_bar(items: Iterable, length: int):
    return click.progressbar(items, length=length, label="Checking rows", file=sys.stderr)


def register_commands(bp: Blueprint) -> None:
    @bp.cli.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(asset_io.FORMATS),
        help="Read the file as this format whatever its extension.",
    )
    def import_command(file: Path, fmt: str | None) -> None:
        """Import assets from a CSV or GeoJSON FILE: every row, or nothing if any is bad."""
        try:
            result = asset_io.import_assets(file, fmt, progress=progress_bar)
        except asset_io.ImportFileError as error:
            raise click.ClickException(f"{file.name}: {error}; nothing imported") from None
        if result.problems:
            for problem in result.problems:
                click.echo(problem, err=True)
            bad = len({problem.split(":", 1)[0] for problem in result.problems})
            raise click.ClickException(f"{bad} bad row(s) in {file.name}; nothing imported")
        click.echo(f"imported {result.imported} assets")

    @bp.cli.command("export")
    @click.option(
        "--format", "fmt", type=click.Choice(asset_io.FORMATS), default="csv", show_default=True
    )
    @click.option(
        "--output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="Write to this file instead of standard output.",
    )
    def export_command(fmt: str, output: Path | None) -> None:
        """Export every asset as CSV or GeoJSON (what `assets import` reads)."""
        text = asset_io.export_assets(fmt)
        if output is None:
            click.echo(text, nl=False)
        else:
            with output.open("w", encoding="utf-8", newline="") as stream:
                stream.write(text)
            click.echo(f"exported to {output}", err=True)
