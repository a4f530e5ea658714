"""Who is asking: agent sessions for the console, bearer tokens for the API.

Console sign-in takes two steps. The password step leaves only a pending sign-in in the
session (the agent, their session generation and the time); the second factor (a TOTP code or
a recovery code, or enrolling an app on first sign-in) then starts the session proper on an
emptied cookie. Nothing of the console opens on a pending sign-in.

A console session is Flask's signed cookie holding ``<agent id>:<session generation>`` (the
agent's ``get_id``), the time of sign-in and the time of the last request. Every request
loads the agent and checks all three on the server: a generation that moved on (sign-out,
a new password, deactivation) or a timeout ends the session, however old the cookie.
"""

import secrets
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, flash, g, has_request_context, redirect, request, session
from flask_login import current_user, login_required, login_url, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from extensions import login_manager

from .credentials import Backoff
from .models import Agent, utcnow
from .service import agent_for_token, check_case_access, register, session_agent

SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
PENDING = "pending_sign_in"
# A browser an agent completed sign-in on carries a signed cookie naming them: failures there
# count against that browser, so someone failing on purpose elsewhere cannot slow them down.
DEVICE_COOKIE = "desk_device"
DEVICE_SALT = "recovery-desk.device"


def init_login(app) -> None:
    """Configure Flask-Login for the agent console."""
    login_manager.login_view = "agent.login"
    login_manager.login_message = "Please sign in to use the agent console."
    login_manager.login_message_category = "info"
    app.before_request(_forget_loaded_agent)
    register(app, client_address=client_address)


def client_address() -> str | None:
    """The client address the desk sees for the request being served (as the rate limits
    count it: behind a proxy, the proxy's), for the audit trail; None outside a request."""
    return request.remote_addr if has_request_context() else None


def _forget_loaded_agent() -> None:
    # Each request loads and checks its agent itself, even when it shares an application
    # context (and so ``g``) with an earlier one, as requests in tests do.
    g.pop("_login_user", None)
    g.pop("session_ended", None)


def _clear_session() -> None:
    """Empty the session, and the CSRF token Flask-WTF cached from it for this context."""
    session.clear()
    # Flask-WTF keeps the token it made in ``g``; a form rendered later in the same context
    # would carry the old session's token, which the new session cannot validate.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _now() -> int:
    return int(utcnow().timestamp())


def _duration(seconds: int) -> str:
    amount, unit = (seconds / 3600, "hour") if seconds >= 3600 else (seconds / 60, "minute")
    return f"{amount:g} {unit}" + ("" if amount == 1 else "s")


def session_ended(signed_in_at, seen_at, now: int, idle: int, longest: int) -> str | None:
    """Why a session with these times is over at ``now``, or None while it lasts."""
    if not isinstance(signed_in_at, int) or not isinstance(seen_at, int):
        # Not signed in through the form (a remember-me cookie, a session from before the
        # times were kept): such a session never counts.
        return "Please sign in to use the agent console."
    if now - signed_in_at >= longest:
        return f"You were signed in for {_duration(longest)}: please sign in again."
    if now - seen_at >= idle:
        return f"You were signed out after {_duration(idle)} without activity."
    return None


@login_manager.user_loader
def _load_agent(session_id: str) -> Agent | None:
    agent_id, _, generation = session_id.partition(":")
    agent = None
    if agent_id.isascii() and agent_id.isdigit() and generation.isascii() and generation.isdigit():
        agent = session_agent(int(agent_id), int(generation))
    if agent is None:
        _clear_session()
        g.session_ended = "Your session has ended: please sign in again."
        return None
    config, now = current_app.config, _now()
    why = session_ended(session.get(SIGNED_IN_AT), session.get(SEEN_AT), now,
                        config["SESSION_IDLE_SECONDS"], config["SESSION_MAX_SECONDS"])
    if why is not None:
        _clear_session()
        g.session_ended = why
        return None
    session[SEEN_AT] = now
    return agent


@login_manager.unauthorized_handler
def _sign_in_again():
    flash(g.pop("session_ended", None) or login_manager.login_message,
          login_manager.login_message_category)
    return redirect(login_url(login_manager.login_view, next_url=request.url))


def begin_sign_in(agent: Agent) -> None:
    """The password was right: remember, on an emptied session, whom the second factor is for."""
    _clear_session()
    session[PENDING] = {"agent": agent.get_id(), "at": _now()}


