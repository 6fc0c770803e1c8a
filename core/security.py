"""Security headers on every response (Flask-Talisman), and the cookies' flags.

- Content-Security-Policy: everything from the app itself (``'self'``); scripts from our own
  files, plus inline ``<script>`` elements that carry this response's nonce (``csp_nonce()``:
  folium's map scripts, ``maps.build``); no ``'unsafe-eval'``, no inline event handlers
  (``data-confirm`` and ``data-print`` in ``static/js/app.js`` instead). ``<style>``
  elements need the nonce too; style *attributes* are allowed (Leaflet, ECharts' tooltips
  and the emails shown on the alert pages set them; every value in them is escaped), through
  ``style-src-attr`` (and ``style-src`` for browsers that know neither ``-elem`` nor
  ``-attr``: there a nonce would switch ``'unsafe-inline'`` off). Images also from ``data:``
  and ``blob:`` (photos previewed on the phone) and the tile servers that parts declare
  (``allow_sources``; the map's, read when the app starts). ``connect-src``, ``worker-src``
  (the service worker), ``form-action`` and ``base-uri`` are ``'self'``; no plugins; no
  framing by anyone (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``).
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: strict-origin-when-cross-origin``
  on every response: another site (a tile server) learns our origin, never a path or a query.
- ``HTTPS_ONLY`` (default: on when ``BASE_URL`` is https): ``Strict-Transport-Security``
  and Secure session and remember-me cookies. HSTS is sent on every response then (browsers
  ignore it over plain http), not only when the request looks secure as Talisman's own does:
  behind a proxy that terminates TLS without ``X-Forwarded-Proto`` that would never send it.
  Talisman's https redirect stays off: the proxy in front answers http.
- Cookies: session and remember-me both HttpOnly and SameSite=Lax, always.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from flask import Flask, Response, current_app, request

from core.extensions import talisman

EXTENSION_KEY = "sar_csp_sources"
NONCE_DIRECTIVES = ("script-src", "style-src-elem")
BASE_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "style-src-elem": ["'self'"],
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "worker-src": ["'self'"],
    "manifest-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
REFERRER_POLICY = "strict-origin-when-cross-origin"
HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600
NONCE_BYTES = 24


def https_only(config) -> bool:
    """``HTTPS_ONLY`` when set, else whether ``BASE_URL`` is an https address."""
    setting = config.get("HTTPS_ONLY")
    if setting is not None:
        return bool(setting)
    return str(config.get("BASE_URL") or "").strip().lower().startswith("https://")


def allow_sources(app: Flask, directive: str, *sources: str) -> None:
    """Let this app's pages load from ``sources`` under ``directive`` (a part's tile server)."""
    extra = app.extensions.setdefault(EXTENSION_KEY, {})
    listed = extra.setdefault(directive, [])
    listed.extend(source for source in sources if source not in listed)


def content_security_policy(app: Flask) -> dict[str, str]:
    extra: dict[str, list[str]] = app.extensions.get(EXTENSION_KEY, {})
    policy = {name: list(sources) for name, sources in BASE_POLICY.items()}
    for directive, sources in extra.items():
        policy.setdefault(directive, list(BASE_POLICY["default-src"]))
        policy[directive].extend(source for source in sources if source not in policy[directive])
    return {name: " ".join(sources) for name, sources in policy.items()}


def csp_nonce() -> str:
    """This response's nonce for an inline ``<script>`` or ``<style>`` (made when first
    asked for; Talisman adds it to the policy of the response)."""
    nonce = getattr(request, "csp_nonce", None)
    if not nonce:
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        request.csp_nonce = nonce
    return nonce


def init_app(app: Flask) -> None:
    """After every part (they declare their sources in their ``init_app``)."""
    secure = https_only(app.config)
    app.config["HTTPS_ONLY"] = secure
    if secure:
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    talisman.init_app(
        app,
        force_https=False,
        frame_options="DENY",
        strict_transport_security=False,  # ours below, from the configuration
        content_security_policy=content_security_policy(app),
        content_security_policy_nonce_in=list(NONCE_DIRECTIVES),
        referrer_policy=REFERRER_POLICY,
        session_cookie_secure=False,  # set above when HTTPS_ONLY; Talisman would force it
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        x_content_type_options=True,
    )
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(strict_transport_security)


def strict_transport_security(response: Response) -> Response:
    if current_app.config.get("HTTPS_ONLY"):
        max_age = current_app.config.get("HSTS_MAX_AGE", HSTS_MAX_AGE_SECONDS)
        response.headers["Strict-Transport-Security"] = f"max-age={int(max_age)}"
    return response


def tile_origins(urls: Iterable[tuple[str, str]]) -> list[str]:
    """The origins of tile URL templates (``{s}`` expanded over each one's subdomains)."""
    origins: list[str] = []
    for template, subdomains in urls:
        expanded = [template.replace("{s}", s) for s in subdomains] if "{s}" in template else []
        for url in expanded or [template]:
            scheme, _, rest = url.partition("://")
            origin = f"{scheme}://{rest.split('/', 1)[0]}"
            if origin not in origins:
                origins.append(origin)
    return origins
