"""The app on a phone: the web app manifest and the service worker.

The service worker (``static/js/sw.js``, served at ``/sw.js`` so that its scope is the whole
app) precaches the static files listed here with a revision each (a hash of the file, so a
changed file is fetched again and the worker itself changes), keeps the pages people open for
when the signal is gone, and sends the outbox of results (``static/js/outbox.js``). Which pages
a user needs offline is asked of the page (``data-offline-list`` on ``<body>``): the package that
knows them serves that list. Packages add their own static files with ``precache_static``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, url_for
from flask_babel import gettext as _

bp = Blueprint("pwa", __name__)

EXTENSION_KEY = "sar_precache"
# Every page's own files; packages add theirs (``precache_static``).
PRECACHED = (
    "css/app.css",
    "favicon.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "js/app.js",
    "js/outbox.js",
    "js/offline.js",
)
WORKBOX = "vendor/workbox-7.4.1"
THEME_COLOUR = "#b3261e"
BACKGROUND_COLOUR = "#f5f7fa"


def init_app(app: Flask) -> None:
    app.extensions.setdefault(EXTENSION_KEY, {"files": list(PRECACHED), "revisions": None})
    app.register_blueprint(bp)


def precache_static(app: Flask, *filenames: str) -> None:
    """Files under ``static/`` that the service worker keeps for offline use."""
    entry = app.extensions.setdefault(EXTENSION_KEY, {"files": list(PRECACHED), "revisions": None})
    entry["files"].extend(name for name in filenames if name not in entry["files"])
    entry["revisions"] = None


def precache_manifest() -> list[dict[str, str]]:
    """[{url, revision}] of the precached static files (hashed once per process, or on every
    request in debug mode)."""
    entry = current_app.extensions[EXTENSION_KEY]
    if entry["revisions"] is None or current_app.debug:
        static = Path(current_app.static_folder)
        entry["revisions"] = [
            {
                "url": url_for("static", filename=name),
                "revision": hashlib.sha256((static / name).read_bytes()).hexdigest()[:16],
            }
            for name in entry["files"]
        ]
    return entry["revisions"]


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, with its configuration in front of ``static/js/sw.js``."""
    source = Path(current_app.static_folder, "js", "sw.js").read_text(encoding="utf-8")
    config = {
        "precache": precache_manifest(),
        "workbox": url_for("static", filename=WORKBOX) + "/",
        "outbox": url_for("static", filename="js/outbox.js"),
    }
    body = f"self.SAR_CONFIG = {json.dumps(config, sort_keys=True)};\n{source}"
    response = current_app.response_class(body, mimetype="text/javascript")
    # Browsers check the worker for updates themselves; never from a stale HTTP cache.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest: installable, opening on the dashboard, in the district's colours.
    Browsers fetch it without the session: it is public, in the default language."""
    district = current_app.config["DISTRICT_NAME"]
    name = _("Safety Asset Registry")
    body = {
        "name": f"{district} {name}" if district else name,
        "short_name": _("Safety assets"),
        "start_url": url_for("dashboard.index"),
        "scope": "/",
        "display": "standalone",
        "background_color": BACKGROUND_COLOUR,
        "theme_color": THEME_COLOUR,
        "icons": [
            {
                "src": url_for("static", filename="favicon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
            },
            *(
                {
                    "src": url_for("static", filename=f"icons/icon-{size}.png"),
                    "sizes": f"{size}x{size}",
                    "type": "image/png",
                    "purpose": "any",
                }
                for size in (192, 512)
            ),
        ],
    }
    return current_app.response_class(
        json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json"
    )
