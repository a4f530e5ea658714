"""The user's side: what the holder of a tracking link can see and do."""

from __future__ import annotations

import sqlalchemy as sa

from extensions import db

from ..models import Message, RecoveryCase
from ..states import USER_ACTIONS, Actor, State
from .errors import ActionRefused
from .gate import quality_gate
from .hooks import queue_document_check
from .intake import evidence_rows, normalise_all
from .moves import apply_event
from .support import attach_screenshots, normalise_screenshots
from .unit import case_id_for_token, load_case, transaction


def case_for_token(token: str) -> RecoveryCase:
    """The case a tracking token belongs to."""
    return db.session.get(RecoveryCase, case_id_for_token(token))


def user_reply(token: str, body: str, screenshots: tuple[bytes, ...] = ()) -> RecoveryCase:
    """The user answers, perhaps with error screenshots; a case waiting for an answer goes
    back to the stage it left."""
    body = (body or "").strip()
    if not body:
        raise ActionRefused("Your message is empty.")
    # The token is looked up before any image is decoded: a made-up link costs nothing.
    case_id = case_id_for_token(token)
    images = normalise_screenshots(screenshots)
    with transaction():
        case = load_case(case_id)
        if case.is_resolved:
            raise ActionRefused("This request is closed. Please file a new request if you still "
                                "need help.")
        message = Message(author_type=Actor.USER.value, body=body)
        case.messages.append(message)
        if images:
            db.session.flush()  # the message's id, which its screenshots name
            attach_screenshots(case, images, message_id=message.id)
        # A case waiting for new photos keeps waiting: a reply alone does not answer that.
        if case.state == State.AWAITING_USER and not case.resubmission_requested:
            apply_event(case, "user_replied", {Actor.USER}, actor=Actor.USER, agent=None,
                        reason=None)
    return case


def user_resubmit(token: str, files: dict[str, bytes | None]) -> RecoveryCase:
    """The user sends new photos after being asked to; the case returns to the document check."""
    with transaction():
        challenge = db.session.scalar(sa.select(RecoveryCase.challenge_code).where(
            RecoveryCase.id == case_id_for_token(token)))
    images = normalise_all(files)
    quality_gate(images, challenge=challenge is not None)
    with transaction():
        case = load_case(case_id_for_token(token))
        if not (case.state == State.AWAITING_USER and case.resubmission_requested):
            raise ActionRefused("We have not asked for new photos on this request.")
        case.evidence_attempt += 1
        case.resubmissions += 1
        case.evidence.extend(evidence_rows(images, attempt=case.evidence_attempt))
        apply_event(case, "user_resubmitted", {Actor.USER}, actor=Actor.USER, agent=None,
                    reason=f"attempt {case.evidence_attempt}")
    queue_document_check(case.id, case.evidence_attempt)
    return case


def user_withdraw(token: str) -> RecoveryCase:
    """The user withdraws their request."""
    with transaction():
        case = load_case(case_id_for_token(token))
        apply_event(case, "withdraw", {Actor.USER}, actor=Actor.USER, agent=None, reason=None)
    return case


def user_actions(case: RecoveryCase) -> list[str]:
    """What the user can do on their status page now."""
    if case.is_resolved:
        return []
    waiting_for_photos = case.state == State.AWAITING_USER and case.resubmission_requested
    return [action for action in USER_ACTIONS if action != "resubmit" or waiting_for_photos]
