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


# --- the steady encoding (measured in bench.face_lfw) -------------------------------------


def test_a_steady_encoding_is_the_same_on_every_call_and_near_the_single_one():
    image = _photo("obama_2.jpg")
    face = find_faces(image)[0]
    once = encode_face(image, face)
    first = encode_face(image, face, steady=True)
    assert face_distance(first, encode_face(image, face, steady=True)) == 0.0
    assert 0.0 < face_distance(once, first) < 0.15


def test_a_steady_encoding_is_the_average_over_the_chip_its_copies_and_its_mirror():
    engine = faces.face_engine().wrapped.api
    image = _photo("biden_2.jpg")
    face = find_faces(image)[0]
    top, right, bottom, left = face.box
    pixels = np.asarray(image)
    shape = engine.pose_predictor_68_point(pixels, engine.dlib.rectangle(left, top, right,
                                                                         bottom))
    chip = engine.dlib.get_face_chip(pixels, shape, size=150, padding=0.25)
    copies = [chip, *(faces._jittered(chip, *j) for j in faces.STEADY_JITTERS),
              np.ascontiguousarray(chip[:, ::-1])]
    encodings = [np.asarray(engine.face_encoder.compute_face_descriptor(c)) for c in copies]
    # The chip as it is gives the single encoding (the crop around the face changes nothing).
    assert face_distance(encodings[0], encode_face(image, face)) < 1e-6
    assert np.allclose(encode_face(image, face, steady=True), np.mean(encodings, axis=0),
                       atol=1e-6)
    # Every copy differs from the chip, and none by much.
    assert all(0.0 < face_distance(e, encodings[0]) < 0.2 for e in encodings[1:])


def test_a_jitter_of_nothing_is_the_chip_and_a_turn_keeps_its_centre():
    chip = np.zeros((150, 150, 3), np.uint8)
    chip[60:90, 70:80] = 255
    assert np.array_equal(faces._jittered(chip, 0.0, 0.0, 0.0, 1.0), chip)
    turned = faces._jittered(chip, 3.0, 0.0, 0.0, 1.0)
    assert turned[75, 75].tolist() == [255, 255, 255] and not np.array_equal(turned, chip)
    moved = faces._jittered(chip, 0.0, 2.0, 0.0, 1.0)  # the point 2 px right comes to the centre
    assert np.array_equal(moved[:, :148], chip[:, 2:])


def _never():
    raise AssertionError("steady encodings were asked for far from the threshold")


def test_a_distance_far_from_the_threshold_is_kept_without_steady_encodings():
    assert faces.steady_distance(0.54, 0.6, _never) == (0.54, False)
    assert faces.steady_distance(0.66, 0.6, _never) == (0.66, False)


def test_a_distance_near_the_threshold_is_measured_again_on_steady_encodings():
    one, other = np.zeros(128), np.full(128, 0.05)
    again = face_distance(one, other)
    assert faces.steady_distance(0.61, 0.6, lambda: (one, other)) == (again, True)
    assert faces.steady_distance(0.58, 0.6, lambda: (one, other), margin=0.01) == (0.58, False)
    # Without a portrait to encode again, the first distance decides.
    assert faces.steady_distance(0.59, 0.6, lambda: None) == (0.59, False)


def test_the_verdict_is_the_same_while_other_work_runs():
    selfie, document = _photo("obama_1.jpg"), _photo("obama_3.jpg")
    selfie_face, document_face = find_faces(selfie)[0], find_faces(document)[0]

    def distance():
        return face_distance(encode_face(selfie, selfie_face, steady=True),
                             encode_face(document, document_face, steady=True))

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
