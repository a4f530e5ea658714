"""Flask extensions, created unbound and wired in by create_app()."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, connection_record) -> None:
    """SQLite ignores foreign keys unless asked: no evidence may outlive or precede its case.

    And it keeps deleted rows' bytes in the file's free pages unless asked to overwrite them
    (secure_delete): a purged or erased photo must not stay readable in the file.
    """
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()


def remove_session_quietly(app) -> None:
    """End each request's database session without letting a dead connection fail the answer.

    Flask-SQLAlchemy rolls the session back when the request's context ends. When the
    database went away mid-request (a restart), that rollback raises after the response is
    made, and the client got a 500 instead of the answer already decided (a 503 saying to
    retry). The session is removed first here, and a connection that cannot even be rolled
    back is simply dropped: the pool replaces it.
    """

    @app.teardown_appcontext
    def _remove(exc) -> None:
        try:
            db.session.remove()
        except (OperationalError, InterfaceError):
            app.logger.warning("the database connection was lost; it is dropped")
            db.session.remove()
