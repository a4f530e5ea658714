"""Answers about recent account activity: compared at filing, recorded, counted in the risk."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import image_bytes, photos
from verification.activity import ActivityAnswers
from workflow import service
from workflow.models import AccountActivity, RecoveryCase, utcnow
from workflow.service.risk import assess_risk


@pytest.fixture
def account(make_account):
    """Anna's account: her last deposit was 487.30 EUR five days ago, her last buy ETH."""
    found = make_account()
    now = utcnow()
    for kind, amount, asset, days in (("deposit", "1200", "EUR", 40),
                                      ("deposit", "487.30", "EUR", 5),
                                      ("purchase", "0.015", "BTC", 30),
                                      ("purchase", "0.85", "ETH", 4)):
        db.session.add(AccountActivity(account_id=found.id, kind=kind, amount=Decimal(amount),
                                       asset=asset, occurred_at=now - timedelta(days=days)))
    db.session.commit()
    return found


def file(answers: ActivityAnswers | None, email: str = "anna@example.test") -> RecoveryCase:
    result = service.submit_request(service.Submission(
        email=email, full_name="Anna Maria Eriksson", date_of_birth=date(1974, 8, 12),
        issue_type="forgot_password", description="", consent=True, client_ip="192.0.2.1",
        activity=answers), photos())
    return service.get_case(result.case.id)


def activity_checks(case) -> dict[str, tuple[str, str | None]]:
    return {c.check: (c.result, c.reason_code) for c in case.checks
            if c.check.startswith("account.activity.")}


def days_ago(n: int) -> date:
    return (utcnow() - timedelta(days=n)).date()


def test_right_answers_are_clear_checks_and_raise_nothing(app, account):
    case = file(ActivityAnswers(Decimal("490"), days_ago(6), "ethereum"))
    assert activity_checks(case) == {"account.activity.last_deposit": ("clear", None),
                                     "account.activity.last_purchase": ("clear", None)}
    assert all(c.attempt == 1 and c.engine == "recovery-desk-activity"
               for c in case.checks)
    risk = assess_risk(case)
    assert not any(r.code.startswith("activity_") for r in risk.reasons)


def test_wrong_answers_are_findings_and_a_factor_of_the_risk(app, account):
    case = file(ActivityAnswers(Decimal("1200"), asset_bought="BTC"))
    assert activity_checks(case) == {
        "account.activity.last_deposit": ("consider", "activity_deposit_mismatch"),
        "account.activity.last_purchase": ("consider", "activity_purchase_mismatch")}
    risk = assess_risk(case)
    assert risk.level.value == "high"  # two independent medium factors
    assert {"activity_deposit_mismatch", "activity_purchase_mismatch"} <= {
        r.code for r in risk.reasons}


def test_the_finding_still_counts_after_new_photos(app, account, make_agent):
    agent, _ = make_agent("agent")
    result = service.submit_request(service.Submission(
        email="anna@example.test", full_name="Anna Maria Eriksson",
        date_of_birth=date(1974, 8, 12), issue_type="forgot_password", description="",
        consent=True, activity=ActivityAnswers(asset_bought="DOGE")), photos())
    case = service.get_case(result.case.id)
    service.fire_event(case.id, "start_review", agent=agent, expected_version=case.version)
    case = service.get_case(case.id)
    service.fire_event(case.id, "request_resubmission", agent=agent,
                       expected_version=case.version, reason="Too dark.")
    service.user_resubmit(result.tracking_token, photos())
    case = service.get_case(case.id)
    assert case.evidence_attempt == 2
    # New photos do not wipe out what the person answered at filing.
    codes = {r.code for r in assess_risk(case).reasons}
    assert "activity_purchase_mismatch" in codes


def test_no_answers_no_checks(app, account):
    assert activity_checks(file(None)) == {}
    assert activity_checks(file(ActivityAnswers())) == {}


def test_an_email_without_an_account_is_not_compared(app, account):
    case = file(ActivityAnswers(Decimal("490")), email="nobody@example.test")
    assert activity_checks(case) == {"account.activity.account":
                                     ("consider", "no_account_of_record")}


def test_past_the_attempt_limit_nothing_is_compared(app, account):
    app.config["ACTIVITY_MAX_ATTEMPTS"] = 2
    right = ActivityAnswers(Decimal("487.30"))
    assert activity_checks(file(ActivityAnswers(Decimal("10")))) == {
        "account.activity.last_deposit": ("consider", "activity_deposit_mismatch")}
    file(None)  # a request that answered nothing is no attempt
    assert activity_checks(file(right)) == {"account.activity.last_deposit": ("clear", None)}
    third = file(right)
    assert activity_checks(third) == {
        "account.activity.attempts": ("consider", "activity_attempts_exceeded")}
    assert assess_risk(third).level.value == "high"


