"""The check tree without a database: results, reasons and derived stage results."""

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from verification.checks import (
    REASONS,
    CheckResult,
    Result,
    settings_from_mapping,
    stage_results,
    worst,
)


def row(check, result, attempt=1):
    return SimpleNamespace(check=check, result=result, attempt=attempt)


@pytest.mark.parametrize("results,expected", [
    ([], None), (["clear"], Result.CLEAR), (["clear", "consider"], Result.CONSIDER),
    (["consider", "rejected", "clear"], Result.REJECTED),
])
def test_worst(results, expected):
    assert worst(results) == expected


def test_stage_result_is_the_worst_child_of_the_current_attempt():
    rows = [
        row("document.mrz.check_digits", "rejected", 1),
        row("document.quality.blur", "clear", 1),
        row("selfie.face_match", "consider", 1),
        row("document.mrz.check_digits", "clear", 2),
        row("document.quality.blur", "consider", 2),
    ]
    assert stage_results(rows, 1) == {"document": Result.REJECTED, "selfie": Result.CONSIDER}
    # New photos start unjudged: the old selfie verdict does not carry over.
    assert stage_results(rows, 2) == {"document": Result.CONSIDER}
    assert stage_results(rows, 3) == {}


def test_a_later_decision_on_the_same_check_supersedes_the_earlier_one():
    rows = [row("document.review", "consider"), row("document.review", "clear")]
    assert stage_results(rows, 1) == {"document": Result.CLEAR}


@pytest.mark.parametrize("kwargs,message", [
    ({"check": "nodots", "result": Result.CLEAR}, "dotted"),
    ({"check": "document.x", "result": Result.CLEAR, "reason_code": "made_up"}, "unknown"),
])
def test_check_results_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CheckResult(**kwargs)


def test_every_reason_has_both_texts():
    for code, reason in REASONS.items():
        assert code.islower() and reason.user_text.endswith(".")
        assert reason.internal_text.endswith(".")


@dataclass(frozen=True)
class Settings:
    limit: int = 3
    share: float = 0.5


def test_settings_from_mapping_coerces_each_value_to_its_default_type():
    settings = settings_from_mapping(Settings, {"limit": "7", "share": 1}, "demo")
    assert settings == Settings(limit=7, share=1.0) and isinstance(settings.share, float)


@pytest.mark.parametrize("overrides,message", [
    ({"limt": 1, "shar": 2}, "unknown demo setting(s): 'limt', 'shar'; known: limit, share"),
    ({"limit": "many"}, "demo setting 'limit' must be a number, not 'many'"),
    ({"share": None}, "demo setting 'share' must be a number, not None"),
    ({"share": "inf"}, "demo setting 'share' must be finite, not 'inf'"),
])
def test_settings_from_mapping_names_the_bad_setting(overrides, message):
    with pytest.raises(ValueError) as raised:
        settings_from_mapping(Settings, overrides, "demo")
    assert str(raised.value) == message
