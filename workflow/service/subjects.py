"""Data-subject requests: what the desk holds about one person, given or erased.

A person is known to the desk by the email address they filed requests with: their cases
(what they typed, what they told support, their photos and screenshots, the readings and
check results made from them, the messages and the timeline), and the emails the desk
wrote to that address. The account of record with that address, its activity and changes
belong to the exchange's directory, which the desk mirrors: they are exported, never erased
here (erase them in the directory).

Erasure keeps what the desk's records and reports need, without the person in it: a case keeps
its id, state, resolution, issue type, times, timeline (event names, states and staff's
reasons), check results without their personal details, recovery actions and SLA figures. It
removes the photos, screenshots, face encodings and document readings and what the person
told support (as the retention purge does), the
personal details of the check results, the typed name, email (replaced by the pseudonym
``erased-<case id>@invalid``), date of birth, description, client address and challenge code,
the text of every message, the request's idempotency keys and the emails to that address; the
tracking link stops working. A person with an open case, or whose approved recovery still has
steps to run, is refused unless ``force``: then each open case is first withdrawn as the
person asked (the ``withdraw`` transition), and steps still to run go on (they act on the
account of record, not on the erased data).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time

import sqlalchemy as sa

from extensions import db

from ..models import (
    Account,
    AccountActivity,
    AccountChange,
    Evidence,
    IdempotencyKey,
    OutboxEmail,
    RecoveryCase,
    token_hash,
    utcnow,
)
from ..states import CONSENT_TEXTS, Actor, State
from . import audit
from .errors import ActionRefused
from .findings import stored_encoding
from .moves import apply_event
from .retention import has_open_actions, strip_evidence
from .unit import load_case, record_event, transaction

ERASED_EVENT = "subject_erased"
ERASED_NAME = "erased"
# The date of birth an erased case keeps (the column is required): a day no applicant has.
ERASED_BIRTH_DATE = date(1900, 1, 1)
ERASED_MESSAGE = "[erased]"


def erased_email(case_id: int) -> str:
    """The pseudonym an erased case's email becomes (the .invalid domain never resolves)."""
    return f"erased-{case_id}@invalid"


class SubjectBusy(ActionRefused):
    """The person has an open case, or a recovery with steps still to run."""


def _normalise(email: str) -> str:
    return (email or "").strip().lower()


def _subject_case_ids(email: str) -> list[int]:
    return list(db.session.scalars(sa.select(RecoveryCase.id).where(
        RecoveryCase.email == email).order_by(RecoveryCase.id)))


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, date | datetime | time) else value


EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@dataclass
class SubjectExport:
    """Everything the desk holds about one person: a JSON-ready document and its files."""

    email: str
    document: dict
    # (relative path, bytes): the photos, named in the document's evidence entries.
    files: list[tuple[str, bytes]] = field(default_factory=list)


