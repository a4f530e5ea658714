"""Who is asking: agent sessions for the console, bearer tokens for the API."""

from functools import wraps

from flask import abort, g, request
from flask_login import current_user, login_required

from errors import ApiError
from extensions import db, login_manager

from .models import Agent
from .service import agent_for_token


def init_login(app) -> None:
    """Configure Flask-Login for the agent console."""
    login_manager.login_view = "agent.login"
    login_manager.login_message = "Please sign in to use the agent console."
    login_manager.login_message_category = "info"


@login_manager.user_loader
def _load_agent(agent_id: str) -> Agent | None:
    agent = db.session.get(Agent, int(agent_id))
    return agent if agent is not None and agent.active else None


def staff_required(*roles: str):
    """Console views: a signed-in agent, with one of ``roles`` when given."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def token_required(*roles: str):
    """API views: a valid ``Authorization: Bearer <token>``; 403 for roles not in ``roles``."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, "unauthorized",
                               "Send your agent API token as 'Authorization: Bearer <token>'.")
            agent = agent_for_token(token.strip())
            if agent is None:
                raise ApiError(401, "unauthorized", "This API token is not valid.")
            if roles and agent.role not in roles:
                raise ApiError(403, "forbidden", "Your role does not allow this.")
            g.agent = agent
            return view(*args, **kwargs)

        return wrapper

    return decorate
