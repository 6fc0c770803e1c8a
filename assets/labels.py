"""Printable QR labels: each encodes the absolute URL that opens the asset's next due
inspection in the logging form (``/inspections/asset/<code>/next``)."""

from __future__ import annotations

import io
from urllib.parse import quote

import segno
from flask import current_app

# The path of the endpoint ``inspections.log_for_asset``; a label printed today must keep
# working, so the path is fixed here rather than looked up.
NEXT_INSPECTION_PATH = "/inspections/asset/{code}/next"
ERROR_CORRECTION = "m"


def base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def label_url(code: str) -> str:
    """The absolute URL a label for asset ``code`` encodes."""
    return base_url() + NEXT_INSPECTION_PATH.format(code=quote(code, safe=""))


def label_qr(code: str) -> segno.QRCode:
    return segno.make(label_url(code), error=ERROR_CORRECTION, boost_error=False)


def label_svg(code: str, scale: int = 4) -> str:
    """A standalone SVG document (with XML declaration) of the asset's QR code."""
    buffer = io.BytesIO()
    label_qr(code).save(buffer, kind="svg", scale=scale, title=code)
    return buffer.getvalue().decode()


def label_svg_inline(code: str, scale: int = 4) -> str:
    """The QR code as an ``<svg>`` element to put inside a page (no user text in it)."""
    return label_qr(code).svg_inline(scale=scale)


def label_png(code: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    label_qr(code).save(buffer, kind="png", scale=scale)
    return buffer.getvalue()
