"""Recording the automated checks of one evidence attempt, and moving the case on.

Each job reads its input in one short transaction and stores its findings in another,
which re-checks the case: an old attempt, or one already recorded, stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db
from verification.checks import CheckResult, Result, worst
from verification.documents import DocumentReport, PersonFacts, compromised_check
from verification.risk import Level
from verification.selfie import KnownFace, SelfieReport, known_face_check

from .. import rules
from ..models import DocumentReading, RecoveryCase, SelfieReading
from ..states import Actor, State
from .errors import StaleCase
from .moves import apply_event
from .policies import selfie_policy
from .risk import assess_risk, escalate_for_risk
from .unit import load_case, record_check, record_event, serialise_on, transaction


@dataclass(frozen=True)
class DocumentJob:
    """What the document check of one evidence attempt needs, read before the slow part."""

    case_id: int
    attempt: int
    front: bytes = field(repr=False)
    back: bytes | None = field(repr=False)
    exif_software: str | None
    account: PersonFacts | None
    typed: PersonFacts


def start_document_check(case_id: int, attempt: int) -> DocumentJob | None:
    """Move a new case into id_check and return the job's input; None when nothing is to do.

    Nothing is to do when the attempt is no longer the current one, the case is closed, or
    this attempt has already been read (a job that runs twice). The findings are facts about
    the attempt, so they are gathered whatever stage the case is in (a lead may be waiting for
    the new photos); only a case in id_check is moved by them.
    """
    try:
        with transaction():
            case = load_case(case_id)
            if (case.evidence_attempt != attempt or case.is_resolved
                    or case.current_reading() is not None):
                return None
            if case.state == State.SUBMITTED:
                apply_event(case, "start_review", {Actor.SYSTEM}, actor=Actor.SYSTEM, agent=None,
                            reason=None)
            evidence = {e.kind: e for e in case.current_evidence()}
            front, back = evidence.get("id_document"), evidence.get("id_document_back")
            if front is None:
                return None
            account = case.account
            return DocumentJob(
                case_id=case.id, attempt=attempt, front=front.data,
                back=back.data if back is not None else None,
                exif_software=front.exif_software,
                account=PersonFacts(account.full_name, account.date_of_birth)
                if account else None,
                typed=PersonFacts(case.full_name, case.date_of_birth),
            )
    except StaleCase:
        # Someone moved the case at the same moment; whoever runs next sees the new state.
        return None


def _other_accounts_with(case: RecoveryCase, country: str, number: str) -> list[int]:
    """Cases of other people (other emails) whose document had this number and country.

    On PostgreSQL a transaction-scoped advisory lock on the document serialises two jobs
    recording the same document at once, so the second one sees the first (SQLite already
    lets only one writer through at a time).
    """
    serialise_on(f"document:{country}:{number}")
    return list(db.session.scalars(
        sa.select(DocumentReading.case_id).join(RecoveryCase)
        .where(DocumentReading.issuing_country == country,
               DocumentReading.document_number == number,
               DocumentReading.case_id != case.id, RecoveryCase.email != case.email)
        .distinct().order_by(DocumentReading.case_id)
    ))


def store_findings(case: RecoveryCase, checks: list[CheckResult],
                   event: str) -> tuple[Result, list[str]]:
    """Add a job's findings to the check tree with one event; their outcome and flagged codes."""
    for found in checks:
        record_check(case, found, agent=None)
    outcome = worst(found.result for found in checks) or Result.CONSIDER
    flagged = sorted({f.reason_code for f in checks
                      if f.reason_code and f.result is not Result.CLEAR})
    record_event(case, event, actor=Actor.SYSTEM,
                 reason=f"{outcome.value}" + (f": {', '.join(flagged)}" if flagged else ""))
    return outcome, flagged


def follow_findings(case: RecoveryCase, stage: str, outcome: Result,
                    checks: list[CheckResult]) -> None:
    """Fire what a stage's findings call for at the case's state (states.FINDINGS_ROUTES)."""
    codes = rules.finding_codes(checks)
    route = rules.route_findings(stage, case.state, outcome, codes)
    if route is not None:
        apply_event(case, route.trigger, {Actor.SYSTEM}, actor=Actor.SYSTEM, agent=None,
                    reason=rules.route_reason(route, codes))


def record_document_check(job: DocumentJob, report: DocumentReport) -> str:
    """Store one attempt's document findings and move the case on; returns the outcome.

    Clear: on to the selfie check. Rejected: the user is asked for new photos with what to
    fix (escalated once the resubmissions are used up), unless a finding calls for a person
    first. Consider: stays for an agent. Findings are stored while the attempt is current,
    whatever the stage; the case is moved only from id_check (states.FINDINGS_ROUTES).
    Returns "stale" or "duplicate" (storing nothing) for an old attempt or one already
    recorded.
    """
    try:
        with transaction():
            case = load_case(job.case_id)
            if case.evidence_attempt != job.attempt or case.is_resolved:
                return "stale"
            if case.current_reading() is not None:
                return "duplicate"
            checks = list(report.checks)
            mrz = report.mrz
            if mrz is not None and mrz.valid_check_digits and mrz.document_number:
                others = _other_accounts_with(case, mrz.issuing_country, mrz.document_number)
                checks.append(compromised_check(mrz, others))
            outcome, _ = store_findings(case, checks, "document_checked")
            case.readings.append(_reading_row(job.attempt, report, outcome))
            follow_findings(case, "document", outcome, checks)
    except IntegrityError:
        # Another run of the same job stored this attempt first (the unique reading).
        return "duplicate"
    except StaleCase:
        return "stale"
    return outcome.value


