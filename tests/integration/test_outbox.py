"""Notifications through the email outbox (SLA marks, reset links), delivered to a real SMTP
server (aiosmtpd)."""

import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

import jobs.recovery
import jobs.schedule
import notify
from app import create_app
from extensions import db
from notify import outbox
from tests.clock import set_service_clock
from tests.conftest import make_config
from tests.recovery import approve, reset_emails
from workflow import service
from workflow.models import Agent, CaseEvent, OutboxEmail

BASE_URL = "https://desk.example.test"
MONDAY_9 = datetime(2026, 12, 21, 9, tzinfo=UTC)  # Monday 09:00 UTC, office hours 09-17 UTC
AFTER_DUE = MONDAY_9 + timedelta(hours=5)  # past the 4 h first-response target


def free_port() -> int:
    """A local port nothing listens on (just released by the kernel)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"

    def to(self) -> list[str]:
        return sorted(address for rcpt, _ in self.messages for address in rcpt)


def text(message) -> str:
    """The plain-text body as written (SMTP carries it with CRLF line ends)."""
    return message.get_content().replace("\r\n", "\n")


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def app_config(smtp_port):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_USE_TLS": False,
            "MAIL_FROM": "Recovery Desk <desk@desk.example.test>", "MAIL_TIMEOUT_SECONDS": 5,
            "MAIL_RETRY_DELAYS": [60, 600], "PUBLIC_BASE_URL": BASE_URL + "/"}


@pytest.fixture
def smtp_server(smtp_port):
    """A real SMTP server on the configured port; yields what it received."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture(autouse=True)
def sla_emails_only(monkeypatch):
    """These tests read the SLA and reset-link emails alone: filing a case also emails its
    tracking link (tests/integration/test_tracking_link_email.py), and approving it tells the
    owner (tests/integration/test_owner_stop.py); those are left out here."""
    monkeypatch.delitem(notify.NOTIFICATIONS, "request_received")
    monkeypatch.delitem(notify.NOTIFICATIONS, "recovery_approved")


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app, monkeypatch):
    """The service's time, moved by hand; the office calendar is 09:00-17:00 UTC."""
    found = Clock(MONDAY_9)
    set_service_clock(monkeypatch, found)
    return found


@pytest.fixture
def staff(make_agent):
    """An agent, an active lead, an admin, and a lead who has left (deactivated)."""
    agent, _ = make_agent("agent", email="agent@example.test", name="Alma Agent")
    lead, _ = make_agent("security_lead", email="lead@example.test")
    admin, _ = make_agent("admin", email="admin@example.test")
    gone, _ = make_agent("security_lead", email="gone@example.test")
    db.session.get(Agent, gone.id).active = False
    db.session.commit()
    return {"agent": agent, "lead": lead, "admin": admin}


def breached_case(make_case, clock, issue_type="forgot_password"):
    case, _ = make_case("submitted", issue_type=issue_type)
    clock.now = AFTER_DUE
    return case


def tick(app) -> list:
    """One scheduled tick, as the in-process scheduler runs it: check, commit, send."""
    return jobs.schedule.sla_tick(app)


def marks(case_id: int) -> list[str]:
    return list(db.session.scalars(sa.select(CaseEvent.event).where(
        CaseEvent.case_id == case_id, CaseEvent.event.like("sla_%"))))


def outbox_rows() -> list[OutboxEmail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)))


def test_a_breach_of_an_assigned_case_emails_the_assignee(app, make_case, clock, staff,
                                                          smtp_server):
    case = breached_case(make_case, clock)
    case = service.claim_case(case.id, staff["agent"], case.version)
    assert tick(app) == [(case.id, "first_response", "sla_breached")]

    assert smtp_server.to() == ["agent@example.test"]
    _, message = smtp_server.messages[0]
    assert message["Subject"] == f"SLA breached: case #{case.id}, first response"
    assert message["From"] == "Recovery Desk <desk@desk.example.test>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    body = text(message)
    assert f"Case #{case.id} missed its first response target (due 2026-12-21 13:00 UTC)" in body
    assert "Clock:     first response (target 4 h of business time)" in body
    assert "Assigned:  Alma Agent <agent@example.test>" in body
    assert f"{BASE_URL}/agent/cases/{case.id}\n" in body

    [row] = outbox_rows()
    assert (row.kind, row.case_id, row.attempts, row.last_error) == ("sla_breached", case.id,
                                                                      1, None)
    assert row.sent_at is not None and row.next_attempt_at is None


