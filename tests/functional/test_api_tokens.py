"""Staff API tokens: expiry, revocation (console, command line, another process, deactivation),
shown once, never stored or logged in the clear, the admins' staff page, CSRF on the forms."""

import logging
import re
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import create_app
from extensions import db
from tests.clock import set_service_clock
from tests.conftest import csrf_sign_in, make_config, sign_in
from tests.serving import ROOT, desk_environment
from workflow import service
from workflow.models import ApiToken, utcnow

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SHOWN = re.compile(r'id="new-token-value" value="([^"]+)"')


def api(client, token: str):
    """GET the case list with ``token``."""
    return client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})


def refused_because(response, words: str) -> None:
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert words in response.get_json()["error"]["message"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge


class Clock:
    """A service clock a test moves forward."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    moving = Clock()
    set_service_clock(monkeypatch, moving)
    return moving


def create_in_console(client, name="Ticket sync", days=30, **extra):
    return client.post("/agent/tokens", data={"name": name, "days": days, **extra})


def test_a_token_expires_after_its_days(client, make_agent, clock):
    agent, token = make_agent("agent")
    first = service.tokens_of(agent.id)[0]
    assert first.expires_at == first.created_at + timedelta(days=90)  # API_TOKEN_TTL_DAYS
    clock.now = first.expires_at - timedelta(seconds=1)
    assert api(client, token).status_code == 200
    clock.now = first.expires_at
    refused_because(api(client, token), "expired")
    assert service.tokens_of(agent.id)[0].status(clock.now) == "expired"


def test_last_use_is_written_at_most_once_a_minute(client, make_agent, clock):
    agent, token = make_agent("agent")
    assert service.tokens_of(agent.id)[0].last_used_at is None
    api(client, token)
    first_use = clock.now
    clock.now += timedelta(seconds=59)
    api(client, token)
    db.session.expire_all()
    assert service.tokens_of(agent.id)[0].last_used_at == first_use
    clock.now += timedelta(seconds=1)
    api(client, token)
    db.session.expire_all()
    assert service.tokens_of(agent.id)[0].last_used_at == clock.now


def test_revoking_stops_the_next_request_and_leaves_other_tokens_working(client, make_agent):
    agent, token = make_agent("agent", email="sam@example.test")
    _, colleague_token = make_agent("agent")
    assert sign_in(client, "sam@example.test").status_code == 302
    assert create_in_console(client, name="Second").status_code == 303
    second = SHOWN.search(client.get("/agent/tokens").get_data(as_text=True)).group(1)
    first_id = service.tokens_of(agent.id)[-1].id
    assert api(client, token).status_code == 200

    answer = client.post(f"/agent/tokens/{first_id}/revoke")
    assert answer.status_code == 302 and answer.headers["Location"] == "/agent/tokens"

    refused_because(api(client, token), "revoked")
    assert api(client, second).status_code == 200
    assert api(client, colleague_token).status_code == 200
    page = client.get("/agent/tokens").get_data(as_text=True)
    assert "revoked" in page and f"by {agent.name}" in page


def test_a_revocation_in_another_process_holds_at_once(app, client, make_agent):
    """The serving process keeps no copy: the command line revokes, the next request fails."""
    agent, token = make_agent("agent", email="sam@example.test")
    _, colleague_token = make_agent("agent")
    assert api(client, token).status_code == 200
    db.session.remove()
    env = desk_environment(app.config["SQLALCHEMY_DATABASE_URI"],
                           RECOVERY_VERIFICATION_EXECUTOR="off")
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "revoke-tokens",
                           "sam@example.test"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Revoked 1 API token(s) of sam@example.test" in done.stdout
    refused_because(api(client, token), "revoked")
    assert api(client, colleague_token).status_code == 200
    assert service.tokens_of(agent.id)[0].revoke_reason == "revoked from the command line"


def everything_stored(app) -> str:
    """Every value of every row of every table, as text (bytes decoded loosely)."""
    values = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                for value in row:
                    if isinstance(value, bytes):
                        value = value.decode("latin-1")
                    values.append(str(value))
    return "\n".join(values)


def test_a_new_token_is_shown_once_and_never_stored_or_logged(app, client, make_agent, caplog):
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy then logs every statement with its parameters.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    agent, _ = make_agent("agent", email="sam@example.test")
    assert sign_in(client, "sam@example.test").status_code == 302
    created = create_in_console(client)
    assert created.status_code == 303 and created.headers["Location"] == "/agent/tokens"
    cookie_before_showing = client.get_cookie("session").value

    shown = client.get("/agent/tokens")
    assert shown.headers["Cache-Control"] == "no-store"
    token = SHOWN.search(shown.get_data(as_text=True)).group(1)
    assert token.startswith("rd_") and len(token) == 46
    listed = service.tokens_of(agent.id)[0]
    assert (listed.name, listed.prefix, listed.reveal) == ("Ticket sync", token[:11], None)
    assert listed.expires_at == listed.created_at + timedelta(days=30)
    assert api(client, token).status_code == 200

    again = client.get("/agent/tokens").get_data(as_text=True)
    assert token not in again and "new-token-value" not in again
    assert f"{token[:11]}…" in again  # the prefix tells it apart in the list
    # A copy of the cookie from before the page was shown finds nothing either.
    client.set_cookie("session", cookie_before_showing)
    replayed = client.get("/agent/tokens").get_data(as_text=True)
    assert token not in replayed and "new-token-value" not in replayed

    assert token not in everything_stored(app)
    assert token[11:] not in caplog.text
    assert any("api_token" in record.getMessage() for record in caplog.records)


def test_a_new_token_can_only_be_shown_to_the_session_that_made_it(app, make_agent):
    agent, _ = make_agent("agent")
    new = service.create_token(agent.id, "Script", 10, service.token_lifetimes(app.config))
    assert service.reveal_token(agent.id, new.token.id, bytes(len(new.reveal_key))) is None
    # The wrong pad cleared the stored half: the right one is too late now.
    assert service.reveal_token(agent.id, new.token.id, new.reveal_key) is None
    other = service.create_token(agent.id, "Other", 10, service.token_lifetimes(app.config))
    assert service.reveal_token(agent.id + 1, other.token.id, other.reveal_key) is None
    assert service.reveal_token(agent.id, other.token.id, other.reveal_key) == other.secret


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "", "days": 30}, "Give the token a name."),
    ({"name": "x" * 81, "days": 30}, "Field cannot be longer than 80 characters."),
    ({"name": "Sync", "days": 0}, "Choose between 1 and 365 days."),
    ({"name": "Sync", "days": 366}, "Choose between 1 and 365 days."),
    ({"name": "Sync", "days": "soon"}, "Not a valid integer value."),
    ({"name": "Sync"}, "Say in how many days the token expires."),
])
def test_a_bad_token_request_is_explained_and_creates_nothing(client, make_agent, data,
                                                              message):
    agent, _ = make_agent("agent", email="sam@example.test")
    sign_in(client, "sam@example.test")
    answer = client.post("/agent/tokens", data=data)
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert len(service.tokens_of(agent.id)) == 1


def test_only_admins_see_the_staff_and_revoke_anyones_tokens(client, make_agent):
    make_agent("admin", email="boss@example.test", name="Boss")
    sam, sam_token = make_agent("agent", email="sam@example.test", name="Sam")
    make_agent("security_lead", email="lee@example.test", name="Lee")
    for email in ("sam@example.test", "lee@example.test"):
        sign_in(client, email)
        assert client.get("/agent/staff").status_code == 403
        assert client.get(f"/agent/staff/{sam.id}").status_code == 403
        assert client.post(f"/agent/staff/{sam.id}/revoke-tokens").status_code == 403
        client.post("/agent/logout")
    sign_in(client, "lee@example.test")
    # Someone else's token is "no such token" to anyone but an admin.
    assert client.post(f"/agent/tokens/{service.tokens_of(sam.id)[0].id}/revoke").status_code \
        == 404
    assert api(client, sam_token).status_code == 200
    client.post("/agent/logout")

    sign_in(client, "boss@example.test")
    staff = client.get("/agent/staff").get_data(as_text=True)
    row = re.search(r"<tr>\s*<td>Sam</td>(.*?)</tr>", staff, re.S).group(1)
    assert "sam@example.test" in row and "<td>agent</td>" in row and "<td>1</td>" in row
    member = client.get(f"/agent/staff/{sam.id}").get_data(as_text=True)
    assert "First token" in member and "Revoke all tokens of Sam" in member
    answer = client.post(f"/agent/tokens/{service.tokens_of(sam.id)[0].id}/revoke")
    assert answer.headers["Location"] == f"/agent/staff/{sam.id}"
    refused_because(api(client, sam_token), "revoked")
    assert "by Boss" in client.get(f"/agent/staff/{sam.id}").get_data(as_text=True)
    assert "<td>0</td>" in re.search(r"<tr>\s*<td>Sam</td>(.*?)</tr>",
                                     client.get("/agent/staff").get_data(as_text=True),
                                     re.S).group(1)
    assert client.get("/agent/staff/999").status_code == 404


def test_an_admin_revokes_every_token_of_someone_at_once(client, make_agent, app):
    make_agent("admin", email="boss@example.test", name="Boss")
    sam, sam_token = make_agent("agent", email="sam@example.test", name="Sam")
    lifetimes = service.token_lifetimes(app.config)
    second = service.create_token_for("sam@example.test", "CI", 5, lifetimes).secret
    sign_in(client, "boss@example.test")
    answer = client.post(f"/agent/staff/{sam.id}/revoke-tokens")
    assert answer.status_code == 302
    assert "2 API token(s) of Sam revoked." in client.get(answer.headers["Location"]).get_data(
        as_text=True)
    for token in (sam_token, second):
        refused_because(api(client, token), "revoked")


def test_deactivating_an_agent_revokes_their_tokens(client, make_agent):
    agent, token = make_agent("agent", email="sam@example.test")
    service.deactivate_agent("sam@example.test")
    revoked = service.tokens_of(agent.id)[0]
    assert revoked.revoked_at is not None
    assert revoked.revoke_reason == "the staff member was deactivated"
    # The agent is gone: the answer says nothing about why.
    answer = api(client, token)
    assert answer.status_code == 401
    assert answer.get_json()["error"]["message"] == "This API token is not valid."


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_token_forms_are_csrf_protected(client, make_agent):
    agent, token = make_agent("admin", email="boss@example.test")
    assert csrf_sign_in(client, "boss@example.test").status_code == 302
    page = client.get("/agent/tokens").get_data(as_text=True)
    for form in re.findall(r'<form method="post" action="/agent/tokens[^"]*">(.*?)</form>',
                           page, re.S):
        assert 'name="csrf_token"' in form
    first_id = service.tokens_of(agent.id)[0].id
    assert create_in_console(client).status_code == 400
    assert client.post(f"/agent/tokens/{first_id}/revoke").status_code == 400
    assert client.post(f"/agent/staff/{agent.id}/revoke-tokens").status_code == 400
    assert len(service.tokens_of(agent.id)) == 1 and api(client, token).status_code == 200

    csrf = CSRF.search(page).group(1)
    assert create_in_console(client, csrf_token=csrf).status_code == 303
    assert client.post(f"/agent/tokens/{first_id}/revoke",
                       data={"csrf_token": csrf}).status_code == 302
    refused_because(api(client, token), "revoked")


def test_the_command_line_creates_and_revokes_tokens(runner, make_agent, client):
    agent, first = make_agent("agent", email="sam@example.test")
    made = runner.invoke(args=["create-token", "Sam@Example.test", "--name", "Nightly export",
                               "--days", "7"])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert api(client, token).status_code == 200
    newest = service.tokens_of(agent.id)[0]
    assert (newest.name, newest.expires_at - newest.created_at) == ("Nightly export",
                                                                    timedelta(days=7))
    too_long = runner.invoke(args=["create-token", "sam@example.test", "--name", "X",
                                   "--days", "400"])
    assert too_long.exit_code != 0 and "1 to 365 days" in too_long.output
    nobody = runner.invoke(args=["create-token", "nobody@example.test", "--name", "X"])
    assert nobody.exit_code != 0 and "no agent with the email" in nobody.output
    assert len(service.tokens_of(agent.id)) == 2

    revoked = runner.invoke(args=["revoke-tokens", "sam@example.test"])
    assert revoked.exit_code == 0 and "Revoked 2 API token(s)" in revoked.output
    for each in (first, token):
        refused_because(api(client, each), "revoked")
    assert runner.invoke(args=["revoke-tokens", "nobody@example.test"]).exit_code != 0


@pytest.mark.parametrize(("settings", "words"), [
    ({"API_TOKEN_TTL_DAYS": 0}, "at least 1"),
    ({"API_TOKEN_TTL_DAYS": "90"}, "whole number"),
    ({"API_TOKEN_TTL_DAYS": 400}, "more than API_TOKEN_MAX_TTL_DAYS"),
])
def test_the_desk_refuses_to_start_with_unusable_token_lifetimes(tmp_path, settings, words):
    with pytest.raises(RuntimeError, match=words):
        create_app(make_config(f"sqlite:///{tmp_path / 'x.sqlite'}", **settings))


def test_stored_tokens_are_hashes(app, make_agent):
    _, token = make_agent("agent")
    stored = db.session.scalar(sa.select(ApiToken.token_hash))
    assert len(stored) == 64 and token not in everything_stored(app)
