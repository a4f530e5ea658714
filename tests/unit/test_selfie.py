"""Selfie checks on real photographs (tests/fixtures/faces) and generated documents."""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tests.conftest import FACES
from verification.checks import Result
from verification.documents import find_portrait
from verification.faces import encode_face, find_faces
from verification.selfie import (
    KnownFace,
    SelfiePolicy,
    check_selfie,
    face_distance,
    known_face_check,
    reference_encoding,
)
from verification.specimen import SpecimenPerson, render_challenge_selfie, render_passport


def photo(name: str) -> Image.Image:
    return Image.open(FACES / name).convert("RGB")


@pytest.fixture(scope="module")
def obama_document():
    """A passport whose portrait is obama_1.jpg, and that portrait's encoding."""
    page = render_passport(SpecimenPerson(), photo("obama_1.jpg"))
    return page, find_portrait(page).encoding


def results(report) -> dict[str, tuple[str, str | None]]:
    return {c.check: (c.result.value, c.reason_code) for c in report.checks}


@pytest.mark.parametrize("selfie", ["obama_2.jpg", "obama_3.jpg"])
def test_the_same_person_in_another_photo_matches(obama_document, selfie):
    report = check_selfie(photo(selfie), document=obama_document[1])
    assert results(report)["selfie.match.document"] == ("clear", None)
    assert report.outcome is Result.CLEAR
    assert report.document_distance <= SelfiePolicy().match_threshold - 0.05
    match = next(c for c in report.checks if c.check == "selfie.match.document")
    assert match.threshold == 0.595 and match.engine == "face_recognition"


@pytest.mark.parametrize("selfie", ["biden_1.jpg", "keanu_reeves_1.jpg", "bill_gates_1.jpg"])
def test_different_people_do_not_match(obama_document, selfie):
    report = check_selfie(photo(selfie), document=obama_document[1])
    assert results(report)["selfie.match.document"] == ("rejected", "face_mismatch")
    assert report.document_distance > SelfiePolicy().match_threshold + 0.05


def test_two_faces_are_a_reason_code_not_a_crash(obama_document):
    report = check_selfie(photo("multi_face_obama_biden.jpg"), document=obama_document[1])
    assert results(report) == {"selfie.face.count": ("rejected", "selfie_several_faces")}
    assert report.faces == 2 and report.encoding is None


def test_no_face_is_a_reason_code():
    report = check_selfie(Image.new("RGB", (640, 480), (120, 130, 140)), document=None)
    assert results(report) == {"selfie.face.count": ("rejected", "selfie_no_face")}


def test_the_photo_printed_on_the_id_is_not_a_selfie(obama_document):
    report = check_selfie(photo("obama_1.jpg"), document=obama_document[1])
    assert results(report)["selfie.id_as_selfie"] == ("rejected", "selfie_is_document")
    assert report.document_distance < SelfiePolicy().same_photo_distance


def test_a_photo_of_the_id_is_not_a_selfie(obama_document):
    page = obama_document[0]
    shot = page.rotate(3, expand=True, fillcolor=(90, 80, 70)).filter(
        ImageFilter.GaussianBlur(0.8))
    report = check_selfie(shot, document=obama_document[1])
    assert results(report)["selfie.id_as_selfie"] == ("rejected", "selfie_is_document")


def test_a_genuine_selfie_is_not_taken_for_the_id(obama_document):
    report = check_selfie(photo("obama_3.jpg"), document=obama_document[1])
    assert results(report)["selfie.id_as_selfie"] == ("clear", None)


def test_without_a_document_portrait_a_person_compares(obama_document):
    report = check_selfie(photo("obama_2.jpg"), document=None)
    assert results(report)["selfie.match.document"] == ("consider", "no_document_portrait")


def test_a_blurred_face_is_refused_as_blurry(obama_document):
    image = photo("obama_2.jpg")
    blurred = image.filter(ImageFilter.GaussianBlur(12))  # ~4% of the 310 px face
    report = check_selfie(blurred, document=obama_document[1])
    assert results(report)["selfie.quality.sharpness"] == ("rejected", "selfie_blurry")


def test_a_face_smaller_than_the_policy_is_too_small(obama_document):
    policy = SelfiePolicy(min_face_px=400)
    report = check_selfie(photo("obama_2.jpg"), document=obama_document[1], policy=policy)
    assert results(report)["selfie.quality.face_size"] == ("rejected", "selfie_face_too_small")


def test_the_reference_portrait_is_compared_when_held(obama_document):
    same = reference_encoding(photo("obama_3.jpg"))
    other = reference_encoding(photo("biden_2.jpg"))
    report = check_selfie(photo("obama_2.jpg"), document=obama_document[1], reference=same)
    assert results(report)["selfie.match.reference"] == ("clear", None)
    report = check_selfie(photo("obama_2.jpg"), document=obama_document[1], reference=other)
    assert results(report)["selfie.match.reference"] == ("rejected", "reference_mismatch")
    assert reference_encoding(photo("multi_face_obama_biden.jpg")) is None


