"""Console sessions end: sign-out, a new password and deactivation end every session of the
agent, replayed cookies included; idle and absolute timeouts are enforced by the server."""

from datetime import timedelta

import pytest
from flask_login.utils import encode_cookie

from tests.conftest import STRONG_PASSWORD, sign_in
from workflow import auth, service
from workflow.models import utcnow

EMAIL = "sam@example.test"


@pytest.fixture
def agent(make_agent):
    agent, token = make_agent("agent", email=EMAIL, name="Sam")
    agent.api_token = token
    return agent


def signed_in(app) -> tuple:
    """A new browser signed in as Sam, and the session cookie it holds now."""
    browser = app.test_client()
    assert sign_in(browser, EMAIL).status_code == 302
    assert browser.get("/agent/").status_code == 200
    return browser, browser.get_cookie("session").value


def replay(app, cookie: str, path: str = "/agent/"):
    """A request that carries only ``cookie``, as a raw header (no cookie jar)."""
    return app.test_client(use_cookies=False).get(path, headers={"Cookie": f"session={cookie}"})


def assert_signed_out(response):
    assert response.status_code == 302, response.status_code
    assert response.location.startswith("/agent/login")


def test_a_captured_cookie_opens_the_console_until_sign_out(app, agent):
    browser, cookie = signed_in(app)
    assert replay(app, cookie).status_code == 200  # the replay itself works while signed in
    browser.post("/agent/logout")
    assert_signed_out(replay(app, cookie))
    assert_signed_out(browser.get("/agent/"))


def test_sign_out_ends_the_agents_other_sessions(app, agent):
    first, first_cookie = signed_in(app)
    second, second_cookie = signed_in(app)
    first.post("/agent/logout")
    for browser, cookie in ((first, first_cookie), (second, second_cookie)):
        assert_signed_out(browser.get("/agent/"))
        assert_signed_out(replay(app, cookie))
    # Signing in again works, and only the new session counts.
    third, _ = signed_in(app)
    assert third.get("/agent/").status_code == 200
    assert_signed_out(replay(app, first_cookie))


def test_a_new_password_ends_every_session(app, agent):
    sessions = [signed_in(app), signed_in(app)]
    service.set_password(EMAIL, "a brand new passphrase")
    for browser, cookie in sessions:
        assert_signed_out(replay(app, cookie))
        response = browser.get("/agent/", follow_redirects=True)
        assert "Your session has ended" in response.get_data(as_text=True)
    assert sign_in(app.test_client(), EMAIL).status_code == 401
    assert sign_in(app.test_client(), EMAIL, "a brand new passphrase").status_code == 302


def test_deactivation_ends_every_session_and_the_api_token(app, agent, make_case):
    case, _ = make_case()
    service.claim_case(case.id, agent, case.version)
    sessions = [signed_in(app), signed_in(app)]
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {agent.api_token}"}
    assert api.get("/api/v1/cases", headers=bearer).status_code == 200
    _, released = service.deactivate_agent(EMAIL)
    assert released == 1
    for browser, cookie in sessions:
        assert_signed_out(replay(app, cookie))
        assert_signed_out(browser.get(f"/agent/cases/{case.id}"))
    assert api.get("/api/v1/cases", headers=bearer).status_code == 401
    assert sign_in(app.test_client(), EMAIL).status_code == 401
    case = service.get_case(case.id)
    assert case.assignee_id is None
    assert (case.events[-1].event, case.events[-1].reason) == ("released", "Sam was deactivated")


def test_deactivated_agent_reactivated_by_hand_does_not_revive_old_cookies(app, agent):
    from extensions import db

    _, cookie = signed_in(app)
    service.deactivate_agent(EMAIL)
    db.session.get(type(agent), agent.id).active = True
    db.session.commit()
    assert_signed_out(replay(app, cookie))


def test_sign_in_starts_a_fresh_session(app, agent):
    browser = app.test_client()
    with browser.session_transaction() as before:
        before["planted"] = "by someone else"
        before["_user_id"] = "999:0"
    assert sign_in(browser, EMAIL).status_code == 302
    with browser.session_transaction() as after:
        assert "planted" not in after
        assert after["_user_id"] == f"{agent.id}:0"


