"""Selfie checks: one face, good enough to compare, the same person as on the document.

Pure functions: a decoded selfie and the encodings it is compared with go in, a
``SelfieReport`` of check results comes out. The service reads the encodings from the
database (the document portrait's, the account's reference portrait's, other accounts'
selfies) and stores what comes back.

Faces are compared by the Euclidean distance between their face_recognition encodings (128
numbers); smaller is more alike.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from .checks import CheckResult, Result, settings_from_mapping
from .faces import (
    DETECT_MAX_SIDE,
    FoundFace,
    encode_face,
    engine_version,
    face_distance,
    find_faces,
    steady_distance,
)


@dataclass(frozen=True)
class SelfiePolicy:
    """Thresholds of the selfie checks; each value's measurement is written next to it."""

    # Distance at or below which two faces are the same person. See config.FACE_MATCH_THRESHOLD.
    match_threshold: float = 0.595
    # Below this distance the selfie face and the document portrait are the same photograph
    # (the ID, or the very picture printed on it, shown instead of a fresh selfie). Measured
    # by `python -m bench.face_threshold` (docs/benchmarks.md, "Same photograph") with the
    # 68-point landmark model: a photographed passport against the photo printed on it or
    # against a clean photo of the same passport 0.038-0.402 (clean 0.038-0.339; JPEG q30 up
    # to 0.331; perspective up to 0.320; low light up to 0.351; blur 0.185-0.402), 61 of 72
    # such pairs below 0.30; the same person in another photograph 0.358-0.584, none of 55
    # below 0.30. Blurred and dark re-shots overlap genuine pairs and escape this check; the
    # challenge code is the defence there.
    same_photo_distance: float = 0.30
    # face_recognition's landmark model wants ~80 px faces; fixture faces of 103 px match.
    min_face_px: int = 80
    # Edge strength of the face (mean |Laplacian| / contrast on a 160 px crop). Fixture faces
    # as shot: 0.071-0.384; Gaussian blur of 2% of the face size: 0.031-0.051; 3%: 0.030-0.047.
    min_face_sharpness: float = 0.045
    # With a challenge selfie the person holds up their ID: their face and the portrait.
    max_faces_with_document: int = 2
    # In a challenge selfie, a second face at most this share of the person's face size is
    # taken for the held ID even when it does not match the document portrait (another ID,
    # or a portrait too degraded to match). A printed portrait's head is 32-36 mm tall
    # (ICAO 9303: 70-80% of a 45 mm photo), under a sixth of a real head's, so it shows at
    # half the person's face only when held at a third of their distance from the camera or
    # closer. Two adults side by side (multi_face_obama_biden.jpg): 0.83. Generated
    # challenge selfies (render_challenge_selfie, which prints the page larger than life;
    # every fixture face, three documents): 0.16-0.69, so some with a held portrait that
    # does not match are refused as several faces.
    held_document_max_face_ratio: float = 0.5
    # A selfie whose grey levels spread less than this (standard deviation, 0-255, on a copy
    # 256 px across) is a blank image: a covered lens, a black or white frame. The face
    # fixtures measure 46.9-79.2, the drawn demo selfies 32.5-59.0; one flat colour 0, a
    # flat colour through JPEG and sensor noise a few levels.
    min_contrast: float = 5.0

    @classmethod
    def from_mapping(cls, values: dict) -> SelfiePolicy:
        """The defaults with configuration overrides applied; unknown names are refused."""
        return settings_from_mapping(cls, values, "selfie")


# A held ID's portrait is small in a challenge selfie: on a generated 2000 x 1500 challenge
# selfie its face is ~70 px, which HOG misses on a 1000 px copy and finds on a 2000 px one
# (0.37 s instead of 0.13 s). Ordinary selfies keep the faster 1000 px detection.
CHALLENGE_DETECT_MAX_SIDE = 2000


@dataclass(frozen=True)
class KnownFace:
    """A face already on file for another account's case."""

    case_id: int
    encoding: np.ndarray = field(repr=False)


@dataclass
class SelfieReport:
    """Everything the selfie checks found for one photo."""

    checks: list[CheckResult]
    faces: int = 0
    face: FoundFace | None = None
    encoding: np.ndarray | None = field(default=None, repr=False)
    document_distance: float | None = None
    reference_distance: float | None = None
    challenge_code_read: bool | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def outcome(self) -> Result:
        """The worst result of the checks."""
        order = {Result.CLEAR: 0, Result.CONSIDER: 1, Result.REJECTED: 2}
        return max((c.result for c in self.checks), key=order.__getitem__,
                   default=Result.CONSIDER)


