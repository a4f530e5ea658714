"""The face engine (face_recognition on dlib), loaded once per process behind a real error.

face_recognition prints an install hint and calls ``quit()`` when its model package fails to
import (for example when setuptools >= 81 removed ``pkg_resources``); a web process must get an
exception it can report instead of exiting.
"""

import importlib
import importlib.metadata
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

import cv2
import numpy as np
from PIL import Image, ImageFile

from .serialised import Serialised

# One face engine call at a time in a process: dlib is not safe for threads (serialised.py).
ENGINE_LOCK = threading.RLock()


class FaceEngineUnavailable(RuntimeError):
    """face_recognition or its models cannot be loaded."""


@lru_cache(maxsize=1)
def face_engine() -> Serialised:
    """face_recognition, loaded once, each call under ENGINE_LOCK; FaceEngineUnavailable if not."""
    with ENGINE_LOCK:  # two threads loading the models at once would race in dlib as well
        return Serialised(_import_engine(), ENGINE_LOCK)


def _import_engine() -> ModuleType:
    """Import face_recognition behind a real error (it calls quit() when its models fail)."""
    # face_recognition switches Pillow to accepting truncated files for the whole process at
    # import; upload intake relies on Pillow refusing them, so the setting is put back.
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with warnings.catch_warnings():
            # face_recognition_models imports pkg_resources, which warns that it is deprecated.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                importlib.import_module("face_recognition_models")
            except SystemExit as err:  # what face_recognition's own import would turn it into
                raise ImportError(f"face_recognition_models exited: {err!r}") from err
        # Only a failed import of the models makes face_recognition call quit(), and they are
        # imported now: a SystemExit from here on is the process being stopped (gunicorn
        # raises one in a worker past its timeout), never a broken install, so it goes up.
        return importlib.import_module("face_recognition")
    except ImportError as err:
        raise FaceEngineUnavailable(
            "The face engine could not be loaded: install the locked dependencies with "
            "'make install' (face-recognition with dlib-bin, and setuptools<81 for "
            f"face_recognition_models). Cause: {err!r}"
        ) from err
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated


def engine_version() -> str:
    """The installed face-recognition package's version (its module reports an older one)."""
    face_engine()
    try:
        return importlib.metadata.version("face-recognition")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# Detection runs on a copy whose longer side is this long. Measured on specimen documents
