"""Russian and English: the language comes from an explicit choice (cookie), else the browser, else Russian."""
from pathlib import Path

from flask import Flask, current_app, request
from flask_babel import get_locale

from .extensions import babel

LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}  # Russian first in every language list


def select_locale() -> str:
    """The visitor's language."""
    supported = current_app.config["LANGUAGES"]
    chosen = request.cookies.get("lang")
    if chosen in supported:
        return chosen
    return request.accept_languages.best_match(supported) or current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with catalogues from coordinator/translations."""
    # One catalogue directory per area of the UI (core, participant, console), merged at run time.
    areas = sorted(p for p in (Path(app.root_path) / "translations").iterdir() if p.is_dir())
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=";".join(str(p) for p in areas))

    @app.context_processor
    def languages():
        return {"languages": LANGUAGE_NAMES, "current_locale": str(get_locale())}
