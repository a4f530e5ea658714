"""Languages of the public pages and of the emails to requesters (Flask-Babel, gettext).

The language is, in order: the one asked for by the switcher (``?lang=xx``, then remembered
in a cookie), the browser's best match from ``Accept-Language``, the desk's default.
"""

from flask import Flask, current_app, g, request
from flask_babel import Babel

babel = Babel()

# The switcher's choice, kept a year; it holds a language code and nothing else.
LANGUAGE_COOKIE = "desk_lang"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


def supported() -> list[str]:
    """The language codes the desk offers (LANGUAGES), the default first."""
    return list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """The language of this request's pages."""
    languages = supported()
    asked = request.args.get("lang")
    if asked in languages:
        g.language_asked = asked
        return asked
    remembered = request.cookies.get(LANGUAGE_COOKIE)
    if remembered in languages:
        return remembered
    return request.accept_languages.best_match(languages) or current_app.config[
        "BABEL_DEFAULT_LOCALE"]


def _remember_language(response):
    """A language picked with the switcher sticks for the pages that follow."""
    asked = g.get("language_asked")
    if asked and request.cookies.get(LANGUAGE_COOKIE) != asked:
        secure = bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure
        response.set_cookie(LANGUAGE_COOKIE, asked, max_age=LANGUAGE_COOKIE_MAX_AGE,
                            secure=secure, httponly=True, samesite="Lax")
    return response


def init_app(app: Flask) -> None:
    """Wire Flask-Babel in: catalogues under translations/, the selector above."""
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(app.config["TRANSLATIONS_DIR"]))
    app.after_request(_remember_language)
