"""Notifications: who must hear of what, as emails written to the outbox with their cause.

``write_emails`` adds one outbox email per recipient to the current session, so it commits
(or rolls back) with the change that caused it; ``notify.outbox.send_outbox`` delivers the
outbox after the commit. What each kind of notification says, and to whom, is one entry of
NOTIFICATIONS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import force_locale, format_date, format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from extensions import db
from workflow import rules, service
from workflow.models import Account, Agent, OutboxEmail, RecoveryCase
from workflow.states import ISSUE_TYPES, LEAD_ROLES, RECOVERY_STEP_LABELS, RecoveryStep

log = logging.getLogger(__name__)


def people_to_act(case: RecoveryCase) -> list[Agent]:
    """The case's assignee, or, when nobody (active) holds it, or the assignee may not open it
    (a plain agent's case that was escalated), the active leads and admins.

    Leads act on a case nobody holds: they can assign it, and escalations are theirs anyway.
    """
    assignee = case.assignee
    if assignee is not None and assignee.active and rules.may_open(case.state,
                                                                   assignee.actors):
        return [assignee]
    return list(db.session.scalars(
        sa.select(Agent).where(Agent.active, Agent.role.in_(LEAD_ROLES)).order_by(Agent.id)))


def leads_and_assignee(case: RecoveryCase) -> list[Agent]:
    """The active security leads and admins, and the case's assignee when active."""
    people = list(db.session.scalars(
        sa.select(Agent).where(Agent.active, Agent.role.in_(LEAD_ROLES)).order_by(Agent.id)))
    assignee = case.assignee
    if assignee is not None and assignee.active and assignee not in people \
            and rules.may_open(case.state, assignee.actors):
        people.append(assignee)
    return people


def public_url(path: str) -> str:
    """``path`` on the address people open the desk at (links in emails)."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}{path}"


def case_link(case_id: int) -> str:
    """The console page of a case, on the address agents open the desk at."""
    return public_url(f"/agent/cases/{case_id}")


def _when(moment: datetime | None, zone: str) -> str:
    """A time in UTC, and in the calendar's timezone when that is another one."""
    if moment is None:
        return "not set"
    text = f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if zone != "UTC":
        text += f" ({moment.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone})"
    return text


def _when_for_people(moment: datetime) -> str:
    """A date and time in an email to a requester: in the email's language, in UTC."""
    return f"{format_date(moment, 'long')}, {format_time(moment, 'short')} UTC"


def _issue(case: RecoveryCase) -> str:
    """The case's issue type as the requester chose it, in the email's language."""
    label = ISSUE_TYPES.get(case.issue_type, case.issue_type)
    return _(label)  # the labels are marked for the catalogues in i18n/texts.py


def _step(kind: str) -> str:
    """A recovery step's label in the email's language (marked in i18n/texts.py)."""
    return _(RECOVERY_STEP_LABELS[RecoveryStep(kind)])


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes % 60:
        return f"{minutes} min"
    return f"{minutes // 60} h"


def _sla_body(case: RecoveryCase, headline: str, *, clock: str, due_at: datetime | None,
              target: float, timezone: str) -> str:
    holder = (f"{case.assignee.name} <{case.assignee.email}>"
              if case.assignee is not None and case.assignee.active
              else "nobody: sent to the security leads and admins")
    lines = [
        headline,
        "",
        f"Case:      #{case.id}, {case.issue_type.replace('_', ' ')}, {case.priority} priority",
        f"State:     {case.state.replace('_', ' ')}",
        f"Clock:     {clock.replace('_', ' ')} (target {_duration(target)} of business time)",
        f"Due:       {_when(due_at, timezone)}",
        f"Assigned:  {holder}",
        "",
        f"Open the case: {case_link(case.id)}",
        "",
        "-- ",
        "Recovery Desk: sent automatically by the SLA check.",
    ]
    return "\n".join(lines) + "\n"


def _sla_words(case: RecoveryCase, *, clock: str, due_at: datetime | None,
               **_facts) -> dict[str, object]:
    return {"case_id": case.id, "clock_name": clock.replace("_", " "),
            "due": _when(due_at, "UTC")}


def _case_words(case: RecoveryCase, **_facts) -> dict[str, object]:
    """The words of a notification that names only its case."""
    return {"case_id": case.id}


def owner_of_record(case: RecoveryCase) -> list[Account]:
    """The account of record, at its address of record (never the address the form used)."""
    return [case.account] if case.account is not None else []


def not_me_link(case: RecoveryCase) -> str:
    """The case's "this wasn't me" page, for its owner of record."""
    return public_url(f"/not-me/{service.owner_link_token(case)}")


def _not_me_lines(case: RecoveryCase) -> list[str]:
    """The paragraph that lets the owner of record stop the request."""
    return [_("If you did not ask to recover your account, stop it here (no sign-in needed):"),
            "",
            f"  {not_me_link(case)}",
            "",
            _("Nothing more will be done to your account, and our security team will look "
              "into it: someone may be trying to take it over.")]


def _filed_with(case: RecoveryCase, recipient_address: str) -> str:
    if case.email != recipient_address:
        return _("The request was filed with the email address %(address)s, not this one "
                 "(the address of record of the account).", address=case.email)
    return _("Filed with the email address %(address)s.", address=case.email)


def _reset_body(case: RecoveryCase, headline: str, *, link: str, expires_at: datetime,
                second_factor_removed: bool, **_facts) -> str:
    lines = [headline, ""]
    if second_factor_removed:
        lines += [_("The second factor (two-factor device) of your account was removed: at "
                    "your next sign-in you will set up a new one."), ""]
    lines += [
        _("Choose a new password here (the link works once):"),
        "",
        f"  {link}",
        "",
        _("It expires on %(when)s.", when=_when_for_people(expires_at)),
        "",
        *_not_me_lines(case),
        "",
        "-- ",
        _("Recovery Desk, about recovery request #%(number)s.", number=case.id),
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Address:
    """A recipient who is not staff: the holder of an account, or whoever filed a request."""

    email: str


def requester(case: RecoveryCase) -> list[Address]:
    """The account's address of record when the request's email matches an account; else
    the address the request gave."""
    return [Address(case.account.email if case.account is not None else case.email)]


def status_link(token: str) -> str:
    """The public status page of a request, on the address the desk is reached at."""
    return public_url(f"/status/{token}")


def _received_body(case: RecoveryCase, headline: str, *, tracking_token: str, **_facts) -> str:
    lines = [
        headline,
        "",
        _("Request:   #%(number)s, %(issue)s", number=case.id, issue=_issue(case)),
        _("Filed:     %(when)s", when=_when_for_people(case.created_at)),
        _filed_with(case, requester(case)[0].email),
        "",
        _("Follow your request, answer our questions and send new photos here:"),
        status_link(tracking_token),
        "",
        _("Keep this link private: anyone who has it can see the request and act on it."),
        _("We will never ask you for your password or your two-factor codes."),
        "",
        *(_not_me_lines(case) if case.account is not None else [
            _("If you did not file this request, open the link and withdraw it.")]),
        "",
        "-- ",
        _("Recovery Desk: sent automatically when a recovery request is filed."),
    ]
    return "\n".join(lines) + "\n"


def _approved_body(case: RecoveryCase, headline: str, *, actions, **_facts) -> str:
    lines = [
        headline,
        "",
        _("Request:   #%(number)s, %(issue)s", number=case.id, issue=_issue(case)),
        _("Filed:     %(when)s", when=_when_for_people(case.created_at)),
        _filed_with(case, case.account.email),
        "",
    ]
    if actions:
        lines.append(_("What happens to your account:"))
        lines += [f"  - {_step(a.kind)}" for a in actions]
        due = min(a.due_at for a in actions)
        if due - case.resolved_at > timedelta(minutes=1):
            lines += ["", _("This happens on %(when)s, not before: the wait gives you time to "
                            "stop it if you did not ask for it.", when=_when_for_people(due))]
        else:
            lines += ["", _("This happens now; any link to choose a new password comes in a "
                            "separate email.")]
    else:
        lines.append(_("Our team will write to you on the request's page about the next "
                       "steps."))
    lines += ["", *_not_me_lines(case), "", "-- ",
              _("Recovery Desk: sent automatically when a recovery request is approved.")]
    return "\n".join(lines) + "\n"


def _stopped_body(case: RecoveryCase, headline: str, *, cancelled, reason: str,
                  **_facts) -> str:
    lines = [headline, "", f"Report:    {reason}",
             f"Case:      #{case.id}, {case.issue_type.replace('_', ' ')}, now "
             f"{case.state.replace('_', ' ')}"]
    if cancelled:
        lines += ["Cancelled: " + "; ".join(RECOVERY_STEP_LABELS[RecoveryStep(a.kind)]
                                            for a in cancelled)]
    lines += ["", f"Open the case: {case_link(case.id)}", "", "-- ",
              "Recovery Desk: sent automatically when an owner of record reports a request."]
    return "\n".join(lines) + "\n"


def _reissued_body(case: RecoveryCase, headline: str, *, tracking_token: str,
                   **_facts) -> str:
    """A new tracking link, asked for on the desk's page (in the asker's language)."""
    lines = [
        headline,
        "",
        _("Request:   #%(number)s, %(issue)s", number=case.id, issue=_issue(case)),
        _("Filed:     %(when)s", when=_when(case.created_at, "UTC")),
        "",
        _("Follow your request, answer our questions and send new photos here:"),
        status_link(tracking_token),
        "",
        _("This is a new link: the one you had before no longer works."),
        _("Keep this link private: anyone who has it can see the request and act on it."),
        _("If you did not ask for this email, you can ignore it; your request goes on."),
        "",
        "-- ",
        _("Recovery Desk: sent because someone asked for the tracking link of this request."),
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Notification:
    """One kind of notification: subject and first line (str.format on its words), body."""

    subject: str
    headline: str
    words: Callable[..., dict[str, object]]
    body: Callable[..., str]
    # Who receives it: anything with an ``email`` (staff, the account of record, an Address).
    recipients: Callable[[RecoveryCase], list[Agent] | list[Account] | list[Address]] = \
        people_to_act
    # Written in the language the case was filed in (emails to requesters and owners of
    # record); staff emails stay in the desk's default language, as the console does.
    in_case_language: bool = False


# Notification kind -> what it says and to whom. Adding one is one entry.
NOTIFICATIONS: dict[str, Notification] = {
    "sla_warning": Notification(
        subject="SLA warning: case #{case_id}, {clock_name} due {due}",
        headline="Case #{case_id} is close to its {clock_name} target: act before {due}.",
        words=_sla_words, body=_sla_body),
    "sla_breached": Notification(
        subject="SLA breached: case #{case_id}, {clock_name}",
        headline="Case #{case_id} missed its {clock_name} target (due {due}).",
        words=_sla_words, body=_sla_body),
    # The tracking link of a new request (facts: tracking_token), to the account's address
    # of record, or to the address given when it matches no account.
    "request_received": Notification(
        subject=_l("Your account recovery request #{case_id}"),
        headline=_l("We received your account recovery request #{case_id}."),
        words=_case_words, body=_received_body, recipients=requester, in_case_language=True),
    # A new tracking link asked for with "email me my tracking link" (facts: tracking_token,
    # locale), to the same address as the first one.
    "tracking_link_reissued": Notification(
        subject=_l("Your new tracking link for request #{case_id}"),
        headline=_l("Here is the new link to your account recovery request #{case_id}."),
        words=_case_words, body=_reissued_body, recipients=requester),
    # To the owner of record, in the language of the request too: the desk knows no other
    # language for an account, the requester is the owner in the usual case, and the
    # language of a request that was not theirs does not hide the link that stops it.
    "reset_link": Notification(
        subject=_l("Your account recovery: choose a new password"),
        headline=_l("Your recovery request #{case_id} was approved."),
        words=_case_words, body=_reset_body, recipients=owner_of_record,
        in_case_language=True),
    # An approval, to the address of record, with what happens when and the link that
    # stops it (facts: the planned actions).
    "recovery_approved": Notification(
        subject=_l("Your account recovery request #{case_id} was approved"),
        headline=_l("Your account recovery request #{case_id} was approved."),
        words=_case_words, body=_approved_body, recipients=owner_of_record,
        in_case_language=True),
    # The owner of record says a request is not theirs: whoever acts on it now (facts: the
    # cancelled actions, the report).
    "owner_stopped": Notification(
        subject="Reported as not the owner's: case #{case_id}",
        headline="The owner of record says case #{case_id} is not theirs.",
        words=_case_words, body=_stopped_body, recipients=leads_and_assignee),
}


def email_language(case: RecoveryCase) -> str:
    """The language of the emails about ``case``: the one it was filed in, while offered."""
    config = current_app.config
    return case.language if case.language in config["LANGUAGES"] else config[
        "BABEL_DEFAULT_LOCALE"]


def write_emails(kind: str, case: RecoveryCase, **facts) -> list[OutboxEmail]:
    """Add the emails of a notification about ``case`` to the session's outbox (no commit)."""
    spec = NOTIFICATIONS[kind]
    return _write(kind, spec, case, _language(spec, case, facts.get("locale")), **facts)


def _language(spec: Notification, case: RecoveryCase, asked: str | None) -> str:
    """The language an email is written in: that of the page it was asked on (while
    offered), else the case's for requesters and owners, else the desk's default."""
    config = current_app.config
    if asked in config["LANGUAGES"]:
        return asked
    return email_language(case) if spec.in_case_language else config["BABEL_DEFAULT_LOCALE"]


def _write(kind: str, spec: Notification, case: RecoveryCase, language: str,
           **facts) -> list[OutboxEmail]:
    people = spec.recipients(case)
    if not people:
        log.warning("%s for case %s: nobody to email", kind, case.id)
        return []
    with force_locale(language):
        words = spec.words(case, **facts)
        headline = str(spec.headline).format(**words)
        body = spec.body(case, headline, **facts)
        subject = str(spec.subject).format(**words)[:200]
    emails = [OutboxEmail(kind=kind, to_address=person.email, case_id=case.id,
                          subject=subject, body=body)
              for person in people]
    db.session.add_all(emails)
    return emails


def on_case_event(event: str, case: RecoveryCase, **facts) -> None:
    """The service's case event listener: the emails of the events that have a notification."""
    if event in NOTIFICATIONS:
        write_emails(event, case, **facts)


def init_app(app: Flask) -> None:
    """Listen to the service's case events (their emails commit with the change)."""
    service.register(app, on_case_event=on_case_event)