def face_sharpness(image: Image.Image, face: FoundFace) -> float:
    """How sharp a face is, independent of its size and lighting (see SelfiePolicy)."""
    top, right, bottom, left = face.box
    crop = image.convert("L").crop((left, top, right, bottom)).resize(
        (160, 160), Image.Resampling.BILINEAR)
    pixels = np.asarray(crop, dtype=np.float32)
    edges = np.abs(cv2.Laplacian(pixels, cv2.CV_32F)).mean()
    return float(edges / (pixels.std() + 1e-6))


def _engine_version() -> str:
    return engine_version()


def _face(check: str, result: Result, reason: str | None = None, **details) -> CheckResult:
    score = details.pop("score", None)
    threshold = details.pop("threshold", None)
    return CheckResult(check, result, reason, score=score, threshold=threshold,
                       engine="face_recognition", engine_version=_engine_version(),
                       details={k: v for k, v in details.items() if v is not None})


def known_face_check(encoding: np.ndarray, known: Sequence[KnownFace],
                     threshold: float) -> CheckResult:
    """selfie.known_faces: the face already filed by other accounts (the fraud-ring signal)."""
    if not known:
        return _face("selfie.known_faces", Result.CLEAR, score=None, threshold=threshold,
                     compared=0)
    stack = np.stack([np.asarray(k.encoding, dtype=np.float64) for k in known])
    distances = np.linalg.norm(stack - np.asarray(encoding, dtype=np.float64), axis=1)
    hits = sorted({known[i].case_id for i in np.flatnonzero(distances <= threshold)})
    nearest = float(distances.min())
    if hits:
        return _face("selfie.known_faces", Result.CONSIDER, "face_seen_on_other_account",
                     score=round(nearest, 4), threshold=threshold, case_ids=hits,
                     compared=len(known))
    return _face("selfie.known_faces", Result.CLEAR, score=round(nearest, 4),
                 threshold=threshold, compared=len(known))


def _person_and_held_id(faces: list[FoundFace], encodings: list[np.ndarray],
                        document: np.ndarray | None, challenge: bool,
                        policy: SelfiePolicy) -> tuple[int, int | None] | None:
    """Indexes of the person's face and of the held ID's portrait; None for several people.

    ``faces`` are largest first: the person is the largest face.
    """
    if len(faces) == 1:
        return 0, None
    if not challenge or len(faces) > policy.max_faces_with_document:
        return None
    held = 1
    # The held ID is the smaller face if it is the document's portrait at the face match
    # threshold (not the same-photo one: blur and the distance from the camera move a
    # re-shot portrait as far from the original as a second photograph is), or else if it is
    # card-sized: a printed portrait's head is a few centimetres tall, so held up beside the
    # person it shows far smaller than their face. The person is the largest face and is
    # compared with the document as usual, so someone holding another person's ID ends in a
    # mismatch; two faces of similar size, the smaller not the document's, are two people.
    matches = (document is not None
               and face_distance(encodings[held], document) <= policy.match_threshold)
    card_sized = faces[held].size <= policy.held_document_max_face_ratio * faces[0].size
    return (0, held) if matches or card_sized else None


# A portrait's steady encoding (encode_face(..., steady=True)), worked out only when asked for.
SteadyEncoding = Callable[[], np.ndarray | None]


