"""The generated MRZ test bed: splits kept apart, cases deterministic, and the bench's scoring."""

from dataclasses import replace
from datetime import date

import pytest
from PIL import Image

from bench import mrz_bed
from bench.mrz_read import FIELDS, holder
from bench.testbed import (
    CONDITIONS,
    DEFAULT_PER_CONDITION,
    HELD_OUT_FONT,
    HELD_OUT_LAYOUT,
    MAX_PER_CONDITION,
    BedCase,
    build,
    cases,
    plan,
)
from verification.degrade import BED_DEGRADATIONS, DEGRADATIONS
from verification.mrz import parse_mrz, transliterate
from verification.specimen import id_card_mrz

TODAY = date(2026, 11, 22)


def test_every_condition_is_in_the_bed_and_the_default_size_is_reasonable():
    assert set(CONDITIONS) == set(DEGRADATIONS) | set(BED_DEGRADATIONS)
    for split in ("tune", "held_out"):
        specs = plan(split)
        assert len(specs) == DEFAULT_PER_CONDITION * len(CONDITIONS)
        assert 200 <= len(specs) <= 300
        assert len({spec.id for spec in specs}) == len(specs)
        assert {spec.condition for spec in specs} == set(CONDITIONS)


def test_the_splits_share_no_seed_and_tune_never_has_the_held_out_layout_or_font():
    tune = plan("tune", limit_per_condition=MAX_PER_CONDITION)
    held_out = plan("held_out", limit_per_condition=MAX_PER_CONDITION)
    assert not {spec.seed for spec in tune} & {spec.seed for spec in held_out}
    # Backs of two-sided cards are photographed with seed + 500: still apart.
    photo_seeds = {spec.seed + offset for spec in tune for offset in (0, 500)}
    assert not photo_seeds & {spec.seed + offset for spec in held_out for offset in (0, 500)}
    assert HELD_OUT_LAYOUT not in {spec.layout for spec in tune}
    assert HELD_OUT_FONT not in {spec.font for spec in tune}
    default = plan("held_out")
    assert sum(spec.layout == HELD_OUT_LAYOUT for spec in default) >= len(default) // 6
    assert sum(spec.font == HELD_OUT_FONT for spec in default) >= len(default) // 6
    # Everything tune has, held-out has too (with other seeds).
    assert {spec.layout for spec in tune} < {spec.layout for spec in default}
    assert {spec.font for spec in tune} < {spec.font for spec in default}


def test_small_limits_still_cover_every_layout_and_font():
    specs = plan("tune", limit_per_condition=2)
    assert len(specs) == 2 * len(CONDITIONS)
    assert {spec.layout for spec in specs} == {spec.layout for spec in plan("tune")}
    assert {spec.font for spec in specs} == {spec.font for spec in plan("tune")}


def test_plan_refuses_unknown_splits_conditions_and_limits():
    with pytest.raises(ValueError, match="split"):
        plan("train")
    with pytest.raises(ValueError, match="condition"):
        plan("tune", conditions=("fog",))
    with pytest.raises(ValueError, match="limit"):
        plan("tune", limit_per_condition=MAX_PER_CONDITION + 1)


def spec_of(split: str, condition: str, layout: str | None = None):
    """The first planned case of `split` under `condition` (and of `layout` if given)."""
    return next(spec for spec in plan(split, conditions=(condition,))
                if layout is None or spec.layout == layout)


def test_a_case_is_the_same_every_time_it_is_built():
    spec = spec_of("tune", "jpeg_q40")
    first, again = build(spec, today=TODAY), build(spec, today=TODAY)
    assert first.front.tobytes() == again.front.tobytes()
    assert first.expected == again.expected and first.mrz_lines == again.mrz_lines
    other = build(plan("tune", conditions=("jpeg_q40",))[1], today=TODAY)
    assert other.front.tobytes() != first.front.tobytes()


