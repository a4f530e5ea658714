"""Input that must never cause a 500, on SQLite and PostgreSQL alike."""

import base64
import io
import logging

import pytest

from errors import RedactTokens, redact
from tests.conftest import csrf_sign_in, sign_in
from tests.functional.test_api import assert_error, auth, submit
from tests.functional.test_public_pages import cases, form_data


@pytest.fixture
def token(make_agent):
    return make_agent("agent", email="sam@example.test")[1]


@pytest.mark.parametrize("path", ["/api/v1/cases/99999999999", "/api/v1/cases/0",
                                  "/api/v1/cases/-1"])
def test_out_of_range_ids_are_404_on_the_api(client, token, path):
    assert_error(client.get(path, headers=auth(token)), 404, "not_found")
    assert_error(client.post(f"{path}/events", json={"event": "approve", "version": 1},
                             headers=auth(token)), 404, "not_found")


@pytest.mark.parametrize("path", ["/agent/cases/99999999999",
                                  "/agent/cases/1/evidence/99999999999"])
def test_out_of_range_ids_are_404_in_the_console(client, token, path):
    sign_in(client, "sam@example.test")
    assert client.get(path).status_code == 404


def test_out_of_range_assignee_is_refused(client, make_agent, make_case):
    make_agent("security_lead", email="lee@example.test")
    sign_in(client, "lee@example.test")
    case, _ = make_case()
    response = client.post(f"/agent/cases/{case.id}/assign",
                           data={"action": "assign", "version": case.version,
                                 "assignee_id": "99999999999"})
    assert response.status_code == 422


@pytest.mark.parametrize("field", ["full_name", "email", "description"])
def test_control_characters_are_refused_on_the_api(client, field):
    assert_error(submit(client, **{field: "A\x00B"}), 400, "invalid_field", field)
    assert cases() == 0


def test_control_characters_are_refused_on_the_form(client):
    response = client.post("/recover", data=form_data(full_name="Anna\x00"),
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "not allowed" in response.get_data(as_text=True)
    assert cases() == 0


def test_control_characters_in_replies_messages_and_reasons(client, token, make_case):
    case, tracking = make_case("id_check")
    response = client.post(f"/status/{tracking}/reply", data={"body": "hi\x00"})
    assert response.status_code == 400
    assert_error(client.post(f"/api/v1/cases/{case.id}/events", headers=auth(token),
                             json={"event": "decline", "version": case.version,
                                   "reason": "x\x00"}), 400, "invalid_field", "reason")
    sign_in(client, "sam@example.test")
    assert client.post(f"/agent/cases/{case.id}/messages",
                       data={"body": "\x00"}).status_code == 400


def test_email_that_grows_when_lowercased_is_refused(client):
    # "İ" lower-cases to two characters: the limit applies to what is stored.
    assert_error(submit(client, email="İ" * 240 + "@b.io"), 400, "invalid_field", "email")
    assert cases() == 0


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59-05:00|1", "0001-01-01T00:00:00+05:00|1",
                                 "2026-01-01T00:00:00+00:00|99999999999", "garbage"])
def test_tampered_cursors_are_400(client, token, raw):
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    assert_error(client.get(f"/api/v1/cases?cursor={cursor}", headers=auth(token)), 400,
                 "bad_cursor", "cursor")


@pytest.mark.parametrize("limit", ["²", "1e3", "-1", "101"])
def test_odd_limits_are_400(client, token, limit):
    assert_error(client.get(f"/api/v1/cases?limit={limit}", headers=auth(token)), 400,
                 "invalid_limit", "limit")


@pytest.mark.parametrize("page", ["100000000000000000000", "-3", "x", "²"])
def test_odd_queue_pages_still_render(client, token, page):
    sign_in(client, "sam@example.test")
    assert client.get(f"/agent/?page={page}").status_code == 200


@pytest.mark.parametrize("target", ["/\\evil.example", "//evil.example", "https://evil.example",
                                    "/\\/evil.example"])
def test_sign_in_never_redirects_off_site(client, token, target):
    response = sign_in(client, "sam@example.test", path=f"/agent/login?next={target}")
    assert response.location == "/agent/"


def test_status_pages_are_private(client, make_case):
    _case, tracking = make_case()
    for path in (f"/status/{tracking}", f"/api/v1/recovery-requests/{tracking}"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_tracking_tokens_are_redacted_from_logs():
    token = "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OQ"
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"%s" %s',
                               (f"GET /status/{token} HTTP/1.1", 200), None)
    RedactTokens().filter(record)
    assert token not in record.getMessage() and "/status/[token]" in record.getMessage()
    assert token not in redact(f"/api/v1/recovery-requests/{token}")
    signed = "WzEsMV0.axT6zw.M8toy9voTCs6qF4aHtGVN53GCx4"  # the owner's link: with dots
    assert redact(f"POST /not-me/{signed} HTTP/1.1") == "POST /not-me/[token] HTTP/1.1"
    access = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(r)s", (), None)
    access.args = {"r": f"GET /status/{token} HTTP/1.1", "s": "200"}
    RedactTokens().filter(access)
    assert token not in access.getMessage()


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_console_and_status_posts_need_csrf(client, make_case, token):
    case, tracking = make_case("id_check")
    # Sign in through the form with its token, then post without one.
    assert csrf_sign_in(client, "sam@example.test").status_code == 302
    for path, data in [(f"/agent/cases/{case.id}/events",
                        {"event": "confirm_document", "version": case.version}),
                       (f"/agent/cases/{case.id}/messages", {"body": "hello"}),
                       (f"/agent/cases/{case.id}/assign", {"action": "claim",
                                                           "version": case.version}),
                       (f"/status/{tracking}/reply", {"body": "hello"}),
                       (f"/status/{tracking}/withdraw", {"confirm": "yes"})]:
        assert client.post(path, data=data).status_code == 400, path
    from workflow import service

    fresh = service.get_case(case.id)
    assert fresh.state == "id_check" and fresh.messages == [] and fresh.assignee_id is None


def test_multipart_without_files_is_a_clear_400(client):
    response = client.post("/api/v1/recovery-requests", data={"email": "a@b.co"},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["error"]["field"]
    assert cases() == 0


def test_file_sent_as_a_text_field(client):
    response = submit(client, description=(io.BytesIO(b"\xff\xfe\x00"), "x.bin"))
    assert_error(response, 400, "invalid_field", "description")
    assert cases() == 0
