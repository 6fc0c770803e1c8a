"""`flask assets import FILE` and `flask assets export --format csv|geojson|xlsx [--lang zh|en]`."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click
from flask import Blueprint

from assets import io as asset_io
from core.export import TooManyRowsError
from core.importing import ImportFileProblem, Problem

FILE_PLACES = ("file", "header", "sheet")


def progress_bar(items: Iterable, length: int):
    return click.progressbar(items, length=length, label="Checking rows", file=sys.stderr)


def refuse(file: Path, problems: list[Problem]) -> click.ClickException:
    """Each problem on its own line, then why nothing was imported."""
    for problem in problems:
        click.echo(str(problem), err=True)
    if any(problem.place in FILE_PLACES for problem in problems):
        return click.ClickException(f"{file.name} cannot be imported as it is; nothing imported")
    bad = len({(problem.place, problem.number) for problem in problems})
    return click.ClickException(f"{bad} bad row(s) in {file.name}; nothing imported")


def register_commands(bp: Blueprint) -> None:
    @bp.cli.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(asset_io.FORMATS),
        help="Read the file as this format whatever its extension.",
    )
    @click.option("--sheet", help="The sheet of a workbook to read (default: the first).")
    @click.option("--dry-run", is_flag=True, help="Check every row and say what would be imported.")
    def import_command(file: Path, fmt: str | None, sheet: str | None, dry_run: bool) -> None:
        """Import assets from a CSV (UTF-8 or GB18030/GBK), Excel (.xlsx) or GeoJSON FILE,
        with English or Chinese headers and values: every row, or nothing if any is bad."""
        if dry_run:
            check = asset_io.check_file(file, {"format": fmt, "sheet": sheet})
            if not check.ok:
                raise refuse(file, check.sorted_problems())
            click.echo(f"dry run (nothing written): would import {check.count} assets")
            return
        try:
            result = asset_io.import_assets(file, fmt, progress=progress_bar, sheet=sheet)
        except ImportFileProblem as error:
            raise click.ClickException(f"{file.name}: {error}; nothing imported") from None
        if result.problems:
            raise refuse(file, result.problems)
        click.echo(f"imported {result.imported} assets")

    @bp.cli.command("export")
    @click.option(
        "--format", "fmt", type=click.Choice(asset_io.FORMATS), default="csv", show_default=True
    )
    @click.option(
        "--lang",
        "language",
        type=click.Choice(asset_io.LANGUAGES),
        default="en",
        show_default=True,
        help="en: field names and stored values; zh: the Chinese headers and labels "
        "(CSV with a byte order mark for Excel). GeoJSON is always en.",
    )
    @click.option(
        "--output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="Write to this file instead of standard output.",
    )
    def export_command(fmt: str, language: str, output: Path | None) -> None:
        """Export every asset as CSV, GeoJSON or an Excel workbook (what `assets import`
        reads)."""
        if fmt == "geojson" and language != "en":
            raise click.UsageError("GeoJSON is written with the field names only: drop --lang")
        try:
            asset_io.check_exportable(fmt)
        except TooManyRowsError as error:
            raise click.ClickException(f"{error}; nothing exported") from None
        with click.open_file(str(output or "-"), "wb") as out:
            asset_io.write_assets(fmt, out, language)
        if output is not None:
            click.echo(f"exported to {output}", err=True)