# with real portraits, framed on a table and upscaled to 12 megapixels: at 1000 px with no
# upsampling HOG found the portrait in all 14 TD3/TD1 photos (clean, blur, glare, rotation,
# low light, JPEG q30, perspective) in ~0.25 s; at 800 px it missed 8 of them without
# upsampling and took ~0.5 s with it.
DETECT_MAX_SIDE = 1000
DETECT_UPSAMPLE = 0
# When detection finds no face on an image no larger than the detection copy (nothing was
# reduced: a small or tightly cropped photo), it runs once more on the image upsampled this
# many times; HOG's window is 80 px, so a face filling a small photo's frame can be missed.
# On the 3,443 LFW DevTrain photos (250 px, python -m bench.face_lfw) the first pass found no
# face on 20 (7 in the tuning half, 13 held apart), one upsampling found 5 of them (~24 ms a
# photo), a second upsampling 1 of the first 11 it was tried on; a 12 MP photo is never retried.
RETRY_UPSAMPLE = 1
# When that finds none either, dlib's CNN face detector (face_recognition's "cnn" model) runs on
# a copy at most this long: it found the face on all 15 LFW DevTrain photos both HOG passes
# missed (turned away, tilted, cut by the frame; bench.face_lfw), in 0.83-0.95 s each on a
# 250 px photo with the two cores shared, so it is kept to small photos.
CNN_RETRY_MAX_SIDE = 400
# Encodings are computed on a crop this much larger than the face box on every side, so the
# landmark model sees the whole face while the rest of a 12-megapixel photo is left alone.
ENCODE_MARGIN = 0.5
# The landmark model that aligns a face before it is encoded: face_recognition's "small"
# (5 points, its default) or "large" (68 points). On LFW DevTrain (python -m bench.face_lfw,
# docs/benchmarks.md "Faces on LFW DevTrain"; halves split by person, each ~1.5 million
# impostor pairs), both with the detection retry above, the 68-point model raised the TAR at
# FAR 0.002 from 0.9376 to 0.9505 on the tuning half (0.9459 to 0.9622 held apart) and cut
# listed impostors accepted at 0.6 from 3 to 2 on each half, for ~40 ms more per encoding
# (1.19-1.25x per 12 MP selfie at p50, bench.face_pipeline).
ENCODE_MODEL = "large"
# The face chip dlib's network encodes: face_recognition's size and padding.
CHIP_SIZE = 150
CHIP_PADDING = 0.25
# A steady encoding (encode_face(..., steady=True)) averages the chip with these copies of it
# (degrees turned, px off centre across and down, zoom) and its mirror image: fixed copies
# within the range dlib's own jitter draws from (up to 3 degrees, 2% of the face, 3% zoom).
# On LFW DevTrain's tuning half (docs/benchmarks.md "Steady encodings near the threshold"),
# at each one's best threshold: the chip with these four and the mirror 0.9906 accuracy
# (0.595), the chip alone 0.9871 (0.605), with the mirror only 0.9883, with these four only
# 0.9883; ten copies (these four and the mirror, each also mirrored) 0.9906 (0.59), no better.
STEADY_JITTERS = ((-2.5, -2.0, -1.0, 1.03), (2.5, 2.0, 1.0, 1.03),
                  (-1.5, 2.0, -2.0, 1.015), (1.5, -2.0, 2.0, 1.015))
# A distance within this of the match threshold is measured again on steady encodings
# (steady_distance). On the tuning half, margins of 0.05 and more gave the accuracy of steady
# encodings throughout (0.04 lost one pair). 108 of DevTrain's 2,200 pairs (4.9%) fell within
# 0.05 of 0.595 (calibrate-faces), so most comparisons cost one encoding.
STEADY_MARGIN = 0.05


@dataclass(frozen=True)
class FoundFace:
    """A face in an image: its box (top, right, bottom, left) in the image's own pixels."""

    box: tuple[int, int, int, int]

    @property
    def size(self) -> int:
        """The smaller side of the box in pixels."""
        top, right, bottom, left = self.box
        return min(bottom - top, right - left)


def find_faces(image: Image.Image, *, max_side: int = DETECT_MAX_SIDE,
               upsample: int = DETECT_UPSAMPLE, retry: bool = True) -> list[FoundFace]:
    """Faces in ``image``, detected on a copy reduced to ``max_side``, largest first.

    With ``retry``, an image no larger than ``max_side`` in which none was found is searched
    again upsampled ``RETRY_UPSAMPLE`` times, then with the CNN detector on a copy at most
    ``CNN_RETRY_MAX_SIDE`` long (large photos are not: see RETRY_UPSAMPLE).
    """
    rgb = image.convert("RGB")
    found = _detect(rgb, max_side, upsample)
    if found or not retry or max(rgb.size) > max_side:
        return found
    if upsample < RETRY_UPSAMPLE:
        found = _detect(rgb, max_side, RETRY_UPSAMPLE)
    return found or _detect(rgb, min(max_side, CNN_RETRY_MAX_SIDE), 0, model="cnn")


