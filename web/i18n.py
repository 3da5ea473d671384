"""Languages: zh-CN (the default) and English, per user, else from the browser."""

from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_babel import Babel
from flask_login import current_user

from processes.complaints.money import format_money

babel = Babel()


def select_locale() -> str:
    chosen = session.get("locale")
    if not chosen and getattr(current_user, "is_authenticated", False):
        chosen = getattr(current_user, "locale", None)
    languages = current_app.config["LANGUAGES"]
    if chosen in languages:
        return chosen
    best = request.accept_languages.best_match(languages)
    if best:
        return best
    # Other systems calling the API without Accept-Language get English; people get Chinese first.
    return "en" if request.path.startswith("/api/") else current_app.config["BABEL_DEFAULT_LOCALE"]


def ui_language() -> str:
    """The language key used in forms/ and BPMN translations: "zh-CN" or "en"."""
    return "en" if select_locale().startswith("en") else "zh-CN"


def money(amount, currency: str = "CNY") -> str:
    """An amount as people read it: ¥239.90 in Chinese, CNY 239.90 in English (two decimals)."""
    return format_money(amount, ui_language(), currency)


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["ui_language"] = ui_language
    app.jinja_env.filters["money"] = money