def _reading_row(attempt: int, report: DocumentReport, outcome: Result) -> DocumentReading:
    mrz = report.mrz
    encoding = report.portrait.encoding
    return DocumentReading(
        attempt=attempt, mrz_found=mrz is not None, mrz_side=report.mrz_side,
        mrz_format=mrz.format if mrz else None,
        document_type=mrz.document_type if mrz else None,
        issuing_country=mrz.issuing_country if mrz else None,
        document_number=mrz.document_number if mrz else None,
        surname=mrz.surname[:100] if mrz else None,
        given_names=mrz.given_names[:100] if mrz else None,
        nationality=mrz.nationality if mrz else None,
        date_of_birth=mrz.date_of_birth if mrz else None, sex=mrz.sex if mrz else None,
        expiry_date=mrz.expiry_date if mrz else None,
        valid_check_digits=mrz.valid_check_digits if mrz else None,
        mrz=mrz.as_dict() if mrz else {}, portrait_faces=report.portrait.faces,
        portrait_encoding=encoding.astype("<f8").tobytes() if encoding is not None else None,
        outcome=outcome.value, timings_ms={k: round(v, 1) for k, v in report.timings_ms.items()},
    )


def stored_encoding(data: bytes | None) -> np.ndarray | None:
    return np.frombuffer(data, dtype="<f8") if data else None


@dataclass(frozen=True)
class SelfieJob:
    """What the selfie check of one evidence attempt needs, read before the slow part."""

    case_id: int
    attempt: int
    selfie: bytes = field(repr=False)
    document: np.ndarray | None = field(repr=False)
    reference: bytes | None = field(repr=False)
    challenge_code: str | None
    # The ID photo whose portrait ``document`` encodes: its steady encoding is worked out
    # from it when a match distance lies near the threshold.
    document_photo: bytes | None = field(default=None, repr=False)


def start_selfie_check(case_id: int, attempt: int) -> SelfieJob | None:
    """The selfie job's input; None when nothing is to do.

    Nothing is to do for an old attempt, a closed case, an attempt already read, or one whose
    document has not been read yet (the selfie is compared with the document's portrait).
    """
    with transaction():
        case = load_case(case_id)
        if (case.evidence_attempt != attempt or case.is_resolved
                or case.current_selfie_reading() is not None):
            return None
        reading = case.current_reading()
        selfie = next((e for e in case.current_evidence() if e.kind == "selfie"), None)
        # No selfie is filed without consent (submit_request refuses, and consent_at is
        # NOT NULL); a case without it is not processed all the same.
        if reading is None or selfie is None or case.consent_at is None:
            return None
        account = case.account
        document = stored_encoding(reading.portrait_encoding)
        front = next((e for e in case.current_evidence() if e.kind == "id_document"), None)
        return SelfieJob(case_id=case.id, attempt=attempt, selfie=selfie.data,
                         document=document,
                         reference=account.reference_portrait if account else None,
                         challenge_code=case.challenge_code,
                         document_photo=front.data if front is not None and document is not None
                         else None)


def _known_faces(case: RecoveryCase) -> list[KnownFace]:
    """Faces filed in other people's cases (other emails): their selfies and ID portraits.

    On PostgreSQL a transaction-scoped advisory lock serialises jobs recording faces, so two
    cases filed at once with the same face see each other.
    """
    serialise_on("known-faces")
    found = []
    for model, column in ((SelfieReading, SelfieReading.encoding),
                          (DocumentReading, DocumentReading.portrait_encoding)):
        stored, key_id = getattr(model, column.stored), getattr(model, column.key_id)
        rows = db.session.execute(
            sa.select(model.case_id, model.attempt, stored.label("value"),
                      key_id.label("key_id")).join(RecoveryCase)
            .where(model.case_id != case.id, RecoveryCase.email != case.email,
                   stored.is_not(None)))
        found.extend(
            KnownFace(row.case_id, stored_encoding(column.open(
                model.__tablename__, column.binding(row), row.value, row.key_id)))
            for row in rows)
    return found


def record_selfie_check(job: SelfieJob, report: SelfieReport,
                        extra: list[CheckResult] = ()) -> str:
    """Store one attempt's selfie findings, assess the risk and move the case; the outcome.

    High risk escalates the case to security. Otherwise a selfie the person can retake
    (no face, blurry, their ID instead of their face) asks them for new photos when the case
    is at the selfie stage; anything else (a mismatch, a known face) waits for an agent.
    Returns "stale" or "duplicate" (storing nothing) for an old attempt or one already done.
    """
    policy = selfie_policy()
    try:
        with transaction():
            case = load_case(job.case_id)
            if case.evidence_attempt != job.attempt or case.is_resolved:
                return "stale"
            if case.current_selfie_reading() is not None:
                return "duplicate"
            checks = [*report.checks, *extra]
            if report.encoding is not None:
                checks.append(known_face_check(report.encoding, _known_faces(case),
                                               policy.match_threshold))
            outcome, _ = store_findings(case, checks, "selfie_checked")
            encoding = report.encoding
            case.selfie_readings.append(SelfieReading(
                attempt=job.attempt, faces=report.faces,
                face_box=list(report.face.box) if report.face else None,
                encoding=encoding.astype("<f8").tobytes() if encoding is not None else None,
                document_distance=report.document_distance,
                reference_distance=report.reference_distance,
                threshold=policy.match_threshold,
                challenge_code_read=next((c.result == Result.CLEAR for c in checks
                                          if c.check == "selfie.challenge.code"), None),
                outcome=outcome.value,
                timings_ms={k: round(v, 1) for k, v in report.timings_ms.items()}))
            risk = assess_risk(case)
            if risk.level is Level.HIGH:
                escalate_for_risk(case, risk)
            else:
                follow_findings(case, "selfie", outcome, checks)
    except IntegrityError:
        return "duplicate"
    except StaleCase:
        return "stale"
    return outcome.value