def test_the_emails_are_written_in_the_transaction_of_the_mark(app, make_case, clock, staff,
                                                               monkeypatch):
    case = breached_case(make_case, clock)
    original = notify.NOTIFICATIONS["sla_breached"]

    def broken(*args, **kwargs):
        raise RuntimeError("the template broke")

    monkeypatch.setitem(notify.NOTIFICATIONS, "sla_breached", replace(original, body=broken))
    with pytest.raises(RuntimeError):
        service.check_sla()
    assert marks(case.id) == [] and outbox_rows() == []

    notify.NOTIFICATIONS["sla_breached"] = original
    service.check_sla()
    assert marks(case.id) == ["sla_breached"]
    assert [(r.case_id, r.sent_at) for r in outbox_rows()] == [(case.id, None)] * 2


def test_an_unassigned_breach_emails_the_active_leads_and_admins(app, make_case, clock, staff,
                                                                 smtp_server):
    case = breached_case(make_case, clock, issue_type="forgot_password")
    tick(app)
    assert smtp_server.to() == ["admin@example.test", "lead@example.test"]
    for _, message in smtp_server.messages:
        assert "Assigned:  nobody: sent to the security leads and admins" in text(message)
    assert {r.to_address for r in outbox_rows()} == {"admin@example.test", "lead@example.test"}
    assert all(r.case_id == case.id and r.sent_at for r in outbox_rows())


