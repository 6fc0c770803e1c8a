"""Cards on the asset page that other packages contribute (its inspections, its hazards).

The registry lies below the packages that know an asset's inspections and hazards, so it does
not import them: each registers, from its ``init_app``, a function that renders its card for
an asset and the user looking at it (HTML from an autoescaping template), and the asset page
shows the cards by ``position``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app
from markupsafe import Markup

if TYPE_CHECKING:
    from accounts.models import User
    from assets.models import Asset

SECTIONS_KEY = "asset_sections"


@dataclass(frozen=True)
class AssetSection:
    position: int
    render: Callable[[Asset, User], str]


def register_asset_section(app: Flask, section: AssetSection) -> None:
    app.extensions.setdefault(SECTIONS_KEY, []).append(section)


def asset_sections(asset: Asset, user: User) -> list[Markup]:
    """Every registered card for ``asset``, rendered for ``user``, in page order."""
    sections = sorted(current_app.extensions.get(SECTIONS_KEY, []), key=lambda s: s.position)
    return [Markup(section.render(asset, user)) for section in sections]  # noqa: S704
