"""Languages of the public pages and of the emails to requesters (Flask-Babel, gettext).

The language is, in order: the one asked for by the switcher (``?lang=xx``, then remembered
in a cookie), the browser's best match from ``Accept-Language``, the desk's default. Emails
are written in the language their case was filed in (``in_language``).
"""

from contextlib import contextmanager
from datetime import datetime
from urllib.parse import urlencode

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Babel, force_locale, format_date, format_time, get_locale, refresh

from . import texts

babel = Babel()

# The switcher's choice, kept a year; it holds a language code and nothing else.
LANGUAGE_COOKIE = "desk_lang"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600

# Each language's own name, as the switcher shows it (in that language, so a person who
# cannot read the current page still finds theirs). Adding a language is one entry.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def supported() -> list[str]:
    """The language codes the desk offers (LANGUAGES), the default first."""
    return list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """The language of this request's pages (the default outside a request)."""
    languages = supported()
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    asked = request.args.get("lang")
    if asked in languages:
        g.language_asked = asked
        return asked
    remembered = request.cookies.get(LANGUAGE_COOKIE)
    if remembered in languages:
        return remembered
    return request.accept_languages.best_match(languages) or current_app.config[
        "BABEL_DEFAULT_LOCALE"]


def current_language() -> str:
    """The code of the language the page is written in (``<html lang>``)."""
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def language_links() -> list[dict[str, object]]:
    """The switcher: each language with the current page's address in it."""
    here = current_language()
    query = {key: value for key, value in request.args.items() if key != "lang"}
    return [{"code": code, "name": LANGUAGE_NAMES.get(code, code), "current": code == here,
             "href": f"{request.path}?{urlencode({**query, 'lang': code})}"}
            for code in supported()]


def when(moment: datetime | None) -> str:
    """A date and time for people, in the current language, in UTC (said so)."""
    if moment is None:
        return ""
    return f"{format_date(moment, 'long')}, {format_time(moment, 'short')} UTC"


@contextmanager
def in_language(language: str | None):
    """Write in ``language`` (an email to a requester), or the default when it is not offered."""
    if language not in supported():
        language = current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(language):
        yield


def _remember_language(response):
    """A language picked with the switcher sticks for the pages that follow."""
    asked = g.get("language_asked")
    if asked and request.cookies.get(LANGUAGE_COOKIE) != asked:
        secure = bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure
        response.set_cookie(LANGUAGE_COOKIE, asked, max_age=LANGUAGE_COOKIE_MAX_AGE,
                            secure=secure, httponly=True, samesite="Lax")
    return response


def init_app(app: Flask) -> None:
    """Wire Flask-Babel in: catalogues under translations/, the selector above, and the
    helpers the templates use."""
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(app.config["TRANSLATIONS_DIR"]))
    # Flask-Babel keeps the language on ``g``, which a request shares with an application
    # context already pushed (a CLI command, a test): each request chooses afresh.
    app.before_request(refresh)
    app.after_request(_remember_language)
    app.jinja_env.globals.update(current_language=current_language,
                                 language_links=language_links, when=when)
    app.jinja_env.filters["translated"] = texts.translated
    app.jinja_env.filters["message_body"] = texts.message_body