def test_a_warning_names_the_due_time_in_the_calendars_timezone(app, make_case, clock, staff,
                                                                smtp_server):
    app.config["SLA_CALENDARS"] = {"berlin": {"timezone": "Europe/Berlin", "hours": {
        d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}}
    app.config["SLA_POLICIES"] = {"default": {"calendar": "berlin", "first_response": "4h",
                                              "next_update": "8h", "resolution": "24h"}}
    app.extensions.pop("sla_settings", None)
    clock.now = datetime(2026, 12, 21, 8, tzinfo=UTC)  # 09:00 in Berlin
    case, _ = make_case("submitted", issue_type="forgot_password")
    clock.now = datetime(2026, 12, 21, 11, 30, tzinfo=UTC)  # 3.5 h of 4 h gone
    assert tick(app) == [(case.id, "first_response", "sla_warning")]
    _, message = smtp_server.messages[0]
    assert message["Subject"] == (f"SLA warning: case #{case.id}, first response due "
                                  "2026-12-21 12:00 UTC")
    assert "Due:       2026-12-21 12:00 UTC (2026-12-21 13:00 Europe/Berlin)" in text(message)


def test_a_second_check_sends_nothing_twice(app, make_case, clock, staff, smtp_server):
    make_case("submitted", issue_type="forgot_password", email="bo@example.test")
    assigned = breached_case(make_case, clock)
    service.claim_case(assigned.id, staff["agent"], None)
    assert len(tick(app)) == 2
    assert len(smtp_server.messages) == 3  # the assignee; the lead and the admin
    assert tick(app) == []
    clock.now += timedelta(hours=2)
    assert tick(app) == []
    assert len(smtp_server.messages) == 3
    assert len(outbox_rows()) == 3
    assert outbox.send_outbox(datetime.now(UTC) + timedelta(days=1)).sent == 0


def test_a_server_that_is_down_keeps_the_email_until_the_next_tick(app, make_case, clock,
                                                                   staff, smtp_port):
    case = breached_case(make_case, clock)
    service.claim_case(case.id, staff["agent"], None)
    before = datetime.now(UTC)
    tick(app)  # nothing listens on the port yet

    [row] = outbox_rows()
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error.startswith("ConnectionRefusedError")
    assert before + timedelta(seconds=60) <= row.next_attempt_at <= (
        datetime.now(UTC) + timedelta(seconds=61))

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        # The server is back, but the email waits out its backoff ...
        assert outbox.send_outbox().sent == 0 and inbox.messages == []
        # ... and goes on the first tick after it.
        report = outbox.send_outbox(row.next_attempt_at + timedelta(seconds=1))
    finally:
        controller.stop()
    assert (report.sent, report.failed) == (1, 0)
    assert inbox.to() == ["agent@example.test"]
    [row] = outbox_rows()
    assert row.sent_at is not None and row.attempts == 2 and row.last_error is None


def test_a_refused_recipient_is_recorded_and_the_others_still_go(app, make_case, clock, staff,
                                                                 smtp_port):
    class Picky(Inbox):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("admin@"):
                return "550 No such mailbox"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    breached_case(make_case, clock)
    service.check_sla()
    inbox = Picky()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        report = outbox.send_outbox()
    finally:
        controller.stop()
    assert (report.sent, report.failed) == (1, 1)
    assert inbox.to() == ["lead@example.test"]
    refused = [r for r in outbox_rows() if r.to_address == "admin@example.test"][0]
    assert refused.sent_at is None and "550" in refused.last_error


def test_without_a_mail_server_emails_wait_in_the_outbox(app, make_case, clock, staff, runner):
    app.config["MAIL_SERVER"] = ""
    breached_case(make_case, clock)
    tick(app)
    assert [r.sent_at for r in outbox_rows()] == [None, None]
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "MAIL_SERVER is not set: nothing sent; 2 email(s) wait in the outbox." in result.output


def test_send_mail_command_delivers_the_outbox(app, make_case, clock, staff, runner,
                                               smtp_server):
    breached_case(make_case, clock)
    service.check_sla()
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "2 sent, 0 failed; 0 email(s) wait in the outbox." in result.output
    assert smtp_server.to() == ["admin@example.test", "lead@example.test"]
    assert "0 sent, 0 failed" in runner.invoke(args=["send-mail"]).output


def test_send_mail_command_fails_when_the_server_is_down(app, make_case, clock, staff, runner):
    breached_case(make_case, clock)
    service.check_sla()
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 1
    assert "0 sent, 1 failed; 2 email(s) wait in the outbox." in result.output
    assert "could not be sent: they stay in the outbox" in result.output


@pytest.mark.parametrize("executor, sweeps, checks", [("thread", True, True),
                                                      ("inline", False, True),
                                                      ("off", False, True),
                                                      ("rq", False, False)])
def test_the_embedded_scheduler_runs_whatever_runs_the_checks(tmp_path, monkeypatch, executor,
                                                              sweeps, checks):
    started = []
    monkeypatch.setattr(jobs.schedule, "start_sla_checks", lambda app: started.append("sla"))
    monkeypatch.setattr(jobs.schedule, "start_sweeper", lambda app: started.append("sweep"))
    app = create_app(make_config(f"sqlite:///{tmp_path / 'desk.sqlite'}",
                                 VERIFICATION_EXECUTOR=executor, SLA_CHECK_SECONDS=60,
                                 VERIFICATION_SWEEP_SECONDS=300,
                                 REDIS_URL="redis://127.0.0.1:1/0"))
    with app.app_context():
        db.create_all()
    assert started == []  # building the app (as every `flask` command does) starts nothing
    app.test_client().get("/api/v1/openapi.json")
    app.test_client().get("/api/v1/openapi.json")
    assert started == ["sweep"] * sweeps + ["sla"] * checks


def test_a_one_off_command_starts_no_schedule_and_none_runs_before_the_schema(
        tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(jobs.schedule, "start_sla_checks", lambda app: started.append("sla"))
    monkeypatch.setattr(jobs.schedule, "start_sweeper", lambda app: started.append("sweep"))
    app = create_app(make_config(f"sqlite:///{tmp_path / 'desk.sqlite'}",
                                 VERIFICATION_EXECUTOR="thread", SLA_CHECK_SECONDS=60,
                                 VERIFICATION_SWEEP_SECONDS=300))
    app.test_cli_runner().invoke(args=["send-mail"])
    assert started == []
    client = app.test_client()
    client.get("/api/v1/openapi.json")  # served, but the schema does not exist yet
    assert started == [] and not app.extensions[jobs.schedule.SCHEDULES].started
    with app.app_context():
        db.create_all()
    client.get("/api/v1/openapi.json")
    assert started == []  # it looks again only after a while, not at every request
    app.extensions[jobs.schedule.SCHEDULES]._next_look = 0.0
    client.get("/api/v1/openapi.json")
    assert started == ["sweep", "sla"]


def queued(to_address: str, subject: str = "SLA breached: case #1") -> int:
    email = OutboxEmail(kind="sla_breached", to_address=to_address, subject=subject,
                        body="The first response is late.\n")
    db.session.add(email)
    db.session.commit()
    return email.id


def test_an_email_that_cannot_be_built_does_not_hold_up_the_others(app, smtp_server):
    broken = queued("lead@example.test\nBcc: everyone@example.test")
    fine = queued("agent@example.test")
    report = outbox.send_outbox()
    assert (report.sent, report.failed) == (1, 1)
    assert smtp_server.to() == ["agent@example.test"]  # no header was injected
    rows = {row.id: row for row in outbox_rows()}
    assert rows[fine].sent_at is not None
    assert rows[broken].sent_at is None and "ValueError" in rows[broken].last_error
    assert rows[broken].next_attempt_at is not None


def test_a_claimed_email_is_left_alone_however_short_the_retry_delays(app):
    app.config["MAIL_RETRY_DELAYS"] = [0]
    email_id = queued("agent@example.test")
    now = outbox.utcnow()
    assert outbox._claim(email_id, now) is not None
    # A second sender, even one whose run started a little later, finds it taken.
    assert outbox._claim(email_id, now + timedelta(seconds=60)) is None
    later = now + timedelta(seconds=app.config["MAIL_CLAIM_SECONDS"] + 1)
    again = outbox._claim(email_id, later)  # the first sender died mid-send: tried again
    assert again is not None and again.attempts == 2


def test_staff_addresses_on_more_than_one_line_are_refused(app):
    for email, name in (("a@example.test\nBcc: x@example.test", "A"),
                        ("a b@example.test", "A"), ("c@example.test", "C\r\nD")):
        with pytest.raises(ValueError, match="one line"):
            service.create_agent(email, name, "agent", "a long enough password")


def test_the_owner_of_record_receives_a_working_single_use_reset_link(
        app, client, smtp_server, make_account, make_case, make_agent):
    make_account(email="anna@example.test", two_factor_enabled=True)
    case, _ = make_case("selfie_check", issue_type="lost_2fa")
    lead, _ = make_agent("security_lead")
    approve(case, lead)
    # The actions run (here by the sweep), and the outbox goes out with them.
    assert jobs.recovery.sweep_actions(app) == [case.id]

    assert smtp_server.to() == ["anna@example.test"]
    (_, message) = smtp_server.messages[0]
    assert message["Subject"] == "Your account recovery: choose a new password"
    assert message["From"] == "Recovery Desk <desk@desk.example.test>"
    body = text(message)
    assert f"Your recovery request #{case.id} was approved." in body
    assert "The second factor (two-factor device) of your account was removed" in body
    (line,) = [words.strip() for words in body.splitlines() if "/reset/" in words]
    assert line.startswith(f"{BASE_URL}/reset/")
    assert "It expires on " in body
    (email,) = reset_emails(case.id)
    assert email.sent_at is not None

    path = line[len(BASE_URL):]
    assert client.get(path).status_code == 200
    password = "correct horse battery staple two"
    assert client.post(path, data={"password": password, "confirm": password}
                       ).status_code == 302
    assert client.get(path).status_code == 404


def test_an_escalated_case_of_a_plain_agent_is_the_leads_to_hear_of(make_case, staff):
    case, _ = make_case("id_check")
    case = service.claim_case(case.id, staff["agent"], case.version)
    assert [a.email for a in notify.people_to_act(case)] == ["agent@example.test"]
    case = service.fire_event(case.id, "escalate", agent=staff["agent"],
                              expected_version=case.version, reason="Looks forged.")
    # The agent can no longer open it: the emails go to the active leads and admins.
    leads = set(db.session.scalars(sa.select(Agent.email).where(
        Agent.active, Agent.role.in_(["security_lead", "admin"]))))
    assert {"admin@example.test", "lead@example.test"} <= leads
    assert {a.email for a in notify.people_to_act(case)} == leads
    assert {a.email for a in notify.leads_and_assignee(case)} == leads
