"""The status page as the person sees it: steps, what happens next, how long it takes, and
withdrawing only after a confirmation."""

import re
from datetime import timedelta

import pytest

from extensions import db
from tests.recovery import approve
from workflow import service
from workflow.models import RecoveryCase
from workflow.states import STATUS_TEXT, State

STEP_NAMES = {"received": "Received", "document": "Checking your ID",
              "selfie": "Checking your selfie", "review": "A person is reviewing", "done": "Done"}


def current_step(html: str) -> str:
    """The name of the one step marked current."""
    marked = re.findall(r'<li class="[^"]*"\s+data-step="(\w+)" aria-current="step">', html)
    assert len(marked) == 1, marked
    assert html.count('aria-current="step"') == 1
    return marked[0]


def fire(case, trigger, agent, reason="Reason given to the user."):
    case = service.get_case(case.id)
    return service.fire_event(case.id, trigger, agent=agent, expected_version=case.version,
                              reason=reason)


def page(client, token) -> str:
    response = client.get(f"/status/{token}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def assert_no_state_names(html: str) -> None:
    """No internal state or resolution name shows in the page's text."""
    text = re.sub(r"<[^>]+>", " ", html)
    for internal in ("id_check", "id check", "selfie_check", "selfie check", "awaiting_user",
                     "awaiting user", "escalated", "resolved", "submitted"):
        assert internal not in text.lower(), internal


@pytest.mark.parametrize("state,running,step,next_words", [
    ("submitted", False, "received", "checks your ID photo"),
    ("id_check", True, "document", "compare your selfie"),
    ("id_check", False, "review", "if we need anything"),
    ("selfie_check", True, "selfie", "second look"),
    ("selfie_check", False, "review", "if we need anything"),
    ("escalated", False, "review", "if we need anything"),
])
def test_each_open_state_shows_its_step(app, client, make_case, state, running, step,
                                        next_words):
    case, token = make_case(state, issue_type="forgot_password")
    # The automatic checks of the photos have not reported: with an executor they run now.
    app.config["VERIFICATION_EXECUTOR"] = "thread" if running else "off"
    html = page(client, token)
    assert current_step(html) == step
    assert "What happens next:" in html and next_words in html
    assert_no_state_names(html)
    # Steps before the current one are marked done, for screen readers too.
    assert html.count("(done)") == list(STEP_NAMES).index(step)
    # The page refreshes itself only while the checks run (without script: <noscript>).
    assert ('http-equiv="refresh"' in html) is running


def test_the_page_refreshes_itself_while_checks_run(app, client, make_case, make_agent):
    case, token = make_case("submitted")
    app.config["VERIFICATION_EXECUTOR"] = "thread"
    html = page(client, token)
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert 'data-running="true"' in html and 'aria-live="polite"' in html
    assert '<script src="/static/status.js" defer></script>' in html
    progress = client.get(f"/status/{token}/progress").get_json()
    assert (progress["step"], progress["checks_running"]) == ("received", True)
    assert 'aria-current="step"' in progress["html"]

    fire(case, "start_review", make_agent("security_lead")[0], None)
    progress = client.get(f"/status/{token}/progress").get_json()
    assert (progress["step"], progress["checks_running"]) == ("document", True)
    assert current_step(progress["html"]) == "document"


def test_progress_of_an_unknown_token_is_not_found(client):
    assert client.get("/status/not-a-token/progress").status_code == 404


@pytest.mark.parametrize("resubmission,words", [
    (False, "answer our message below"),
    (True, "send new photos below"),
])
def test_awaiting_user_marks_the_stage_and_says_what_to_do(client, make_case, make_agent,
                                                            resubmission, words):
    lead, _ = make_agent("security_lead")
    case, token = make_case("selfie_check", issue_type="forgot_password")
    fire(case, "request_resubmission" if resubmission else "request_info", lead)
    html = page(client, token)
    assert current_step(html) == "selfie"
    assert "We need something from you before we can continue." in html
    assert words in html
    assert 'id="expected"' not in html
    assert_no_state_names(html)


@pytest.mark.parametrize("ending,words", [
    ("approve", "Your identity is confirmed. We will email your account"),
    ("decline", "We could not confirm your identity"),
    ("withdraw", "You withdrew this request."),
    ("mark_duplicate", "duplicates another one"),
])
def test_every_ending_is_the_done_step_in_plain_words(client, make_case, make_agent,
                                                      make_account, ending, words):
    make_account()
    lead, _ = make_agent("security_lead")
    case, token = make_case("selfie_check", issue_type="forgot_password")
    if ending == "approve":
        approve(case, lead)
    elif ending == "withdraw":
        service.user_withdraw(token)
    else:
        fire(case, ending, lead)
    html = page(client, token)
    assert current_step(html) == "done"
    assert words in html
    assert 'id="expected"' not in html and 'id="withdraw"' not in html
    assert_no_state_names(html)


def resolve_cases(make_case, make_agent, hours: list[float], issue_type="forgot_password"):
    """Decided requests of ``issue_type`` that took these many hours each."""
    lead, _ = make_agent("security_lead")
    for taken in hours:
        case, _ = make_case("id_check", issue_type=issue_type)
        fire(case, "decline", lead)
        row = db.session.get(RecoveryCase, case.id)
        row.created_at = row.resolved_at - timedelta(hours=taken)
        db.session.commit()


@pytest.mark.parametrize("app_config", [{"STATUS_TYPICAL_MIN_CASES": 3}])
def test_expected_time_comes_from_recent_cases_when_there_are_enough(client, make_case,
                                                                      make_agent):
    resolve_cases(make_case, make_agent, [2, 5.5, 40])
    # Another type's figures say nothing about this one.
    resolve_cases(make_case, make_agent, [100, 100, 100], issue_type="account_locked")
    _, token = make_case("submitted", issue_type="forgot_password")
    assert "Requests like yours are usually decided within 6 hours." in page(client, token)


@pytest.mark.parametrize("app_config", [{"STATUS_TYPICAL_MIN_CASES": 3}])
def test_expected_time_falls_back_to_the_policy_with_few_cases(client, make_case, make_agent):
    resolve_cases(make_case, make_agent, [2, 3])
    _, token = make_case("submitted", issue_type="forgot_password")
    html = page(client, token)
    # The default policy: 24 h of the office calendar's working hours.
    assert "We aim to decide requests like yours within 24 working hours." in html
    assert "usually decided" not in html
    # A high-priority type's policy counts round the clock (48 h, the 24x7 calendar).
    _, token = make_case("submitted", issue_type="lost_2fa")
    assert "We aim to decide requests like yours within 48 hours." in page(client, token)


@pytest.mark.parametrize("app_config", [{"STATUS_TYPICAL_MIN_CASES": 1}])
def test_withdrawn_and_old_cases_do_not_count(client, make_case, make_agent):
    resolve_cases(make_case, make_agent, [3])
    row = db.session.query(RecoveryCase).one()
    row.resolved_at -= timedelta(days=31)
    row.created_at -= timedelta(days=31)
    db.session.commit()
    _, withdrawn = make_case("submitted", issue_type="forgot_password")
    service.user_withdraw(withdrawn)
    _, token = make_case("submitted", issue_type="forgot_password")
    assert "within 24 working hours" in page(client, token)


def test_withdraw_needs_a_confirmation(client, make_case):
    case, token = make_case("id_check")
    html = page(client, token)
    # The status page's button leads to the confirmation; it withdraws nothing itself.
    assert f'href="/status/{token}/withdraw"' in html
    confirm = client.get(f"/status/{token}/withdraw")
    assert confirm.status_code == 200
    body = confirm.get_data(as_text=True)
    assert f"Withdraw request #{case.id}?" in body
    assert "you would need to file a new request" in body
    assert 'id="withdraw-keep"' in body and f'href="/status/{token}"' in body
    assert service.case_for_token(token).state == State.ID_CHECK

    # A POST without the confirmation withdraws nothing: it shows the question again.
    response = client.post(f"/status/{token}/withdraw", data={})
    assert response.status_code == 400
    assert f"Withdraw request #{case.id}?" in response.get_data(as_text=True)
    assert service.case_for_token(token).state == State.ID_CHECK

    response = client.post(f"/status/{token}/withdraw", data={"confirm": "yes"})
    assert response.status_code == 302
    db.session.expire_all()
    assert service.case_for_token(token).resolution == "withdrawn"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your request was withdrawn." in html
    # A closed request has nothing to withdraw: the confirmation leads back to the status.
    assert client.get(f"/status/{token}/withdraw").status_code == 302


def test_withdraw_confirmation_of_an_unknown_token_is_not_found(client):
    assert client.get("/status/not-a-token/withdraw").status_code == 404


def test_status_texts_of_the_domain_are_all_covered():
    """Every open state maps to a step (a new state needs a step and words)."""
    assert set(STATUS_TEXT) == set(State)
