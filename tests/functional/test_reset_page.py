"""The reset page the desk serves for its local directory (/reset/<token>)."""

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

import jobs.recovery
from extensions import db
from tests.recovery import approve, events_of, reset_emails, token_in
from workflow.models import Account

PASSWORD = "a brand new passphrase"
INVALID = "This link is not valid or was used."


@pytest.fixture
def issue(app, make_account, make_case, make_agent):
    """Approve a case of ``issue_type`` and send its link: returns (case id, token)."""
    lead, _ = make_agent("security_lead")

    def build(issue_type="forgot_password", **account):
        make_account(**account)
        case, _ = make_case("selfie_check", issue_type=issue_type)
        approve(case, lead)
        jobs.recovery.sweep_actions(app)
        (email,) = reset_emails(case.id)
        return case.id, token_in(email.body)

    return build


def stored_password():
    db.session.expire_all()
    return db.session.scalar(sa.select(Account.password_hash))


def test_a_new_password_is_set_once(client, issue):
    case_id, token = issue()
    form = client.get(f"/reset/{token}")
    assert form.status_code == 200
    assert 'name="password"' in form.get_data(as_text=True)
    assert form.headers["Cache-Control"] == "no-store"
    done = client.post(f"/reset/{token}", data={"password": PASSWORD, "confirm": PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/reset/done")
    assert "Your new password is set" in client.get("/reset/done").get_data(as_text=True)
    assert PasswordHasher().verify(stored_password(), PASSWORD)
    assert [e.event for e in events_of(case_id, "reset")] == ["reset_link_used"]
    for again in (client.get(f"/reset/{token}"),
                  client.post(f"/reset/{token}", data={"password": "x" * 20,
                                                       "confirm": "x" * 20})):
        assert again.status_code == 404
        assert INVALID in again.get_data(as_text=True)
    assert PasswordHasher().verify(stored_password(), PASSWORD)


@pytest.mark.parametrize(("password", "confirm", "error"), [
    ("short", "short", "at least 12 characters"),
    (PASSWORD, "something else entirely", "The two passwords are not the same."),
    ("", "", "Choose a new password."),
])
def test_a_refused_password_shows_why_and_keeps_the_link(client, issue, password, confirm,
                                                         error):
    _, token = issue()
    answer = client.post(f"/reset/{token}", data={"password": password, "confirm": confirm})
    assert answer.status_code == 400
    assert error in answer.get_data(as_text=True)
    assert stored_password() is None
    assert client.get(f"/reset/{token}").status_code == 200


def test_unknown_links_look_like_used_ones(client):
    for path in ("/reset/" + "A" * 43, "/reset/short", "/reset/" + "b" * 200):
        answer = client.get(path)
        assert answer.status_code == 404
        assert INVALID in answer.get_data(as_text=True)


def test_the_page_says_when_the_second_factor_was_removed(client, issue):
    _, token = issue("lost_2fa", two_factor_enabled=True)
    page = client.get(f"/reset/{token}").get_data(as_text=True)
    assert 'id="second-factor-note"' in page


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_post_without_the_csrf_token_changes_nothing(client, issue):
    _, token = issue()
    answer = client.post(f"/reset/{token}", data={"password": PASSWORD, "confirm": PASSWORD})
    assert answer.status_code == 400
    assert stored_password() is None
    assert client.get(f"/reset/{token}").status_code == 200


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_RESET_LINK": "3 per hour"}])
def test_the_page_is_rate_limited(client, issue):
    _, token = issue()
    assert [client.get(f"/reset/{token}").status_code for _ in range(3)] == [200] * 3
    assert client.get(f"/reset/{token}").status_code == 429
    assert client.get("/reset/" + "A" * 43).status_code == 429
