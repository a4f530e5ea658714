"""The face pipeline beyond the library's defaults: the detection retry and jitter near the line."""

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from verification import faces
from verification.faces import encode_face, face_distance, find_faces

FIXTURES = Path(__file__).parent.parent / "fixtures" / "faces"
PORTRAITS = ("obama_1.jpg", "biden_2.jpg", "keanu_reeves_1.jpg", "bill_gates_1.jpg")


def _photo(name: str) -> Image.Image:
    with Image.open(FIXTURES / name) as image:
        return image.convert("RGB")


def tight_crop(name: str, side: int = 70, pad: float = 0.25) -> Image.Image:
    """The face of a fixture cropped a quarter of its size around the box, ``side`` px square."""
    image = _photo(name)
    top, right, bottom, left = find_faces(image, retry=False)[0].box
    margin = round(pad * (bottom - top))
    return image.crop((left - margin, top - margin, right + margin, bottom + margin)).resize(
        (side, side), Image.Resampling.LANCZOS)


@pytest.mark.parametrize("name", PORTRAITS)
def test_the_second_pass_finds_a_small_tight_crop_the_first_misses(name):
    crop = tight_crop(name)
    assert find_faces(crop, retry=False) == []
    found = find_faces(crop)
    assert len(found) == 1
    top, right, bottom, left = found[0].box
    # The face fills most of the crop: its centre is near the crop's.
    assert abs((left + right) / 2 - 35) < 12 and abs((top + bottom) / 2 - 35) < 12


def _counting_detections(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    real = faces._detect

    def counted(rgb, max_side, upsample, model="hog"):
        calls.append((model, upsample, max_side))
        return real(rgb, max_side, upsample, model)

    monkeypatch.setattr(faces, "_detect", counted)
    return calls


def test_a_large_photo_without_a_face_is_searched_once(monkeypatch):
    calls = _counting_detections(monkeypatch)
    blank = Image.new("RGB", (faces.DETECT_MAX_SIDE + 200, 900), (128, 120, 110))
    assert find_faces(blank) == []
    assert calls == [("hog", faces.DETECT_UPSAMPLE, faces.DETECT_MAX_SIDE)]


def test_a_small_photo_without_a_face_is_searched_again_upsampled_then_by_the_cnn(monkeypatch):
    calls = _counting_detections(monkeypatch)
    assert find_faces(Image.new("RGB", (600, 450), (128, 120, 110))) == []
    assert calls == [("hog", faces.DETECT_UPSAMPLE, faces.DETECT_MAX_SIDE),
                     ("hog", faces.RETRY_UPSAMPLE, faces.DETECT_MAX_SIDE),
                     ("cnn", 0, faces.CNN_RETRY_MAX_SIDE)]


def test_the_cnn_finds_a_face_turned_away_that_hog_misses_and_boxes_it_in_full_pixels():
    # A quarter turn: HOG's frontal templates miss a face lying on its side, the CNN does not.
    photo = _photo("obama_1.jpg").resize((360, 450)).rotate(90, expand=True)
    assert find_faces(photo, retry=False) == []
    assert faces._detect(photo.convert("RGB"), faces.DETECT_MAX_SIDE,
                         faces.RETRY_UPSAMPLE) == []
    found = find_faces(photo)
    assert len(found) == 1 and found[0].size > 100


def test_a_face_found_at_once_is_not_searched_for_again(monkeypatch):
    calls = _counting_detections(monkeypatch)
    assert len(find_faces(_photo("keanu_reeves_1.jpg"))) == 1
    assert calls == [("hog", faces.DETECT_UPSAMPLE, faces.DETECT_MAX_SIDE)]


# --- the mirrored encoding (measured in bench.face_lfw) ------------------------------------


def test_a_mirrored_encoding_is_the_same_on_every_call_and_near_the_single_one():
    image = _photo("obama_2.jpg")
    face = find_faces(image)[0]
    once = encode_face(image, face)
    first = encode_face(image, face, mirrored=True)
    assert face_distance(first, encode_face(image, face, mirrored=True)) == 0.0
    assert 0.0 < face_distance(once, first) < 0.15


def test_the_mirror_half_is_the_face_encoded_in_the_flipped_photo():
    image = _photo("biden_2.jpg")
    face = find_faces(image)[0]
    top, right, bottom, left = face.box
    flipped = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    mirror = encode_face(flipped, faces.FoundFace((top, image.width - left, bottom,
                                                   image.width - right)))
    expected = (encode_face(image, face) + mirror) / 2
    assert np.allclose(encode_face(image, face, mirrored=True), expected, atol=1e-6)


def test_the_verdict_is_the_same_while_other_work_runs():
    selfie, document = _photo("obama_1.jpg"), _photo("obama_3.jpg")
    selfie_face, document_face = find_faces(selfie)[0], find_faces(document)[0]

    def distance():
        return face_distance(encode_face(selfie, selfie_face, mirrored=True),
                             encode_face(document, document_face, mirrored=True))

    alone = distance()
    stop = threading.Event()
    busy = _photo("multi_face_obama_biden.jpg")

    def other_work():
        while not stop.is_set():
            encode_face(busy, find_faces(busy)[1])

    thread = threading.Thread(target=other_work)
    thread.start()
    try:
        together = [distance() for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    assert together == [alone] * 3
    assert alone <= 0.6