def _match(report, check: str = "selfie.match.document"):
    return next(c for c in report.checks if c.check == check)


def _never():
    raise AssertionError("a steady encoding was asked for far from the threshold")


def test_a_match_far_from_the_threshold_needs_no_steady_encoding(obama_document):
    report = check_selfie(photo("obama_2.jpg"), document=obama_document[1],
                          steady_document=_never)
    assert report.document_distance < SelfiePolicy().match_threshold - 0.05
    assert "measured" not in _match(report).details


def test_a_match_near_the_threshold_is_decided_on_steady_encodings(obama_document):
    page, portrait = obama_document
    selfie = photo("obama_2.jpg")
    first = check_selfie(selfie, document=portrait).document_distance
    steady_portrait = find_portrait(page, steady=True).encoding
    asked = []

    def steady_document():
        asked.append(True)
        return steady_portrait

    # A threshold just under the first distance: decided on it, the selfie would not match.
    policy = SelfiePolicy(match_threshold=round(first - 0.005, 4))
    report = check_selfie(selfie, document=portrait, policy=policy,
                          steady_document=steady_document)
    face = find_faces(selfie)[0]
    again = face_distance(encode_face(selfie, face, steady=True), steady_portrait)
    assert asked == [True] and again != first
    assert report.document_distance == pytest.approx(again)
    match = _match(report)
    assert match.score == round(again, 4)
    assert match.details["first_distance"] == round(first, 4)
    assert match.details["measured"] == "steady"
    assert match.result is (Result.CLEAR if again <= policy.match_threshold else Result.REJECTED)


def test_without_a_steady_portrait_the_first_distance_decides(obama_document):
    first = check_selfie(photo("obama_2.jpg"), document=obama_document[1]).document_distance
    policy = SelfiePolicy(match_threshold=round(first - 0.005, 4))
    report = check_selfie(photo("obama_2.jpg"), document=obama_document[1], policy=policy,
                          steady_document=lambda: None)
    assert report.document_distance == first
    assert _match(report).result is Result.REJECTED and "measured" not in _match(report).details


def test_a_reference_match_near_the_threshold_is_decided_on_steady_encodings(obama_document):
    reference = reference_encoding(photo("obama_3.jpg"))
    steady_reference = reference_encoding(photo("obama_3.jpg"), steady=True)
    selfie = photo("obama_2.jpg")
    first = check_selfie(selfie, document=None, reference=reference).reference_distance
    policy = SelfiePolicy(match_threshold=round(first + 0.005, 4))
    report = check_selfie(selfie, document=None, reference=reference, policy=policy,
                          steady_reference=lambda: steady_reference)
    again = face_distance(encode_face(selfie, find_faces(selfie)[0], steady=True),
                          steady_reference)
    assert report.reference_distance == pytest.approx(again) and again != first
    match = _match(report, "selfie.match.reference")
    assert match.details == {"first_distance": round(first, 4), "measured": "steady"}


def test_a_challenge_selfie_sets_the_held_id_apart(obama_document):
    page, encoding = obama_document
    image = render_challenge_selfie(photo("obama_2.jpg"), page, "123456", seed=2)
    report = check_selfie(image, document=encoding, challenge=True)
    found = results(report)
    assert report.faces == 2
    assert found["selfie.challenge.document"] == ("clear", None)
    assert found["selfie.match.document"] == ("clear", None)
    assert found["selfie.id_as_selfie"] == ("clear", None)
    # The person is the large face on the left, not the portrait on the held ID.
    assert report.face.box[3] < image.width / 2


def test_a_challenge_selfie_of_someone_else_holding_the_id_does_not_match(obama_document):
    page, encoding = obama_document
    image = render_challenge_selfie(photo("biden_1.jpg"), page, "123456", seed=2)
    found = results(check_selfie(image, document=encoding, challenge=True))
    assert found["selfie.match.document"] == ("rejected", "face_mismatch")
    assert found["selfie.challenge.document"] == ("clear", None)


def shaken(image: Image.Image) -> Image.Image:
    """A challenge selfie slightly out of focus (the held portrait about 0.46 from the ID's)."""
    return image.filter(ImageFilter.GaussianBlur(1.5))


def check(check_name: str, report):
    return next(c for c in report.checks if c.check == check_name)


