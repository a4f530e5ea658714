"""One place that turns errors into responses: JSON bodies under /api/, pages elsewhere."""

import logging
import re
import time
from contextlib import suppress
from datetime import UTC, datetime

import sqlalchemy.exc
from flask import current_app, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from extensions import db, limiter
from workflow import auth, service


class ApiError(Exception):
    """An error with an HTTP status, raised by API views for the JSON error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        self.status, self.code, self.message, self.field = status, code, message, field
        super().__init__(message)


# Domain error -> (status, code, field). Adding a domain error is one entry.
DOMAIN_ERRORS: dict[type[Exception], tuple[int, str, str | None]] = {
    service.CaseNotFound: (404, "not_found", None),
    service.StaleCase: (409, "stale_version", "version"),
    service.CaseClaimed: (409, "case_claimed", None),
    # Refusals of an approval by the machine's rules, before the TransitionNotAllowed they are.
    service.NothingToRecover: (422, "nothing_to_recover", "event"),
    service.ChecksNotDone: (422, "checks_not_done", "event"),
    service.FourEyesRequired: (422, "four_eyes_required", "event"),
    service.StageNotCleared: (422, "stage_not_cleared", "event"),
    service.OverrideNotConfirmed: (422, "override_not_confirmed", "override"),
    service.TransitionNotAllowed: (422, "transition_not_allowed", "event"),
    service.ReasonRequired: (422, "reason_required", "reason"),
    service.ActionRefused: (422, "action_refused", None),
    service.IdempotencyConflict: (409, "idempotency_conflict", None),
    service.BadCursor: (400, "bad_cursor", "cursor"),
    auth.TokenRefused: (401, "unauthorized", None),
    # A known token that expired or was revoked: the same 401 as any refused token, with a
    # sentence saying which, so that its holder knows to get a new one.
    service.ApiTokenRefused: (401, "unauthorized", None),
    service.TokenNotFound: (404, "not_found", None),
    auth.RoleRefused: (403, "forbidden", None),
    service.LeadsOnly: (403, "leads_only", None),
}

# Texts for HTTP errors raised by Flask or its extensions (abort, 413, 405 ...), in the
# language of the request (lazy: looked up when the answer is written).
HTTP_CODES = {
    400: ("bad_request", _l("The request could not be understood.")),
    401: ("unauthorized", _l("Sign in or send a valid API token.")),
    403: ("forbidden", _l("Your role does not allow this.")),
    404: ("not_found", _l("There is nothing here.")),
    405: ("method_not_allowed", _l("This address does not accept that method.")),
    413: ("too_large", _l("The upload is too large. Each photo may be at most 15 MB.")),
    415: ("unsupported_media_type", _l("This kind of file is not supported.")),
    422: ("unprocessable", _l("The request was understood but refused.")),
    429: ("rate_limited", _l("Too many requests. Please wait a little and try again.")),
    500: ("internal_error", _l("Something went wrong on our side. Please try again later.")),
    503: ("service_unavailable", _l("The desk cannot reach its database right now. Nothing "
                                    "was changed: please try again in a moment.")),
}

# The database refusing or dropping connections (a restart, a failover, a full pool, SQLite
# busy past its timeout): nothing was changed and a retry soon will most likely work.
DATABASE_UNAVAILABLE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                        sqlalchemy.exc.TimeoutError)
# What a 503 tells the client to wait: a PostgreSQL restart takes a few seconds.
DATABASE_RETRY_AFTER_SECONDS = 5


# Tracking tokens, reset-link tokens and the owner's "this wasn't me" tokens (signed: with
# dots) are bearer secrets in URL paths: keep them out of every log line.
TOKEN_IN_PATH = re.compile(r"(/status/|/recovery-requests/|/reset/|/not-me/)[A-Za-z0-9_\-.]{16,}")


def redact(text: str) -> str:
    """``text`` with the tokens in URL paths replaced by a marker."""
    return TOKEN_IN_PATH.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """A logging filter that removes tracking tokens from messages and their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):  # gunicorn's access log passes its own mapping
            for key, value in record.args.items():
                if isinstance(value, str):
                    record.args[key] = redact(value)
        return True


