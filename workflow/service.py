"""The service layer: the only code that commits. Each public function is one transaction.

Views parse input, call one function here and translate the named errors below into
responses. A function either commits everything it changed (the case, its evidence, its
audit event) or rolls back and re-raises.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from PIL import Image
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

import notify
from extensions import db
from verification import challenge as challenges
from verification.checks import REASONS, CheckResult, Result, worst
from verification.documents import (
    DocumentPolicy,
    DocumentReport,
    PersonFacts,
    compromised_check,
    find_portrait,
    portrait_check,
)
from verification.faces import FaceEngineUnavailable
from verification.images import ImageRejected, NormalizedImage, PoorQuality, normalize_upload
from verification.quality import QualityThresholds, assess_document_photo
from verification.risk import Level, RiskAssessment, RiskFacts, RiskPolicy, assess
from verification.selfie import (
    KnownFace,
    SelfiePolicy,
    SelfieReport,
    gate_selfie,
    known_face_check,
)

from . import machine, rules, sla
from .models import (
    MAX_ID,
    Account,
    AccountChange,
    Agent,
    CaseEvent,
    CaseSla,
    DocumentReading,
    Evidence,
    IdempotencyKey,
    Message,
    RecoveryCase,
    SelfieReading,
    VerificationCheck,
    token_hash,
    utcnow,
)
from .states import HUMAN_REVIEWS, ISSUE_TYPES, LEADS, Actor, State, Transition

EVIDENCE_KINDS = ("id_document", "id_document_back", "selfie")
REQUIRED_EVIDENCE = ("id_document", "selfie")
ROLES = ("agent", "security_lead", "admin")

_hasher = PasswordHasher()


# --- errors -------------------------------------------------------------------------------

class CaseNotFound(Exception):
    """No case with that id or tracking token."""


class StaleCase(Exception):
    """The case changed since the caller loaded it."""

    def __init__(self, current_version: int | None = None):
        self.current_version = current_version
        super().__init__("This case changed while you were looking at it. Reload it and try again.")


class EvidenceRejected(Exception):
    """An uploaded file was refused; ``field`` names the form field."""

    def __init__(self, field: str, error: ImageRejected):
        self.field = field
        self.error = error
        super().__init__(error.message)


class MissingEvidence(Exception):
    """A required photo was not uploaded."""

    def __init__(self, field: str):
        self.field = field
        super().__init__(f"Please attach the {field.replace('_', ' ')} photo.")


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different request."""


class ActionRefused(Exception):
    """The request is understood but refused in the case's current situation."""


class AgentExists(Exception):
    """An agent with that email already exists."""


class AgentNotFound(Exception):
    """No agent with that email."""


class ChallengeRefused(Exception):
    """The challenge code of a submission is missing, expired, forged or already used."""

    def __init__(self, status: int, code: str, message: str):
        self.status, self.code = status, code
        super().__init__(message)


TransitionNotAllowed = machine.TransitionNotAllowed
ReasonRequired = machine.ReasonRequired
CaseClaimed = machine.CaseClaimed


# --- helpers ------------------------------------------------------------------------------

@contextmanager
def _transaction() -> Iterator[None]:
    """Commit on success; on any error roll back everything and re-raise."""
    try:
        yield
        db.session.commit()
    except StaleDataError as err:
        db.session.rollback()
        raise StaleCase() from err
    except BaseException:
        db.session.rollback()
        raise


