"""Filing a recovery request: the case, its evidence and first event in one transaction.

The challenge code of the issue types that need one, and idempotent retries
(``Idempotency-Key``), are checked here too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from extensions import db
from verification import challenge as challenges
from verification.activity import ActivityAnswers
from verification.images import ImageRejected, NormalizedImage, normalize_upload

from ..models import Account, Evidence, IdempotencyKey, RecoveryCase, token_hash, utcnow
from ..states import (
    CONSENT_TEXTS,
    CONSENT_VERSION,
    EVIDENCE_KINDS,
    ISSUE_TYPES,
    REQUIRED_EVIDENCE,
    Actor,
    State,
    consent_digest,
)
from .activity import record_activity_answers
from .errors import ChallengeRefused, EvidenceRejected, IdempotencyConflict, MissingEvidence
from .gate import quality_gate
from .hooks import announce, queue_document_check
from .policies import challenge_required, intake_limits
from .support import (
    SupportDetails,
    attach_screenshots,
    normalise_screenshots,
    record_support_details,
)
from .unit import record_event, transaction


def normalise_all(files: dict[str, bytes | None]) -> dict[str, NormalizedImage]:
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


def evidence_rows(images: dict[str, NormalizedImage], attempt: int) -> list[Evidence]:
    return [
        Evidence(kind=kind, attempt=attempt, mime_type=img.mime_type, width=img.width,
                 height=img.height, sha256=img.sha256, original_sha256=img.original_sha256,
                 original_bytes=img.original_bytes, exif_software=img.exif_software, data=img.data)
        for kind, img in images.items()
    ]


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
    # Optional answers about recent account activity only the owner knows.
    activity: ActivityAnswers | None = None
    # The language of the form (or the API's ``language``): the requester's emails use it.
    language: str = "en"
    # Optional details for support (device, when it began, what was tried) and the bytes of
    # error screenshots (never read by the checks).
    support: SupportDetails | None = None
    screenshots: tuple[bytes, ...] = ()

    def fingerprint(self, images: dict[str, NormalizedImage]) -> str:
        """A digest of the request's content, to recognise a retry of the same request."""
        content = {
            "email": self.email.strip().lower(), "full_name": self.full_name.strip(),
            "date_of_birth": self.date_of_birth.isoformat(), "issue_type": self.issue_type,
            "description": self.description,
            "files": {k: v.original_sha256 for k, v in images.items()},
            "challenge": self.challenge_token,
        }
        if self.activity is not None and self.activity.given():
            # Only when answered, so requests without answers keep their earlier digests.
            content["activity"] = self.activity.as_dict()
        if self.support is not None and self.support.given():
            content["support"] = self.support.as_dict()
        if self.screenshots:
            content["screenshots"] = [hashlib.sha256(data).hexdigest()
                                      for data in self.screenshots]
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
    images = normalise_all(files)
    screenshots = normalise_screenshots(sub.screenshots)
    quality_gate(images, challenge=challenge is not None)
    fingerprint = sub.fingerprint(images)
    token = _tracking_token(idempotency_key, fingerprint)

    if idempotency_key is not None:
        replay = _replay(idempotency_key, fingerprint, token)
        if replay is not None:
            return replay

    email = sub.email.strip().lower()
    try:
        with transaction():
            account = db.session.scalar(sa.select(Account).where(Account.email == email))
            case = RecoveryCase(
                created_at=utcnow(),
                priority=current_app.config["PRIORITY_BY_ISSUE_TYPE"].get(sub.issue_type,
                                                                          "normal"),
                account=account, email=email, full_name=sub.full_name.strip(),
                date_of_birth=sub.date_of_birth, issue_type=sub.issue_type,
                description=sub.description.strip(), consent_at=utcnow(),
                consent_version=CONSENT_VERSION,
                consent_sha256=consent_digest(consent_shown(CONSENT_VERSION, sub.language)),
                client_ip=sub.client_ip, language=sub.language,
                state=State.SUBMITTED.value, tracking_token_hash=token_hash(token),
                evidence_attempt=1,
                challenge_code=challenge.code if challenge else None,
                challenge_nonce=challenge.nonce if challenge else None,
            )
            case.evidence.extend(evidence_rows(images, attempt=1))
            attach_screenshots(case, screenshots)
            record_support_details(case, sub.support)
            record_event(case, "submitted", actor=Actor.USER, to_state=State.SUBMITTED.value)
            db.session.add(case)
            db.session.flush()
            record_activity_answers(case, sub.activity)
            if idempotency_key is not None:
                db.session.add(IdempotencyKey(key=idempotency_key, fingerprint=fingerprint,
                                              case_id=case.id))
            # The tracking link by email too, committed with the case (only its hash is
            # stored on the case; the outbox holds the email until it is sent).
            announce("request_received", case, tracking_token=token)
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
        queue_document_check(case.id, case.evidence_attempt)
    return SubmitResult(case=case, tracking_token=token)


def consent_shown(version: str, language: str) -> str:
    """The consent text of ``version`` as the form shows it in ``language`` (its translation;
    the English text where there is none): what the requester agreed to, word for word."""
    with force_locale(language):
        return _(CONSENT_TEXTS[version])


def consent_text(case: RecoveryCase) -> str | None:
    """The consent text the case was filed under, in the words shown to the requester, when
    its stored digest matches them (the English text for cases filed before translations)."""
    text = CONSENT_TEXTS.get(case.consent_version or "")
    if text is None:
        return None
    for shown in (consent_shown(case.consent_version, case.language or "en"), text):
        if consent_digest(shown) == case.consent_sha256:
            return shown
    return None


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
