"""The interface language: Simplified Chinese or English.

Whose choice wins (``select_locale``):

- Pages: the signed-in user's own choice (``User.locale``, set on the profile page); until
  the user has chosen, the header's switch (kept in the session), then the browser's
  languages (Accept-Language).
- The API (``/api/``): a program asks with Accept-Language; without one it gets its user's
  choice.
- Either way, the configured default (BABEL_DEFAULT_LOCALE) when nothing names a language
  we have; English outside a request (the command line).
"""

from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import gettext as _
from flask_login import current_user

from core.audit import actor_label
from core.clock import district_time

LANGUAGES = {"zh": "中文", "en": "English"}


def known_language(value: str | None) -> str | None:
    """``value`` (``zh``, ``zh-CN``, ``en_GB``…) as one of LANGUAGES, or None."""
    if not value:
        return None
    short = value.replace("-", "_").split("_")[0].strip().lower()
    return short if short in LANGUAGES else None


def user_language() -> str | None:
    """The language the signed-in user chose, if any (None before the user chooses)."""
    return known_language(getattr(current_user, "locale", None))


def select_locale() -> str:
    """The language of this request (see the module's docstring for who decides)."""
    if not has_request_context():
        return "en"
    browser = request.accept_languages.best_match(list(LANGUAGES))
    if request.path.startswith("/api/"):
        chosen = browser or user_language()
    else:
        chosen = user_language() or known_language(session.get("lang")) or browser
    return chosen or current_app.config["BABEL_DEFAULT_LOCALE"]


MAX_NEXT_LENGTH = 2000


def safe_next_url(target: str | None) -> str | None:
    """Only a path on this site, never another host (open redirects): no scheme or host, no
    ``//`` or ``/\\`` (browsers read a backslash as a slash), no control characters (a CR/LF
    would split the Location header: a 500)."""
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def zone_label(zone: str) -> str:
    """How a page names the district's time zone, once (every time on it is in that zone)."""
    if zone == "Asia/Shanghai":
        return _("Beijing time (%(zone)s)", zone=zone)
    return _("%(zone)s time", zone=zone)


def init_app(app: Flask) -> None:
    app.add_template_filter(district_time, "local_time")
    app.add_template_filter(actor_label, "actor")

    @app.context_processor
    def language_choices():
        return {
            "languages": LANGUAGES,
            "current_language": select_locale(),
            "user_language": user_language(),
            "district_name": current_app.config["DISTRICT_NAME"],
            "district_zone_label": zone_label(current_app.config["TIMEZONE"]),
        }
