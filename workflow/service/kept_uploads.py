"""Photos of the request form kept across a validation error, and the pre-send photo check.

A photo that passes the intake (normalised, then the same quality gate as a submission) is
kept, encrypted, against a holder: a digest of the form's random token and the browser
session that sent it. The form then shows it as kept instead of asking for it again, and the
submission uses it when no new photo is sent. Another session presenting the same form token
finds nothing. Kept photos live ``KEPT_UPLOAD_SECONDS`` and are purged by the scheduled check.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from extensions import db
from verification.images import ImageRejected, normalize_upload

from ..models import KeptUpload, utcnow
from ..states import EVIDENCE_KINDS
from .errors import EvidenceRejected
from .gate import quality_gate
from .policies import intake_limits
from .unit import transaction

# What may be shown of a file's name: printable, no path, not too long.
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")
NAME_LENGTH = 80


@dataclass(frozen=True)
class KeptPhoto:
    """A kept photo as the form shows it."""

    kind: str
    filename: str


def holder_of(form_token: str, session_key: str) -> str:
    """The key kept photos are stored under: the form's token bound to one browser session."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"kept-upload:{session_key}:{form_token}".encode(),
                    hashlib.sha256).hexdigest()


def shown_name(filename: str | None, kind: str) -> str:
    """A file name safe to show back: its last path part, tamed; the kind when none."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")[:NAME_LENGTH]
    return name or f"{kind}.jpg"


def check_and_keep(holder: str, kind: str, data: bytes, filename: str | None, *,
                   challenge: bool = False) -> KeptPhoto:
    """Run the submission's intake on one photo and keep it when it passes.

    EvidenceRejected (with the reasons in plain words) when it does not; a photo kept
    earlier for the same field stays then. For a selfie the kept ID photo, if any, is the
    document it is compared with, as at submission.
    """
    if kind not in EVIDENCE_KINDS:
        raise ValueError(f"unknown photo kind {kind!r}")
    try:
        image = normalize_upload(data, **intake_limits())
    except ImageRejected as err:
        raise EvidenceRejected(kind, err) from err
    images = {kind: image}
    if kind == "selfie":
        document = _kept_data(holder, "id_document")
        if document is not None:
            images["id_document"] = normalize_upload(document, **intake_limits())
    quality_gate(images, challenge=challenge, judge=(kind,))
    name, now = shown_name(filename, kind), utcnow()
    # Two checks of one field at once (a double pick) both delete, then both insert: the
    # second meets the unique (holder, kind) and tries again, replacing the first's photo.
    for attempt in range(2):
        try:
            with transaction():
                db.session.execute(sa.delete(KeptUpload).where(KeptUpload.holder == holder,
                                                               KeptUpload.kind == kind))
                db.session.add(KeptUpload(
                    holder=holder, kind=kind, filename=name, mime_type=image.mime_type,
                    data=image.data, created_at=now,
                    expires_at=now + timedelta(
                        seconds=current_app.config["KEPT_UPLOAD_SECONDS"])))
        except IntegrityError:
            if attempt:
                raise
        else:
            break
    return KeptPhoto(kind, name)


def keep_photos(holder: str, files: dict[str, tuple[str | None, bytes]], *,
                challenge: bool = False) -> dict[str, EvidenceRejected]:
    """Keep each photo sent with a form that came back; what refused each one that failed."""
    refused = {}
    for kind, (filename, data) in files.items():
        try:
            check_and_keep(holder, kind, data, filename, challenge=challenge)
        except EvidenceRejected as err:
            refused[kind] = err
    return refused


def _live(holder: str):
    return sa.select(KeptUpload).where(KeptUpload.holder == holder,
                                       KeptUpload.expires_at > utcnow())


def _kept_data(holder: str, kind: str) -> bytes | None:
    row = db.session.scalar(_live(holder).where(KeptUpload.kind == kind)
                            .options(sa.orm.undefer(KeptUpload.sealed_data)))
    return None if row is None else row.data


def kept_photos(holder: str) -> dict[str, KeptPhoto]:
    """The photos still kept for ``holder``, by kind."""
    rows = db.session.scalars(_live(holder)).all()
    # Read before the rollback, which expires the rows: reading one after it selects it again,
    # and a photo replaced meanwhile by the same person's pre-send check is then gone (a 500).
    photos = {row.kind: KeptPhoto(row.kind, row.filename) for row in rows}
    db.session.rollback()
    return photos


def kept_files(holder: str) -> dict[str, bytes]:
    """The bytes of the photos still kept for ``holder``, by kind (for a submission)."""
    rows = db.session.scalars(_live(holder).options(
        sa.orm.undefer(KeptUpload.sealed_data))).all()
    files = {row.kind: row.data for row in rows}
    db.session.rollback()
    return files


def forget_kept(holder: str, kinds: tuple[str, ...] | None = None) -> None:
    """Delete the photos kept for ``holder`` (its request was filed), or only those of
    ``kinds`` (a selfie that shows a code no longer valid)."""
    query = sa.delete(KeptUpload).where(KeptUpload.holder == holder)
    if kinds is not None:
        query = query.where(KeptUpload.kind.in_(kinds))
    with transaction():
        db.session.execute(query)


def purge_kept_uploads() -> int:
    """Delete every kept photo whose time has passed; how many."""
    with transaction():
        result = db.session.execute(sa.delete(KeptUpload).where(
            KeptUpload.expires_at <= utcnow()))
    return result.rowcount
