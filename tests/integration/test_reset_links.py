"""The local directory's reset links: single use, expiring, and raced by two requests."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

import jobs.recovery
from extensions import db
from tests.clock import set_service_clock
from tests.recovery import Clock, approve, reset_emails, token_in
from workflow import service
from workflow.models import Account, ResetLink, utcnow

PASSWORD = "a brand new passphrase"


@pytest.fixture
def issued(app, make_account, make_case, make_agent):
    """A forgotten-password case approved and its reset link sent: (case id, token)."""
    make_account()
    case, _ = make_case("selfie_check", issue_type="forgot_password")
    lead, _ = make_agent("security_lead")
    approve(case, lead)
    jobs.recovery.sweep_actions(app)
    (email,) = reset_emails(case.id)
    return case.id, token_in(email.body)


def stored_password() -> str | None:
    return db.session.scalar(sa.select(Account.password_hash))


def test_only_the_tokens_hash_is_stored(issued):
    _, token = issued
    (link,) = db.session.scalars(sa.select(ResetLink)).all()
    assert link.token_hash != token and len(link.token_hash) == 64
    assert token not in str([getattr(link, c.key) for c in ResetLink.__table__.columns])


def test_a_link_used_twice_works_once(issued):
    _, token = issued
    service.redeem_reset_link(token, PASSWORD)
    with pytest.raises(service.ResetLinkInvalid, match="not valid or was used"):
        service.redeem_reset_link(token, "a different passphrase")
    with pytest.raises(service.ResetLinkInvalid):
        service.reset_link_info(token)
    assert PasswordHasher().verify(stored_password(), PASSWORD)


def test_a_short_password_is_refused_and_the_link_stays_usable(issued):
    _, token = issued
    with pytest.raises(service.PasswordRefused, match="at least 12"):
        service.redeem_reset_link(token, "short")
    assert stored_password() is None
    assert service.reset_link_info(token).expires_at > utcnow()


def test_an_expired_link_is_refused_like_a_used_one(app, issued, monkeypatch):
    _, token = issued
    clock = Clock(utcnow() + timedelta(seconds=app.config["RESET_LINK_TTL"] + 1))
    set_service_clock(monkeypatch, clock)
    with pytest.raises(service.ResetLinkInvalid, match="not valid or was used"):
        service.reset_link_info(token)
    with pytest.raises(service.ResetLinkInvalid):
        service.redeem_reset_link(token, PASSWORD)
    assert stored_password() is None


@pytest.mark.parametrize("token", ["", "x" * 101, "not-a-token-that-was-ever-issued"])
def test_unknown_tokens_get_the_same_answer(app, token):
    with pytest.raises(service.ResetLinkInvalid, match="not valid or was used"):
        service.reset_link_info(token)


def test_two_requests_with_one_link_at_once_set_one_password(app, issued):
    """On PostgreSQL the two UPDATEs meet on the row: exactly one finds it unused."""
    _, token = issued
    db.session.remove()
    start = threading.Barrier(2)
    outcomes = []

    def redeem(password: str):
        with app.app_context():
            start.wait()
            try:
                service.redeem_reset_link(token, password)
                outcomes.append(password)
            except service.ResetLinkInvalid:
                outcomes.append("refused")

    threads = [threading.Thread(target=redeem, args=(f"passphrase number {n}",))
               for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes).count("refused") == 1 and len(outcomes) == 2
    (winner,) = [o for o in outcomes if o != "refused"]
    assert PasswordHasher().verify(stored_password(), winner)
