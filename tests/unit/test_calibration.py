"""Face-match calibration: the LFW pairs format, the face nearest the centre, TAR/FAR/accuracy."""

from pathlib import Path

import numpy as np
import pytest

from verification import calibration
from verification.calibration import (
    ImageRef,
    Pair,
    PairsFileError,
    Unscorable,
    nearest_centre,
    parse_pairs,
    rate_table,
    rates_at,
    score_pairs,
    threshold_for_far,
    threshold_range,
)

# --- the pairs file ------------------------------------------------------------------------


def test_reads_matched_and_mismatched_pairs_after_a_one_number_header():
    pairs = parse_pairs("2\nAbel_Pacheco\t1\t4\nAbdel_Madi_Shabneh\t1\tDean_Barker\t1\n")
    assert pairs == [
        Pair(ImageRef("Abel_Pacheco", 1), ImageRef("Abel_Pacheco", 4), line=2),
        Pair(ImageRef("Abdel_Madi_Shabneh", 1), ImageRef("Dean_Barker", 1), line=3),
    ]
    assert [p.genuine for p in pairs] == [True, False]


@pytest.mark.parametrize("header", ["10\t300\n", "1\n", "", "\n\n"])
def test_the_header_is_informational_and_every_following_line_is_read(header):
    body = "a\t1\t2\nb\t1\tc\t2\n\nd\t3\t4\n"
    pairs = parse_pairs(header + body)
    assert [(p.first.name, p.second.name) for p in pairs] == [("a", "a"), ("b", "c"), ("d", "d")]


def test_spaces_work_as_separators_and_a_mismatched_line_of_one_person_is_genuine():
    pairs = parse_pairs("1\nGeorge_W_Bush 10 George_W_Bush 12\n")
    assert pairs[0].genuine and pairs[0].second == ImageRef("George_W_Bush", 12)


@pytest.mark.parametrize("text,line,message", [
    ("10\t300\na\t1\t2\na\t1\n", 3, "got 2 fields"),
    ("1\na\t1\t2\t3\t4\n", 2, "got 5 fields"),
    ("1\na\tone\t2\n", 2, "image number 'one'"),
    ("1\na\t0\t2\n", 2, "image number '0'"),
    ("1\na\t-1\tb\t2\n", 2, "image number '-1'"),
    ("1\n..\t1\t2\n", 2, "'..' is not a person's directory name"),
    ("1\nx/../y\t1\tb\t2\n", 2, "not a person's directory name"),
    ("1\na\t2\t2\n", 2, "with itself"),
    ("10\t300\n", 0, "lists no pairs"),
    ("1 2 3 4 5\n", 1, "got 5 fields"),
])
def test_a_malformed_file_is_refused_naming_the_line(text, line, message):
    with pytest.raises(PairsFileError, match=message) as caught:
        parse_pairs(text)
    assert caught.value.line == line
    if line:
        assert str(caught.value).startswith(f"line {line}: ")


@pytest.mark.parametrize("number,name", [(1, "Ann_Lee_0001.jpg"), (37, "Ann_Lee_0037.jpg"),
                                         (12345, "Ann_Lee_12345.jpg")])
def test_images_live_where_lfw_keeps_them(number, name):
    assert ImageRef("Ann_Lee", number).path(Path("/lfw")) == Path("/lfw/Ann_Lee") / name


# --- thresholds ----------------------------------------------------------------------------


def test_a_threshold_range_includes_both_ends_without_float_drift():
    values = threshold_range("0.30:0.80:0.05")
    assert len(values) == 11 and values[0] == 0.3 and values[-1] == 0.8
    assert 0.6 in values and 0.7 in values  # 0.30 + 6 x 0.05 is exactly 0.6
    assert threshold_range("0.6:0.6:0.1") == [0.6]
    assert threshold_range("0.5:0.62:0.05") == [0.5, 0.55, 0.6]


@pytest.mark.parametrize("spec", ["0.3:0.8", "a:b:c", "0.8:0.3:0.05", "0.3:0.8:0", "0.3:0.8:-1",
                                  "-0.1:0.5:0.1", "nan:1:0.1", "0:inf:0.1", "0:1:0.0001"])
def test_a_bad_threshold_range_is_refused(spec):
    with pytest.raises(ValueError, match="start|thresholds"):
        threshold_range(spec)


# --- the face nearest the centre -----------------------------------------------------------


def test_the_face_nearest_the_centre_wins_over_a_larger_one():
    large_left = (100, 300, 400, 0)      # 300 px, centre (150, 250)
    small_centre = (450, 550, 550, 450)  # 100 px, centre (500, 500)
    assert nearest_centre([large_left, small_centre], (1000, 1000)) == 1