def test_attempts_older_than_the_window_no_longer_count(app, account):
    app.config["ACTIVITY_MAX_ATTEMPTS"] = 1
    old = file(ActivityAnswers(Decimal("10")))
    db.session.get(RecoveryCase, old.id).created_at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert activity_checks(file(ActivityAnswers(Decimal("487.30")))) == {
        "account.activity.last_deposit": ("clear", None)}


def test_the_tolerances_are_settings(app, account):
    app.config["ACTIVITY_AMOUNT_TOLERANCE"] = 0.001
    app.config["ACTIVITY_DATE_TOLERANCE_DAYS"] = 0
    assert activity_checks(file(ActivityAnswers(Decimal("490"), days_ago(6)))) == {
        "account.activity.last_deposit": ("consider", "activity_deposit_mismatch")}


def api_fields(**answers) -> dict:
    return {"email": "anna@example.test", "full_name": "Anna Maria Eriksson",
            "date_of_birth": "1974-08-12", "issue_type": "forgot_password", "consent": "true",
            "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
            "selfie": (io.BytesIO(image_bytes()), "me.jpg"), **answers}


def test_the_api_takes_the_answers_and_never_says_whether_they_matched(app, client, account):
    answers = []
    for amount, asset in (("490,00", "eth"), ("9999", "DOGE")):
        response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                               data=api_fields(last_deposit_amount=amount,
                                               last_deposit_date=days_ago(5).isoformat(),
                                               last_asset_bought=asset))
        assert response.status_code == 201, response.get_json()
        answers.append(response.get_json())
    assert {k for body in answers for k in body} == {"case_id", "tracking_token", "state",
                                                     "status_url"}
    first, second = (service.get_case(body["case_id"]) for body in answers)
    assert set(r for r, _ in activity_checks(first).values()) == {"clear"}
    assert set(r for r, _ in activity_checks(second).values()) == {"consider"}
    status = client.get(f"/api/v1/recovery-requests/{answers[1]['tracking_token']}")
    assert "activity" not in status.get_data(as_text=True)


@pytest.mark.parametrize("field,value,message", [
    ("last_deposit_amount", "about 500", "amount such as 250"),
    ("last_deposit_amount", "-5", "amount such as 250"),
    ("last_deposit_amount", "NaN", "amount such as 250"),
    ("last_deposit_amount", "1e9", "amount such as 250"),
    ("last_deposit_date", "2008-12-31", "year of the deposit"),
    ("last_deposit_date", (date.today() + timedelta(days=3)).isoformat(), "future"),
    ("last_deposit_date", "last week", "YYYY-MM-DD"),
    ("last_asset_bought", "X" * 41, "40"),
])
def test_the_api_refuses_answers_it_cannot_compare(client, field, value, message):
    response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           data=api_fields(**{field: value}))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_field", field)
    assert message in error["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase)) == 0


def test_empty_answers_on_the_api_are_no_answers(client, account):
    response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           data=api_fields(last_deposit_amount="", last_deposit_date=" ",
                                           last_asset_bought=""))
    assert response.status_code == 201, response.get_json()
    assert activity_checks(service.get_case(response.get_json()["case_id"])) == {}


def test_the_form_asks_the_optional_questions(client, account):
    html = client.get("/recover").get_data(as_text=True)
    for name in ("last_deposit_amount", "last_deposit_date", "last_asset_bought"):
        assert f'name="{name}"' in html
    data = api_fields(last_deposit_amount="487.3", last_asset_bought="ETH", consent="y")
    response = client.post("/recover", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    case = db.session.scalars(sa.select(RecoveryCase)).one()
    assert activity_checks(case) == {"account.activity.last_deposit": ("clear", None),
                                     "account.activity.last_purchase": ("clear", None)}


def test_an_idempotent_retry_with_other_answers_is_a_conflict(client, account):
    def send(amount):
        return client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           headers={"Idempotency-Key": "retry-1"},
                           data=api_fields(last_deposit_amount=amount))

    assert send("490").status_code == 201
    assert send("490").headers["Idempotent-Replayed"] == "true"
    assert send("10").status_code == 409