def check_selfie(image: Image.Image, *, document: np.ndarray | None,
                 reference: np.ndarray | None = None,
                 challenge: bool = False,
                 policy: SelfiePolicy | None = None,
                 steady_document: SteadyEncoding | None = None,
                 steady_reference: SteadyEncoding | None = None) -> SelfieReport:
    """Run the selfie checks that need only this photo and the portraits it is compared with.

    ``document`` is the encoding of the ID's portrait (None when the document check found no
    single face), ``reference`` the account's reference portrait's. With ``challenge`` the
    person holds up their ID, so the document's own portrait may be in the picture too.
    Reading the challenge code and searching known faces are separate steps.

    ``steady_document`` and ``steady_reference`` give those portraits' steady encodings: a
    match distance near the threshold is measured again on steady encodings of both faces
    (faces.steady_distance), and the check's details keep the first distance.
    """
    policy = policy or SelfiePolicy()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    found = find_faces(image, max_side=CHALLENGE_DETECT_MAX_SIDE if challenge else DETECT_MAX_SIDE)
    timings["detect"] = (time.perf_counter() - started) * 1000
    limit = policy.max_faces_with_document if challenge else 1
    report = SelfieReport(checks=[], faces=len(found), timings_ms=timings)

    if not found:
        report.checks.append(_face("selfie.face.count", Result.REJECTED, "selfie_no_face",
                                   score=0.0, threshold=1.0))
        return report
    if len(found) > limit + 1:
        # Far more faces than a selfie (and a held ID) can show: not worth encoding them all.
        report.checks.append(_face("selfie.face.count", Result.REJECTED, "selfie_several_faces",
                                   score=float(len(found)), threshold=float(limit)))
        return report

    started = time.perf_counter()
    encodings = [encode_face(image, face) for face in found]
    timings["encode"] = (time.perf_counter() - started) * 1000
    same_photo = [document is not None
                  and face_distance(e, document) < policy.same_photo_distance for e in encodings]
    split = _person_and_held_id(found, encodings, document, challenge, policy)

    if all(same_photo) or (split is not None and same_photo[split[0]]):
        # The face in the picture (every face, or the person's) is the document's own
        # portrait: the ID (or the photo printed on it) was sent instead of a selfie.
        distance = face_distance(encodings[0], document)
        report.document_distance = distance
        report.checks.append(_face("selfie.face.count", Result.CLEAR, score=float(len(found)),
                                   threshold=float(limit)))
        report.checks.append(_face("selfie.id_as_selfie", Result.REJECTED, "selfie_is_document",
                                   score=round(distance, 4),
                                   threshold=policy.same_photo_distance))
        return report
    if split is None:
        report.checks.append(_face("selfie.face.count", Result.REJECTED, "selfie_several_faces",
                                   score=float(len(found)), threshold=float(limit)))
        return report

    index, held = split
    face, encoding = found[index], encodings[index]
    steady_selfie = functools.cache(lambda: encode_face(image, face, steady=True))
    report.face, report.encoding = face, encoding
    report.checks.append(_face("selfie.face.count", Result.CLEAR, score=float(len(found)),
                               threshold=float(limit), box=list(face.box)))

    sharpness = face_sharpness(image, face)
    size_ok = face.size >= policy.min_face_px
    report.checks.append(_face(
        "selfie.quality.face_size", Result.CLEAR if size_ok else Result.REJECTED,
        None if size_ok else "selfie_face_too_small", score=float(face.size),
        threshold=float(policy.min_face_px)))
    sharp_ok = sharpness >= policy.min_face_sharpness
    report.checks.append(_face(
        "selfie.quality.sharpness", Result.CLEAR if sharp_ok else Result.REJECTED,
        None if sharp_ok else "selfie_blurry", score=round(sharpness, 4),
        threshold=policy.min_face_sharpness))

    if document is None:
        report.checks.append(_face("selfie.match.document", Result.CONSIDER,
                                   "no_document_portrait", threshold=policy.match_threshold))
    else:
        first = face_distance(encoding, document)
        distance, again = _steady(first, steady_document, steady_selfie, policy)
        report.document_distance = distance
        matched = distance <= policy.match_threshold
        report.checks.append(_face(
            "selfie.match.document", Result.CLEAR if matched else Result.REJECTED,
            None if matched else "face_mismatch", score=round(distance, 4),
            threshold=policy.match_threshold, **_measured_again(first, again)))
        # Only the person's face counts here; a held ID's portrait was set apart above.
        report.checks.append(_face("selfie.id_as_selfie", Result.CLEAR, score=round(distance, 4),
                                   threshold=policy.same_photo_distance))
    if challenge:
        held_distance = (face_distance(encodings[held], document)
                         if held is not None and document is not None else None)
        seen = held_distance is not None and held_distance <= policy.match_threshold
        report.checks.append(_face(
            "selfie.challenge.document", Result.CLEAR if seen else Result.CONSIDER,
            None if seen else "challenge_document_not_seen",
            score=None if held_distance is None else round(held_distance, 4),
            threshold=policy.match_threshold,
            box=list(found[held].box) if held is not None else None))

    if reference is not None:
        first = face_distance(encoding, reference)
        distance, again = _steady(first, steady_reference, steady_selfie, policy)
        report.reference_distance = distance
        matched = distance <= policy.match_threshold
        report.checks.append(_face(
            "selfie.match.reference", Result.CLEAR if matched else Result.REJECTED,
            None if matched else "reference_mismatch", score=round(distance, 4),
            threshold=policy.match_threshold, **_measured_again(first, again)))
    return report