def _load_case(case_id: int, *, lock: bool = True) -> RecoveryCase:
    """Load a case, locking its row on databases that support it (PostgreSQL)."""
    query = sa.select(RecoveryCase).where(RecoveryCase.id == case_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    case = db.session.scalars(query).first()
    if case is None:
        raise CaseNotFound(f"There is no case {case_id}.")
    return case


def _case_id_for_token(token: str) -> int:
    case_id = db.session.scalar(
        sa.select(RecoveryCase.id).where(RecoveryCase.tracking_token_hash == token_hash(token))
    )
    if case_id is None:
        raise CaseNotFound("This tracking link is not valid.")
    return case_id


def _record(case: RecoveryCase, event: str, *, actor: Actor, agent: Agent | None = None,
            from_state: str | None = None, to_state: str | None = None,
            reason: str | None = None) -> CaseEvent:
    entry = CaseEvent(event=event, actor_type=actor.value,
                      actor_agent_id=agent.id if agent else None, from_state=from_state,
                      to_state=to_state, reason=reason or None, created_at=utcnow())
    case.events.append(entry)
    return entry


def intake_limits() -> dict:
    """The configured bounds of upload intake, as normalize_upload's keyword arguments."""
    config = current_app.config
    return {"max_bytes": config["MAX_UPLOAD_BYTES"], "max_pixels": config["MAX_IMAGE_PIXELS"],
            "max_decoded_bytes": config["MAX_DECODED_BYTES"],
            "working_pixels": config["WORKING_PIXELS"],
            "jpeg_quality": config["STORED_JPEG_QUALITY"]}


def _normalise_all(files: dict[str, bytes | None]) -> dict[str, NormalizedImage]:
    """Check and normalise every uploaded photo before anything touches the database."""
    images = {}
    for kind in EVIDENCE_KINDS:
        data = files.get(kind)
        if data is None:
            if kind in REQUIRED_EVIDENCE:
                raise MissingEvidence(kind)
            continue
        try:
            images[kind] = normalize_upload(data, **intake_limits())
        except ImageRejected as err:
            raise EvidenceRejected(kind, err) from err
    return images


def _evidence_rows(images: dict[str, NormalizedImage], attempt: int) -> list[Evidence]:
    return [
        Evidence(kind=kind, attempt=attempt, mime_type=img.mime_type, width=img.width,
                 height=img.height, sha256=img.sha256, original_sha256=img.original_sha256,
                 original_bytes=img.original_bytes, exif_software=img.exif_software, data=img.data)
        for kind, img in images.items()
    ]


# --- intake -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Submission:
    """A recovery request as typed by the user (already validated for shape)."""

    email: str
    full_name: str
    date_of_birth: date
    issue_type: str
    description: str
    consent: bool
    client_ip: str | None = None
    # The signed token of the challenge code the form (or POST /api/v1/challenges) issued.
    challenge_token: str | None = None

    def fingerprint(self, images: dict[str, NormalizedImage]) -> str:
        """A digest of the request's content, to recognise a retry of the same request."""
        content = {
            "email": self.email.strip().lower(), "full_name": self.full_name.strip(),
            "date_of_birth": self.date_of_birth.isoformat(), "issue_type": self.issue_type,
            "description": self.description,
            "files": {k: v.original_sha256 for k, v in images.items()},
            "challenge": self.challenge_token,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class SubmitResult:
    """What the submitter gets back: the case and the only copy of its tracking token."""

    case: RecoveryCase
    tracking_token: str
    replayed: bool = False


def _tracking_token(idempotency_key: str | None, fingerprint: str) -> str:
    """A fresh random token, or for an idempotent request one derived from the server secret.

    Deriving it lets a retry receive the same token although only its hash is stored; it
    needs the request's exact content as well as the key, so a key alone reveals nothing.
    """
    if idempotency_key is None:
        return secrets.token_urlsafe(32)
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, f"idempotency:{idempotency_key}:{fingerprint}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def submit_request(sub: Submission, files: dict[str, bytes | None],
                   idempotency_key: str | None = None, *, enqueue: bool = True) -> SubmitResult:
    """File a recovery request: the case, its evidence and its first event in one transaction.

    After the commit the document check is handed to the job executor (unless ``enqueue`` is
    False: the caller runs it itself).
    """
    if sub.issue_type not in ISSUE_TYPES:
        raise ValueError(f"unknown issue type {sub.issue_type!r}")
    if not sub.consent:
        raise ValueError("consent is required")
    challenge = _challenge_for(sub)
    images = _normalise_all(files)
    _quality_gate(images, challenge=challenge is not None)
    fingerprint = sub.fingerprint(images)
    token = _tracking_token(idempotency_key, fingerprint)

    if idempotency_key is not None:
        replay = _replay(idempotency_key, fingerprint, token)
        if replay is not None:
            return replay

    email = sub.email.strip().lower()
    try:
        with _transaction():
            account = db.session.scalar(sa.select(Account).where(Account.email == email))
            case = RecoveryCase(
                created_at=utcnow(),
                priority=current_app.config["PRIORITY_BY_ISSUE_TYPE"].get(sub.issue_type,
                                                                          "normal"),
                account=account, email=email, full_name=sub.full_name.strip(),
                date_of_birth=sub.date_of_birth, issue_type=sub.issue_type,
                description=sub.description.strip(), consent_at=utcnow(), client_ip=sub.client_ip,
                state=State.SUBMITTED.value, tracking_token_hash=token_hash(token),
                challenge_code=challenge.code if challenge else None,
                challenge_nonce=challenge.nonce if challenge else None,
            )
            case.evidence.extend(_evidence_rows(images, attempt=1))
            _record(case, "submitted", actor=Actor.USER, to_state=State.SUBMITTED.value)
            db.session.add(case)
            if idempotency_key is not None:
                db.session.flush()
                db.session.add(IdempotencyKey(key=idempotency_key, fingerprint=fingerprint,
                                              case_id=case.id))
    except IntegrityError:
        # Another request with the same Idempotency-Key won the race; answer as it did.
        if idempotency_key is not None:
            replay = _replay(idempotency_key, fingerprint, token)
            if replay is not None:
                return replay
        if challenge is not None and db.session.scalar(sa.select(RecoveryCase.id).where(
                RecoveryCase.challenge_nonce == challenge.nonce)) is not None:
            raise ChallengeRefused(
                422, "challenge_used", "This verification code was already used for another "
                "request. Reload the form to get a new code.") from None
        raise
    if enqueue:
        _enqueue_document_check(case.id, case.evidence_attempt)
    return SubmitResult(case=case, tracking_token=token)


def challenge_required(issue_type: str) -> bool:
    """Whether requests of this issue type need a challenge selfie (configuration)."""
    return issue_type in current_app.config["CHALLENGE_ISSUE_TYPES"]


def issue_challenge() -> challenges.IssuedChallenge:
    """A fresh one-time code for a challenge selfie (nothing is stored until a request)."""
    config = current_app.config
    return challenges.issue(config["SECRET_KEY"], config["CHALLENGE_TTL_SECONDS"])


def _challenge_for(sub: Submission) -> challenges.Challenge | None:
    """The verified challenge of a submission whose issue type needs one."""
    if not challenge_required(sub.issue_type):
        return None
    if not sub.challenge_token:
        raise ChallengeRefused(
            400, "challenge_required", "This kind of request needs a selfie holding your ID "
            "and the verification code shown on the form. Get a code and try again.")
    config = current_app.config
    try:
        return challenges.verify(sub.challenge_token, config["SECRET_KEY"],
                                 config["CHALLENGE_TTL_SECONDS"])
    except challenges.ChallengeExpired as err:
        minutes = config["CHALLENGE_TTL_SECONDS"] // 60
        raise ChallengeRefused(
            422, "challenge_expired", f"The verification code is more than {minutes} minutes "
            "old. Reload the form to get a new code, write it down and take the selfie "
            "again.") from err
    except challenges.ChallengeInvalid as err:
        raise ChallengeRefused(
            400, "challenge_invalid", "The verification code is not valid. Reload the form "
            "to get a new one.") from err


def _replay(key: str, fingerprint: str, token: str) -> SubmitResult | None:
    """The earlier answer to this key; keys live as long as their case, so retries are safe."""
    stored = db.session.get(IdempotencyKey, key)
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used for a different request. "
            "Use a new key for a new request."
        )
    case = db.session.get(RecoveryCase, stored.case_id)
    if case.tracking_token_hash != token_hash(token):
        # The server secret changed since the first request: the token cannot be re-derived.
        raise IdempotencyConflict(
            "This request was already received, but its answer can no longer be repeated. "
            "Use the tracking link from the first answer, or a new Idempotency-Key."
        )
    return SubmitResult(case=case, tracking_token=token, replayed=True)


# --- workflow -----------------------------------------------------------------------------

def workflow_policy() -> rules.Policy:
    """The workflow rules' limits from configuration."""
    return rules.Policy(max_resubmissions=current_app.config["MAX_RESUBMISSIONS"])


def allowed_events(case: RecoveryCase, actors, agent_id: int | None = None) -> list[Transition]:
    """The transitions ``actors`` (staff: agent ``agent_id``) may fire on ``case`` now."""
    return machine.allowed_rows(case, actors, agent_id, policy=workflow_policy())


def _automated(checks):
    """The checks the machines recorded (a person's review does not override itself)."""
    return rules.automated(checks)


def challenge_confirmed(case: RecoveryCase) -> bool:
    """Whether an agent has confirmed the challenge code on the current selfie."""
    return rules.challenge_confirmed(case)


def reason_needed(case: RecoveryCase, row: Transition) -> bool:
    """Whether ``row`` needs a written reason from staff for this case now."""
    return rules.reason_needed(case, row)