@pytest.mark.parametrize("selfie,seed", [("obama_2.jpg", 1), ("obama_3.jpg", 2)])
def test_a_blurred_genuine_challenge_selfie_passes(obama_document, selfie, seed):
    page, encoding = obama_document
    image = shaken(render_challenge_selfie(photo(selfie), page, "123456", seed=seed))
    report = check_selfie(image, document=encoding, challenge=True)
    found = results(report)
    assert report.faces == 2
    # Too far from the document's portrait to be taken for the same photograph, and still
    # the held ID: it is the document's portrait at the face match threshold.
    held = check("selfie.challenge.document", report)
    assert SelfiePolicy().same_photo_distance < held.score <= SelfiePolicy().match_threshold
    assert found["selfie.face.count"] == ("clear", None)
    assert found["selfie.challenge.document"] == ("clear", None)
    assert found["selfie.match.document"] == ("clear", None)
    assert found["selfie.id_as_selfie"] == ("clear", None)
    assert report.outcome is Result.CLEAR
    assert report.face.box[3] < image.width / 2 and held.details["box"][3] > image.width / 2


def test_someone_else_holding_the_id_in_a_blurred_challenge_selfie_is_a_mismatch(
        obama_document):
    page, encoding = obama_document
    image = shaken(render_challenge_selfie(photo("biden_1.jpg"), page, "123456", seed=2))
    report = check_selfie(image, document=encoding, challenge=True)
    found = results(report)
    assert found["selfie.face.count"] == ("clear", None)
    assert found["selfie.match.document"] == ("rejected", "face_mismatch")
    assert found["selfie.challenge.document"] == ("clear", None)
    assert report.document_distance > SelfiePolicy().match_threshold
    assert report.face.box[3] < image.width / 2


def test_someone_holding_a_card_that_is_not_the_document_is_a_mismatch(obama_document):
    # Bill Gates holds a passport with Keanu Reeves's portrait (a third of his face's size);
    # the document filed is Obama's.
    other = render_passport(SpecimenPerson(), photo("keanu_reeves_2.jpg"))
    image = render_challenge_selfie(photo("bill_gates_1.jpg"), other, "123456", seed=1)
    report = check_selfie(image, document=obama_document[1], challenge=True)
    found = results(report)
    assert report.faces == 2
    assert found["selfie.face.count"] == ("clear", None)
    assert found["selfie.match.document"] == ("rejected", "face_mismatch")
    assert found["selfie.challenge.document"] == ("consider", "challenge_document_not_seen")
    assert check("selfie.challenge.document", report).score > SelfiePolicy().match_threshold


@pytest.mark.parametrize("portrait", ["obama_1.jpg", "keanu_reeves_2.jpg"])
def test_two_people_of_similar_size_in_a_challenge_selfie_are_several_faces(portrait):
    # With Obama's document the larger face matches, the smaller (Biden) does not; with
    # Keanu Reeves's neither does. Neither case shows a held ID.
    document = find_portrait(render_passport(SpecimenPerson(), photo(portrait))).encoding
    report = check_selfie(photo("multi_face_obama_biden.jpg"), document=document,
                          challenge=True)
    assert results(report) == {"selfie.face.count": ("rejected", "selfie_several_faces")}
    assert report.faces == 2 and report.encoding is None


def test_three_faces_in_a_challenge_selfie_are_several_faces(obama_document):
    page, encoding = obama_document
    image = render_challenge_selfie(photo("multi_face_obama_biden.jpg"), page, "123456",
                                    seed=2)
    report = check_selfie(image, document=encoding, challenge=True)
    assert results(report) == {"selfie.face.count": ("rejected", "selfie_several_faces")}
    assert report.faces == 3


def test_a_challenge_selfie_without_the_id_is_a_signal_for_the_agent(obama_document):
    found = results(check_selfie(photo("obama_2.jpg"), document=obama_document[1],
                                 challenge=True))
    assert found["selfie.challenge.document"] == ("consider", "challenge_document_not_seen")


def test_known_faces_flag_every_other_case_with_the_face():
    rng = np.random.default_rng(7)
    me = rng.normal(0, 0.1, 128)
    near = me + 0.01
    far = me + 0.2
    known = [KnownFace(4, far), KnownFace(9, near), KnownFace(2, near)]
    check = known_face_check(me, known, threshold=0.6)
    assert check.result is Result.CONSIDER and check.reason_code == "face_seen_on_other_account"
    assert check.details["case_ids"] == [2, 9] and check.details["compared"] == 3
    assert check.score == pytest.approx(face_distance(me, near), abs=1e-3)


def test_known_faces_clear_when_nobody_else_has_the_face():
    me = np.zeros(128)
    assert known_face_check(me, [KnownFace(1, np.full(128, 0.1))], 0.6).result is Result.CLEAR
    assert known_face_check(me, [], 0.6).details["compared"] == 0


def test_policy_from_configuration_refuses_unknown_names():
    assert SelfiePolicy.from_mapping({"min_face_px": "100"}).min_face_px == 100
    with pytest.raises(ValueError, match="unknown selfie setting"):
        SelfiePolicy.from_mapping({"min_face": 100})