def test_expected_fields_are_the_holders_as_the_mrz_writes_them():
    spec = spec_of("held_out", "clean", HELD_OUT_LAYOUT)
    case = build(spec, today=TODAY)
    person = holder(spec.seed)
    assert set(case.expected) == set(FIELDS)
    assert case.expected["format"] == "TD2" and len(case.mrz_lines) == 2
    assert case.expected["document_number"] == person.document_number
    assert case.expected["surname"] == transliterate(person.surname).replace("<", " ")
    assert case.expected["date_of_birth"] == person.date_of_birth.isoformat()
    assert parse_mrz(list(case.mrz_lines), today=TODAY).valid_check_digits
    assert case.mrz_in_frame and case.back is None and case.mrz_side == "front"


def test_a_card_with_the_mrz_on_the_back_comes_with_both_photos():
    case = build(spec_of("tune", "clean", "national_td1"), today=TODAY)
    assert case.back is not None and case.mrz_side == "back" and case.mrz_photo is case.back
    assert case.expected["format"] == "TD1" and len(case.mrz_lines) == 3
    assert case.front.tobytes() != case.back.tobytes()


def test_a_cut_off_mrz_is_marked_out_of_frame():
    built = [build(spec, today=TODAY)
             for spec in plan("tune", limit_per_condition=3, conditions=("cut_off_corner",))]
    assert not all(case.mrz_in_frame for case in built)
    assert all(case.mrz_in_frame for case in cases("tune", limit_per_condition=1,
                                                   conditions=("clean", "scan"), today=TODAY))


# --- the bench's scoring, with stand-in readers (no OCR) ---------------------------------------

def fake_case(in_frame: bool = True) -> BedCase:
    lines = id_card_mrz(holder(7))
    parsed = parse_mrz(list(lines), today=TODAY).as_dict()
    return BedCase(id="tune-clean-000", split="tune", layout="utopia_td1", font="ocrb",
                   condition="clean", seed=7, front=Image.new("RGB", (8, 8)), back=None,
                   expected={key: parsed[key] for key in FIELDS}, mrz_in_frame=in_frame,
                   mrz_lines=lines, mrz_side="front")


def test_a_reading_counts_only_when_it_validates_with_every_field_right():
    case = fake_case()
    right = parse_mrz(list(case.mrz_lines), today=TODAY)
    # A 'K' read into a filler run changes no check digit (K is worth 20): a false read.
    wrong_but_valid = replace(right, given_names=right.given_names + " K")
    invalid = replace(right, valid_check_digits=False)
    row = mrz_bed.Row("r", "tune", "clean")
    for result in (right, wrong_but_valid, invalid, None):
        row.add(case, result, 5.0)
    assert (row.photos, row.read, row.false_reads, row.in_frame) == (4, 1, 1, 4)
    assert row.rate == 0.25 and row.false_ids == [case.id] and len(row.failures) == 3
    outside = mrz_bed.Row("r", "tune", "cut_off_corner")
    outside.add(fake_case(in_frame=False), right, 5.0)
    assert (outside.in_frame, outside.read, outside.read_outside, outside.rate) == (0, 0, 1, None)


def test_measure_gives_every_reader_the_same_cases():
    seen: dict[str, list[str]] = {"right": [], "none": []}

    def right(case, today):
        seen["right"].append(case.id)
        return parse_mrz(list(case.mrz_lines), today=today)

    def none(case, today):
        seen["none"].append(case.id)
        return None

    rows = mrz_bed.measure("held_out", readers={"right": right, "none": none},
                           limit_per_condition=1, conditions=("clean", "jpeg_q85"), today=TODAY)
    assert seen["right"] == seen["none"] and len(seen["right"]) == 2
    by = {(row.reader, row.condition): row for row in rows}
    assert by["right", "clean"].rate == 1.0 and by["none", "clean"].rate == 0.0
    totals = {(row.reader, row.condition): row for row in mrz_bed.totals(rows)}
    assert totals["right", "all degraded"].read == 1
    assert "| right | held_out | **all clean** | 1 | 1 | 1/1 | 100.0% | 0 |" in mrz_bed.table(rows)
