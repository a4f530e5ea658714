"""verify-pair and calibrate-faces on real photos, with the real face engine."""

import json
import shutil

import pytest
from PIL import Image

from tests.conftest import FACES, document_photo
from verification import calibration

# Fixture photos filed as an LFW directory: person -> the photos numbered 1, 2, ...
PEOPLE = {
    "obama": ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "multi_face_obama_biden.jpg"],
    "biden": ["biden_1.jpg", "biden_2.jpg", "off-centre Obama, centred Biden"],
    "keanu_reeves": ["keanu_reeves_1.jpg", "keanu_reeves_2.jpg", "damaged"],
    "bill_gates": ["bill_gates_1.jpg", "no face"],
}
GENUINE = [("obama", 1, 2), ("obama", 1, 3), ("obama", 2, 3), ("obama", 1, 4), ("biden", 1, 2),
           ("biden", 1, 3), ("biden", 2, 3), ("keanu_reeves", 1, 2)]
IMPOSTOR = [("obama", 1, "biden", 1), ("obama", 2, "keanu_reeves", 1),
            ("obama", 3, "bill_gates", 1), ("biden", 2, "keanu_reeves", 2),
            ("biden", 1, "bill_gates", 1), ("keanu_reeves", 1, "bill_gates", 1),
            # The two-face photos: the face nearest the centre is the one filed.
            ("obama", 1, "biden", 3), ("biden", 1, "obama", 4)]
UNSCORED = [("obama", 1, 9), ("keanu_reeves", 1, 3), ("bill_gates", 2, "obama", 2),
            ("biden", 1, "bill_gates", 2)]
# The photos the pairs use that show a face: obama 1-4, biden 1-3, keanu_reeves 1-2, bill_gates 1.
IMAGES_WITH_A_FACE = 10


def _centred_biden() -> Image.Image:
    """The two-face photo rearranged: a larger Obama off to the left, Biden in the centre."""
    both = Image.open(FACES / "multi_face_obama_biden.jpg").convert("RGB")
    canvas = Image.new("RGB", (1000, 700), (128, 128, 128))
    obama = both.crop((150, 0, 420, 300))
    canvas.paste(obama.resize((432, 480), Image.Resampling.LANCZOS), (0, 100))
    canvas.paste(both.crop((650, 0, 900, 300)), (373, 209))
    return canvas


def _pairs_text(rows) -> str:
    return "\n".join("\t".join(str(v) for v in row) for row in rows) + "\n"


@pytest.fixture(scope="module")
def lfw(tmp_path_factory):
    """An LFW-format directory of the fixture photos and its pairs file."""
    root = tmp_path_factory.mktemp("lfw")
    for person, photos in PEOPLE.items():
        (root / person).mkdir()
        for number, source in enumerate(photos, start=1):
            target = calibration.ImageRef(person, number).path(root)
            if source == "damaged":
                target.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
            elif source == "no face":
                Image.new("RGB", (640, 480), (120, 130, 140)).save(target)
            elif source.startswith("off-centre"):
                _centred_biden().save(target, quality=92)
            else:
                shutil.copy(FACES / source, target)
    pairs = root / "pairs.txt"
    pairs.write_text("10\t300\n" + _pairs_text(GENUINE + IMPOSTOR + UNSCORED))
    return root, pairs


