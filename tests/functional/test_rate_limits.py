"""Rate limits through the test client: which routes share a budget, and what a 429 says."""

import io
import re

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import image_bytes
from tests.functional.test_api import assert_error, cases, submit
from tests.functional.test_public_pages import form_data


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_SUBMISSION": "3 per hour"}])
def test_the_form_and_the_api_share_one_submission_budget(client):
    assert client.post("/recover", data=form_data()).status_code == 303
    assert submit(client).status_code == 201
    assert client.get("/recover").status_code == 200  # reading the form costs nothing
    assert client.post("/recover", data=form_data()).status_code == 303
    refused = submit(client)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    page = client.post("/recover", data=form_data())
    assert page.status_code == 429 and "Too many requests" in page.get_data(as_text=True)
    assert int(page.headers["Retry-After"]) > 0
    assert cases() == 3


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_STATUS": "5 per minute"}])
def test_every_route_that_takes_a_tracking_token_shares_one_budget(client, make_case):
    _case, token = make_case()
    answers = [
        client.get(f"/status/{token}").status_code,
        client.get(f"/api/v1/recovery-requests/{token}").status_code,
        client.get("/api/v1/recovery-requests/no-such-token-at-all").status_code,
        client.post(f"/status/{token}/reply", data={"body": "Any news?"}).status_code,
        client.post(f"/status/{token}/withdraw", data={"confirm": "yes"}).status_code,
    ]
    assert 429 not in answers
    assert_error(client.get(f"/api/v1/recovery-requests/{token}"), 429, "rate_limited")
    assert client.get(f"/status/{token}").status_code == 429
    resubmit = client.post(f"/status/{token}/resubmit", content_type="multipart/form-data",
                           data={"id_document": (io.BytesIO(image_bytes()), "id.jpg"),
                                 "selfie": (io.BytesIO(image_bytes()), "me.jpg")})
    assert resubmit.status_code == 429


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_SUBMISSION": "1 per hour",
                                         "RATELIMIT_STATUS": "1 per minute"}])
def test_each_budget_is_counted_apart(client):
    created = submit(client)
    assert created.status_code == 201
    token = created.get_json()["tracking_token"]
    assert client.get(f"/api/v1/recovery-requests/{token}").status_code == 200
    assert submit(client).status_code == 429
    assert client.get(f"/api/v1/recovery-requests/{token}").status_code == 429


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_SUBMISSION": "100 per hour",
                                         "RATELIMIT_SUBMISSION_PER_EMAIL": "2 per hour"}])
def test_requests_for_one_email_are_limited_from_any_address(app):
    def browser(n: int):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{n}"
        return client

    assert browser(1).post("/recover", data=form_data()).status_code == 303
    # The same person's address from elsewhere, in another case: still the same budget.
    assert submit(browser(2), email="  ANNA@example.test ").status_code == 201
    refused = browser(3).post("/recover", data=form_data())
    text = refused.get_data(as_text=True)
    assert refused.status_code == 429, text
    assert "(2 per hour for one email address)" in text, text
    minutes = int(refused.headers["Retry-After"]) // 60
    assert re.search(r"You may try again in (\d+) minutes, at \d\d:\d\d UTC\.", text)
    said = int(re.search(r"try again in (\d+) minutes", text).group(1))
    assert abs(said - minutes) <= 1
    assert_error(submit(browser(4)), 429, "rate_limited")
    assert cases() == 2
    # Another person from the same address is not held back.
    assert browser(3).post("/recover", data=form_data(email="bo@example.test")).status_code == 303
    # The limits' store never holds the address itself.
    stored = db.session.execute(sa.text("SELECT key_name FROM rate_limit_counter")).scalars()
    assert not any("anna" in key for key in stored)
