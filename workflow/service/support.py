"""What support needs to know: the details a person gives with a request, and screenshots.

The details (device, app version, when the problem began, what was tried) are stored on the
case as typed. Error screenshots go through the photos' intake (size, type and
decompression bounds, re-encoding, metadata stripped) and are stored, sealed, as evidence of
their own kind, numbered per case; they are never read by the document or face checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from flask import current_app
from flask_babel import gettext as _

from verification.images import ImageRejected, NormalizedImage, normalize_upload

from ..models import Evidence, RecoveryCase
from ..states import (
    SCREENSHOT_ATTEMPT,
    SCREENSHOT_FIELD,
    SCREENSHOT_PREFIX,
    TRIED_FIXES,
    is_screenshot,
)
from .errors import EvidenceRejected
from .policies import intake_limits


@dataclass(frozen=True)
class SupportDetails:
    """The optional details a person gives with a request (already validated for shape)."""

    device: str | None = None
    app_version: str | None = None
    began_on: date | None = None
    began_time: time | None = None
    tried_fixes: tuple[str, ...] = ()
    tried_other: str | None = None

    def given(self) -> bool:
        """Whether anything was given."""
        return any((self.device, self.app_version, self.began_on, self.began_time,
                    self.tried_fixes, self.tried_other))

    def as_dict(self) -> dict:
        """The details as JSON-ready values (for a request's fingerprint)."""
        return {"device": self.device, "app_version": self.app_version,
                "began_on": self.began_on.isoformat() if self.began_on else None,
                "began_time": self.began_time.strftime("%H:%M") if self.began_time else None,
                "tried_fixes": sorted(self.tried_fixes), "tried_other": self.tried_other}


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def record_support_details(case: RecoveryCase, details: SupportDetails | None) -> None:
    """Store the details on the case (unknown fix keys are left out)."""
    if details is None or not details.given():
        return
    case.device = _text(details.device)
    case.app_version = _text(details.app_version)
    case.began_on = details.began_on
    case.began_time = details.began_time if details.began_on else None
    case.tried_fixes = [key for key in TRIED_FIXES if key in details.tried_fixes] or None
    case.tried_other = _text(details.tried_other)


def forget_support_details(case: RecoveryCase) -> int:
    """Clear the details the person gave, in the current transaction; 1 when there were any."""
    had = any((case.device, case.app_version, case.began_on, case.began_time, case.tried_fixes,
               case.tried_other))
    case.device = case.app_version = case.began_on = case.began_time = None
    case.tried_fixes = case.tried_other = None
    return int(had)


def normalise_screenshots(files: list[bytes] | tuple[bytes, ...]) -> list[NormalizedImage]:
    """Check and normalise screenshots through the photos' intake, before any database work."""
    most = current_app.config["MAX_SCREENSHOTS"]
    if len(files) > most:
        raise EvidenceRejected(SCREENSHOT_FIELD, ImageRejected(
            _("Attach at most %(most)d screenshots.", most=most)))
    images = []
    for data in files:
        try:
            images.append(normalize_upload(data, **intake_limits()))
        except ImageRejected as err:
            raise EvidenceRejected(SCREENSHOT_FIELD, err) from err
    return images


def attach_screenshots(case: RecoveryCase, images: list[NormalizedImage],
                       message_id: int | None = None) -> list[Evidence]:
    """Add the screenshots to a case loaded (and locked) in the current transaction."""
    taken = sum(1 for item in case.evidence if is_screenshot(item.kind))
    most = current_app.config["MAX_SCREENSHOTS_PER_CASE"]
    if taken + len(images) > most:
        raise EvidenceRejected(SCREENSHOT_FIELD, ImageRejected(
            _("This request already holds %(most)d screenshots: please describe the error in "
              "words.", most=most)))
    rows = [
        Evidence(kind=f"{SCREENSHOT_PREFIX}{taken + number}", attempt=SCREENSHOT_ATTEMPT,
                 message_id=message_id, mime_type=img.mime_type, width=img.width,
                 height=img.height, sha256=img.sha256, original_sha256=img.original_sha256,
                 original_bytes=img.original_bytes, exif_software=img.exif_software,
                 data=img.data)
        for number, img in enumerate(images, start=1)
    ]
    case.evidence.extend(rows)
    return rows