@pytest.mark.parametrize("stored", ["{id}", "{id}:", "{id}:1", "{id}:-1", ":0", "x:0",
                                    "99999999999:0", "{id}:0:0"])
def test_sessions_without_the_current_generation_do_not_load(app, agent, stored):
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["_user_id"] = stored.format(id=agent.id)
        session[auth.SIGNED_IN_AT] = session[auth.SEEN_AT] = int(utcnow().timestamp())
    assert_signed_out(browser.get("/agent/"))


def test_a_remember_me_cookie_does_not_sign_in(app, agent):
    browser = app.test_client()
    with app.test_request_context():
        value = encode_cookie(agent.get_id())
    browser.set_cookie("remember_token", value)
    assert_signed_out(browser.get("/agent/"))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(auth, "utcnow", clock)
    return clock


@pytest.mark.parametrize("app_config", [{"SESSION_IDLE_SECONDS": 600,
                                         "SESSION_MAX_SECONDS": 3600}])
def test_idle_timeout(app, agent, clock):
    browser, _ = signed_in(app)
    clock.advance(seconds=599)
    assert browser.get("/agent/").status_code == 200  # activity restarts the idle time
    clock.advance(seconds=599)
    assert browser.get("/agent/").status_code == 200
    idle_cookie = browser.get_cookie("session").value
    clock.advance(seconds=600)
    response = browser.get("/agent/")
    assert_signed_out(response)
    assert_signed_out(replay(app, idle_cookie))
    page = browser.get(response.location).get_data(as_text=True)
    assert "signed out after 10 minutes without activity" in page


@pytest.mark.parametrize("app_config", [{"SESSION_IDLE_SECONDS": 600,
                                         "SESSION_MAX_SECONDS": 3600}])
def test_absolute_timeout_whatever_the_activity(app, agent, clock):
    browser, _ = signed_in(app)
    for _ in range(6):
        clock.advance(seconds=590)
        assert browser.get("/agent/").status_code == 200
    clock.advance(seconds=60)  # 3600 s after sign-in, 60 s after the last request
    response = browser.get("/agent/", follow_redirects=True)
    assert "signed in for 1 hour:" in response.get_data(as_text=True)
    assert browser.get("/agent/").status_code == 302
    assert sign_in(browser, EMAIL).status_code == 302
    assert browser.get("/agent/").status_code == 200


def test_a_replayed_cookie_cannot_outlive_the_idle_timeout(app, agent, clock):
    _, cookie = signed_in(app)
    clock.advance(seconds=app.config["SESSION_IDLE_SECONDS"])
    assert_signed_out(replay(app, cookie))


@pytest.mark.parametrize("signed_in_at, seen_at, expected", [
    (1000, 1000, None),
    (1000, 1500, None),
    (-1, 1500, "signed in for"),
    (1000, 999, "without activity"),
    (None, 1500, "Please sign in"),
    ("1000", 1500, "Please sign in"),
])
def test_session_ended(signed_in_at, seen_at, expected):
    why = auth.session_ended(signed_in_at, seen_at, now=1599, idle=600, longest=1600)
    assert why is None if expected is None else expected in why


def test_commands_set_password_and_deactivate(app, agent, runner):
    _, cookie = signed_in(app)
    result = runner.invoke(args=["set-password", "--email", EMAIL],
                           input="another long passphrase\n")
    assert result.exit_code == 0, result.output
    assert_signed_out(replay(app, cookie))
    assert sign_in(app.test_client(), EMAIL, "another long passphrase").status_code == 302
    result = runner.invoke(args=["set-password", "--email", EMAIL], input="short\n")
    assert result.exit_code != 0 and "at least 12 characters" in result.output
    result = runner.invoke(args=["deactivate-agent", "--email", "nobody@example.test"])
    assert result.exit_code != 0 and "no agent" in result.output
    result = runner.invoke(args=["deactivate-agent", "--email", EMAIL])
    assert result.exit_code == 0 and "0 open case(s) released" in result.output
    assert sign_in(app.test_client(), EMAIL, "another long passphrase").status_code == 401
    assert sign_in(app.test_client(), EMAIL, STRONG_PASSWORD).status_code == 401
