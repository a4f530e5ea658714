"""Challenge selfies through the API and the form: codes issued, carried, refused, used once."""

import io
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from itsdangerous.timed import TimestampSigner

from extensions import db
from tests.conftest import image_bytes
from verification import challenge as challenges
from workflow import service
from workflow.models import RecoveryCase

NEEDS_CHALLENGE = {"CHALLENGE_ISSUE_TYPES": ["lost_2fa"]}


@pytest.fixture
def app_config():
    return dict(NEEDS_CHALLENGE)


def cases() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase))


def api_submit(client, **overrides):
    data = {
        "email": "anna@example.test", "full_name": "Anna Eriksson", "date_of_birth": "1974-08-12",
        "issue_type": "lost_2fa", "description": "", "consent": "true",
        "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
        "selfie": (io.BytesIO(image_bytes()), "selfie.jpg"),
        **overrides,
    }
    data = {k: v for k, v in data.items() if v is not None}
    return client.post("/api/v1/recovery-requests", data=data,
                       content_type="multipart/form-data")


def form_submit(client, **overrides):
    data = {
        "email": "anna@example.test", "full_name": "Anna Eriksson", "date_of_birth": "1974-08-12",
        "issue_type": "lost_2fa", "description": "", "consent": "y",
        "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
        "selfie": (io.BytesIO(image_bytes()), "selfie.jpg"),
        **overrides,
    }
    data = {k: v for k, v in data.items() if v is not None}
    return client.post("/recover", data=data, content_type="multipart/form-data")


def assert_challenge_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["field"] == "challenge_token"
    assert error["message"].endswith(".")


def new_challenge(client) -> dict:
    response = client.post("/api/v1/challenges")
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def old_token(monkeypatch, age_seconds: int) -> str:
    """A challenge token this desk signed ``age_seconds`` ago."""
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp",
                      lambda self: int(time.time()) - age_seconds)
        return service.issue_challenge().token


def shown_code(html: str) -> str:
    match = re.search(r'id="challenge-code"[^>]*>(\d{6})<', html)
    assert match, html
    return match.group(1)


