"""A database that cannot be reached is a 503 with Retry-After, on the API and on pages."""

import pytest

from app import create_app
from tests.conftest import make_config

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