def _apply(case: RecoveryCase, trigger: str, actors, *, actor: Actor, agent: Agent | None,
           reason: str | None) -> Transition:
    """Fire ``trigger`` on a loaded, locked case and record everything that goes with it."""
    agent_id = agent.id if agent else None
    # A non-holder hears that the case is claimed, whatever they asked for.
    machine.check_claim(case, actors, agent_id)
    from_state = case.state
    # The machine applies every rule, and may fire another event (states.REROUTES).
    fired = machine.fire(case, trigger, actors, reason, agent_id=agent_id,
                         policy=workflow_policy())
    row, reason, actor = fired.row, fired.reason, fired.actor or actor
    if "asks_user" in row.tags:
        case.awaiting_from = from_state
        case.resubmission_requested = "resubmission" in row.tags
    elif "escalates" in row.tags:
        case.escalated_from = from_state
    # The request for new photos stays open while a lead reviews a waiting case, so that the
    # case can return to waiting exactly as it was; any other way out of waiting closes it.
    if from_state == State.AWAITING_USER and "escalates" not in row.tags:
        case.resubmission_requested = False
    if row.resolution is not None:
        case.resolution = row.resolution.value
        case.resolved_at = utcnow()
    if row.user_visible_reason and reason:
        case.messages.append(Message(author_type=actor.value if agent else "system",
                                     agent_id=agent.id if agent else None, body=reason.strip()))
    review = HUMAN_REVIEWS.get((fired.trigger, State(from_state)))
    if review is not None and agent is not None:
        code = "agent_overrode" if fired.overriding else review[2]
        _record_check(case, CheckResult(check=review[0], result=review[1], reason_code=code),
                      agent=agent)
    _record(case, fired.trigger, actor=actor, agent=agent, from_state=from_state,
            to_state=row.dest.value, reason=reason)
    return row


def _record_check(case: RecoveryCase, found: CheckResult, *, agent: Agent | None) -> None:
    """Append one result to the case's check tree for its current evidence attempt."""
    case.checks.append(VerificationCheck(
        attempt=case.evidence_attempt, check=found.check, result=found.result.value,
        reason_code=found.reason_code, score=found.score, threshold=found.threshold,
        engine=found.engine, engine_version=found.engine_version,
        actor_agent_id=agent.id if agent else None, details=dict(found.details),
    ))


def _check_version(case: RecoveryCase, expected_version: int | None) -> None:
    if expected_version is not None and case.version != expected_version:
        raise StaleCase(case.version)


def fire_event(case_id: int, trigger: str, *, agent: Agent | None, expected_version: int | None,
               reason: str | None = None) -> RecoveryCase:
    """An agent (or, without one, the system) moves a case; stale versions are refused."""
    actors = agent.actors if agent else {Actor.SYSTEM}
    actor = Actor(agent.role) if agent else Actor.SYSTEM
    with _transaction():
        case = _load_case(case_id)
        _check_version(case, expected_version)
        _apply(case, trigger, actors, actor=actor, agent=agent, reason=reason)
    return case


def may_act(case: RecoveryCase, agent: Agent) -> bool:
    """Whether the case's claim lets ``agent`` act on it (its assignee, or nobody holds it)."""
    return machine.claim_allows(case, agent.actors, agent.id)


def claim_case(case_id: int, agent: Agent, expected_version: int | None) -> RecoveryCase:
    """Take an unassigned case (or one already yours)."""
    with _transaction():
        case = _load_case(case_id)
        _check_version(case, expected_version)
        machine.check_claim(case, agent.actors, agent.id)
        if case.assignee_id != agent.id:
            case.assignee_id = agent.id
            _record(case, "claimed", actor=Actor(agent.role), agent=agent)
    return case


def take_over_case(case_id: int, agent: Agent, expected_version: int | None) -> RecoveryCase:
    """A security lead or admin takes a case from whoever holds it; recorded with their name.

    A case nobody holds is simply claimed; one already theirs is left as it is.
    """
    if Actor(agent.role) not in LEADS:
        raise ActionRefused("Only security leads and admins can take over a case.")
    with _transaction():
        case = _load_case(case_id)
        _check_version(case, expected_version)
        previous = case.assignee
        if previous is None:
            case.assignee_id = agent.id
            _record(case, "claimed", actor=Actor(agent.role), agent=agent)
        elif previous.id != agent.id:
            case.assignee_id = agent.id
            _record(case, "taken_over", actor=Actor(agent.role), agent=agent,
                    reason=f"from {previous.name} (agent {previous.id})")
    return case


def assign_case(case_id: int, agent: Agent, assignee_id: int | None,
                expected_version: int | None) -> RecoveryCase:
    """Give a case to an agent, or release it (``assignee_id=None``).

    Agents may release their own cases; security leads and admins may assign anyone.
    """
    with _transaction():
        case = _load_case(case_id)
        _check_version(case, expected_version)
        lead = Actor(agent.role) in (Actor.SECURITY_LEAD, Actor.ADMIN)
        releasing_own = assignee_id is None and case.assignee_id == agent.id
        if not (lead or releasing_own):
            raise ActionRefused("Only security leads and admins can assign cases to others.")
        assignee = None
        if assignee_id is not None:
            assignee = db.session.get(Agent, assignee_id) if 1 <= assignee_id <= MAX_ID else None
            if assignee is None or not assignee.active:
                raise ActionRefused("That agent does not exist or is deactivated.")
        if case.assignee_id != assignee_id:
            previous = case.assignee
            note = f"to {assignee.name}" if assignee else "released"
            if assignee is not None and previous is not None:
                note += f", from {previous.name}"
            case.assignee_id = assignee_id
            _record(case, "assigned" if assignee else "released", actor=Actor(agent.role),
                    agent=agent, reason=note)
    return case


def add_staff_message(case_id: int, agent: Agent, body: str, *, internal: bool) -> Message:
    """An agent writes to the user, or leaves an internal note for colleagues."""
    body = (body or "").strip()
    if not body:
        raise ActionRefused("The message is empty.")
    with _transaction():
        case = _load_case(case_id, lock=False)
        if case.is_resolved and not internal:
            raise ActionRefused("This case is closed; the user can no longer be written to here.")
        if not internal:  # notes inform whoever holds the case; writing to the user is acting
            machine.check_claim(case, agent.actors, agent.id)
        message = Message(author_type=agent.role, agent_id=agent.id, body=body, internal=internal)
        case.messages.append(message)
    return message


# --- the user's side ----------------------------------------------------------------------

def case_for_token(token: str) -> RecoveryCase:
    """The case a tracking token belongs to."""
    return db.session.get(RecoveryCase, _case_id_for_token(token))


def user_reply(token: str, body: str) -> RecoveryCase:
    """The user answers; a case waiting for an answer goes back to the stage it left."""
    body = (body or "").strip()
    if not body:
        raise ActionRefused("Your message is empty.")
    with _transaction():
        case = _load_case(_case_id_for_token(token))
        if case.is_resolved:
            raise ActionRefused("This request is closed. Please file a new request if you still "
                                "need help.")
        case.messages.append(Message(author_type=Actor.USER.value, body=body))
        # A case waiting for new photos keeps waiting: a reply alone does not answer that.
        if case.state == State.AWAITING_USER and not case.resubmission_requested:
            _apply(case, "user_replied", {Actor.USER}, actor=Actor.USER, agent=None, reason=None)
    return case


