"""The installed face engine loads and sees faces (proves the dlib-bin / setuptools pins)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from verification import faces

FIXTURES = Path(__file__).parent.parent / "fixtures" / "faces"


def _rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / name).convert("RGB"))


@pytest.mark.parametrize("name,expected", [("obama_1.jpg", 1), ("multi_face_obama_biden.jpg", 2)])
def test_engine_loads_and_counts_faces(name, expected):
    engine = faces.face_engine()
    assert len(engine.face_locations(_rgb(name))) == expected


def test_loading_the_engine_keeps_pillow_strict_about_truncated_files():
    from PIL import ImageFile

    faces.face_engine()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_engine_failure_is_an_exception_not_an_exit(monkeypatch):
    def broken(name):
        raise SystemExit("Please install `face_recognition_models`")

    faces.face_engine.cache_clear()
    monkeypatch.setattr(faces.importlib, "import_module", broken)
    try:
        with pytest.raises(faces.FaceEngineUnavailable, match="make install"):
            faces.face_engine()
    finally:
        faces.face_engine.cache_clear()


def test_a_process_stopped_while_the_engine_loads_stops_instead_of_going_on_without_it(
        monkeypatch):
    # gunicorn stops a worker past its timeout by raising SystemExit in it, wherever it is:
    # during the models' load that must stop the request, not read as a missing install.
    real = faces.importlib.import_module

    def stopped_in_face_recognition(name):
        if name == "face_recognition":
            raise SystemExit(1)
        return real(name)

    faces.face_engine.cache_clear()
    monkeypatch.setattr(faces.importlib, "import_module", stopped_in_face_recognition)
    try:
        with pytest.raises(SystemExit):
            faces.face_engine()
    finally:
        faces.face_engine.cache_clear()