def _steady(distance: float, portrait: SteadyEncoding | None, selfie: Callable[[], np.ndarray],
            policy: SelfiePolicy) -> tuple[float, bool]:
    """The match distance to decide by, and whether it was measured on steady encodings."""
    if portrait is None:
        return distance, False

    def both() -> tuple[np.ndarray, np.ndarray] | None:
        steady = portrait()
        return None if steady is None else (selfie(), steady)

    return steady_distance(distance, policy.match_threshold, both)


def _measured_again(first: float, again: bool) -> dict:
    return {"first_distance": round(first, 4), "measured": "steady"} if again else {}


def _gate(result: Result, reason: str | None, **details) -> CheckResult:
    return _face("selfie.gate", result, reason, **details)


def selfie_contrast(image: Image.Image) -> float:
    """The spread of a photo's grey levels (standard deviation on a copy 256 px across)."""
    grey = image.convert("L")
    grey.thumbnail((256, 256), Image.Resampling.BOX)
    return float(np.asarray(grey, dtype=np.float32).std())


def _held_id(image: Image.Image, found: list[FoundFace],
             document: Callable[[], np.ndarray | None] | None, policy: SelfiePolicy) -> bool:
    """Whether the second of two faces is a held ID's portrait (see _person_and_held_id)."""
    if found[1].size <= policy.held_document_max_face_ratio * found[0].size:
        return True
    portrait = document() if document is not None else None
    return (portrait is not None
            and face_distance(encode_face(image, found[1]), portrait) <= policy.match_threshold)


def gate_selfie(image: Image.Image, *, challenge: bool = False,
                policy: SelfiePolicy | None = None,
                document: Callable[[], np.ndarray | None] | None = None) -> CheckResult:
    """The selfie look at upload time: a photo, not blank, one face of usable size.

    Fast (one detection on a reduced copy, no encodings): a refusal here is something the
    person can fix by taking the selfie again. With ``challenge`` a second face is allowed
    when it is the held ID's portrait, as ``check_selfie`` decides: card-sized, or else the
    document's portrait (``document`` gives its encoding). With ``document``, a selfie whose
    face is the document's own portrait (the ID sent as the selfie) is refused here too;
    whether the person matches the document is left to ``check_selfie``.
    """
    policy = policy or SelfiePolicy()
    if document is not None:
        document = functools.cache(document)  # asked for at most once however often used
    contrast = selfie_contrast(image)
    if contrast < policy.min_contrast:
        return _gate(Result.REJECTED, "selfie_blank", score=round(contrast, 2),
                     threshold=policy.min_contrast)
    if min(image.size) < policy.min_face_px:
        # Not even one face of usable size fits: no need to look for one.
        return _gate(Result.REJECTED, "selfie_no_face", score=0.0, threshold=1.0,
                     size=list(image.size))
    found = find_faces(image, max_side=CHALLENGE_DETECT_MAX_SIDE if challenge else DETECT_MAX_SIDE)
    limit = policy.max_faces_with_document if challenge else 1
    if not found:
        return _gate(Result.REJECTED, "selfie_no_face", score=0.0, threshold=1.0)
    if len(found) > limit or (len(found) == 2 and not _held_id(image, found, document, policy)):
        return _gate(Result.REJECTED, "selfie_several_faces", score=float(len(found)),
                     threshold=float(limit))
    if found[0].size < policy.min_face_px:
        return _gate(Result.REJECTED, "selfie_face_too_small", score=float(found[0].size),
                     threshold=float(policy.min_face_px))
    portrait = document() if document is not None else None
    if portrait is not None:
        # The person's face (the largest) is the document's own portrait: the ID, or its
        # photo, was sent as the selfie. The same threshold as check_selfie's: the same
        # photograph measures far below any other photo of the same person.
        distance = face_distance(encode_face(image, found[0]), portrait)
        if distance < policy.same_photo_distance:
            return _gate(Result.REJECTED, "selfie_is_document", score=round(distance, 4),
                         threshold=policy.same_photo_distance)
    return _gate(Result.CLEAR, None, score=float(len(found)), threshold=float(limit),
                 box=list(found[0].box))


def reference_encoding(image: Image.Image, *, steady: bool = False) -> np.ndarray | None:
    """The encoding of the single face on an account's reference portrait; None otherwise.

    ``steady``: its steady encoding (encode_face(..., steady=True)).
    """
    found = find_faces(image)
    if len(found) != 1:
        return None
    return encode_face(image, found[0], steady=steady)
