"""The interface language: Simplified Chinese or English, from the switch or the browser."""

from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, request, session

LANGUAGES = {"zh": "中文", "en": "English"}


def select_locale() -> str:
    """The switch's choice, else the browser's; English outside a request (the CLI)."""
    if not has_request_context():
        return "en"
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return (
        request.accept_languages.best_match(list(LANGUAGES))
        or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def safe_next_url(target: str | None) -> str | None:
    """Only a path on this site, never another host (open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def init_app(app: Flask) -> None:
    @app.context_processor
    def language_choices():
        return {"languages": LANGUAGES, "current_language": select_locale()}