def _detect(rgb: Image.Image, max_side: int, upsample: int,
            model: str = "hog") -> list[FoundFace]:
    engine = face_engine()
    scale = min(1.0, max_side / max(rgb.size))
    small = rgb if scale == 1.0 else rgb.resize(
        (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
        Image.Resampling.BILINEAR)
    found = []
    for top, right, bottom, left in engine.face_locations(
            np.asarray(small), number_of_times_to_upsample=upsample, model=model):
        box = (max(0, round(top / scale)), min(rgb.width, round(right / scale)),
               min(rgb.height, round(bottom / scale)), max(0, round(left / scale)))
        found.append(FoundFace(box))
    return sorted(found, key=lambda face: face.size, reverse=True)


def encode_face(image: Image.Image, face: FoundFace, *, model: str = ENCODE_MODEL,
                steady: bool = False) -> np.ndarray:
    """The 128-number face_recognition encoding of ``face``, computed on a full-resolution crop.

    The face is aligned by the landmark ``model`` into dlib's 150 x 150 face chip and encoded.
    With ``steady`` the encoding is the average over the chip as it is, ``STEADY_JITTERS`` and
    its mirror image: steadier, about six times the encoding time, and the same on every call.
    (face_recognition's own ``num_jitters`` is not used: dlib draws its jittered copies from a
    random generator that lives on in the thread, so the same face gave encodings 0.078 apart
    on two calls with 3 jitters, obama_2.jpg.)
    """
    engine = face_engine()
    top, right, bottom, left = face.box
    pad = round(ENCODE_MARGIN * max(bottom - top, right - left))
    crop_box = (max(0, left - pad), max(0, top - pad),
                min(image.width, right + pad), min(image.height, bottom + pad))
    crop = np.asarray(image.convert("RGB").crop(crop_box))
    local = (top - crop_box[1], right - crop_box[0], bottom - crop_box[1], left - crop_box[0])
    if not steady:
        return engine.face_encodings(crop, known_face_locations=[local], model=model)[0]
    api = engine.wrapped.api
    with ENGINE_LOCK:
        predictor = api.pose_predictor_68_point if model == "large" else api.pose_predictor_5_point
        shape = predictor(crop, api.dlib.rectangle(local[3], local[0], local[1], local[2]))
        chip = api.dlib.get_face_chip(crop, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
    chips = [chip, *(_jittered(chip, *jitter) for jitter in STEADY_JITTERS),
             np.ascontiguousarray(chip[:, ::-1])]
    # One copy per turn of the lock, so that other work waits for at most one encoding
    # (serialised.py); one at a time is no slower than a batch on a CPU (~75 ms a copy).
    encoder = Serialised(api.face_encoder, ENGINE_LOCK)
    return np.mean([np.asarray(encoder.compute_face_descriptor(copy)) for copy in chips], axis=0)


def _jittered(chip: np.ndarray, degrees: float, dx: float, dy: float,
              zoom: float) -> np.ndarray:
    """``chip`` turned by ``degrees`` and zoomed by ``zoom`` about a point (dx, dy) px off
    its centre, which is moved to the centre (edges repeated where the frame is left)."""
    middle = (chip.shape[1] - 1) / 2
    centre = (middle + dx, middle + dy)
    matrix = cv2.getRotationMatrix2D(centre, degrees, zoom)
    matrix[:, 2] += (middle - centre[0], middle - centre[1])
    return cv2.warpAffine(chip, matrix, (chip.shape[1], chip.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def steady_distance(distance: float, threshold: float,
                    steady: Callable[[], tuple[np.ndarray, np.ndarray] | None],
                    margin: float | None = None) -> tuple[float, bool]:
    """The distance to decide by, and whether it was measured again.

    ``distance`` when it is farther than ``margin`` from ``threshold``; otherwise the distance
    between the steady encodings ``steady`` gives (``encode_face(..., steady=True)`` of both
    faces), or ``distance`` still when it gives None (a portrait no longer available).
    ``margin`` defaults to STEADY_MARGIN.
    """
    if abs(distance - threshold) > (STEADY_MARGIN if margin is None else margin):
        return distance, False
    both = steady()
    if both is None:
        return distance, False
    return face_distance(*both), True


def face_distance(first: np.ndarray, second: np.ndarray) -> float:
    """The Euclidean distance between two encodings (what face_recognition.face_distance gives)."""
    return float(np.linalg.norm(np.asarray(first, dtype=np.float64)
                                - np.asarray(second, dtype=np.float64)))
