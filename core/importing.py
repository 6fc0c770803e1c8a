"""What every import (grids, sites, assets) shares: a file is checked whole before anything
is written, every problem names its row or feature and field, and the same check serves the
command line and the Imports page.

An importer is registered once (``register_importer``) with two plain functions:

- ``check(path, options) -> ImportCheck``: reads and validates the whole file, writes
  nothing, and says what would be written (``count``, ``summary``) or every problem found.
  Reasons are translated in the current language (the page's user; English on the command
  line).
- ``apply(path, options) -> ImportCheck``: checks again and, only when nothing is wrong,
  writes everything in one transaction and commits; otherwise it rolls back and writes
  nothing. The returned check's ``count`` is what was written.

``options`` is a dict of the importer's own options (field mappings, ``format``…), the same
from the CLI and the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from core.errors import ValidationError

# How a problem's place is named; the page shows these translated, the CLI in English.
PLACE_LABELS = {
    "file": _l("file"),
    "header": _l("header"),
    "line": _l("line"),
    "row": _l("row"),
    "feature": _l("feature"),
    "sheet": _l("sheet"),
}

# What the summary of a check counts (``ImportCheck.summary`` keys), as the page says it.
SUMMARY_LABELS = {
    "new": _l("new"),
    "updated": _l("updated"),
    "unchanged": _l("unchanged"),
    "assets_moved": _l("assets moving to another grid"),
    "hazards_moved": _l("hazards moving to another grid"),
    "companies_new": _l("new property companies"),
    "companies_updated": _l("property companies updated"),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an import file, at one place: ``line 3``, ``row 5``, ``feature 2``,
    ``header`` or ``file``; ``field`` is the column or property concerned (None for the row
    as a whole)."""

    place: str
    number: int | None
    field: str | None
    reason: str

    @property
    def where(self) -> str:
        return self.place if self.number is None else f"{self.place} {self.number}"

    def __str__(self) -> str:
        parts = [self.where]
        if self.field:
            parts.append(self.field)
        parts.append(self.reason)
        return ": ".join(parts)

    def sort_key(self) -> tuple[int, int, str, str]:
        order = 0 if self.place in ("file", "header", "sheet") else 1
        return (order, self.number or 0, self.field or "", self.reason)


@dataclass
class ImportCheck:
    """What checking (or applying) an import file found."""

    kind: str
    count: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What would be (or was) written, by what happens to it: {"new": 3, "updated": 2}.
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_places(self) -> int:
        """How many rows or features have at least one problem."""
        return len({(problem.place, problem.number) for problem in self.problems})

    def sorted_problems(self) -> list[Problem]:
        return sorted(self.problems, key=Problem.sort_key)


class ImportFileProblem(ValidationError):
    """The file cannot be read at all (wrong format, undecodable, no features…)."""

    def __init__(self, problem: Problem):
        super().__init__({problem.field or problem.place: problem.reason}, str(problem))
        self.problem = problem


Check = Callable[[Path, dict[str, Any]], ImportCheck]


@dataclass(frozen=True)
class ImportOption:
    """A text option of an importer (a field name to read ``code`` from, a CRS…): the CLI's
    ``--name-with-dashes`` and a field on the Imports page, both giving ``options[name]``."""

    name: str
    label: Any
    help: Any = ""


@dataclass(frozen=True)
class Importer:
    name: str  # "grids", "sites", "assets"
    label: Any  # lazy translated
    extensions: tuple[str, ...]  # ".csv", ".xlsx", ".gpkg", ".zip"…
    check: Check
    apply: Check
    # The order the Imports page offers them (grids before sites before assets).
    order: int = 0
    options: tuple[ImportOption, ...] = ()


_IMPORTERS: dict[str, Importer] = {}


def register_importer(importer: Importer) -> None:
    _IMPORTERS[importer.name] = importer


def importers() -> list[Importer]:
    return sorted(_IMPORTERS.values(), key=lambda importer: (importer.order, importer.name))


def importer_named(name: str) -> Importer | None:
    return _IMPORTERS.get(name)
