"""The face engine (face_recognition on dlib), loaded once per process behind a real error.

face_recognition prints an install hint and calls ``quit()`` when its model package fails to
import (for example when setuptools >= 81 removed ``pkg_resources``); a web process must get an
exception it can report instead of exiting.
"""

import importlib
import warnings
from functools import lru_cache
from types import ModuleType

from PIL import ImageFile


class FaceEngineUnavailable(RuntimeError):
    """face_recognition or its models cannot be loaded."""


@lru_cache(maxsize=1)
def face_engine() -> ModuleType:
    """The face_recognition module, imported once; FaceEngineUnavailable when it cannot load."""
    # face_recognition switches Pillow to accepting truncated files for the whole process at
    # import; upload intake relies on Pillow refusing them, so the setting is put back.
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with warnings.catch_warnings():
            # face_recognition_models imports pkg_resources, which warns that it is deprecated.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            importlib.import_module("face_recognition_models")
            return importlib.import_module("face_recognition")
    except (ImportError, SystemExit) as err:
        raise FaceEngineUnavailable(
            "The face engine could not be loaded: install the locked dependencies with "
            "'make install' (face-recognition with dlib-bin, and setuptools<81 for "
            f"face_recognition_models). Cause: {err!r}"
        ) from err
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated
