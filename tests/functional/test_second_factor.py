"""Staff sign in with a password and a second factor: enrolment from a QR code drawn by the
desk, single-use TOTP and recovery codes, a back-off that cannot be used to keep someone out,
a fresh session at sign-in, and an admin's reset of a lost phone."""

import base64
import re
import threading
from datetime import timedelta

import cv2
import numpy as np
import pyotp
import pytest
import sqlalchemy as sa

from extensions import db
from tests.clock import set_service_clock
from tests.conftest import STRONG_PASSWORD, fresh_totp_code, sign_in
from workflow import service
from workflow.models import Agent, RecoveryCode, utcnow

EMAIL = "sam@example.test"
CONSOLE = ["/agent/", "/agent/security", "/reports/sla", "/reports/sla.csv"]


def password_step(client, email=EMAIL, password=STRONG_PASSWORD, path="/agent/login"):
    return client.post(path, data={"email": email, "password": password})


def qr_text(page: str) -> str:
    """What the QR code on the enrolment page says, read back from its pixels."""
    found = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(found.group(1)), np.uint8),
                          cv2.IMREAD_GRAYSCALE)
    # One decoder misses about one code in three hundred (measured over random secrets), as
    # one phone camera may: a second decoder and other sizes read every one of a thousand.
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        for scale in (2, 3, 1):
            text, _, _ = detector.detectAndDecode(cv2.resize(
                pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST))
            if text:
                return text
    return ""


def enrol_through_pages(client, email=EMAIL):
    """The first sign-in, as a person does it: the password, the QR code into an app, its code.
    Returns the recovery codes page and the secret the app holds."""
    first = password_step(client, email)
    assert first.status_code == 302 and first.location.startswith("/agent/login/enrol")
    page = client.get(first.location)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    uri = qr_text(page.get_data(as_text=True))
    totp = pyotp.parse_uri(uri)
    done = client.post(first.location, data={"code": totp.now()})
    return done, totp


def recovery_codes(page) -> list[str]:
    return re.findall(r"<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>", page.get_data(as_text=True))


def signed_out(client) -> bool:
    answer = client.get("/agent/")
    return answer.status_code == 302 and answer.location.startswith("/agent/login")


@pytest.mark.parametrize("role", ["agent", "security_lead", "admin"])
def test_no_role_reaches_the_console_on_a_password_alone(app, make_agent, role):
    make_agent(role, email=EMAIL)
    client = app.test_client()
    first = password_step(client)
    assert first.status_code == 302 and first.location.startswith("/agent/login/enrol")
    for path in CONSOLE:
        answer = client.get(path)
        assert answer.status_code == 302 and "/agent/login" in answer.location, path
    # Enrolled, the password still only leads to the second step.
    enrol_through_pages(client)
    client = app.test_client()
    first = password_step(client)
    assert first.location.startswith("/agent/login/code")
    assert all(client.get(path).status_code == 302 for path in CONSOLE)
    assert client.post(first.location, data={"code": "000000"}).status_code == 401
    assert signed_out(client)


def test_enrolment_draws_the_qr_code_itself_and_gives_ten_recovery_codes(app, make_agent):
    agent, _ = make_agent("agent", email=EMAIL)
    client = app.test_client()
    done, totp = enrol_through_pages(client)
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    codes = recovery_codes(done)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert totp.issuer == "Recovery Desk" and totp.name == EMAIL
    assert client.get("/agent/").status_code == 200  # signed in
    stored = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and all(h.startswith("$argon2") for h in stored)
    assert not any(code.replace("-", "") in h for code in codes for h in stored)
    assert db.session.get(Agent, agent.id).totp_secret == totp.secret
    # Stored encrypted, like the evidence: the secret is not in the row.
    stored, key_id = db.session.execute(sa.text(
        "SELECT totp_secret, totp_secret_key_id FROM agent WHERE id = :id"), {"id": agent.id}).one()
    assert key_id and totp.secret.encode() not in bytes(stored)


def test_a_wrong_first_code_does_not_enrol(app, make_agent):
    make_agent("agent", email=EMAIL)
    client = app.test_client()
    first = password_step(client)
    page = client.post(first.location, data={"code": "123456"})
    assert page.status_code == 401 and "clock" in page.get_data(as_text=True)
    assert signed_out(client)
    assert db.session.scalar(sa.select(Agent.totp_enabled_at)) is None


def test_a_totp_code_works_once(app, make_agent):
    make_agent("agent", email=EMAIL)
    _, totp = enrol_through_pages(app.test_client())
    db.session.execute(sa.update(Agent).values(totp_last_step=None))
    db.session.commit()
    code = totp.now()
    first = app.test_client()
    assert first.post(password_step(first).location, data={"code": code}).status_code == 302
    replay = app.test_client()
    answer = replay.post(password_step(replay).location, data={"code": code})
    assert answer.status_code == 401 and "used already" in answer.get_data(as_text=True)
    assert signed_out(replay)


def test_the_same_code_from_two_browsers_at_once_signs_in_one(app, make_agent):
    make_agent("agent", email=EMAIL)
    _, totp = enrol_through_pages(app.test_client())
    db.session.execute(sa.update(Agent).values(totp_last_step=None))
    db.session.commit()
    browsers = [app.test_client() for _ in range(4)]
    steps = [password_step(browser).location for browser in browsers]
    code, start, answers = totp.now(), threading.Barrier(len(browsers)), []

    def race(browser, step):
        with app.app_context():
            start.wait()
            answers.append(browser.post(step, data={"code": code}).status_code)

    threads = [threading.Thread(target=race, args=pair) for pair in zip(browsers, steps,
                                                                          strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [302, 401, 401, 401]


def test_a_recovery_code_works_once_and_says_how_many_are_left(app, make_agent):
    make_agent("agent", email=EMAIL)
    done, _ = enrol_through_pages(app.test_client())
    codes = recovery_codes(done)
    client = app.test_client()
    # Typed in lower case with a space: still the code.
    answer = client.post(password_step(client).location,
                         data={"code": codes[3].lower().replace("-", " ")}, follow_redirects=True)
    assert answer.status_code == 200 and "9 of them left" in answer.get_data(as_text=True)
    again = app.test_client()
    assert again.post(password_step(again).location, data={"code": codes[3]}).status_code == 401
    assert service.recovery_codes_left(db.session.scalar(sa.select(Agent.id))) == 9


def test_new_recovery_codes_replace_the_old_for_a_current_code(app, make_agent):
    make_agent("agent", email=EMAIL)
    done, totp = enrol_through_pages(app.test_client())
    old = recovery_codes(done)
    client = app.test_client()
    assert sign_in(client, EMAIL).status_code == 302
    assert "10 unused recovery codes" in client.get("/agent/security").get_data(as_text=True)
    assert client.post("/agent/security", data={"code": "999999"}).status_code == 422
    db.session.execute(sa.update(Agent).values(totp_last_step=None))
    db.session.commit()
    page = client.post("/agent/security", data={"code": totp.now()})
    new = recovery_codes(page)
    assert page.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    other = app.test_client()
    assert other.post(password_step(other).location, data={"code": old[0]}).status_code == 401


def test_the_second_step_must_follow_the_password_soon(app, make_agent, monkeypatch):
    make_agent("agent", email=EMAIL)
    code = fresh_totp_code(app, EMAIL)
    client = app.test_client()
    step = password_step(client).location
    later = utcnow() + timedelta(seconds=app.config["SIGN_IN_STEP_SECONDS"] + 1)
    monkeypatch.setattr("workflow.auth.utcnow", lambda: later)
    answer = client.post(step, data={"code": code})
    assert answer.status_code == 302 and answer.location == "/agent/login"
    assert signed_out(client)


def test_sign_in_rotates_the_session_and_the_half_way_cookie_opens_nothing(app, make_agent):
    make_agent("agent", email=EMAIL)
    code = fresh_totp_code(app, EMAIL)
    client = app.test_client()
    with client.session_transaction() as before:
        before["planted"] = "by someone else"
    step = password_step(client).location
    half_way = client.get_cookie("session").value
    assert client.post(step, data={"code": code}).status_code == 302
    signed_in = client.get_cookie("session").value
    assert signed_in != half_way
    with client.session_transaction() as after:
        assert "planted" not in after and "pending_sign_in" not in after
    replay = app.test_client()
    replay.set_cookie("session", half_way)
    assert signed_out(replay)


@pytest.fixture
def clock(monkeypatch):
    now = [utcnow()]
    set_service_clock(monkeypatch, lambda: now[0])
    return now


def test_failures_back_off_per_account_with_a_clear_wait(app, make_agent, clock):
    make_agent("agent", email=EMAIL)
    client = app.test_client()
    free = app.config["SIGN_IN_FREE_FAILURES"]
    answers = [password_step(client, password="wrong password " * 2).status_code
               for _ in range(free)]
    assert answers == [401] * free
    # Now even the right password waits, and the page says for how long.
    answer = password_step(app.test_client())
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "15"
    assert "try again in 15 seconds" in answer.get_data(as_text=True)
    clock[0] += timedelta(seconds=16)
    assert sign_in(app.test_client(), EMAIL).status_code == 302
    # Success starts the count again.
    assert password_step(app.test_client(), password="wrong password " * 2).status_code == 401


def test_the_wait_doubles_and_is_capped(app, make_agent, clock):
    make_agent("agent", email=EMAIL)
    waits = []
    for _ in range(app.config["SIGN_IN_FREE_FAILURES"] + 8):
        answer = password_step(app.test_client(), password="wrong password " * 2)
        if answer.status_code == 429:
            waits.append(int(answer.headers["Retry-After"]))
            clock[0] += timedelta(seconds=waits[-1])
            answer = password_step(app.test_client(), password="wrong password " * 2)
        assert answer.status_code == 401
    assert waits == [15, 30, 60, 120, 240, 480, 900, 900]


def test_someone_failing_on_purpose_cannot_keep_the_agent_out_of_their_own_browser(
        app, make_agent, clock):
    make_agent("security_lead", email=EMAIL)
    own = app.test_client()
    assert sign_in(own, EMAIL).status_code == 302
    own.post("/agent/logout")
    attacker = app.test_client()
    for _ in range(12):
        password_step(attacker, password="wrong password " * 2)
    assert password_step(attacker).status_code == 429
    # The browser the lead signed in on before is not slowed down by those failures.
    assert sign_in(own, EMAIL).status_code == 302


def test_failures_back_off_per_address_across_accounts(app, make_agent, clock):
    make_agent("agent", email=EMAIL)
    client = app.test_client()
    per_address = app.config["SIGN_IN_FREE_FAILURES_PER_ADDRESS"]
    for n in range(per_address):
        assert password_step(client, email=f"guess{n}@example.test").status_code == 401
    answer = password_step(app.test_client())  # the same address, a real agent
    assert answer.status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.77"
    assert sign_in(elsewhere, EMAIL).status_code == 302


def test_wrong_codes_count_towards_the_back_off(app, make_agent, clock):
    make_agent("agent", email=EMAIL)
    fresh_totp_code(app, EMAIL)
    client = app.test_client()
    step = password_step(client).location
    for _ in range(app.config["SIGN_IN_FREE_FAILURES"]):
        assert client.post(step, data={"code": "000000"}).status_code == 401
    answer = client.post(step, data={"code": fresh_totp_code(app, EMAIL)})
    assert answer.status_code == 429 and "try again in" in answer.get_data(as_text=True)


def test_an_admin_resets_a_lost_second_factor(app, make_agent):
    admin, _ = make_agent("admin", email="ada@example.test")
    lead, _ = make_agent("security_lead", email="lee@example.test")
    sam, _ = make_agent("agent", email=EMAIL)
    sams_browser = app.test_client()
    assert sign_in(sams_browser, EMAIL).status_code == 302
    path = f"/agent/staff/{sam.id}/second-factor/reset"
    lead_browser = app.test_client()
    assert sign_in(lead_browser, "lee@example.test").status_code == 302
    assert lead_browser.post(path).status_code == 403
    admin_browser = app.test_client()
    assert sign_in(admin_browser, "ada@example.test").status_code == 302
    assert admin_browser.post(f"/agent/staff/{admin.id}/second-factor/reset",
                              follow_redirects=True).status_code == 200
    assert db.session.get(Agent, admin.id).totp_enabled_at is not None  # not their own
    page = admin_browser.post(path, follow_redirects=True).get_data(as_text=True)
    assert "second factor was reset" in page
    assert signed_out(sams_browser)  # their sessions ended
    assert password_step(app.test_client()).location.startswith("/agent/login/enrol")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode).where(
        RecoveryCode.agent_id == sam.id)) == 0
    assert admin_browser.post("/agent/staff/999999/second-factor/reset").status_code == 404


