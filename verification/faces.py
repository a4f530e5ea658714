"""The face engine (face_recognition on dlib), loaded once per process behind a real error.

face_recognition prints an install hint and calls ``quit()`` when its model package fails to
import (for example when setuptools >= 81 removed ``pkg_resources``); a web process must get an
exception it can report instead of exiting.
"""

import importlib
import importlib.metadata
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

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
# Encodings are computed on a crop this much larger than the face box on every side, so the
# landmark model sees the whole face while the rest of a 12-megapixel photo is left alone.
ENCODE_MARGIN = 0.5


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
               upsample: int = DETECT_UPSAMPLE) -> list[FoundFace]:
    """Faces in ``image``, detected on a copy reduced to ``max_side``, largest first."""
    engine = face_engine()
    rgb = image.convert("RGB")
    scale = min(1.0, max_side / max(rgb.size))
    small = rgb if scale == 1.0 else rgb.resize(
        (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
        Image.Resampling.BILINEAR)
    found = []
    for top, right, bottom, left in engine.face_locations(np.asarray(small),
                                                          number_of_times_to_upsample=upsample):
        box = (max(0, round(top / scale)), min(rgb.width, round(right / scale)),
               min(rgb.height, round(bottom / scale)), max(0, round(left / scale)))
        found.append(FoundFace(box))
    return sorted(found, key=lambda face: face.size, reverse=True)


def encode_face(image: Image.Image, face: FoundFace) -> np.ndarray:
    """The 128-number face_recognition encoding of ``face``, computed on a full-resolution crop."""
    engine = face_engine()
    top, right, bottom, left = face.box
    pad = round(ENCODE_MARGIN * max(bottom - top, right - left))
    crop_box = (max(0, left - pad), max(0, top - pad),
                min(image.width, right + pad), min(image.height, bottom + pad))
    crop = np.asarray(image.convert("RGB").crop(crop_box))
    local = (top - crop_box[1], right - crop_box[0], bottom - crop_box[1], left - crop_box[0])
    return engine.face_encodings(crop, known_face_locations=[local])[0]


def face_distance(first: np.ndarray, second: np.ndarray) -> float:
    """The Euclidean distance between two encodings (what face_recognition.face_distance gives)."""
    return float(np.linalg.norm(np.asarray(first, dtype=np.float64)
                                - np.asarray(second, dtype=np.float64)))
