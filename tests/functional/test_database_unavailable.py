"""A database that cannot be reached is a 503 with Retry-After, on the API and on pages."""

import pytest
import sqlalchemy as sa

from app import create_app
from extensions import db
from tests.conftest import PG_URL, make_config

# Nothing listens on port 1: every connection is refused at once, as during a restart.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/recovery"


@pytest.fixture
def down_client():
    app = create_app(make_config(UNREACHABLE, RATELIMIT_ENABLED=True))
    return app.test_client()


@pytest.mark.parametrize("path, headers", [
    ("/api/v1/cases", {"Authorization": "Bearer some-token"}),
    ("/api/v1/recovery-requests/a-tracking-token-of-some-length", {}),
])
def test_the_api_answers_503_with_its_error_body(down_client, path, headers):
    response = down_client.get(path, headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    error = response.get_json()["error"]
    assert error["code"] == "service_unavailable" and "try again" in error["message"]


def test_a_page_answers_503_in_words(down_client):
    response = down_client.get("/status/a-tracking-token-of-some-length")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert b"try again" in response.data


@pytest.mark.skipif(PG_URL is None, reason="needs PostgreSQL: a connection the server ends")
def test_a_connection_ended_after_the_answer_does_not_turn_it_into_a_500(app):
    # An app of its own: the test's app keeps one context open across requests, so a
    # request's end (where the session is rolled back) would not run.
    app = create_app(make_config(app.config["SQLALCHEMY_DATABASE_URI"]))

    # The server ends the request's connection after the view decided its answer, as a
    # restart does: the session's rollback at the end of the request meets a dead connection.
    # The client gets the answer, and the next request a fresh connection.
    @app.get("/connection-ends")
    def connection_ends():
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with other.begin() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        other.dispose()
        return "answered"

    try:
        response = app.test_client().get("/connection-ends")
        assert response.status_code == 200 and response.text == "answered"
        assert app.test_client().get("/api/v1/cases", headers={
            "Authorization": "Bearer not-a-token"}).status_code == 401
    finally:
        with app.app_context():
            db.engine.dispose()