def test_calibrate_faces_json(runner, lfw, monkeypatch):
    root, pairs = lfw
    searched = []
    real_find_faces = calibration.find_faces

    def counting_find_faces(image, **kwargs):
        searched.append(image.size)
        return real_find_faces(image, **kwargs)

    monkeypatch.setattr(calibration, "find_faces", counting_find_faces)
    result = runner.invoke(args=["calibrate-faces", str(pairs), "--images", str(root), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)

    assert out["pairs"] == len(GENUINE + IMPOSTOR + UNSCORED)
    assert (out["genuine"], out["impostor"]) == (len(GENUINE), len(IMPOSTOR))
    assert out["scored"] == out["genuine"] + out["impostor"]
    assert out["unscored"] == {"missing_file": 1, "unreadable": 1, "no_face": 2}
    assert {i["image"]: i["reason"] for i in out["unscored_images"]} == {
        "obama/obama_0009.jpg": "missing_file", "keanu_reeves/keanu_reeves_0003.jpg": "unreadable",
        "bill_gates/bill_gates_0002.jpg": "no_face"}
    # An image used by several pairs is searched (and encoded) once.
    assert len(searched) == IMAGES_WITH_A_FACE + 1  # and the faceless one

    rows = {row["threshold"]: row for row in out["thresholds"]}
    assert sorted(rows) == calibration.threshold_range("0.30:0.80:0.05")
    assert (rows[0.6]["tar"], rows[0.6]["far"], rows[0.6]["accuracy"]) == (1.0, 0.0, 1.0)
    configured = out["at_configured"]
    assert out["configured_threshold"] == configured["threshold"] == 0.595
    assert (configured["tar"], configured["far"], configured["accuracy"]) == (1.0, 0.0, 1.0)
    assert out["errors_at_configured"] == []  # every pair of the fixtures is decided right
    # Same-person distances sit well under the threshold and different people well over it,
    # so none was measured again.
    assert out["distances"]["genuine"]["max"] < 0.595 - 0.05
    assert out["distances"]["impostor"]["min"] > 0.595 + 0.05
    assert out["remeasured_pairs"] == 0
    assert rows[0.3]["tar"] < 1.0 and rows[0.8]["far"] > 0.0
    # The recommendation is the largest threshold whose FAR meets the target.
    meeting = [t for t, row in rows.items() if row["far"] <= out["target_far"]]
    assert out["target_far"] == 0.001 and out["recommended_threshold"] == max(meeting)
    assert out["recommended_threshold"] >= 0.6
    assert out["engine"] == "face_recognition" and out["engine_version"]


def test_calibrate_faces_text_says_when_no_threshold_meets_the_target(runner, lfw):
    root, pairs = lfw
    result = runner.invoke(args=["calibrate-faces", str(pairs), "--images", str(root),
                                 "--thresholds", "0.90:1.00:0.05", "--target-far", "0.01"])
    assert result.exit_code == 0, result.output
    assert f"{len(IMPOSTOR)} impostor)" in result.output
    assert "Not scored: 4 of 20 pairs (missing_file 1, no_face 2, unreadable 1)" in result.output
    assert "obama/obama_0009.jpg: missing_file" in result.output
    assert "Target FAR 0.01: no threshold in the range meets it" in result.output
    assert "it takes 300 or more impostor pairs" in result.output
    assert "Errors at 0.595: none" in result.output
    assert "Measured again on steady encodings, as the selfie check does: 0 pairs" in result.output


@pytest.mark.parametrize("text,line", [("1\nobama\t1\n", 2), ("2\nobama\t1\t2\nobama\tx\t3\n", 3),
                                       ("", 0)])
def test_calibrate_faces_names_the_malformed_line(runner, tmp_path, text, line):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(text)
    result = runner.invoke(args=["calibrate-faces", str(pairs), "--images", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert (f"line {line}:" in result.output) if line else ("lists no pairs" in result.output)


def test_calibrate_faces_refuses_a_bad_range_and_missing_files(runner, tmp_path):
    missing = runner.invoke(args=["calibrate-faces", str(tmp_path / "none.txt"),
                                  "--images", str(tmp_path)])
    assert missing.exit_code == 2 and "No such file" in missing.output
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\na\t1\t2\n")
    bad = runner.invoke(args=["calibrate-faces", str(pairs), "--images", str(tmp_path),
                              "--thresholds", "0.8:0.3:0.05"])
    assert bad.exit_code == 2 and "--thresholds" in bad.output
    no_dir = runner.invoke(args=["calibrate-faces", str(pairs), "--images", str(tmp_path / "x")])
    assert no_dir.exit_code == 2 and "does not exist" in no_dir.output


# --- verify-pair ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory):
    """A passport rendered from obama_1 and a few files that cannot be compared."""
    root = tmp_path_factory.mktemp("pair")
    (root / "passport_obama.jpg").write_bytes(document_photo(portrait="obama_1.jpg"))
    (root / "damaged.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    Image.new("RGB", (640, 480), (120, 130, 140)).save(root / "no_face.jpg")
    return root


def _verify(runner, *args):
    return runner.invoke(args=["verify-pair", *map(str, args)])


@pytest.mark.parametrize("selfie,expected", [("obama_2.jpg", 0), ("obama_3.jpg", 0),
                                             ("biden_1.jpg", 1), ("keanu_reeves_1.jpg", 1)])
def test_verify_pair_document_against_selfie(runner, photos_dir, selfie, expected):
    result = _verify(runner, photos_dir / "passport_obama.jpg", FACES / selfie, "--json")
    assert result.exit_code == expected, result.output
    out = json.loads(result.stdout)
    assert out["match"] is (expected == 0)
    assert out["match"] == (out["distance"] <= out["threshold"]) and out["threshold"] == 0.595
    # Clear of the threshold either way, not only on the right side of it.
    assert abs(out["distance"] - 0.595) > 0.05 and out["measured"] == "single"
    assert (out["id_faces"], out["selfie_faces"]) == (1, 1)
    assert out["engine"] == "face_recognition" and out["engine_version"]


def test_verify_pair_text_and_threshold_override(runner, photos_dir):
    document = photos_dir / "passport_obama.jpg"
    plain = _verify(runner, document, FACES / "obama_2.jpg")
    assert plain.exit_code == 0 and "MATCH" in plain.output and "NO MATCH" not in plain.output
    strict = _verify(runner, document, FACES / "obama_2.jpg", "--threshold", "0.1", "--json")
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)["threshold"] == 0.1
    # Two photos rather than a document: the largest face of the selfie is compared.
    group = _verify(runner, FACES / "obama_1.jpg", FACES / "multi_face_obama_biden.jpg", "--json")
    assert group.exit_code == 0 and json.loads(group.stdout)["selfie_faces"] == 2


def test_verify_pair_measures_a_distance_near_the_threshold_again(runner, photos_dir):
    document, selfie = photos_dir / "passport_obama.jpg", FACES / "obama_2.jpg"
    first = json.loads(_verify(runner, document, selfie, "--json").stdout)
    assert first["measured"] == "single" and first["distance"] == first["first_distance"]
    near = round(first["distance"] - 0.01, 4)
    result = _verify(runner, document, selfie, "--threshold", near, "--json")
    out = json.loads(result.stdout)
    assert out["measured"] == "steady" and out["first_distance"] == first["distance"]
    assert out["distance"] != first["distance"]
    assert result.exit_code == (0 if out["distance"] <= near else 1)
    text = _verify(runner, document, selfie, "--threshold", near).output
    assert f"measured again on steady encodings (first {first['distance']:.3f}" in text


@pytest.mark.parametrize("id_image,selfie,message", [
    ("damaged.jpg", "obama_2.jpg", "The ID document photo cannot be read"),
    ("missing.jpg", "obama_2.jpg", "The ID document photo cannot be read"),
    ("passport_obama.jpg", "damaged.jpg", "The selfie photo cannot be read"),
    ("no_face.jpg", "obama_2.jpg", "No face was found on the ID document photo"),
    ("passport_obama.jpg", "no_face.jpg", "No face was found on the selfie"),
])
def test_verify_pair_refuses_what_it_cannot_compare(runner, photos_dir, id_image, selfie,
                                                    message):
    def where(name):
        return FACES / name if name.startswith("obama") else photos_dir / name

    result = _verify(runner, where(id_image), where(selfie))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("app_config", [{"FACE_MATCH_THRESHOLD": 0.4}])
def test_calibrate_faces_lists_each_error_with_its_pair_and_distance(runner, lfw):
    # At 0.4 some genuine pairs of the fixtures are over the threshold: false rejects.
    root, pairs = lfw
    result = runner.invoke(args=["calibrate-faces", str(pairs), "--images", str(root), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    errors = out["errors_at_configured"]
    assert len(errors) == out["at_configured"]["genuine"] - out["at_configured"][
        "genuine_accepted"] + out["at_configured"]["impostor_accepted"] > 0
    assert all(e["kind"] == "false reject" and e["distance"] > 0.4 for e in errors)
    # Pairs within the margin of 0.4 were measured again, as the selfie check would.
    assert out["remeasured_pairs"] > 0
    text = runner.invoke(args=["calibrate-faces", str(pairs), "--images", str(root)]).output
    assert f"Errors at 0.400: {len(errors)} (nearest the threshold first)" in text
    first = errors[0]
    assert (f"false reject  line {first['line']:>5}  {first['first']}  {first['second']}  "
            f"distance {first['distance']:.4f}") in text
