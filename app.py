"""Recovery Desk: the application factory."""

import os
import secrets
from pathlib import Path

from flask import Config, Flask
from werkzeug.routing import IntegerConverter

import accounts
import commands
import config
import errors
import headers
import i18n
import jobs
import notify
import rate_limits
import sealing
from api import bp as api_bp
from extensions import csrf, db, login_manager, migrate, remove_session_quietly
from reports import bp as reports_bp
from workflow import (
    models,  # noqa: F401  (tables must be known to Alembic and create_all)
    service,
)
from workflow.agent_views import bp as agent_bp
from workflow.auth import init_login
from workflow.collab_views import bp as collab_bp
from workflow.models import MAX_ID
from workflow.public_views import bp as public_bp


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, test_config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def load_config(app: Flask, test_config: dict | None) -> None:
    """Defaults, then instance/config.py, then the environment, then the test's overrides."""
    app.config.from_object(config.Config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("RECOVERY")
        app.config.update(config.from_environment())
        if app.config["ENV_NAME"] == "production" and not _demo_chosen(app):
            app.config["DEMO"] = False  # a production desk never invents accounts by default
    else:
        app.config.update(test_config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            "sqlite:///" + os.path.join(app.instance_path, "recovery-desk.sqlite")
        )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)
    if not app.config.get("ENCRYPTION_KEYS"):
        app.config["ENCRYPTION_KEYS"] = _instance_encryption_keys(app)


def _demo_chosen(app: Flask) -> bool:
    """Whether the operator set DEMO explicitly (environment or instance/config.py)."""
    instance = Config(app.instance_path)
    instance.from_pyfile("config.py", silent=True)
    return "RECOVERY_DEMO" in os.environ or "DEMO" in instance


def _instance_secret(app: Flask) -> str:
    """A secret key kept in the instance folder, created on first start; never in production."""
    if app.config["ENV_NAME"] == "production":
        raise RuntimeError(
            "SECRET_KEY is not set. Set RECOVERY_SECRET_KEY or put SECRET_KEY in "
            "instance/config.py."
        )
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


# The key id of the development key kept in the instance folder.
INSTANCE_KEY_ID = "instance"


def _instance_encryption_keys(app: Flask) -> dict[str, str]:
    """An encryption key kept in the instance folder, created on first start; never in
    production, whose key must live apart from the database it protects."""
    if app.config["ENV_NAME"] == "production":
        raise RuntimeError(
            "ENCRYPTION_KEYS is not set. Set RECOVERY_ENCRYPTION_KEYS (a JSON object of key id "
            "to base64 key) or put ENCRYPTION_KEYS in instance/config.py; the README shows "
            "how to make a key."
        )
    path = Path(app.instance_path) / "encryption_key"
    try:
        # Created exclusively: processes starting together all read the first one's key.
        with open(path, "x") as file:
            path.chmod(0o600)
            file.write(sealing.new_key())
    except FileExistsError:
        pass
    return {INSTANCE_KEY_ID: path.read_text().strip()}


def register_extensions(app: Flask) -> None:
    """Bind the extensions to this app."""
    db.init_app(app)
    remove_session_quietly(app)  # after db.init_app: teardowns run in reverse order
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"))
    csrf.init_app(app)
    headers.init_app(app)
    i18n.init_app(app)
    rate_limits.init_app(app)
    login_manager.init_app(app)
    init_login(app)
    notify.init_app(app)
    accounts.init_app(app)
    jobs.init_app(app)
    service.init_encryption(app)


class IdConverter(IntegerConverter):
    """Row ids in URLs: positive and within a 32-bit integer column, else the route is a 404."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)


def register_blueprints(app: Flask) -> None:
    """Mount the public pages, the agent console (and its canned replies and presence), the
    reports and the API."""
    app.url_map.converters["id"] = IdConverter
    app.register_blueprint(public_bp)
    app.register_blueprint(agent_bp)
    app.register_blueprint(collab_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)


def register_errorhandlers(app: Flask) -> None:
    """JSON errors under /api/, pages elsewhere."""
    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """The `flask --app app ...` commands."""
    commands.init_app(app)
