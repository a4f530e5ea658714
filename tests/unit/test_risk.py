"""The risk rule: findings, velocity, account changes and reports into low / medium / high."""

import pytest

from verification.checks import CheckResult, Result
from verification.risk import Level, RiskFacts, RiskPolicy, assess, findings_of


def codes(assessment) -> list[str]:
    return [r.code for r in assessment.reasons]


def test_nothing_of_note_is_low_with_no_reasons():
    risk = assess(RiskFacts())
    assert risk.level is Level.LOW and risk.reasons == ()
    check = risk.as_check()
    assert check.check == "risk.assessment" and check.result is Result.CLEAR
    assert check.details == {"level": "low", "reasons": []}


@pytest.mark.parametrize("finding", ["face_mismatch", "reference_mismatch",
                                     "face_seen_on_other_account",
                                     "document_used_by_other_account"])
def test_a_high_finding_makes_the_case_high(finding):
    risk = assess(RiskFacts(findings=(finding,)))
    assert risk.level is Level.HIGH and codes(risk) == [finding]
    assert risk.as_check().reason_code == "risk_high"


def test_one_medium_factor_is_medium_and_two_are_high():
    one = assess(RiskFacts(findings=("name_mismatch",)))
    assert one.level is Level.MEDIUM and one.as_check().reason_code == "risk_medium"
    two = assess(RiskFacts(findings=("name_mismatch",), account_changes=("email",)))
    assert two.level is Level.HIGH
    assert codes(two) == ["name_mismatch", "recent_account_change"]


def test_findings_an_honest_person_gets_wrong_do_not_count():
    risk = assess(RiskFacts(findings=("document_blurry", "mrz_not_found", "selfie_blurry")))
    assert risk.level is Level.LOW


@pytest.mark.parametrize(("account", "ip", "level"), [
    (1, 0, Level.LOW), (2, 0, Level.MEDIUM), (4, 0, Level.HIGH),
    (1, 3, Level.MEDIUM), (1, 6, Level.HIGH), (2, 3, Level.HIGH),
])
def test_velocity_per_account_and_per_address(account, ip, level):
    risk = assess(RiskFacts(account_requests_24h=account, ip_requests_24h=ip))
    assert risk.level is level


def test_velocity_limits_come_from_the_policy():
    policy = RiskPolicy.from_mapping({"account_requests_medium": 5, "account_requests_high": 9})
    assert assess(RiskFacts(account_requests_24h=4), policy).level is Level.LOW
    assert assess(RiskFacts(account_requests_24h=9), policy).level is Level.HIGH
    with pytest.raises(ValueError, match="unknown risk setting"):
        RiskPolicy.from_mapping({"velocity": 3})


def test_a_not_me_report_is_high_and_says_so():
    risk = assess(RiskFacts(not_me_reports=2))
    assert risk.level is Level.HIGH
    assert "reported this request as not theirs (2 reports)" in risk.reasons[0].text


def test_reasons_are_listed_high_first_with_their_text():
    risk = assess(RiskFacts(findings=("edited_with_software", "face_mismatch")))
    assert [r.level for r in risk.reasons] == [Level.HIGH, Level.MEDIUM]
    detail = risk.as_check().details["reasons"][0]
    assert detail["code"] == "face_mismatch" and "does not match" in detail["text"]


def test_findings_of_takes_the_codes_of_checks_that_were_not_clear():
    checks = [CheckResult("selfie.match.document", Result.REJECTED, "face_mismatch"),
              CheckResult("document.mrz.read", Result.CLEAR),
              CheckResult("document.data.name", Result.CONSIDER, "name_partial_match"),
              CheckResult("selfie.match.reference", Result.REJECTED, "face_mismatch")]
    assert findings_of(checks) == ("face_mismatch", "name_partial_match")