def test_a_tie_goes_to_the_first_face_and_no_face_is_an_error():
    left, right = (40, 40, 60, 20), (40, 80, 60, 60)  # both 20 px from the centre (50, 50)
    assert nearest_centre([left, right], (100, 100)) == 0
    assert nearest_centre([right, left], (100, 100)) == 0
    with pytest.raises(ValueError):
        nearest_centre([], (100, 100))


# --- rates ---------------------------------------------------------------------------------


def test_rates_from_hand_made_distances():
    genuine, impostor = [0.35, 0.45, 0.55, 0.65], [0.62, 0.75, 0.80, 0.90, 0.95]
    at_050 = rates_at(genuine, impostor, 0.5)
    assert (at_050.tar, at_050.far) == (0.5, 0.0)
    assert at_050.accuracy == pytest.approx((2 + 5) / 9)
    at_070 = rates_at(genuine, impostor, 0.7)
    assert (at_070.tar, at_070.far) == (1.0, 0.2)
    assert (at_070.genuine_accepted, at_070.impostor_accepted) == (4, 1)
    assert at_070.accuracy == pytest.approx((4 + 4) / 9)


def test_a_distance_equal_to_the_threshold_is_a_match():
    row = rates_at([0.6], [0.6], 0.6)
    assert (row.tar, row.far, row.accuracy) == (1.0, 1.0, 0.5)
    # The same through a parsed range, where 0.6 is reached by steps.
    table = rate_table([0.6], [0.6], threshold_range("0.30:0.80:0.05"))
    assert next(r for r in table if r.threshold == 0.6).far == 1.0
    assert next(r for r in table if r.threshold == 0.55).far == 0.0


def test_without_impostor_pairs_there_is_no_far_and_no_recommendation():
    table = rate_table([0.4, 0.5], [], [0.3, 0.45, 0.6])
    assert [r.far for r in table] == [None, None, None]
    assert [r.tar for r in table] == [0.0, 0.5, 1.0]
    assert [r.accuracy for r in table] == [0.0, 0.5, 1.0]
    assert threshold_for_far(table, 0.001) is None


def test_without_genuine_pairs_there_is_no_tar_but_far_still_counts():
    table = rate_table([], [0.7, 0.8], [0.6, 0.75])
    assert [r.tar for r in table] == [None, None]
    assert [r.far for r in table] == [0.0, 0.5]
    assert [r.accuracy for r in table] == [1.0, 0.5]
    assert threshold_for_far(table, 0.001).threshold == 0.6


def test_no_pairs_at_all_gives_no_rates():
    row = rates_at([], [], 0.6)
    assert (row.tar, row.far, row.accuracy) == (None, None, None)


def test_the_recommended_threshold_is_the_largest_meeting_the_target():
    genuine, impostor = [0.3, 0.4], [0.55, 0.65, 0.75, 0.85]
    table = rate_table(genuine, impostor, [0.5, 0.6, 0.7, 0.8])
    assert [r.far for r in table] == [0.0, 0.25, 0.5, 0.75]
    assert threshold_for_far(table, 0.001).threshold == 0.5
    assert threshold_for_far(table, 0.25).threshold == 0.6   # a FAR equal to the target meets it
    assert threshold_for_far(table, 0.3).threshold == 0.6
    assert threshold_for_far(table, 1.0).threshold == 0.8
    # The order of the rows does not matter.
    assert threshold_for_far(table[::-1], 0.5).threshold == 0.7


def test_no_threshold_meets_the_target_when_every_one_accepts_impostors():
    table = rate_table([0.3], [0.1, 0.2], [0.3, 0.4])
    assert threshold_for_far(table, 0.001) is None


def test_impostor_pairs_needed_follow_the_rule_of_three():
    assert calibration.impostor_pairs_needed(0.001) == 3000
    assert calibration.impostor_pairs_needed(0.01) == 300


# --- scoring -------------------------------------------------------------------------------


def _fake_encoder(vectors: dict[str, float], failures: dict[str, str]):
    """An encoder that places each person's photos on a line and counts its calls."""
    calls = []

    def encode(ref: ImageRef) -> np.ndarray:
        calls.append(ref)
        key = f"{ref.name}_{ref.number}"
        if key in failures:
            raise Unscorable(failures[key])
        return np.array([vectors[key], 0.0])

    return encode, calls


