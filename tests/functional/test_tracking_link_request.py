""""Email me my tracking link": one answer for every address, the links sent by the tick."""

import re

import pytest
import sqlalchemy as sa

from extensions import db
from jobs import schedule
from workflow import service
from workflow.models import (
    AuditRecord,
    CaseEvent,
    OutboxEmail,
    TrackingLinkRequest,
)

SENT = "/tracking-link/sent"


def ask(client, email: str, address: str = "203.0.113.9"):
    return client.post("/tracking-link", data={"email": email},
                       environ_base={"REMOTE_ADDR": address})


def outbox(kind: str = "tracking_link_reissued") -> list[OutboxEmail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.kind == kind)
                                   .order_by(OutboxEmail.id)))


def queued() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(TrackingLinkRequest))


def test_the_page_is_reached_from_the_confirmation_and_a_bad_link(client):
    assert client.get("/tracking-link").status_code == 200
    page = client.get("/status/not-a-real-token")
    assert page.status_code == 404
    assert 'href="/tracking-link"' in page.get_data(as_text=True)


def test_known_and_unknown_addresses_get_the_same_answer(client, make_case, make_account):
    make_account(email="anna@example.test")
    make_case("id_check", email="anna@example.test")
    before = len(outbox("request_received"))

    known, unknown = ask(client, "Anna@Example.test"), ask(client, "nobody@example.test")
    assert (known.status_code, known.headers["Location"]) == (303, SENT)
    assert (unknown.status_code, unknown.headers["Location"]) == (303, SENT)
    assert known.get_data() == unknown.get_data()
    page = client.get(SENT).get_data(as_text=True)
    assert "If we have an open request filed with that address" in page
    # Nothing is looked up or written for either before the tick: both are queued alike.
    assert queued() == 2 and outbox() == [] and len(outbox("request_received")) == before
    asks = db.session.scalars(sa.select(AuditRecord).where(
        AuditRecord.action == "tracking_link.requested")).all()
    assert len(asks) == 2 and all("example" not in str(r.detail) for r in asks)


def test_the_tick_emails_a_new_link_to_the_address_of_record(app, client, make_case,
                                                             make_account):
    make_account(email="anna@example.test")
    # Filed with another address: the link goes to the account's address of record.
    case, old_token = make_case("id_check", email="anna@example.test")
    other, other_token = make_case("submitted", email="anna@example.test")
    closed, _ = make_case("resolved", email="anna@example.test")
    assert ask(client, "anna@example.test").status_code == 303
    assert ask(client, "nobody@example.test").status_code == 303

    schedule.sla_tick(app)

    assert queued() == 0
    emails = outbox()
    assert [(e.case_id, e.to_address) for e in emails] == [
        (case.id, "anna@example.test"), (other.id, "anna@example.test")]
    body = emails[0].body
    assert emails[0].subject == f"Your new tracking link for request #{case.id}"
    assert "the one you had before no longer works" in body
    new_token = re.search(r"/status/([\w-]+)\n", body).group(1)
    assert new_token != old_token
    # The new link works; the old one does not.
    assert client.get(f"/status/{new_token}").status_code == 200
    assert client.get(f"/status/{old_token}").status_code == 404
    assert client.get(f"/status/{other_token}").status_code == 404
    events = db.session.scalars(sa.select(CaseEvent).where(
        CaseEvent.event == "tracking_link_reissued")).all()
    assert sorted(e.case_id for e in events) == [case.id, other.id]
    assert closed.id not in [e.case_id for e in emails]


def test_a_request_without_an_account_gets_its_link_at_the_address_it_gave(client,
                                                                          make_case):
    case, _ = make_case("submitted", email="solo@example.test")
    ask(client, "solo@example.test")
    assert service.send_tracking_links() == 1
    [email] = outbox()
    assert (email.case_id, email.to_address) == (case.id, "solo@example.test")
    # Done once: a second run finds nothing queued.
    assert service.send_tracking_links() == 0


@pytest.mark.parametrize("email,message", [
    ("", "Please enter the email address you filed your request with."),
    ("not-an-address", "Please enter a valid email address."),
])
def test_bad_input_changes_nothing(client, email, message):
    response = ask(client, email)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and 'aria-invalid="true"' in html
    assert queued() == 0


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_TRACKING_LINK": "2 per hour",
                                         "RATELIMIT_TRACKING_LINK_PER_EMAIL": "3 per day"}])
def test_asks_are_limited_per_address_and_per_email(client):
    # Per client address, whatever the email.
    assert ask(client, "a@example.test").status_code == 303
    assert ask(client, "b@example.test").status_code == 303
    assert ask(client, "c@example.test").status_code == 429
    # Per email, from any client address.
    for n in range(2):
        assert ask(client, "d@example.test", f"198.51.100.{n + 1}").status_code == 303
    assert ask(client, "a@example.test", "198.51.100.3").status_code == 303
    assert ask(client, "a@example.test", "198.51.100.4").status_code == 303
    assert ask(client, "a@example.test", "198.51.100.5").status_code == 429
    assert queued() == 6
