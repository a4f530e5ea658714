"""Security headers on every response of the desk.

Pages get a Content Security Policy that allows scripts and styles from the desk's own files
only (no inline script or style, no ``eval``), images from the desk (and ``data:``/``blob:``
for photos previewed in the browser), forms posted only to the desk, and no framing; the API
and everything that is not a page get a policy that allows nothing at all. Every response is
``nosniff``, refuses to be framed, sends no more of its address than its origin elsewhere
(pages that carry a secret in their URL send none: the public views set ``no-referrer``),
and is told, in production or over HTTPS, to be reached over HTTPS only from now on (HSTS).

The session cookie is ``Secure`` when ``SESSION_COOKIE_SECURE`` says so (unset: in production)
or when the request itself came over HTTPS.
"""

from __future__ import annotations

from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# JSON, images, CSV: nothing in them may load or run anything.
RESOURCE_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
# A year, the subdomains too: what HSTS preload lists ask for.
HSTS = "max-age=31536000; includeSubDomains"
# The camera for the request's photos, nothing else a page could ask the browser for.
PERMISSIONS = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"


def _https(app: Flask) -> bool:
    return app.config["ENV_NAME"] == "production" or (has_request_context()
                                                      and request.is_secure)


def add_headers(app: Flask, response: Response) -> Response:
    """The security headers of ``response`` (those a view set itself are kept)."""
    headers = response.headers
    page = response.mimetype == "text/html"
    headers.setdefault("Content-Security-Policy", PAGE_POLICY if page else RESOURCE_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if page:
        headers.setdefault("Permissions-Policy", PERMISSIONS)
    if _https(app):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, ``Secure`` over HTTPS even when not configured so."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context()
                                                             and request.is_secure)


def init_app(app: Flask) -> None:
    """Add the headers to every response; mark cookies Secure in production."""
    secure = app.config.get("SESSION_COOKIE_SECURE")
    if secure is None:
        # Unset: a production desk is reached over HTTPS (README, Operations); elsewhere the
        # cookie follows the request.
        secure = app.config["ENV_NAME"] == "production"
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = bool(secure)
    app.session_interface = SessionInterface()
    app.after_request(lambda response: add_headers(app, response))
