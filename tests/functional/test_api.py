"""API v1 through the test client: the contract of DESIGN.md."""

import io

import pytest
import sqlalchemy as sa

from api.contract import ROUTES, operation_key
from extensions import db
from tests.conftest import image_bytes
from workflow import service
from workflow.models import RecoveryCase


def submit(client, headers=None, **overrides):
    data = {
        "email": "anna@example.test", "full_name": "Anna Eriksson", "date_of_birth": "1974-08-12",
        "issue_type": "lost_2fa", "description": "", "consent": "true",
        "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
        "selfie": (io.BytesIO(image_bytes()), "selfie.jpg"),
    }
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post("/api/v1/recovery-requests", data=data, headers=headers or {},
                       content_type="multipart/form-data")


def cases() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase))


def assert_error(response, status, code, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["field"] == field
    assert body["error"]["message"].endswith(".")


@pytest.fixture
def token(make_agent):
    return make_agent("agent")[1]


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_submit_and_read_status(client):
    response = submit(client)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"case_id", "tracking_token", "state", "status_url"}
    assert body["state"] == "submitted"
    assert body["status_url"].endswith(f"/status/{body['tracking_token']}")
    status = client.get(f"/api/v1/recovery-requests/{body['tracking_token']}").get_json()
    assert status["case_id"] == body["case_id"] and status["state"] == "submitted"
    assert status["messages"] == [] and status["actions"] == ["reply", "withdraw"]
    assert status["status_text"]


def test_unknown_tracking_token(client):
    assert_error(client.get("/api/v1/recovery-requests/nope"), 404, "not_found")


@pytest.mark.parametrize("override,status,code,field", [
    ({"email": "x"}, 400, "invalid_field", "email"),
    ({"date_of_birth": "1974-13-40"}, 400, "invalid_field", "date_of_birth"),
    ({"issue_type": "other_thing"}, 400, "invalid_field", "issue_type"),
    ({"consent": None}, 400, "consent_required", "consent"),
    ({"selfie": None}, 400, "missing_file", "selfie"),
    ({"selfie": (io.BytesIO(b"hello, I am text"), "selfie.jpg")}, 415, "unsupported_image",
     "selfie"),
    ({"id_document": (io.BytesIO(b""), "id.jpg")}, 400, "empty_file", "id_document"),
])
def test_submission_errors_create_nothing(client, override, status, code, field):
    assert_error(submit(client, **override), status, code, field)
    assert cases() == 0


def test_json_body_is_refused_with_415(client):
    response = client.post("/api/v1/recovery-requests", json={"email": "a@b.c"})
    assert_error(response, 415, "unsupported_media_type")