def carried_token(html: str) -> str:
    match = re.search(r'name="challenge_token" type="hidden" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


# --- the API ------------------------------------------------------------------------------

def test_a_challenge_is_issued_with_its_token_and_expiry(client, app):
    before = datetime.now(UTC)
    body = new_challenge(client)
    assert set(body) == {"code", "challenge_token", "expires_at"}
    assert re.fullmatch(r"\d{6}", body["code"])
    assert body["expires_at"].endswith("Z")
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    ttl = timedelta(seconds=app.config["CHALLENGE_TTL_SECONDS"])
    assert before + ttl - timedelta(seconds=2) <= expires <= datetime.now(UTC) + ttl
    assert new_challenge(client)["challenge_token"] != body["challenge_token"]


def test_a_request_with_its_token_carries_the_code(client):
    issued = new_challenge(client)
    response = api_submit(client, challenge_token=issued["challenge_token"])
    assert response.status_code == 201, response.get_data(as_text=True)
    case = service.get_case(response.get_json()["case_id"])
    assert case.challenge_code == issued["code"]


def test_a_missing_token_is_refused_and_creates_nothing(client):
    assert_challenge_error(api_submit(client), 400, "challenge_required")
    assert cases() == 0


def test_issue_types_without_a_challenge_need_no_token(client):
    response = api_submit(client, issue_type="forgot_password")
    assert response.status_code == 201
    assert service.get_case(response.get_json()["case_id"]).challenge_code is None


@pytest.mark.parametrize("forge", [
    lambda token: "not-a-token",
    lambda token: challenges.issue("another desk's secret", 600).token,
    # A different code under the original signature.
    lambda token: token[:3] + ("A" if token[3] != "A" else "B") + token[4:],
])
def test_a_forged_token_is_refused(client, forge):
    token = new_challenge(client)["challenge_token"]
    assert_challenge_error(api_submit(client, challenge_token=forge(token)), 400,
                           "challenge_invalid")
    assert cases() == 0


@pytest.mark.parametrize("app_config", [{**NEEDS_CHALLENGE, "CHALLENGE_TTL_SECONDS": 600}])
def test_an_expired_token_is_refused(client, monkeypatch):
    token = old_token(monkeypatch, age_seconds=601)
    response = api_submit(client, challenge_token=token)
    assert_challenge_error(response, 422, "challenge_expired")
    assert "10 minutes" in response.get_json()["error"]["message"]
    assert cases() == 0
    # Still within its time, the same kind of token is accepted.
    assert api_submit(client, challenge_token=old_token(monkeypatch, 500)).status_code == 201


def test_a_token_backs_one_request_only(client):
    token = new_challenge(client)["challenge_token"]
    assert api_submit(client, challenge_token=token).status_code == 201
    again = api_submit(client, challenge_token=token, email="someone.else@example.test")
    assert_challenge_error(again, 422, "challenge_used")
    assert cases() == 1


@pytest.mark.parametrize("app_config", [{**NEEDS_CHALLENGE, "RATELIMIT_ENABLED": True,
                                         "RATELIMIT_SUBMISSION": "2 per hour"}])
def test_challenges_are_rate_limited_like_submissions(client):
    assert [client.post("/api/v1/challenges").status_code for _ in range(2)] == [201, 201]
    response = client.post("/api/v1/challenges")
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"


# --- the form -----------------------------------------------------------------------------

def test_the_form_shows_a_code_and_carries_its_token(client):
    html = client.get("/recover").get_data(as_text=True)
    code, token = shown_code(html), carried_token(html)
    assert challenges.verify(token, client.application.config["SECRET_KEY"], 600).code == code
    assert "Write this code on a sheet of paper. Take your selfie holding the paper and your " \
           "ID next to your face." in html
    assert re.search(r"valid for (29|30) more minutes\s+\(until \d\d:\d\d UTC", html)
    # The script shows the block only for these types; without it a sentence names them.
    assert "data-challenge-types='[\"lost_2fa\"]'" in html
    assert "Only needed when what happened is “I lost my two-factor device”." in html
    assert "/static/recover.js" in html and "<script>" not in html
    with client.get("/static/recover.js") as script:
        assert script.status_code == 200 and b"challenge" in script.data


def test_a_form_filed_with_its_code_creates_the_case(client):
    html = client.get("/recover").get_data(as_text=True)
    response = form_submit(client, challenge_token=carried_token(html))
    assert response.status_code == 303, response.get_data(as_text=True)
    case = db.session.scalars(sa.select(RecoveryCase)).one()
    assert case.challenge_code == shown_code(html)


@pytest.mark.parametrize("app_config", [{"CHALLENGE_ISSUE_TYPES": []}])
def test_no_code_when_no_issue_type_needs_one(client):
    html = client.get("/recover").get_data(as_text=True)
    # (recover.js is still loaded: it also focuses the error summary of a form that came back.)
    assert 'id="challenge-code"' not in html and 'id="new-code"' not in html


@pytest.mark.parametrize("token,status", [(None, 400), ("forged", 400), ("used", 422)])
def test_a_refused_code_is_shown_at_the_selfie_with_a_new_code(client, token, status):
    if token == "used":
        token = service.issue_challenge().token
        assert form_submit(client, challenge_token=token).status_code == 303
    before = cases()
    response = form_submit(client, challenge_token=token, email="other@example.test")
    assert response.status_code == status
    html = response.get_data(as_text=True)
    errors = re.search(r'id="selfie-errors">(.*?)</ul>', html, re.S)
    assert errors and "code" in errors.group(1), html
    assert cases() == before
    assert carried_token(html) != token


def test_a_form_sent_back_for_another_reason_keeps_a_valid_code(client):
    html = client.get("/recover").get_data(as_text=True)
    token = carried_token(html)
    response = form_submit(client, challenge_token=token, consent=None)
    assert response.status_code == 400
    again = response.get_data(as_text=True)
    assert carried_token(again) == token and shown_code(again) == shown_code(html)
    assert cases() == 0


@pytest.mark.parametrize("app_config", [{**NEEDS_CHALLENGE, "CHALLENGE_TTL_SECONDS": 600}])
def test_a_form_sent_back_with_an_expired_code_gets_a_fresh_one(client, monkeypatch):
    token = old_token(monkeypatch, age_seconds=700)
    response = form_submit(client, challenge_token=token, consent=None)
    assert response.status_code == 400
    fresh = carried_token(response.get_data(as_text=True))
    assert fresh != token
    challenges.verify(fresh, client.application.config["SECRET_KEY"], 600)


def test_the_status_page_repeats_the_code_for_new_photos(client, make_case, make_agent):
    case, tracking = make_case("id_check", challenge_token=service.issue_challenge().token)
    lead, _ = make_agent("security_lead")
    service.fire_event(case.id, "request_resubmission", agent=lead,
                       expected_version=case.version, reason="Your selfie is blurry.")
    html = client.get(f"/status/{tracking}").get_data(as_text=True)
    assert 'id="resubmit-code"' in html and case.challenge_code in html