def error_body(status: int, code: str, message: str, field: str | None = None):
    """The JSON error response of DESIGN.md."""
    response = jsonify({"error": {"code": code, "message": message, "field": field}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="recovery-desk"'
    return response


def domain_error_response(err: Exception):
    """Translate a domain error to the API error body."""
    if isinstance(err, service.EvidenceRejected):
        return error_body(err.error.status, err.error.code, err.error.message, err.field)
    if isinstance(err, service.MissingEvidence):
        return error_body(400, "missing_file", str(err), err.field)
    if isinstance(err, service.ChallengeRefused):
        return error_body(err.status, err.code, str(err), "challenge_token")
    for kind, (status, code, field) in DOMAIN_ERRORS.items():
        if isinstance(err, kind):
            response = error_body(status, code, str(err), field)
            if isinstance(err, service.ApiTokenRefused):  # RFC 6750, section 3.1
                response.headers["WWW-Authenticate"] += ', error="invalid_token"'
            return response
    raise err


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def retry_words(now: float | None = None) -> str | None:
    """When a refused client may try again, in words ("in 37 minutes, at 10:42 UTC"), or
    None when no limit of this request is breached."""
    current = limiter.current_limit
    if current is None or not current.breached:
        return None
    now = time.time() if now is None else now
    seconds = max(1, int(current.reset_at - now + 0.999))
    at = datetime.fromtimestamp(current.reset_at, UTC).strftime("%H:%M UTC")
    if seconds < 90:
        return _("in %(seconds)s seconds", seconds=seconds)
    return _("in %(minutes)s minutes, at %(time)s", minutes=max(1, round(seconds / 60)), time=at)


def _http_error(err: HTTPException):
    status = err.code or 500
    code, text = HTTP_CODES.get(status, ("error", err.description or "Error."))
    text = str(text)
    if status == 413:
        limit = current_app.config["MAX_UPLOAD_BYTES"] // (1024 * 1024)
        text = _("The upload is too large. Each photo may be at most %(limit)s MB.", limit=limit)
    if status == 429:
        when = retry_words()
        text = (_("Too many requests (%(limit)s).", limit=err.description) + " "
                + (_("You may try again %(when)s.", when=when) if when
                   else _("Please wait a little and try again.")))
    if _wants_json():
        response = error_body(status, code, text)
    else:
        response = make_response(
            render_template("errors/error.html", status=status, message=text), status
        )
    _keep_headers(err, response)
    return response


# What describes the replaced body; every other header of an HTTP error is part of the answer.
_BODY_HEADERS = frozenset({"content-type", "content-length"})


def _keep_headers(err: HTTPException, response) -> None:
    """Carry the headers of ``err`` (Allow, Retry-After, WWW-Authenticate ...) onto ``response``."""
    carried = Headers(err.get_headers())
    if err.response is not None:
        carried.extend(err.response.headers)
    for name in {key for key, _value in carried if key.lower() not in _BODY_HEADERS}:
        response.headers.setlist(name, carried.getlist(name))


def _csrf_error(err: CSRFError):
    db.session.rollback()
    message = _("Your form expired. Go back, reload the page and try again.")
    if _wants_json():
        return error_body(400, "csrf_failed", message)
    return render_template("errors/error.html", status=400, message=message), 400


def _unexpected(err: Exception):
    current_app.logger.exception("unhandled error on %s %s", request.method,
                                 redact(request.path))
    # A failed transaction must not leak into the next request on this session.
    db.session.rollback()
    code, text = HTTP_CODES[500]
    text = str(text)
    if _wants_json():
        return error_body(500, code, text)
    return render_template("errors/error.html", status=500, message=text), 500


def _database_unavailable(err: Exception):
    current_app.logger.error("database unavailable on %s %s: %s", request.method,
                             redact(request.path), err)
    with suppress(DATABASE_UNAVAILABLE):  # the connection is gone; the pool replaces it
        db.session.rollback()
    code, text = HTTP_CODES[503]
    text = str(text)
    if _wants_json():
        response = error_body(503, code, text)
    else:
        response = make_response(render_template("errors/error.html", status=503,
                                                 message=text), 503)
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def _domain_error(err: Exception):
    if _wants_json():
        return domain_error_response(err)
    response = domain_error_response(err)
    # Refusals that reach public pages are marked for the catalogues in i18n/texts.py; any
    # other message stays as the service wrote it.
    message = _(response.get_json()["error"]["message"])
    return render_template("errors/error.html", status=response.status_code,
                           message=message), response.status_code


def _api_error(err: ApiError):
    return error_body(err.status, err.code, err.message, err.field)


def init_app(app) -> None:
    """Register the handlers and keep tracking tokens out of the logs."""
    for logger in (app.logger, logging.getLogger("werkzeug"), logging.getLogger("gunicorn.access")):
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
    app.register_error_handler(ApiError, _api_error)
    for kind in (*DOMAIN_ERRORS, service.EvidenceRejected, service.MissingEvidence,
                 service.ChallengeRefused):
        app.register_error_handler(kind, _domain_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    for kind in DATABASE_UNAVAILABLE:
        app.register_error_handler(kind, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