def test_each_image_is_encoded_once_and_unscored_pairs_are_counted_by_reason():
    pairs = parse_pairs("1\n"
                        "a\t1\t2\n"          # genuine 0.4
                        "a\t1\tb\t1\n"       # impostor 0.9
                        "a\t2\tb\t1\n"       # impostor 0.5
                        "a\t1\t9\n"          # a_9 missing
                        "b\t1\ta\t9\n"       # a_9 missing again: not encoded a second time
                        "b\t2\tb\t1\n")      # b_2 shows no face
    encode, calls = _fake_encoder({"a_1": 0.0, "a_2": 0.4, "b_1": 0.9},
                                  {"a_9": calibration.MISSING_FILE, "b_2": calibration.NO_FACE})
    scores = score_pairs(pairs, encode)
    assert sorted(f"{r.name}_{r.number}" for r in calls) == ["a_1", "a_2", "a_9", "b_1", "b_2"]
    assert scores.genuine == pytest.approx([0.4])
    assert scores.impostor == pytest.approx([0.9, 0.5])
    assert scores.unscored == {"missing_file": 2, "no_face": 1}
    assert scores.unscored_images == {ImageRef("a", 9): "missing_file",
                                      ImageRef("b", 2): "no_face"}
    assert [reason for _, _, reason in scores.pairs] == [
        None, None, None, "missing_file", "missing_file", "no_face"]


def test_distances_near_the_threshold_are_measured_again_on_steady_encodings():
    pairs = parse_pairs("1\n"
                        "a\t1\t2\n"          # genuine 0.62: near 0.6, measured again
                        "a\t1\tb\t1\n"       # impostor 0.9: far, kept
                        "a\t2\tb\t1\n")      # impostor 0.28: far, kept
    encode, _ = _fake_encoder({"a_1": 0.0, "a_2": 0.62, "b_1": 0.9}, {})
    steady, steady_calls = _fake_encoder({"a_1": 0.0, "a_2": 0.57, "b_1": 0.85}, {})
    scores = score_pairs(pairs, encode, steady=steady, threshold=0.6)
    assert scores.genuine == pytest.approx([0.57]) and scores.impostor == pytest.approx([0.9, 0.28])
    assert scores.remeasured == 1
    assert sorted(f"{r.name}_{r.number}" for r in steady_calls) == ["a_1", "a_2"]
    # Without a threshold nothing is measured again.
    assert score_pairs(pairs, encode, steady=steady).genuine == pytest.approx([0.62])


def test_calibrate_reports_what_the_command_prints():
    pairs = parse_pairs("1\na\t1\t2\na\t1\tb\t1\na\t1\t3\n")
    encode, _ = _fake_encoder({"a_1": 0.0, "a_2": 0.45, "b_1": 0.72},
                              {"a_3": calibration.UNREADABLE})
    result = calibration.calibrate(pairs, encode, threshold_range("0.40:0.80:0.10"), 0.001)
    out = result.as_dict()
    assert (out["pairs"], out["scored"], out["genuine"], out["impostor"]) == (3, 2, 1, 1)
    assert out["unscored"] == {"unreadable": 1}
    assert out["unscored_images"] == [{"image": "a/a_0003.jpg", "reason": "unreadable"}]
    assert [row["threshold"] for row in out["thresholds"]] == [0.4, 0.5, 0.6, 0.7, 0.8]
    assert [row["tar"] for row in out["thresholds"]] == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert [row["far"] for row in out["thresholds"]] == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert out["recommended_threshold"] == 0.7
    assert out["distances"]["genuine"]["max"] == pytest.approx(0.45)


def test_a_missing_or_unreadable_file_is_unscorable_before_any_face_search(tmp_path):
    limits = {"max_bytes": 1_000_000, "max_pixels": 1_000_000}
    with pytest.raises(Unscorable) as missing:
        calibration.encode_photo_file(tmp_path / "nope.jpg", **limits)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff" + b"\x00" * 20)
    with pytest.raises(Unscorable) as unreadable:
        calibration.encode_photo_file(broken, **limits)
    assert (missing.value.reason, unreadable.value.reason) == ("missing_file", "unreadable")


def test_the_errors_at_a_threshold_are_the_wrong_decisions_with_their_distances():
    pairs = parse_pairs("1\n"
                        "a\t1\t2\n"          # genuine 0.4: right at 0.6
                        "a\t1\t3\n"          # genuine 0.65: a false reject
                        "a\t1\tb\t1\n"       # impostor 0.9: right
                        "a\t2\tb\t1\n"       # impostor 0.58: a false accept
                        "c\t1\t2\n")         # c_2 unscored: not an error
    encode, _ = _fake_encoder({"a_1": 0.0, "a_2": 0.4, "a_3": 0.65, "b_1": 0.98, "c_1": 0.0},
                              {"c_2": calibration.NO_FACE})
    scores = score_pairs(pairs, encode)
    errors = calibration.errors_at(scores, 0.6)
    assert [(e.pair.line, e.kind, round(e.distance, 2)) for e in errors] == [
        (5, "false accept", 0.58), (3, "false reject", 0.65)]
    assert errors[0].as_dict() == {"line": 5, "first": "a/a_0002.jpg", "second": "b/b_0001.jpg",
                                   "kind": "false accept", "distance": 0.58}
    assert calibration.errors_at(scores, 0.3) != errors