def user_resubmit(token: str, files: dict[str, bytes | None]) -> RecoveryCase:
    """The user sends new photos after being asked to; the case returns to the document check."""
    with _transaction():
        challenge = db.session.scalar(sa.select(RecoveryCase.challenge_code).where(
            RecoveryCase.id == _case_id_for_token(token)))
    images = _normalise_all(files)
    _quality_gate(images, challenge=challenge is not None)
    with _transaction():
        case = _load_case(_case_id_for_token(token))
        if not (case.state == State.AWAITING_USER and case.resubmission_requested):
            raise ActionRefused("We have not asked for new photos on this request.")
        case.evidence_attempt += 1
        case.resubmissions += 1
        case.evidence.extend(_evidence_rows(images, attempt=case.evidence_attempt))
        _apply(case, "user_resubmitted", {Actor.USER}, actor=Actor.USER, agent=None,
               reason=f"attempt {case.evidence_attempt}")
    _enqueue_document_check(case.id, case.evidence_attempt)
    return case


def user_withdraw(token: str) -> RecoveryCase:
    """The user withdraws their request."""
    with _transaction():
        case = _load_case(_case_id_for_token(token))
        _apply(case, "withdraw", {Actor.USER}, actor=Actor.USER, agent=None, reason=None)
    return case


def user_actions(case: RecoveryCase) -> list[str]:
    """What the user can do on their status page now."""
    if case.is_resolved:
        return []
    actions = ["reply", "withdraw"]
    if case.state == State.AWAITING_USER and case.resubmission_requested:
        actions.insert(1, "resubmit")
    return actions


# --- automated document checks ------------------------------------------------------------

# The tables the scheduled work reads and writes; all of them exist once `db upgrade` ran.
SCHEDULED_TABLES = ("recovery_case", "case_sla", "outbox_email")


def schema_ready() -> bool:
    """Whether the database has the tables the scheduled checks use."""
    inspector = sa.inspect(db.engine)
    return all(inspector.has_table(name) for name in SCHEDULED_TABLES)


def document_policy() -> DocumentPolicy:
    """The document stage's policy from configuration."""
    config = current_app.config
    return DocumentPolicy(
        accepted_types=config["ACCEPTED_DOCUMENT_TYPES"],
        name_clear=config["NAME_MATCH_CLEAR"], name_consider=config["NAME_MATCH_CONSIDER"],
        quality=QualityThresholds.from_mapping(config["QUALITY_THRESHOLDS"]),
    )


def open_image(data: bytes) -> Image.Image:
    """A stored (already normalised) photo as an RGB image."""
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


def _quality_gate(images: dict[str, NormalizedImage], *, challenge: bool = False) -> None:
    """Refuse an ID photo or selfie that cannot be checked, with what to fix, before any case.

    ``challenge``: the selfie is a challenge selfie, which may show the held ID as well.
    """
    if not current_app.config["QUALITY_GATE"]:
        return
    thresholds = document_policy().quality
    for kind in ("id_document", "id_document_back"):
        if kind not in images:
            continue
        photo = open_image(images[kind].data)
        failures = list(assess_document_photo(photo, thresholds).failures)
        if kind == "id_document" and not failures:
            # The back of a card has no portrait; the front (or a passport page) must.
            found = _at_the_gate(_portrait_at_the_gate, photo)
            if found is not None and found.result is Result.REJECTED:
                failures.append(found)
        photo = None  # freed before the next photo is decoded
        if failures:
            _refuse(kind, failures)
    if "selfie" in images:
        def document() -> np.ndarray | None:
            return find_portrait(open_image(images["id_document"].data)).encoding

        found = _at_the_gate(gate_selfie, open_image(images["selfie"].data),
                             challenge=challenge, policy=selfie_policy(),
                             document=document if "id_document" in images else None)
        if found is not None and found.result is Result.REJECTED:
            _refuse("selfie", [found])


def _portrait_at_the_gate(photo: Image.Image) -> CheckResult:
    return portrait_check(find_portrait(photo, encode=False))


def _at_the_gate(check, *args, **kwargs) -> CheckResult | None:
    """Run a face check of the upload gate; None when the face engine is unavailable.

    The job records the face checks (and the failure) later; a broken face engine must not
    turn every submission away.
    """
    try:
        return check(*args, **kwargs)
    except FaceEngineUnavailable:
        current_app.logger.exception("intake gate: face engine unavailable")
        return None


def _refuse(kind: str, failures: list[CheckResult]) -> None:
    """Raise the 422 for ``kind`` with the reasons found, most actionable first."""
    codes = tuple(dict.fromkeys(f.reason_code for f in failures))
    message = " ".join(REASONS[code].user_text for code in codes[:2])
    raise EvidenceRejected(kind, PoorQuality(codes[0], message, codes))


