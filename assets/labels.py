"""Printable QR labels: each encodes the absolute URL that opens the asset's next due
inspection in the logging form (``/inspections/asset/<code>/next``).

A label's QR code is an SVG with a ``viewBox`` in module units and its whole 4-module quiet
zone drawn white, so CSS can size it to anything (38 mm on paper) without clipping a module.

A label can also print the asset's public notice: its code and kind, and what packages above
the registry know (the contractor responsible, the last and next inspection dates). The
registry does not import them: each registers, from its ``init_app``, a function that gives
the notice lines of a batch of assets (one query per sheet, not one per label).
"""

from __future__ import annotations

import functools
import io
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import segno
from flask import Flask, current_app
from flask_babel import gettext as _

from assets.kinds import KINDS

if TYPE_CHECKING:
    from assets.models import Asset

# The path of the endpoint ``inspections.log_for_asset``; a label printed today must keep
# working, so the path is fixed here rather than looked up.
NEXT_INSPECTION_PATH = "/inspections/asset/{code}/next"
ERROR_CORRECTION = "m"
QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks
NOTICES_KEY = "label_notices"


def base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def label_url(code: str) -> str:
    """The absolute URL a label for asset ``code`` encodes."""
    return base_url() + NEXT_INSPECTION_PATH.format(code=quote(code, safe=""))


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` names this machine only (127.0.0.0/8, ::1, localhost, 0.0.0.0): a
    phone scanning a label with such a URL reaches itself, not the registry."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def base_url_is_loopback() -> bool:
    return is_loopback_url(base_url())


# A sheet prints hundreds of labels, and choosing a code's mask (segno tries all eight)
# costs about 15 ms each: each URL's code is made once per process.
QR_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=QR_CACHE_SIZE)
def qr_of_url(url: str) -> segno.QRCode:
    return segno.make(url, error=ERROR_CORRECTION, boost_error=False)


@functools.lru_cache(maxsize=QR_CACHE_SIZE)
def inline_svg_of_url(url: str) -> str:
    return qr_of_url(url).svg_inline(
        scale=1, border=QUIET_ZONE, omitsize=True, light="#fff", svgclass="qr-code"
    )


def label_qr(code: str) -> segno.QRCode:
    return qr_of_url(label_url(code))


def label_svg(code: str, scale: int = 4) -> str:
    """A standalone SVG document (with XML declaration) of the asset's QR code."""
    buffer = io.BytesIO()
    label_qr(code).save(buffer, kind="svg", scale=scale, title=code)
    return buffer.getvalue().decode()


def label_svg_inline(code: str) -> str:
    """The QR code as an ``<svg>`` element to put inside a page (no user text in it): a
    ``viewBox`` of one unit per module and no width or height, so it scales to the size CSS
    gives it, quiet zone included and painted white."""
    return inline_svg_of_url(label_url(code))


def label_png(code: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    label_qr(code).save(buffer, kind="png", scale=scale)
    return buffer.getvalue()


# --- The public notice ---------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeLine:
    """One printed line of an asset's public notice: a stable ``key`` (for the page and its
    tests), the translated ``label`` and the ``value`` as printed."""

    key: str
    label: str
    value: str


@dataclass(frozen=True)
class LabelNotice:
    """Notice lines a package contributes, by ``position``: ``lines(assets)`` answers the
    lines of each asset of the batch, by asset id (an asset it knows nothing of is left out)."""

    position: int
    lines: Callable[[Sequence[Asset]], Mapping[int, Sequence[NoticeLine]]]


def register_label_notice(app: Flask, notice: LabelNotice) -> None:
    app.extensions.setdefault(NOTICES_KEY, []).append(notice)


def notice_lines(assets: Sequence[Asset]) -> dict[int, list[NoticeLine]]:
    """Each asset's public notice: its code and kind, then every registered package's lines."""
    notices: dict[int, list[NoticeLine]] = {}
    for asset in assets:
        kind = KINDS.get(asset.kind)
        notices[asset.id] = [
            NoticeLine("code", _("Asset code"), asset.code),
            NoticeLine("kind", _("Kind"), str(kind.label) if kind else asset.kind),
        ]
    registered = current_app.extensions.get(NOTICES_KEY, [])
    for notice in sorted(registered, key=lambda entry: entry.position):
        for asset_id, lines in notice.lines(assets).items():
            notices[asset_id].extend(lines)
    return notices


@dataclass(frozen=True)
class LabelPage:
    """What a label page shows besides the assets: the notice lines (when asked for) and
    whether ``BASE_URL`` is a loopback address that no phone can reach."""

    notices: dict[int, list[NoticeLine]]
    loopback: bool
    base_url: str


def label_page(assets: Sequence[Asset], with_notice: bool) -> LabelPage:
    return LabelPage(
        notices=notice_lines(assets) if with_notice else {},
        loopback=base_url_is_loopback(),
        base_url=base_url(),
    )