def test_the_reset_command(app, make_agent):
    make_agent("agent", email=EMAIL)
    fresh_totp_code(app, EMAIL)
    result = app.test_cli_runner().invoke(args=["reset-second-factor", "--email", EMAIL])
    assert result.exit_code == 0 and "Second factor reset" in result.output
    assert password_step(app.test_client()).location.startswith("/agent/login/enrol")
    result = app.test_cli_runner().invoke(args=["reset-second-factor", "--email", "no@x.test"])
    assert result.exit_code == 1 and "There is no agent" in result.output


def test_the_sign_in_pages_carry_the_policy_and_no_inline_code(app, make_agent):
    from tests.functional.test_security_headers import inline_parts

    make_agent("agent", email=EMAIL)
    client = app.test_client()
    enrol = client.get(password_step(client).location)
    done, _ = enrol_through_pages(app.test_client())
    code_step = app.test_client()
    second = code_step.get(password_step(code_step).location)
    for page in (enrol, done, second):
        assert page.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert inline_parts(page.get_data(as_text=True)) == []


def test_second_factor_changes_and_sign_ins_are_on_the_audit_trail(app, make_agent):
    from workflow.models import AuditRecord

    def trail(prefix):
        return [(r.action, r.agent_id, r.detail) for r in db.session.scalars(
            sa.select(AuditRecord).where(AuditRecord.action.startswith(prefix))
            .order_by(AuditRecord.id))]

    admin, _ = make_agent("admin", email="ada@example.test")
    sam, _ = make_agent("agent", email=EMAIL)
    done, totp = enrol_through_pages(app.test_client())
    client = app.test_client()
    client.post(password_step(client).location, data={"code": "000000"})
    client.post(password_step(client).location, data={"code": recovery_codes(done)[0]})
    admin_browser = app.test_client()
    assert sign_in(admin_browser, "ada@example.test").status_code == 302
    admin_browser.post(f"/agent/staff/{sam.id}/second-factor/reset")
    assert trail("second_factor.") == [
        ("second_factor.enrolled", sam.id, {}),
        ("second_factor.enrolled", admin.id, {}),
        ("second_factor.reset", admin.id, {"target_agent_id": sam.id, "was_enrolled": True}),
    ]
    sams = [(action, detail) for action, agent, detail in trail("signin.")
            if agent == sam.id or (detail or {}).get("target_agent_id") == sam.id]
    assert sams == [
        ("signin.password_accepted", {}),
        ("signin.success", {"method": "enrolment"}),
        ("signin.password_accepted", {}),
        ("signin.failure", {"reason": "wrong_code", "target_agent_id": sam.id}),
        ("signin.password_accepted", {}),
        ("signin.success", {"method": "recovery_code", "codes_left": 9}),
    ]
    assert service.audit.verify({}).broken is None