def test_idempotency_key(client):
    first = submit(client, headers={"Idempotency-Key": "abc-123"})
    again = submit(client, headers={"Idempotency-Key": "abc-123"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    other = submit(client, headers={"Idempotency-Key": "abc-123"}, full_name="Not Anna")
    assert_error(other, 409, "idempotency_conflict")
    assert cases() == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic abc"}])
def test_cases_need_a_valid_token(client, headers):
    response = client.get("/api/v1/cases", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_list_cases_with_filters_and_cursor(client, token, make_case):
    ids = [make_case(issue_type="lost_2fa")[0].id for _ in range(3)]
    other = make_case("id_check", issue_type="other")[0].id
    page = client.get("/api/v1/cases?limit=2", headers=auth(token)).get_json()
    assert [c["id"] for c in page["items"]] == ids[:2]
    assert {"id", "state", "issue_type", "created_at", "version"} <= set(page["items"][0])
    rest = client.get(f"/api/v1/cases?limit=2&cursor={page['next_cursor']}",
                      headers=auth(token)).get_json()
    assert [c["id"] for c in rest["items"]] == [ids[2], other] and rest["next_cursor"] is None
    only = client.get("/api/v1/cases?state=id_check", headers=auth(token)).get_json()
    assert [c["id"] for c in only["items"]] == [other]
    by_type = client.get("/api/v1/cases?issue_type=other", headers=auth(token)).get_json()
    assert [c["id"] for c in by_type["items"]] == [other]


@pytest.mark.parametrize("query,code,field", [
    ("state=flying", "invalid_state", "state"), ("issue_type=x", "invalid_issue_type",
                                                 "issue_type"),
    ("limit=0", "invalid_limit", "limit"), ("limit=abc", "invalid_limit", "limit"),
    ("cursor=%%%", "bad_cursor", "cursor"),
])
def test_list_cases_bad_query(client, token, query, code, field):
    assert_error(client.get(f"/api/v1/cases?{query}", headers=auth(token)), 400, code, field)


def test_case_detail(client, token, make_case):
    case, _ = make_case("id_check")
    body = client.get(f"/api/v1/cases/{case.id}", headers=auth(token)).get_json()
    assert body["state"] == "id_check" and body["resolution"] is None
    assert body["version"] == case.version
    assert {e["event"] for e in body["allowed_events"]} >= {"confirm_document", "decline"}
    assert [e["event"] for e in body["events"]] == ["submitted", "start_review"]
    assert body["checks"] == [] and body["messages"] == []
    assert_error(client.get("/api/v1/cases/999999", headers=auth(token)), 404, "not_found")


def test_fire_event_version_and_rules(client, token, make_case):
    case, _ = make_case("id_check")
    url, seen = f"/api/v1/cases/{case.id}/events", case.version
    ok = client.post(url, json={"event": "confirm_document", "version": seen},
                     headers=auth(token))
    assert ok.status_code == 200 and ok.get_json()["state"] == "selfie_check"
    stale = client.post(url, json={"event": "approve", "version": seen},
                        headers=auth(token))
    assert_error(stale, 409, "stale_version", "version")
    current = ok.get_json()["version"]
    refused = client.post(url, json={"event": "start_review", "version": current},
                          headers=auth(token))
    assert_error(refused, 422, "transition_not_allowed", "event")
    no_reason = client.post(url, json={"event": "decline", "version": current},
                            headers=auth(token))
    assert_error(no_reason, 422, "reason_required", "reason")
    assert service.get_case(case.id).state == "selfie_check"


@pytest.mark.parametrize("body,code,field", [
    ({"event": "approve"}, "invalid_field", "version"),
    ({"event": "approve", "version": "3"}, "invalid_field", "version"),
    ({"version": 1}, "invalid_field", "event"),
    ({"event": "fly", "version": 1}, "unknown_event", "event"),
    ({"event": "decline", "version": 1, "reason": 7}, "invalid_field", "reason"),
])
def test_fire_event_malformed(client, token, make_case, body, code, field):
    case, _ = make_case()
    response = client.post(f"/api/v1/cases/{case.id}/events", json=body, headers=auth(token))
    assert_error(response, 400, code, field)


def test_fire_event_not_json(client, token, make_case):
    case, _ = make_case()
    response = client.post(f"/api/v1/cases/{case.id}/events", data="event=approve",
                           headers=auth(token))
    assert_error(response, 400, "invalid_json")


def test_escalated_case_needs_a_lead(client, make_agent, make_case, make_account):
    make_account()
    case, _ = make_case("escalated", issue_type="forgot_password")
    _agent, agent_token = make_agent("agent")
    _lead, lead_token = make_agent("security_lead")
    url = f"/api/v1/cases/{case.id}/events"
    body = {"event": "approve", "version": case.version, "reason": "Verified by phone call."}
    # An escalated case is the security leads' alone: a plain agent neither acts on it, nor
    # reads it, nor finds it in the queue.
    assert_error(client.post(url, json=body, headers=auth(agent_token)), 403, "leads_only")
    assert_error(client.get(f"/api/v1/cases/{case.id}", headers=auth(agent_token)), 403,
                 "leads_only")
    listed = client.get("/api/v1/cases", headers=auth(agent_token)).get_json()["items"]
    assert case.id not in [c["id"] for c in listed]
    listed = client.get("/api/v1/cases", headers=auth(lead_token)).get_json()["items"]
    assert case.id in [c["id"] for c in listed]
    assert client.post(url, json=body, headers=auth(lead_token)).get_json()["resolution"] == \
        "approved"


def test_unknown_route_and_method_are_json(client):
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(client.delete("/api/v1/cases"), 405, "method_not_allowed")


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 50_000}])
def test_request_too_large(client):
    big = image_bytes(size=(400, 400)) + b"\0" * 60_000
    response = submit(client, selfie=(io.BytesIO(big), "big.jpg"))
    assert_error(response, 413, "too_large")
    assert cases() == 0


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_SUBMISSION": "2 per hour"}])
def test_submissions_are_rate_limited(client):
    assert [submit(client).status_code for _ in range(2)] == [201, 201]
    response = submit(client)
    assert_error(response, 429, "rate_limited")
    assert cases() == 2


def test_openapi_document_matches_the_routes(client, app):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items()
                  for method in ops}
    served = {tuple(reversed(operation_key(method, rule.rule).split(" ", 1)))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served
    assert {f"{method} {path}" for path, method in served} == set(ROUTES)
    for path, ops in spec["paths"].items():
        for op in ops.values():
            for ref in _refs(op):
                name = ref.rsplit("/", 1)[-1]
                assert name in spec["components"]["schemas"], (path, ref)


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_case_detail_returns_the_check_tree(client, token, make_case):
    case, _ = make_case("id_check")
    url = f"/api/v1/cases/{case.id}"
    client.post(f"{url}/events", json={"event": "confirm_document", "version": case.version},
                headers=auth(token))
    body = client.get(url, headers=auth(token)).get_json()
    assert body["stage_results"] == {"document": "clear"}
    [check] = body["checks"]
    assert check["check"] == "document.review" and check["result"] == "clear"
    assert check["reason_code"] == "agent_confirmed" and check["reason_text"]
    assert check["engine"] == "agent" and check["attempt"] == 1