def _case_export(case: RecoveryCase, files: list[tuple[str, bytes]]) -> dict:
    # A screenshot sent with a reply names that message by its place in "messages".
    message_index = {m.id: index for index, m in enumerate(case.messages)}
    evidence = []
    for item in db.session.scalars(sa.select(Evidence).where(Evidence.case_id == case.id)
                                   .order_by(Evidence.id)
                                   .options(sa.orm.undefer(Evidence.sealed_data))):
        name = (f"case-{case.id}/attempt-{item.attempt}-{item.kind}."
                f"{EXTENSIONS.get(item.mime_type, 'bin')}")
        files.append((name, item.data))
        evidence.append({"kind": item.kind, "attempt": item.attempt,
                         "mime_type": item.mime_type, "width": item.width,
                         "height": item.height, "sha256": item.sha256,
                         "uploaded_at": _iso(item.created_at), "file": name,
                         **({"message_index": message_index[item.message_id]}
                            if item.message_id in message_index else {})})
    return {
        "id": case.id, "state": case.state, "resolution": case.resolution,
        "issue_type": case.issue_type, "priority": case.priority,
        "filed_at": _iso(case.created_at), "resolved_at": _iso(case.resolved_at),
        "evidence_purged_at": _iso(case.purged_at), "erased_at": _iso(case.erased_at),
        "submitted": {"email": case.email, "full_name": case.full_name,
                      "date_of_birth": _iso(case.date_of_birth),
                      "description": case.description, "client_ip": case.client_ip},
        "support_details": {"device": case.device, "app_version": case.app_version,
                            "began_on": _iso(case.began_on),
                            "began_time": _iso(case.began_time),
                            "tried_fixes": case.tried_fixes or [],
                            "tried_other": case.tried_other},
        "consent": {"at": _iso(case.consent_at), "version": case.consent_version,
                    "sha256": case.consent_sha256,
                    "text": CONSENT_TEXTS.get(case.consent_version or "")},
        "account_of_record_id": case.account_id,
        "evidence": evidence,
        "document_readings": [_reading(r) for r in case.readings],
        "selfie_readings": [_selfie(r) for r in case.selfie_readings],
        "checks": [{"check": c.check, "result": c.result, "reason_code": c.reason_code,
                    "score": c.score, "threshold": c.threshold, "engine": c.engine,
                    "engine_version": c.engine_version, "attempt": c.attempt,
                    "details": c.details, "at": _iso(c.created_at)} for c in case.checks],
        "messages": [{"from": m.author_type, "internal": m.internal, "text": m.body,
                      "at": _iso(m.created_at)} for m in case.messages],
        "timeline": [{"event": e.event, "actor": e.actor_type, "from_state": e.from_state,
                      "to_state": e.to_state, "reason": e.reason, "at": _iso(e.created_at)}
                     for e in case.events],
        "recovery_actions": [{"step": a.kind, "status": a.status, "due_at": _iso(a.due_at),
                              "done_at": _iso(a.done_at)} for a in case.recovery_actions],
    }


def _encoding(data: bytes | None) -> list[float] | None:
    """A stored face encoding as its numbers."""
    found = stored_encoding(data)
    return None if found is None else [float(x) for x in found]


def _reading(reading) -> dict:
    return {"attempt": reading.attempt, "mrz_found": reading.mrz_found,
            "mrz_format": reading.mrz_format, "document_type": reading.document_type,
            "issuing_country": reading.issuing_country,
            "document_number": reading.document_number, "surname": reading.surname,
            "given_names": reading.given_names, "nationality": reading.nationality,
            "date_of_birth": _iso(reading.date_of_birth), "sex": reading.sex,
            "expiry_date": _iso(reading.expiry_date), "mrz": reading.mrz,
            "portrait_face_encoding": _encoding(reading.portrait_encoding),
            "at": _iso(reading.created_at)}


def _selfie(reading) -> dict:
    return {"attempt": reading.attempt, "faces": reading.faces,
            "face_encoding": _encoding(reading.encoding),
            "document_distance": reading.document_distance,
            "reference_distance": reading.reference_distance,
            "at": _iso(reading.created_at)}


def _account_export(email: str) -> dict | None:
    account = db.session.scalar(sa.select(Account).where(Account.email == email))
    if account is None:
        return None
    activity = db.session.scalars(sa.select(AccountActivity).where(
        AccountActivity.account_id == account.id).order_by(AccountActivity.occurred_at))
    changes = db.session.scalars(sa.select(AccountChange).where(
        AccountChange.account_id == account.id).order_by(AccountChange.created_at))
    return {"id": account.id, "email": account.email, "full_name": account.full_name,
            "date_of_birth": _iso(account.date_of_birth),
            "two_factor_enabled": account.two_factor_enabled, "locked": account.locked,
            "frozen": account.frozen, "created_at": _iso(account.created_at),
            "reference_portrait_held": db.session.scalar(
                sa.select(Account.sealed_reference_portrait.is_not(None))
                .where(Account.id == account.id)),
            "activity": [{"kind": a.kind, "amount": str(a.amount), "asset": a.asset,
                          "at": _iso(a.occurred_at)} for a in activity],
            "changes": [{"kind": c.kind, "at": _iso(c.created_at)} for c in changes]}