def test_guesses_sent_at_once_meet_the_back_off_all_the_same(app, make_agent):
    """Each attempt is counted before it is tried: of ten wrong codes sent together on one
    half-way sign-in, the free five are tried and the rest wait."""
    make_agent("agent", email=EMAIL)
    fresh_totp_code(app, EMAIL)
    client = app.test_client()
    step = password_step(client).location
    cookie = client.get_cookie("session").value
    start, answers = threading.Barrier(10), []

    def guess():
        browser = app.test_client()
        browser.set_cookie("session", cookie)
        with app.app_context():
            start.wait()
            answers.append(browser.post(step, data={"code": "000000"}).status_code)

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    free = app.config["SIGN_IN_FREE_FAILURES"]
    assert sorted(answers) == [401] * free + [429] * (10 - free)


def test_a_shared_address_under_attack_does_not_keep_out_a_trusted_browser(app, make_agent):
    make_agent("security_lead", email=EMAIL)
    own = app.test_client()
    assert sign_in(own, EMAIL).status_code == 302
    own.post("/agent/logout")
    for n in range(app.config["SIGN_IN_FREE_FAILURES_PER_ADDRESS"] + 3):
        password_step(app.test_client(), email=f"guess{n}@example.test")
    assert password_step(app.test_client()).status_code == 429  # a new browser waits
    assert sign_in(own, EMAIL).status_code == 302  # the lead's own does not


def test_each_password_step_shows_a_new_enrolment_key(app, make_agent):
    make_agent("agent", email=EMAIL)
    first = app.test_client()
    seen = qr_text(first.get(password_step(first).location).get_data(as_text=True))
    second = app.test_client()
    step = password_step(second).location
    now = qr_text(second.get(step).get_data(as_text=True))
    assert pyotp.parse_uri(now).secret != pyotp.parse_uri(seen).secret
    # The key the first sign-in was shown (and someone could have copied) enrols nothing.
    assert second.post(step, data={"code": pyotp.parse_uri(seen).now()}).status_code == 401
    assert second.post(step, data={"code": pyotp.parse_uri(now).now()}).status_code == 200


def test_guessing_codes_on_the_security_page_backs_off(app, make_agent):
    make_agent("agent", email=EMAIL)
    client = app.test_client()
    assert sign_in(client, EMAIL).status_code == 302
    answers = [client.post("/agent/security", data={"code": "000000"}).status_code
               for _ in range(app.config["SIGN_IN_FREE_FAILURES"] + 1)]
    assert answers == [422] * app.config["SIGN_IN_FREE_FAILURES"] + [429]
