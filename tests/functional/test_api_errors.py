"""API errors the same way on every operation: strict query strings and bodies, and the
headers of HTTP errors (Allow, Retry-After) kept by the error handler, on /api/ and on pages."""

import io

import pytest
from werkzeug.exceptions import HTTPException

from api.contract import ROUTES
from tests.conftest import image_bytes
from tests.functional.test_api import assert_error, auth
from workflow import service

# --- strict query strings and bodies, the same on every operation ---------------------------

@pytest.fixture
def token(make_agent):
    return make_agent("agent")[1]


@pytest.mark.parametrize("path", ["/cases", "/reports/sla"])
@pytest.mark.parametrize("query,code,field", [
    ("state=", "empty_parameter", "state"),
    ("cursor=", "empty_parameter", "cursor"),
    ("from=", "empty_parameter", "from"),
    ("group_by=", "empty_parameter", "group_by"),
    ("limit=", "empty_parameter", "limit"),
    ("sort=id", "unknown_parameter", "sort"),
])
def test_empty_and_unknown_filters_name_the_field(client, token, path, query, code, field):
    taken = ROUTES[f"GET {path}"].query
    expected = (code, field) if field in taken else ("unknown_parameter", field)
    response = client.get(f"/api/v1{path}?{query}", headers=auth(token))
    assert_error(response, 400, *expected)


@pytest.mark.parametrize("path", ["/cases", "/reports/sla"])
def test_a_filter_given_twice_is_refused(client, token, path):
    name = ROUTES[f"GET {path}"].query[0]
    response = client.get(f"/api/v1{path}?{name}=a&{name}=b", headers=auth(token))
    assert_error(response, 400, "repeated_parameter", name)


def test_operations_without_query_parameters_refuse_them(client, token, make_case):
    case, tracking_token = make_case()
    for url in (f"/api/v1/cases/{case.id}", f"/api/v1/recovery-requests/{tracking_token}"):
        assert_error(client.get(f"{url}?debug=1", headers=auth(token)), 400,
                     "unknown_parameter", "debug")
    assert_error(client.post("/api/v1/challenges?x=1"), 400, "unknown_parameter", "x")


@pytest.mark.parametrize("suffix,body", [
    ("events", {"event": "start_review", "version": 1, "priority": "high"}),
    ("challenge-confirmation", {"version": 1, "code": "123456"}),
    ("not-me", {"note": "Holder phoned.", "urgent": True}),
])
def test_unknown_body_fields_are_refused(client, token, make_case, suffix, body):
    case, _ = make_case()
    response = client.post(f"/api/v1/cases/{case.id}/{suffix}", json=body, headers=auth(token))
    [extra] = set(body) - {"event", "version", "note"}
    assert_error(response, 400, "unknown_field", extra)
    assert service.get_case(case.id).version == case.version


def test_unknown_form_fields_are_refused(client):
    response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data", data={
        "email": "anna@example.test", "full_name": "Anna Eriksson", "date_of_birth": "1974-08-12",
        "issue_type": "forgot_password", "consent": "true", "referrer": "ad",
        "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
        "selfie": (io.BytesIO(image_bytes()), "selfie.jpg")})
    assert_error(response, 400, "unknown_field", "referrer")


def test_every_route_documents_its_errors_with_the_error_body(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            route = ROUTES[f"{method.upper()} {path}"]
            errors = {code for code in operation["responses"] if code >= "400"}
            assert errors == {str(status) for status in route.all_errors()}, (method, path)
            for code in errors:
                body = operation["responses"][code]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Error"}
            if operation.get("security"):
                assert {"401", "403"} <= errors, (method, path)
    assert spec["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"]["required"]


# --- headers of HTTP errors survive the error handler ---------------------------------------

@pytest.mark.parametrize("url,method", [("/api/v1/cases", "delete"), ("/recover", "put"),
                                        ("/agent/login", "delete")])
def test_405_keeps_allow(client, url, method):
    response = getattr(client, method)(url)
    assert response.status_code == 405
    assert "GET" in {m.strip() for m in response.headers["Allow"].split(",")}
    assert response.is_json == url.startswith("/api/")


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_SUBMISSION": "1 per hour",
                                         "RATELIMIT_STATUS": "1 per minute"}])
def test_429_keeps_retry_after(client):
    client.post("/api/v1/challenges")
    response = client.post("/api/v1/challenges")
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    client.get("/status/unknown-token-0123456789")
    page = client.get("/status/unknown-token-0123456789")
    assert page.status_code == 429 and not page.is_json
    assert int(page.headers["Retry-After"]) > 0


class _Probe(HTTPException):
    code = 418
    description = "A probe."

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("X-Probe", "kept"), ("Link", "<a>"),
                ("Link", "<b>")]


@pytest.mark.parametrize("url", ["/api/v1/probe", "/probe"])
def test_error_handler_keeps_every_header_of_an_http_error(app, client, url):
    def probe():
        raise _Probe()

    app.add_url_rule(url, "probe", probe)
    response = client.get(url)
    assert response.status_code == 418
    assert response.headers["X-Probe"] == "kept"
    assert response.headers.getlist("Link") == ["<a>", "<b>"]
    assert response.is_json == url.startswith("/api/")
