"""The intake quality gate: photos that cannot be checked are refused before any case exists."""

from __future__ import annotations

import io

import numpy as np
from flask import current_app
from PIL import Image

from verification.checks import REASONS, CheckResult, Result
from verification.documents import find_portrait, portrait_check
from verification.faces import FaceEngineUnavailable
from verification.images import NormalizedImage, PoorQuality
from verification.quality import assess_document_photo
from verification.selfie import gate_selfie

from ..states import DOCUMENT_SIDES
from .errors import EvidenceRejected
from .policies import document_policy, selfie_policy


def open_image(data: bytes) -> Image.Image:
    """A stored (already normalised) photo as an RGB image."""
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


def quality_gate(images: dict[str, NormalizedImage], *, challenge: bool = False,
                 judge: tuple[str, ...] | None = None) -> None:
    """Refuse an ID photo or selfie that cannot be checked, with what to fix, before any case.

    ``challenge``: the selfie is a challenge selfie, which may show the held ID as well.
    ``judge``: only these photos are judged (the others are context, e.g. the ID photo a
    selfie is compared with); all when None.
    """
    if not current_app.config["QUALITY_GATE"]:
        return
    thresholds = document_policy().quality
    for kind in DOCUMENT_SIDES:
        if kind not in images or (judge is not None and kind not in judge):
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
    if "selfie" in images and (judge is None or "selfie" in judge):
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