def pending_agent() -> Agent | None:
    """The agent whose password step this session passed, while it is fresh and still valid."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    if _now() - pending["at"] >= current_app.config["SIGN_IN_STEP_SECONDS"]:
        session.pop(PENDING, None)
        return None
    agent_id, _, generation = str(pending.get("agent", "")).partition(":")
    if not (agent_id.isascii() and agent_id.isdigit() and generation.isascii()
            and generation.isdigit()):
        return None
    return session_agent(int(agent_id), int(generation))


def backoff_policies() -> dict[str, Backoff]:
    """The back-off of each kind of key: an account, a trusted browser, an address."""
    config = current_app.config
    account = Backoff(free=config["SIGN_IN_FREE_FAILURES"],
                      first=timedelta(seconds=config["SIGN_IN_FIRST_WAIT_SECONDS"]),
                      longest=timedelta(seconds=config["SIGN_IN_LONGEST_WAIT_SECONDS"]),
                      forget=timedelta(seconds=config["SIGN_IN_FORGET_SECONDS"]))
    address = Backoff(free=config["SIGN_IN_FREE_FAILURES_PER_ADDRESS"], first=account.first,
                      longest=account.longest, forget=account.forget)
    return {"account": account, "device": account, "address": address}


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=DEVICE_SALT)


def trusted_device(email: str) -> str | None:
    """The id of this browser if an agent with ``email`` completed sign-in on it."""
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    if not cookie or len(cookie) > 400:
        return None
    try:
        owner, device = _device_serializer().loads(
            cookie, max_age=current_app.config["SIGN_IN_DEVICE_DAYS"] * 86400)
    except (BadSignature, TypeError, ValueError):
        return None
    return device if isinstance(device, str) and owner == email.strip().lower() else None


def signin_keys(email: str) -> list[str]:
    """The keys a sign-in attempt for ``email`` counts under: a browser the agent signed in on
    before counts alone (failures elsewhere, on the account or from a shared address, never
    slow it down); any other counts under the account and the client's address."""
    device = trusted_device(email)
    if device:
        return [f"device:{device}"]
    return [f"account:{email.strip().lower()[:254]}",
            f"address:{request.remote_addr or 'unknown'}"]


def remember_device(response, agent: Agent):
    """Mark this browser as one the agent signed in on (the cookie the back-off trusts)."""
    config = current_app.config
    device = trusted_device(agent.email) or secrets.token_urlsafe(16)
    response.set_cookie(
        DEVICE_COOKIE, _device_serializer().dumps([agent.email, device]),
        max_age=config["SIGN_IN_DEVICE_DAYS"] * 86400, path="/agent/login",
        secure=bool(config.get("SESSION_COOKIE_SECURE")) or request.is_secure, httponly=True,
        samesite="Strict")
    return response


def start_session(agent: Agent) -> None:
    """Sign ``agent`` in on a fresh session: nothing from before sign-in is carried over."""
    _clear_session()
    login_user(agent)
    session[SIGNED_IN_AT] = session[SEEN_AT] = _now()


def end_session() -> None:
    """Sign out of this browser and forget everything the session held."""
    logout_user()
    _clear_session()


def staff_required(*roles: str):
    """Console views: a signed-in agent, with one of ``roles`` when given, who may open the
    case the route names (service.LeadsOnly, a 403, otherwise)."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if roles and current_user.role not in roles:
                abort(403)
            if "case_id" in kwargs:
                check_case_access(kwargs["case_id"], current_user)
            return view(*args, **kwargs)

        return wrapper

    return decorate


class TokenRefused(Exception):
    """The API request carries no valid bearer token (401)."""


class RoleRefused(Exception):
    """The API token's agent has a role the route does not allow (403)."""


def token_required(*roles: str):
    """API views: a valid ``Authorization: Bearer <token>``; 403 for roles not in ``roles``,
    and for a case the agent may not open (service.LeadsOnly)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise TokenRefused("Send your agent API token as 'Authorization: Bearer <token>'.")
            agent = agent_for_token(token.strip())
            if agent is None:
                raise TokenRefused("This API token is not valid.")
            if roles and agent.role not in roles:
                raise RoleRefused("Your role does not allow this.")
            if "case_id" in kwargs:
                check_case_access(kwargs["case_id"], agent)
            g.agent = agent
            return view(*args, **kwargs)

        return wrapper

    return decorate
