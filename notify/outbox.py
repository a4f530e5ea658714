"""The outbox sender: delivers over SMTP the emails that committed transactions wrote.

Each email is claimed before it is sent, with one conditional UPDATE (attempts + 1, and the
next attempt put off for a while), so two senders at once (the scheduled tick and
`flask send-mail`, or two processes) never send the same email, and an attempt cut short by
a crash is counted and made again later. A failure keeps the email, records the error and
puts the next attempt off by MAIL_RETRY_DELAYS; the last delay repeats, nothing is dropped.
With MAIL_SERVER empty nothing is sent and the emails wait.

These functions own their short transactions, as the service layer's do: the outbox is
written by the service and only ever read and marked here.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from flask import current_app

from extensions import db
from workflow.models import OutboxEmail, utcnow

# The server answered, but refused this one email: the next email may still go through.
MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                  smtplib.SMTPDataError, smtplib.SMTPNotSupportedError)
# What the longest stored error keeps (the start says what went wrong).
ERROR_CHARS = 1000


@dataclass
class SendReport:
    """What one run of the sender did."""

    sent: int = 0
    failed: int = 0
    # Due but not tried this run: the server went away, or the batch was full.
    left: int = 0


@dataclass(frozen=True)
class _Claimed:
    id: int
    to_address: str
    subject: str
    body: str
    created_at: datetime
    attempts: int


def mail_configured() -> bool:
    """Whether a mail server is set (without one, emails stay in the outbox)."""
    return bool(current_app.config.get("MAIL_SERVER"))


def _due(now: datetime):
    return sa.and_(OutboxEmail.sent_at.is_(None),
                   sa.or_(OutboxEmail.next_attempt_at.is_(None),
                          OutboxEmail.next_attempt_at <= now))


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    delays = current_app.config["MAIL_RETRY_DELAYS"] or [0]
    return timedelta(seconds=delays[min(max(attempts, 1), len(delays)) - 1])


def pending_count() -> int:
    """Emails not sent yet (due now or waiting for their next attempt)."""
    try:
        return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)
                                 .where(OutboxEmail.sent_at.is_(None)))
    finally:
        db.session.rollback()


def _claim(email_id: int, now: datetime) -> _Claimed | None:
    """Take one due email for this sender; None when another sender took it first."""
    try:
        # While it is being sent, other senders leave it alone for MAIL_CLAIM_SECONDS, from
        # the moment of the claim (a run can be long); a sender that dies mid-send leaves it
        # to be tried after that.
        hold = timedelta(seconds=current_app.config["MAIL_CLAIM_SECONDS"])
        taken = db.session.execute(
            sa.update(OutboxEmail).where(OutboxEmail.id == email_id, _due(now))
            .values(attempts=OutboxEmail.attempts + 1,
                    next_attempt_at=max(now, utcnow()) + hold)
            .execution_options(synchronize_session=False)).rowcount
        if taken != 1:
            db.session.rollback()
            return None
        email = db.session.get(OutboxEmail, email_id, populate_existing=True)
        claimed = _Claimed(email.id, email.to_address, email.subject, email.body,
                           email.created_at, email.attempts)
        db.session.commit()
        return claimed
    except BaseException:
        db.session.rollback()
        raise


def _mark(email_id: int, **values) -> None:
    try:
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.id == email_id)
                           .values(**values).execution_options(synchronize_session=False))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _message(email: _Claimed) -> EmailMessage:
    config = current_app.config
    sender = config["MAIL_FROM"]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.created_at)
    # The same id on every attempt: a mail client shows an email sent twice (after a crash
    # between sending and recording it) once.
    message["Message-ID"] = f"<outbox-{email.id}-{int(email.created_at.timestamp())}@{domain}>"
    # RFC 3834: no vacation replies to an automatic notification.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.body)
    return message


def connect() -> smtplib.SMTP:
    """A connection to MAIL_SERVER, secured and signed in as configured."""
    config = current_app.config
    host, port = config["MAIL_SERVER"], int(config["MAIL_PORT"])
    timeout = config["MAIL_TIMEOUT_SECONDS"]
    if config["MAIL_USE_SSL"]:
        connection = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                      context=ssl.create_default_context())
    else:
        connection = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            connection.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            connection.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    except BaseException:
        connection.close()
        raise
    return connection


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:ERROR_CHARS]


def send_outbox(now: datetime | None = None) -> SendReport | None:
    """Send the due emails of the outbox, up to MAIL_BATCH_SIZE; None without a mail server.

    A refused email is recorded and the next one tried; a server that cannot be reached (or
    goes away) is recorded on the email being sent and ends the run, leaving the others for
    the next one.
    """
    if not mail_configured():
        return None
    now = now or utcnow()
    logger = current_app.logger
    try:
        ids = list(db.session.scalars(sa.select(OutboxEmail.id).where(_due(now))
                                      .order_by(OutboxEmail.id)
                                      .limit(current_app.config["MAIL_BATCH_SIZE"] + 1)))
    finally:
        db.session.rollback()
    report = SendReport(left=max(0, len(ids) - current_app.config["MAIL_BATCH_SIZE"]))
    ids = ids[:current_app.config["MAIL_BATCH_SIZE"]]
    connection = None
    try:
        for number, email_id in enumerate(ids):
            email = _claim(email_id, now)
            if email is None:
                continue
            try:
                message = _message(email)
            except ValueError as err:
                # An address or subject no message can carry (a line break in it): this
                # email can never go out as it is, the others still can.
                _mark(email_id, last_error=_describe(err),
                      next_attempt_at=utcnow() + retry_delay(email.attempts))
                report.failed += 1
                logger.error("email %s cannot be built: %s", email_id, _describe(err))
                continue
            try:
                if connection is None:
                    connection = connect()
                connection.send_message(message)
            except (smtplib.SMTPException, OSError) as err:
                _mark(email_id, last_error=_describe(err),
                      next_attempt_at=utcnow() + retry_delay(email.attempts))
                report.failed += 1
                logger.warning("email %s to %s not sent (attempt %s): %s", email_id,
                               email.to_address, email.attempts, _describe(err))
                if isinstance(err, MESSAGE_ERRORS):
                    continue
                report.left += len(ids) - number - 1
                break
            _mark(email_id, sent_at=utcnow(), last_error=None, next_attempt_at=None)
            report.sent += 1
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()
    if report.sent or report.failed:
        logger.info("outbox: %s sent, %s failed, %s left for later", report.sent,
                    report.failed, report.left)
    return report
