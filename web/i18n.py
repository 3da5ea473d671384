"""Languages: zh-CN (the default) and English, per user, else from the browser."""

from __future__ import annotations

from flask import Flask, current_app, g, request, session
from flask_babel import Babel, get_translations
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
    """The language key used in forms/ and BPMN translations: "zh-CN" or "en" (chosen once per
    request: a page asks for every row)."""
    if not g:
        return "en" if select_locale().startswith("en") else "zh-CN"
    if "ui_language" not in g:
        g.ui_language = "en" if select_locale().startswith("en") else "zh-CN"
    return g.ui_language


def catalog():
    """The request's translations, looked up once per locale rather than once per string (an inbox
    page says some 500). flask_babel keeps the chosen locale on ``g._flask_babel``; force_locale
    puts another locale object there (and back), so a forced language gets its own catalog."""
    context = getattr(g, "_flask_babel", None) if g else None
    locale = getattr(context, "babel_locale", None)
    cached = g.get("_catalog") if g else None
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    if g:
        g._catalog = (getattr(getattr(g, "_flask_babel", None), "babel_locale", None), translations)
    return translations


def money(amount, currency: str = "CNY") -> str:
    """An amount as people read it: ¥239.90 in Chinese, CNY 239.90 in English (two decimals)."""
    return format_money(amount, ui_language(), currency)


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: catalog().ugettext(s),
        ngettext=lambda s, p, n: catalog().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: catalog().upgettext(c, s),
        npgettext=lambda c, s, p, n: catalog().unpgettext(c, s, p, n),
    )
    app.jinja_env.globals["ui_language"] = ui_language
    app.jinja_env.filters["money"] = money