def _enqueue_document_check(case_id: int, attempt: int) -> None:
    """Hand the document check of ``attempt`` to the job executor (after the commit)."""
    from verification import jobs  # the job module calls back into this one

    jobs.enqueue_document_check(case_id, attempt)


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
        with _transaction():
            case = _load_case(case_id)
            if (case.evidence_attempt != attempt or case.is_resolved
                    or case.current_reading() is not None):
                return None
            if case.state == State.SUBMITTED:
                _apply(case, "start_review", {Actor.SYSTEM}, actor=Actor.SYSTEM, agent=None,
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


def _serialise_on(key: str) -> None:
    """On PostgreSQL, hold a transaction-scoped advisory lock on ``key`` until the commit.

    SQLite already lets one writer through at a time.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(
            sa.func.hashtextextended(key, 0))))


def _other_accounts_with(case: RecoveryCase, country: str, number: str) -> list[int]:
    """Cases of other people (other emails) whose document had this number and country.

    On PostgreSQL a transaction-scoped advisory lock on the document serialises two jobs
    recording the same document at once, so the second one sees the first (SQLite already
    lets only one writer through at a time).
    """
    _serialise_on(f"document:{country}:{number}")
    return list(db.session.scalars(
        sa.select(DocumentReading.case_id).join(RecoveryCase)
        .where(DocumentReading.issuing_country == country,
               DocumentReading.document_number == number,
               DocumentReading.case_id != case.id, RecoveryCase.email != case.email)
        .distinct().order_by(DocumentReading.case_id)
    ))


def _store_findings(case: RecoveryCase, checks: list[CheckResult],
                    event: str) -> tuple[Result, list[str]]:
    """Add a job's findings to the check tree with one event; their outcome and flagged codes."""
    for found in checks:
        _record_check(case, found, agent=None)
    outcome = worst(found.result for found in checks) or Result.CONSIDER
    flagged = sorted({f.reason_code for f in checks
                      if f.reason_code and f.result is not Result.CLEAR})
    _record(case, event, actor=Actor.SYSTEM,
            reason=f"{outcome.value}" + (f": {', '.join(flagged)}" if flagged else ""))
    return outcome, flagged


def _follow_findings(case: RecoveryCase, stage: str, outcome: Result,
                     checks: list[CheckResult]) -> None:
    """Fire what a stage's findings call for at the case's state (states.FINDINGS_ROUTES)."""
    codes = rules.finding_codes(checks)
    route = rules.route_findings(stage, case.state, outcome, codes)
    if route is not None:
        _apply(case, route.trigger, {Actor.SYSTEM}, actor=Actor.SYSTEM, agent=None,
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
        with _transaction():
            case = _load_case(job.case_id)
            if case.evidence_attempt != job.attempt or case.is_resolved:
                return "stale"
            if case.current_reading() is not None:
                return "duplicate"
            checks = list(report.checks)
            mrz = report.mrz
            if mrz is not None and mrz.valid_check_digits and mrz.document_number:
                others = _other_accounts_with(case, mrz.issuing_country, mrz.document_number)
                checks.append(compromised_check(mrz, others))
            outcome, _ = _store_findings(case, checks, "document_checked")
            case.readings.append(_reading_row(job.attempt, report, outcome))
            _follow_findings(case, "document", outcome, checks)
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


# --- automated selfie checks and risk -----------------------------------------------------

def selfie_policy() -> SelfiePolicy:
    """The selfie stage's policy from configuration."""
    config = current_app.config
    return SelfiePolicy.from_mapping({"match_threshold": config["FACE_MATCH_THRESHOLD"],
                                      **config["SELFIE_THRESHOLDS"]})


def risk_policy() -> RiskPolicy:
    """The risk assessment's limits from configuration."""
    return RiskPolicy.from_mapping(current_app.config["RISK_THRESHOLDS"])


def _encoding(data: bytes | None) -> np.ndarray | None:
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


def start_selfie_check(case_id: int, attempt: int) -> SelfieJob | None:
    """The selfie job's input; None when nothing is to do.

    Nothing is to do for an old attempt, a closed case, an attempt already read, or one whose
    document has not been read yet (the selfie is compared with the document's portrait).
    """
    with _transaction():
        case = _load_case(case_id)
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
        return SelfieJob(case_id=case.id, attempt=attempt, selfie=selfie.data,
                         document=_encoding(reading.portrait_encoding),
                         reference=account.reference_portrait if account else None,
                         challenge_code=case.challenge_code)


def _known_faces(case: RecoveryCase) -> list[KnownFace]:
    """Faces filed in other people's cases (other emails): their selfies and ID portraits.

    On PostgreSQL a transaction-scoped advisory lock serialises jobs recording faces, so two
    cases filed at once with the same face see each other.
    """
    _serialise_on("known-faces")
    found = []
    for model, column in ((SelfieReading, SelfieReading.encoding),
                          (DocumentReading, DocumentReading.portrait_encoding)):
        rows = db.session.execute(
            sa.select(model.case_id, column).join(RecoveryCase)
            .where(model.case_id != case.id, RecoveryCase.email != case.email,
                   column.is_not(None)))
        found.extend(KnownFace(case_id, _encoding(data)) for case_id, data in rows)
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
        with _transaction():
            case = _load_case(job.case_id)
            if case.evidence_attempt != job.attempt or case.is_resolved:
                return "stale"
            if case.current_selfie_reading() is not None:
                return "duplicate"
            checks = [*report.checks, *extra]
            if report.encoding is not None:
                checks.append(known_face_check(report.encoding, _known_faces(case),
                                               policy.match_threshold))
            outcome, _ = _store_findings(case, checks, "selfie_checked")
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
            risk = _assess_risk(case)
            if risk.level is Level.HIGH:
                _escalate_for_risk(case, risk)
            else:
                _follow_findings(case, "selfie", outcome, checks)
    except IntegrityError:
        return "duplicate"
    except StaleCase:
        return "stale"
    return outcome.value


def _risk_facts(case: RecoveryCase) -> RiskFacts:
    policy = risk_policy()
    since = case.created_at - timedelta(hours=24)
    window = (RecoveryCase.created_at > since, RecoveryCase.created_at <= case.created_at)
    account_requests = db.session.scalar(
        sa.select(sa.func.count()).select_from(RecoveryCase)
        .where(RecoveryCase.email == case.email, *window))
    ip_requests = db.session.scalar(
        sa.select(sa.func.count()).select_from(RecoveryCase)
        .where(RecoveryCase.client_ip == case.client_ip, *window)) if case.client_ip else 0
    changes: list[str] = []
    if case.account_id is not None:
        changes = list(db.session.scalars(
            sa.select(AccountChange.kind)
            .where(AccountChange.account_id == case.account_id,
                   AccountChange.created_at > case.created_at
                   - timedelta(days=policy.account_change_days))
            .order_by(AccountChange.created_at)))
    findings = tuple(dict.fromkeys(
        c.reason_code for c in _automated(case.checks)
        if c.attempt == case.evidence_attempt and c.reason_code and c.result != Result.CLEAR
        and not c.check.startswith("risk.")))
    return RiskFacts(findings=findings, account_requests_24h=account_requests or 0,
                     ip_requests_24h=ip_requests or 0, account_changes=tuple(changes),
                     not_me_reports=sum(1 for e in case.events if e.event == "reported_not_me"))


def _assess_risk(case: RecoveryCase) -> RiskAssessment:
    """Assess the case's risk now and add the assessment to its check tree."""
    risk = assess(_risk_facts(case), risk_policy())
    _record_check(case, risk.as_check(), agent=None)
    _record(case, "risk_assessed", actor=Actor.SYSTEM,
            reason=f"{risk.level.value}" + (f": {', '.join(r.code for r in risk.reasons)}"
                                            if risk.reasons else ""))
    return risk


def _escalate_for_risk(case: RecoveryCase, risk: RiskAssessment) -> None:
    """Send a high-risk case to the security leads, with the reasons, unless it is there."""
    if case.state in (State.ESCALATED, State.RESOLVED):
        return
    reasons = " ".join(r.text for r in risk.reasons if r.level is Level.HIGH) or \
        " ".join(r.text for r in risk.reasons)
    _apply(case, "escalate", {Actor.SYSTEM}, actor=Actor.SYSTEM, agent=None,
           reason=f"High risk. {reasons}")


def current_risk(case: RecoveryCase) -> VerificationCheck | None:
    """The latest risk assessment of the case's current photos."""
    return next((c for c in reversed(case.checks)
                 if c.check == "risk.assessment" and c.attempt == case.evidence_attempt), None)


def report_not_me(case_id: int, agent: Agent, note: str) -> RecoveryCase:
    """Record that the account holder says this request is not theirs; escalates the case."""
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Say who reported it and how (for example: 'Holder replied to the "
                            "notification email').")
    with _transaction():
        case = _load_case(case_id)
        if case.is_resolved:
            raise ActionRefused("This case is closed.")
        _record(case, "reported_not_me", actor=Actor(agent.role), agent=agent, reason=note)
        risk = _assess_risk(case)
        if risk.level is Level.HIGH:
            _escalate_for_risk(case, risk)
    return case


def confirm_challenge(case_id: int, agent: Agent, expected_version: int | None) -> RecoveryCase:
    """An agent read the expected code on the current selfie (whoever may approve the case
    now: at the selfie check, or a security lead while it is escalated)."""
    with _transaction():
        case = _load_case(case_id)
        _check_version(case, expected_version)
        machine.check_claim(case, agent.actors, agent.id)
        refusal = rules.challenge_refusal(case, agent.actors)
        if refusal is not None:
            raise ActionRefused(refusal)
        _record_check(case, CheckResult("selfie.challenge.review", Result.CLEAR,
                                        "challenge_confirmed"), agent=agent)
        _record(case, "challenge_confirmed", actor=Actor(agent.role), agent=agent,
                reason=f"code {case.challenge_code}")
        # The version moves so that a form showing the unconfirmed state is stale.
        case.updated_at = utcnow()
    return case


# --- job bookkeeping ----------------------------------------------------------------------

FAILURE_EVENT = "verification_failed"
RETRY_EVENT = "verification_retried"


def record_verification_failure(case_id: int, attempt: int, error: str) -> None:
    """Note on the case that its automated checks failed for good, for an agent to retry.

    The risk is assessed first on what is known (the findings stored so far, velocity,
    account changes), as a finished selfie check would: a high risk still goes to security.
    """
    with _transaction():
        case = _load_case(case_id)
        if case.evidence_attempt == attempt and not case.is_resolved:
            risk = _assess_risk(case)
            if risk.level is Level.HIGH:
                _escalate_for_risk(case, risk)
            _record(case, FAILURE_EVENT, actor=Actor.SYSTEM, reason=error[:500])


def verification_failure(case: RecoveryCase) -> CaseEvent | None:
    """The failure an agent must look at: the last job event of this attempt, if a failure."""
    for event in reversed(case.events):
        if event.event in (FAILURE_EVENT, RETRY_EVENT, "user_resubmitted", "submitted"):
            return event if event.event == FAILURE_EVENT else None
    return None


def verification_complete(case: RecoveryCase) -> bool:
    """Whether both automated readings of the current attempt are stored."""
    has_selfie = any(e.kind == "selfie" for e in case.current_evidence())
    return case.current_reading() is not None and (
        not has_selfie or case.current_selfie_reading() is not None)


def retry_verification(case_id: int, agent: Agent) -> RecoveryCase:
    """An agent runs the automated checks of the current photos again after a failure."""
    with _transaction():
        case = _load_case(case_id)
        if case.is_resolved:
            raise ActionRefused("This case is closed.")
        machine.check_claim(case, agent.actors, agent.id)
        if verification_complete(case):
            raise ActionRefused("The automated checks of these photos have already run.")
        _record(case, RETRY_EVENT, actor=Actor(agent.role), agent=agent)
    _enqueue_document_check(case.id, case.evidence_attempt)
    return case


def cases_needing_verification(older_than: timedelta | None = None, *,
                               include_failed: bool = False) -> list[tuple[int, int]]:
    """(case id, attempt) of open cases whose current photos lack a document or selfie reading.

    ``older_than`` leaves out photos filed more recently (their job may still be running);
    cases whose checks failed for good wait for an agent unless ``include_failed``.
    """
    document = sa.select(DocumentReading.id).where(
        DocumentReading.case_id == RecoveryCase.id,
        DocumentReading.attempt == RecoveryCase.evidence_attempt)
    selfie = sa.select(SelfieReading.id).where(
        SelfieReading.case_id == RecoveryCase.id,
        SelfieReading.attempt == RecoveryCase.evidence_attempt)
    filed = sa.select(sa.func.max(Evidence.created_at)).where(
        Evidence.case_id == RecoveryCase.id,
        Evidence.attempt == RecoveryCase.evidence_attempt).scalar_subquery()
    query = (sa.select(RecoveryCase)
             .where(RecoveryCase.state != State.RESOLVED.value,
                    sa.or_(~sa.exists(document), ~sa.exists(selfie)))
             .order_by(RecoveryCase.created_at, RecoveryCase.id))
    if older_than is not None:
        query = query.where(filed <= utcnow() - older_than)
    pending = []
    for case in db.session.scalars(query):
        if verification_complete(case):
            continue  # no selfie among the photos: nothing more to read
        if not include_failed and verification_failure(case) is not None:
            continue
        pending.append((case.id, case.evidence_attempt))
    return pending


# --- service levels -----------------------------------------------------------------------

@dataclass(frozen=True)
class SlaSettings:
    """The configured calendars and policies, parsed."""

    calendars: dict[str, sla.BusinessCalendar]
    policies: dict[str, sla.Policy]

    def policy_for(self, issue_type: str, priority: str) -> sla.Policy:
        """The first policy of issue_type/priority, issue_type, */priority, default."""
        for key in (f"{issue_type}/{priority}", issue_type, f"*/{priority}", "default"):
            if key in self.policies:
                return self.policies[key]
        raise sla.BadCalendar("SLA_POLICIES needs a 'default' policy")


def sla_settings() -> SlaSettings:
    """Calendars and policies from configuration, parsed once per app (refused when bad)."""
    app = current_app._get_current_object()
    cached = app.extensions.get("sla_settings")
    if cached is not None:
        return cached
    config = app.config
    calendars = {name: sla.BusinessCalendar.from_mapping(values)
                 for name, values in config["SLA_CALENDARS"].items()}
    policies = {}
    for name, values in config["SLA_POLICIES"].items():
        unknown = set(values) - {"calendar", "warn_share", *sla.CLOCKS}
        if unknown:
            raise sla.BadCalendar(f"policy {name!r}: unknown setting(s) {sorted(unknown)}")
        missing = [clock for clock in sla.CLOCKS if clock not in values]
        if missing:
            raise sla.BadCalendar(f"policy {name!r}: no target for {', '.join(missing)}")
        if values.get("calendar") not in calendars:
            raise sla.BadCalendar(f"policy {name!r}: calendar must be one of {sorted(calendars)}")
        share = float(values.get("warn_share", config["SLA_WARNING_SHARE"]))
        if not 0 < share < 1:
            raise sla.BadCalendar(f"policy {name!r}: warn_share must be between 0 and 1")
        policies[name] = sla.Policy(name, values["calendar"], warn_share=share,
                                    **{c: sla.parse_duration(values[c]) for c in sla.CLOCKS})
    settings = SlaSettings(calendars, policies)
    settings.policy_for("other", "normal")
    app.extensions["sla_settings"] = settings
    return settings


def sla_entries(case: RecoveryCase) -> list[sla.Entry]:
    """The case's log as the SLA reads it: its events and its messages."""
    entries = [sla.Entry(e.created_at, "event", e.event, e.actor_type, e.to_state)
               for e in case.events]
    entries += [sla.Entry(m.created_at, "message", "message", m.author_type,
                          internal=m.internal) for m in case.messages]
    return entries


def sla_clocks(case: RecoveryCase, now: datetime | None = None) -> sla.CaseClocks:
    """The case's clocks now, live from its log."""
    settings = sla_settings()
    policy = settings.policy_for(case.issue_type, case.priority)
    return sla.derive(sla_entries(case), created=case.created_at, policy=policy,
                      calendar=settings.calendars[policy.calendar], now=now or utcnow())


# The case's columns its SLA row keeps a copy of (for the report), by the row's names.
SLA_CASE_COLUMNS = {"filed_at": "created_at", "issue_type": "issue_type",
                    "priority": "priority", "assignee_id": "assignee_id"}


def sla_case_columns(case: RecoveryCase) -> dict:
    """The copies of the case's own columns on its SLA row.

    A case not yet inserted takes its column defaults now, so the copies match them.
    """
    if case.created_at is None:
        case.created_at = utcnow()
    if case.priority is None:
        case.priority = RecoveryCase.__table__.c.priority.default.arg
    copies = {name: getattr(case, column) for name, column in SLA_CASE_COLUMNS.items()}
    if sa.inspect(case).attrs.assignee.history.has_changes():
        # Set through the relationship: the column follows only as the flush writes it.
        copies["assignee_id"] = case.assignee.id if case.assignee is not None else None
    return copies


def refresh_sla(case: RecoveryCase) -> CaseSla:
    """Bring the stored SLA figures of ``case`` in line with its log (no commit)."""
    settings = sla_settings()
    copies = sla_case_columns(case)  # first: it fills a new case's defaults the policy reads
    policy = settings.policy_for(case.issue_type, case.priority)
    row = sla.figures(sla_entries(case), created=case.created_at, policy=policy,
                      calendar=settings.calendars[policy.calendar])
    row.update(copies)
    stored = case.sla
    if stored is None:
        stored = case.sla = CaseSla(**row)
    else:
        for name, value in row.items():
            if getattr(stored, name) != value:
                setattr(stored, name, value)
    return stored


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _keep_sla_in_step(session, flush_context, instances) -> None:
    """Every write that adds to a case's log refreshes its SLA figures in the same flush.

    So does a change to a case column the row depends on (its policy's issue type and
    priority) or keeps a copy of (the assignee), made with or without an event.
    """
    cases = {}
    for obj in session.new:
        if isinstance(obj, CaseEvent | Message):
            obj.created_at = obj.created_at or utcnow()
            case = obj.case
            if case is not None:
                cases[id(case)] = case
        elif isinstance(obj, CaseSla) and obj.case is not None:
            for name, value in sla_case_columns(obj.case).items():
                setattr(obj, name, value)  # a row written by hand copies its case too
    for obj in session.dirty:
        if isinstance(obj, RecoveryCase) and id(obj) not in cases:
            state = sa.inspect(obj)
            # The assignee may be set through the relationship, whose column follows later.
            if any(state.attrs[column].history.has_changes()
                   for column in (*SLA_CASE_COLUMNS.values(), "assignee")) \
                    and obj.sla is not None:
                cases[id(obj)] = obj
    for case in cases.values():
        refresh_sla(case)


def recompute_sla(batch: int = 500) -> int:
    """Rebuild every case's stored SLA figures from its log; returns how many changed."""
    changed = 0
    last_id = 0
    while True:
        with _transaction():
            cases = list(db.session.scalars(
                sa.select(RecoveryCase).where(RecoveryCase.id > last_id)
                .order_by(RecoveryCase.id).limit(batch)))
            if not cases:
                return changed
            for case in cases:
                before = _sla_values(case.sla)
                refresh_sla(case)
                db.session.flush()
                changed += before != _sla_values(case.sla)
            last_id = cases[-1].id


SLA_MARKS = ("sla_warning", "sla_breached")


def _marked(case: RecoveryCase, event: str, clock: str, since: datetime | None) -> bool:
    return any(e.event == event and e.reason == clock and (since is None or e.created_at >= since)
               for e in case.events)


def check_sla(now: datetime | None = None, batch: int = 200) -> list[tuple[int, str, str]]:
    """Record warnings and breaches of running clocks on their cases, once per clock.

    The stored due and warning times find the candidates in one indexed query; each is then
    judged on its live clocks. A mark is an event on the case (``sla_warning``,
    ``sla_breached`` with the clock's name), which the timeline shows and the log keeps; a
    clock that starts again (the next update, after each message of the user) can be marked
    again. Each mark writes its emails to the outbox in the same transaction (to the
    assignee, or to the leads when nobody holds the case); ``notify.outbox`` sends them after
    the commit. Returns (case id, clock, mark) of what was recorded.
    """
    now = now or utcnow()
    due = sa.or_(*(sa.and_(getattr(CaseSla, f"{c}_at").is_(None),
                           getattr(CaseSla, f"{c}_warn_at") <= now) for c in sla.CLOCKS))
    ids = list(db.session.scalars(
        sa.select(CaseSla.case_id).where(~CaseSla.paused, CaseSla.state != State.RESOLVED.value,
                                         due).order_by(CaseSla.case_id)))
    db.session.rollback()
    recorded = []
    settings = sla_settings()
    for start in range(0, len(ids), batch):
        with _transaction():
            for case_id in ids[start:start + batch]:
                case = _load_case(case_id)
                if case.is_resolved:
                    continue
                for name, clock in sla_clocks(case, now).clocks.items():
                    if clock.met_at is not None:
                        continue
                    mark = ("sla_breached" if clock.breached(now)
                            else "sla_warning" if clock.warning(now) else None)
                    if mark is None or _marked(case, mark, name, clock.started_at):
                        continue
                    _record(case, mark, actor=Actor.SYSTEM, reason=name)
                    policy = settings.policy_for(case.issue_type, case.priority)
                    notify.write_emails(mark, case, clock=name, due_at=clock.due_at,
                                        target=clock.target,
                                        timezone=settings.calendars[policy.calendar].timezone)
                    recorded.append((case.id, name, mark))
    for case_id, name, mark in recorded:
        current_app.logger.warning("SLA %s: case %s, %s", mark.removeprefix("sla_"), case_id,
                                   name.replace("_", " "))
    return recorded


@dataclass(frozen=True)
class SlaBadge:
    """What the queue shows of a case's SLA: the earliest due time and how it stands."""

    due_at: datetime | None
    status: str | None  # "breached", "warning" or None
    clocks: tuple[str, ...] = ()  # the clocks breached (or warning)


def sla_badge(row: CaseSla | None, now: datetime) -> SlaBadge:
    """The badge of a stored SLA row at ``now`` (no log read: fast for a queue page)."""
    if row is None:
        return SlaBadge(None, None)
    breached, warning = [], []
    for clock in sla.CLOCKS:
        met, due = getattr(row, f"{clock}_at"), getattr(row, f"{clock}_due_at")
        seconds, target = getattr(row, f"{clock}_seconds"), getattr(row, f"{clock}_target")
        warn = getattr(row, f"{clock}_warn_at")
        if met is not None:
            if seconds is not None and seconds > target:
                breached.append(clock)
        elif due is not None and not row.paused and row.state != State.RESOLVED:
            if now > due:
                breached.append(clock)
            elif warn is not None and now >= warn:
                warning.append(clock)
    if breached:
        return SlaBadge(row.next_due_at, "breached", tuple(breached))
    if warning:
        return SlaBadge(row.next_due_at, "warning", tuple(warning))
    return SlaBadge(row.next_due_at, None)


def _sla_values(row: CaseSla | None) -> dict | None:
    if row is None:
        return None
    return {c.key: getattr(row, c.key) for c in sa.inspect(CaseSla).column_attrs}


# --- agents -------------------------------------------------------------------------------

def _check_password(password: str) -> None:
    if len(password) < 12:
        raise ValueError("the password must be at least 12 characters long")


def create_agent(email: str, name: str, role: str, password: str) -> tuple[Agent, str]:
    """Create a staff member; returns the agent and its API token (shown once, stored hashed)."""
    email = email.strip().lower()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    _check_password(password)
    if "@" not in email or not name.strip():
        raise ValueError("an email address and a name are required")
    if any(ch in email + name for ch in "\r\n") or any(ch.isspace() for ch in email):
        raise ValueError("the email address and the name must be on one line, the address "
                         "without spaces")
    token = secrets.token_urlsafe(32)
    try:
        with _transaction():
            agent = Agent(email=email, name=name.strip(), role=role,
                          password_hash=_hasher.hash(password), api_token_hash=token_hash(token))
            db.session.add(agent)
    except IntegrityError as err:
        raise AgentExists(f"An agent with the email {email} already exists.") from err
    return agent, token


def authenticate(email: str, password: str) -> Agent | None:
    """The active agent with these credentials, or None."""
    agent = db.session.scalar(sa.select(Agent).where(Agent.email == email.strip().lower()))
    if agent is None or not agent.active:
        _hasher.hash(password)  # spend the same time as a real check: no user enumeration
        return None
    try:
        _hasher.verify(agent.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(agent.password_hash):
        with _transaction():
            agent.password_hash = _hasher.hash(password)
    return agent


def _agent_by_email(email: str) -> Agent:
    agent = db.session.scalars(sa.select(Agent).where(Agent.email == email.strip().lower())
                               .with_for_update()).first()
    if agent is None:
        raise AgentNotFound(f"There is no agent with the email {email.strip()}.")
    return agent


def _end_sessions(agent: Agent) -> None:
    # Computed by the database, so two changes at once both move the generation on.
    agent.session_generation = Agent.session_generation + 1


def end_sessions(agent_id: int) -> None:
    """End every console session of the agent (sign-out): its session generation moves on."""
    with _transaction():
        agent = db.session.get(Agent, agent_id, with_for_update=True)
        if agent is not None:
            _end_sessions(agent)


def set_password(email: str, password: str) -> Agent:
    """Give an agent a new password; every console session of theirs ends."""
    _check_password(password)
    with _transaction():
        agent = _agent_by_email(email)
        agent.password_hash = _hasher.hash(password)
        _end_sessions(agent)
    return agent


def deactivate_agent(email: str) -> tuple[Agent, int]:
    """Deactivate an agent: sessions and API token stop working, their open cases are released.

    Returns the agent and how many cases were released (so that nobody is left waiting on a
    claim that no one can act on).
    """
    with _transaction():
        agent = _agent_by_email(email)
        agent.active = False
        _end_sessions(agent)
        held = db.session.scalars(
            sa.select(RecoveryCase).where(RecoveryCase.assignee_id == agent.id,
                                          RecoveryCase.state != State.RESOLVED.value)
            .order_by(RecoveryCase.id).with_for_update())
        released = 0
        for case in held:
            case.assignee_id = None
            _record(case, "released", actor=Actor.SYSTEM, reason=f"{agent.name} was deactivated")
            released += 1
    return agent, released


def session_agent(agent_id: int, generation: int) -> Agent | None:
    """The active agent whose console sessions are of this generation, or None."""
    agent = db.session.get(Agent, agent_id) if 1 <= agent_id <= MAX_ID else None
    if agent is None or not agent.active or agent.session_generation != generation:
        return None
    return agent


def agent_for_token(token: str) -> Agent | None:
    """The active agent an API bearer token belongs to."""
    agent = db.session.scalar(sa.select(Agent).where(Agent.api_token_hash == token_hash(token)))
    return agent if agent is not None and agent.active else None


# --- queries ------------------------------------------------------------------------------

class BadCursor(ValueError):
    """The pagination cursor is not one this server issued."""


def encode_cursor(case: RecoveryCase) -> str:
    """An opaque cursor pointing after ``case`` in queue order."""
    raw = f"{case.created_at.isoformat()}|{case.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, case_id = raw.split("|")
        created = datetime.fromisoformat(stamp)
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        created.astimezone(UTC)  # raises OverflowError for dates at the edge of the calendar
        if not 1 <= int(case_id) <= MAX_ID:
            raise ValueError("case id out of range")
        return created, int(case_id)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as err:
        raise BadCursor("The cursor is not valid; start again without one.") from err


def queue_query(*, states=None, issue_type: str | None = None, assignee_id: int | None = None,
                unassigned: bool = False, by_due: bool = False) -> sa.Select:
    """Cases in queue order, filtered: oldest first, or (``by_due``) what is due first."""
    query = sa.select(RecoveryCase)
    if by_due:
        # Running clocks first, earliest due time first; paused and closed cases after.
        query = query.outerjoin(CaseSla).order_by(CaseSla.next_due_at.asc().nulls_last())
        if states and State.RESOLVED not in states:
            # The SLA row's own copy of the state (kept in step in every flush) turns the
            # outer join into an inner one for the planner, which can then walk the due
            # times of open cases in order (ix_case_sla_open_due) instead of joining every
            # open case and sorting: 1.8 ms against 410 ms at a million cases
            # (docs/benchmarks.md).
            query = query.where(CaseSla.state != State.RESOLVED.value)
    if states:
        query = query.where(RecoveryCase.state.in_(list(states)))
    if issue_type:
        query = query.where(RecoveryCase.issue_type == issue_type)
    if assignee_id is not None:
        query = query.where(RecoveryCase.assignee_id == assignee_id)
    if unassigned:
        query = query.where(RecoveryCase.assignee_id.is_(None))
    return query.order_by(RecoveryCase.created_at, RecoveryCase.id)


def list_cases(*, limit: int, cursor: str | None = None, **filters) -> tuple[list[RecoveryCase],
                                                                              str | None]:
    """One page of the queue and the cursor of the next page (None at the end)."""
    query = queue_query(**filters)
    if cursor:
        created, case_id = _decode_cursor(cursor)
        query = query.where(sa.or_(
            RecoveryCase.created_at > created,
            sa.and_(RecoveryCase.created_at == created, RecoveryCase.id > case_id),
        ))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)


def get_case(case_id: int) -> RecoveryCase:
    """A case by id."""
    case = db.session.get(RecoveryCase, case_id)
    if case is None:
        raise CaseNotFound(f"There is no case {case_id}.")
    return case