def export_subject(email: str) -> SubjectExport:
    """Everything the desk holds about the person filing with ``email`` (reads only)."""
    email = _normalise(email)
    files: list[tuple[str, bytes]] = []
    try:
        cases = [_case_export(db.session.get(RecoveryCase, case_id), files)
                 for case_id in _subject_case_ids(email)]
        emails = [{"subject": m.subject, "text": m.body, "case_id": m.case_id,
                   "written_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)}
                  for m in db.session.scalars(sa.select(OutboxEmail).where(
                      sa.func.lower(OutboxEmail.to_address) == email).order_by(OutboxEmail.id))]
        document = {"subject": email, "exported_at": _iso(utcnow()), "cases": cases,
                    "emails": emails, "account_of_record": _account_export(email)}
    finally:
        db.session.rollback()  # read only: nothing is kept open
    with transaction():  # the export is on the audit trail: which cases, never the address
        for case in cases:
            audit.record("subject.exported", actor=Actor.SYSTEM, case_id=case["id"])
        if not cases:
            audit.record("subject.exported", actor=Actor.SYSTEM, detail={"cases": 0})
    return SubjectExport(email=email, document=document, files=files)


@dataclass
class ErasureReport:
    """What an erasure did."""

    email: str
    cases: list[int] = field(default_factory=list)
    withdrawn: list[int] = field(default_factory=list)
    photos: int = 0
    readings: int = 0
    messages: int = 0
    emails: int = 0


def erase_subject(email: str, *, force: bool = False) -> ErasureReport:
    """Erase the personal data of the person filing with ``email`` (see the module's text).

    SubjectBusy (nothing changed) while they have an open case or a recovery still to run,
    unless ``force``. One short transaction per case, then one for the emails; running it
    again finds nothing more.
    """
    email = _normalise(email)
    report = ErasureReport(email=email)
    case_ids = _subject_case_ids(email)
    if not force:
        open_cases = [case_id for case_id in case_ids
                      if db.session.get(RecoveryCase, case_id).state != State.RESOLVED]
        running = [case_id for case_id in case_ids
                   if case_id not in open_cases and has_open_actions(case_id)]
        db.session.rollback()
        if open_cases or running:
            parts = []
            if open_cases:
                parts.append(f"open case(s) {_ids(open_cases)}")
            if running:
                parts.append(f"approved case(s) {_ids(running)} with recovery steps still "
                             "to run")
            raise SubjectBusy(f"{email} has {' and '.join(parts)}. Close them first, or erase "
                              "anyway with --force (open cases are then withdrawn).")
    now = utcnow()
    for case_id in case_ids:
        with transaction():
            case = load_case(case_id)
            if case.state != State.RESOLVED:
                apply_event(case, "withdraw", {Actor.USER}, actor=Actor.USER, agent=None,
                            reason="The person asked for their personal data to be erased.")
                report.withdrawn.append(case.id)
            gone = strip_evidence(case)
            report.photos += gone["photos"]
            report.readings += gone["document_readings"] + gone["selfie_readings"]
            for message in case.messages:
                if message.body != ERASED_MESSAGE:
                    message.body = ERASED_MESSAGE
                    report.messages += 1
            case.email = erased_email(case.id)
            case.full_name = ERASED_NAME
            case.date_of_birth = ERASED_BIRTH_DATE
            case.description = ""
            case.client_ip = None
            case.challenge_code = None
            # The tracking link leads nowhere any more: no token has this hash.
            case.tracking_token_hash = token_hash(secrets.token_urlsafe(32))
            case.purged_at = case.purged_at or now
            case.erased_at = now
            db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.case_id == case.id))
            record_event(case, ERASED_EVENT, actor=Actor.SYSTEM,
                         reason="Personal data erased at the person's request")
            report.cases.append(case.id)
    with transaction():
        report.emails = db.session.execute(sa.delete(OutboxEmail).where(
            sa.func.lower(OutboxEmail.to_address) == email)).rowcount
        audit.record("subject.erased", actor=Actor.SYSTEM,
                     detail={"cases": len(report.cases), "emails": report.emails})
    return report


def _ids(case_ids: list[int]) -> str:
    return ", ".join(f"#{case_id}" for case_id in case_ids)
