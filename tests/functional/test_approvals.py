"""Guarded approvals through the API and the console: an account of record, each stage clear
or overridden (a rejected result only after a confirmation step), and four eyes."""

import html as html_lib
import re

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import photos, sign_in
from workflow import service
from workflow.models import RecoveryCase, VerificationCheck

REASON = "Holder confirmed on a video call."
NO_ACCOUNT = ("No account of record matches {email}: there is nothing to recover, so this "
              "request cannot be approved. Decline it (the user can file again with the "
              "address of their account), or close it as a duplicate when the same person has "
              "filed a request that matched their account.")

CHECKS_NOT_DONE = ("The automated checks of these photos have not finished: approve once they "
                   "have, or retry them if they failed.")


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def text(fragment: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def section(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` up to the next card."""
    start = page.index(f'id="{element_id}"')
    end = page.find('<div class="card', start)
    return text(page[start:end if end != -1 else None])


@pytest.fixture
def staff(make_agent):
    """Sam (agent), Lee (security lead), Ada (admin): name -> (agent, API token)."""
    return {name: make_agent(role, email=f"{name.lower()}@example.test", name=name)
            for name, role in (("Sam", "agent"), ("Lee", "security_lead"), ("Ada", "admin"))}


@pytest.fixture
def case_at(make_case, make_account):
    """Builder: a case at ``state`` with an account of record (unless ``account=False``)."""

    def build(state="selfie_check", *, account=True, issue_type="lost_2fa", **overrides):
        if account:
            make_account()
        return make_case(state, issue_type=issue_type, **overrides)

    return build


def get(client, case_id, token) -> dict:
    response = client.get(f"/api/v1/cases/{case_id}", headers=auth(token))
    assert response.status_code == 200
    return response.get_json()


def fire(client, case_id, token, event, *, reason=REASON, **extra):
    version = get(client, case_id, token)["version"]
    return client.post(f"/api/v1/cases/{case_id}/events", headers=auth(token),
                       json={"event": event, "version": version, "reason": reason, **extra})


def propose(client, case_id, token, reason="Documents and selfie reviewed; all clear."):
    version = get(client, case_id, token)["version"]
    return client.post(f"/api/v1/cases/{case_id}/proposal", headers=auth(token),
                       json={"version": version, "reason": reason})


def refused(response, code, message=None, field="event"):
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    if message is not None:
        assert error["message"] == message
    return error["message"]


def add_finding(case_id, check, result, reason_code):
    """An automated finding of the case's current photos, as the verification job stores it."""
    case = db.session.get(RecoveryCase, case_id)
    db.session.add(VerificationCheck(case_id=case_id, attempt=case.evidence_attempt,
                                     check=check, result=result, reason_code=reason_code,
                                     engine="test", engine_version="1", details={}))
    db.session.commit()


# --- the automated checks have had their say ----------------------------------------------

def test_no_approval_before_the_automated_checks_of_the_photos_ended(client, staff, case_at):
    """A person confirms the document before its job and approves before the selfie job:
    refused until the system assessed the risk of these photos (here: the checks failed for
    good, and the risk is assessed all the same)."""
    (_sam, sam) = staff["Sam"]
    case, _ = case_at("submitted", issue_type="forgot_password")
    assert fire(client, case.id, sam, "start_review").status_code == 200
    assert fire(client, case.id, sam, "confirm_document").status_code == 200
    body = get(client, case.id, sam)
    assert body["state"] == "selfie_check"
    # Hidden from the actions, and the approval says why.
    assert "approve" not in {e["event"] for e in body["allowed_events"]}
    assert (body["approval"]["may_approve"], body["approval"]["refusal"]) == \
        (False, CHECKS_NOT_DONE)
    refused(fire(client, case.id, sam, "approve"), "checks_not_done", CHECKS_NOT_DONE)
    refused(fire(client, case.id, sam, "approve", override=True), "checks_not_done",
            CHECKS_NOT_DONE)
    assert get(client, case.id, sam)["state"] == "selfie_check"
    assert not [e for e in get(client, case.id, sam)["events"] if e["event"] == "approved"]

    service.record_verification_failure(case.id, case.evidence_attempt, "the worker crashed")
    body = get(client, case.id, sam)
    assert [e["event"] for e in body["events"]][-2:] == ["risk_assessed", "verification_failed"]
    assert "approve" in {e["event"] for e in body["allowed_events"]}
    assert (body["approval"]["may_approve"], body["approval"]["refusal"]) == (True, None)
    approved = fire(client, case.id, sam, "approve")
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.get_json()["resolution"] == "approved"


def test_an_agent_assesses_the_risk_again_once_the_checks_ended(client, staff, case_at):
    """``reassess_risk`` records a new assessment on the stored facts, on the record; a
    closed case is not assessed again."""
    (_sam, sam) = staff["Sam"]
    case, _ = case_at(issue_type="forgot_password")
    assert get(client, case.id, sam)["approval"]["may_approve"] is True
    service.reassess_risk(case.id)
    assert get(client, case.id, sam)["state"] == "selfie_check"
    assessed = [e for e in get(client, case.id, sam)["events"] if e["event"] == "risk_assessed"]
    assert [e["reason"] for e in assessed] == ["low", "low"]
    assert fire(client, case.id, sam, "approve").status_code == 200
    with pytest.raises(service.ActionRefused, match="This case is closed."):
        service.reassess_risk(case.id)


# --- four eyes through the API -------------------------------------------------------------

def test_two_different_people_approve_a_lost_2fa_case(client, staff, case_at, make_agent):
    (_sam, sam), (_lee, lee) = staff["Sam"], staff["Lee"]
    case, _ = case_at()
    body = get(client, case.id, sam)
    assert body["approval"]["four_eyes"] == [
        "its recovery (lost_2fa) removes a second factor or unfreezes the account"]
    assert body["approval"]["may_propose"] is True and body["approval"]["proposal"] is None
    assert "approve" not in {e["event"] for e in body["allowed_events"]}
    assert "approve" not in {e["event"] for e in get(client, case.id, lee)["allowed_events"]}
    for token in (sam, lee):
        refused(fire(client, case.id, token, "approve"), "four_eyes_required",
                "This case needs four eyes (its recovery (lost_2fa) removes a second factor or "
                "unfreezes the account): one staff member proposes the approval, with a "
                "reason, then a different security lead or admin approves it.")

    proposed = propose(client, case.id, sam)
    assert proposed.status_code == 201, proposed.get_data(as_text=True)
    proposal = proposed.get_json()["approval"]["proposal"]
    assert (proposal["agent_name"], proposal["reason"], proposal["attempt"], proposal["risk"],
            proposal["withdrawn"]) == ("Sam", "Documents and selfie reviewed; all clear.", 1,
                                       "low", None)
    event = proposed.get_json()["events"][-1]
    assert (event["event"], event["reason"]) == ("approval_proposed",
                                                 "Documents and selfie reviewed; all clear.")
    # Neither the proposer nor another plain agent approves; a different lead does.
    refused(fire(client, case.id, sam, "approve"), "four_eyes_required",
            "You proposed approving this case: a different security lead or admin must "
            "approve it.")
    _kim, kim = make_agent("agent", email="kim@example.test", name="Kim")
    refused(fire(client, case.id, kim, "approve"), "four_eyes_required",
            "This case needs four eyes (its recovery (lost_2fa) removes a second factor or "
            "unfreezes the account): Sam proposed it; a security lead or admin approves it.")
    assert "approve" in {e["event"] for e in get(client, case.id, lee)["allowed_events"]}
    approved = fire(client, case.id, lee, "approve")
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.get_json()["resolution"] == "approved"
    events = [(e["event"], e["actor_agent_id"]) for e in approved.get_json()["events"]][-2:]
    assert events == [("approval_proposed", staff["Sam"][0].id), ("approve", staff["Lee"][0].id)]


def test_the_proposer_cannot_approve_their_own_proposal(client, staff, case_at):
    (_lee, lee), (_ada, ada) = staff["Lee"], staff["Ada"]
    case, _ = case_at("escalated")
    assert propose(client, case.id, lee).status_code == 201
    refused(fire(client, case.id, lee, "approve"), "four_eyes_required",
            "You proposed approving this case: a different security lead or admin must "
            "approve it.")
    assert get(client, case.id, lee)["approval"]["refusal"] == (
        "You proposed approving this case: a different security lead or admin must approve "
        "it.")
    assert service.get_case(case.id).state == "escalated"
    assert fire(client, case.id, ada, "approve").get_json()["resolution"] == "approved"


def test_new_photos_withdraw_the_proposal(client, staff, case_at):
    (_sam, sam), (_lee, lee) = staff["Sam"], staff["Lee"]
    case, token = case_at()
    assert propose(client, case.id, sam).status_code == 201
    assert fire(client, case.id, sam, "request_resubmission",
                reason="The selfie is blurry.").status_code == 200
    # Still standing while the user is asked: nothing changed yet.
    assert get(client, case.id, sam)["approval"]["proposal"]["withdrawn"] is None
    service.user_resubmit(token, photos())
    body = get(client, case.id, sam)
    assert body["approval"]["proposal"] is None
    withdrawn = [e for e in body["events"] if e["event"] == "proposal_withdrawn"]
    assert [e["reason"] for e in withdrawn] == [
        "Proposal by Sam withdrawn: new photos were sent (attempt 2; proposed on attempt 1)."]
    assert fire(client, case.id, sam, "confirm_document").status_code == 200
    refused(fire(client, case.id, lee, "approve"), "checks_not_done", CHECKS_NOT_DONE)
    # The automated checks of the new photos end: their risk is assessed.
    service.reassess_risk(case.id)
    message = refused(fire(client, case.id, lee, "approve"), "four_eyes_required")
    assert "one staff member proposes the approval" in message
    assert propose(client, case.id, sam).get_json()["approval"]["proposal"]["attempt"] == 2
    assert fire(client, case.id, lee, "approve").get_json()["resolution"] == "approved"


def test_a_change_of_risk_withdraws_the_proposal(client, staff, case_at):
    (_sam, sam), (_lee, lee), (_ada, ada) = staff["Sam"], staff["Lee"], staff["Ada"]
    case, _ = case_at()
    assert propose(client, case.id, sam).status_code == 201
    reported = client.post(f"/api/v1/cases/{case.id}/not-me", headers=auth(sam),
                           json={"note": "Holder replied to the notification email."})
    assert reported.status_code == 200, reported.get_data(as_text=True)
    body = reported.get_json()
    assert body["state"] == "escalated" and body["approval"]["proposal"] is None
    assert [e["reason"] for e in body["events"] if e["event"] == "proposal_withdrawn"] == [
        "Proposal by Sam withdrawn: the risk changed from low to high."]
    assert "its risk is high" in body["approval"]["four_eyes"]
    refused(fire(client, case.id, lee, "approve"), "four_eyes_required")
    assert propose(client, case.id, lee).get_json()["approval"]["proposal"]["risk"] == "high"
    assert fire(client, case.id, ada, "approve").get_json()["resolution"] == "approved"


def test_who_may_propose_and_when(client, staff, case_at, make_account):
    (_sam, sam), (_lee, lee) = staff["Sam"], staff["Lee"]
    case, _ = case_at("id_check")
    url = f"/api/v1/cases/{case.id}/proposal"
    body = {"version": case.version, "reason": "Looks fine."}
    assert client.post(url, headers=auth(sam), json=body).get_json()["error"]["message"] == (
        "An approval is proposed at the selfie check, or by a security lead while the case "
        "is escalated.")
    make_account(email="other@example.test")
    escalated, _ = case_at("escalated", account=False, email="other@example.test")
    body = {"version": escalated.version, "reason": "Looks fine."}
    # An escalated case is the security leads' alone: a plain agent cannot even open it.
    answer = client.post(f"/api/v1/cases/{escalated.id}/proposal", headers=auth(sam), json=body)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (403, "leads_only")
    make_account(email="p@example.test")
    plain, _ = case_at(account=False, issue_type="forgot_password", email="p@example.test")
    refused(propose(client, plain.id, sam), "action_refused",
            "This case needs no second person: approve it directly.", field=None)
    nobody, _ = case_at(account=False, email="nobody@example.test")
    refused(propose(client, nobody.id, sam), "action_refused",
            NO_ACCOUNT.format(email="nobody@example.test"), field=None)
    make_account(email="ready@example.test")
    ready, _ = case_at(account=False, email="ready@example.test")
    refused(propose(client, ready.id, sam, reason="   "), "reason_required", field="reason")
    stale = client.post(f"/api/v1/cases/{ready.id}/proposal", headers=auth(sam),
                        json={"version": ready.version - 1, "reason": "x"})
    assert stale.status_code == 409
    missing = client.post(f"/api/v1/cases/{ready.id}/proposal", headers=auth(sam),
                          json={"version": ready.version})
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "reason"
    assert propose(client, ready.id, sam).status_code == 201
    refused(propose(client, ready.id, lee), "action_refused",
            "Sam has already proposed approving this case.", field=None)


# --- nothing to recover ---------------------------------------------------------------------

def test_a_case_without_an_account_cannot_be_approved_api(client, staff, case_at):
    (_lee, lee) = staff["Lee"]
    case, token = case_at(account=False, issue_type="forgot_password")
    body = get(client, case.id, lee)
    assert body["approval"]["account_of_record"] is False
    events = {e["event"] for e in body["allowed_events"]}
    assert "approve" not in events and {"decline", "mark_duplicate"} <= events
    refused(fire(client, case.id, lee, "approve"), "nothing_to_recover",
            NO_ACCOUNT.format(email="anna@example.test"))
    assert fire(client, case.id, lee, "decline").get_json()["resolution"] == "declined"


def test_a_case_without_an_account_offers_the_fitting_resolution_console(app, staff, case_at):
    client = app.test_client()
    sign_in(client, "sam@example.test")
    case, _ = case_at(account=False, issue_type="forgot_password")
    page = client.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    assert NO_ACCOUNT.format(email="anna@example.test") in section(page, "nothing-to-recover")
    assert 'data-event="approve"' not in page
    assert 'data-event="decline"' in page and 'data-event="mark_duplicate"' in page
    assert ("We found no account with the email address you gave, so there is nothing we can "
            "recover with this request.") in page
    posted = client.post(f"/agent/cases/{case.id}/events",
                         data={"event": "approve", "version": case.version, "reason": REASON})
    assert posted.status_code == 422
    assert NO_ACCOUNT.format(email="anna@example.test") in html_lib.unescape(
        posted.get_data(as_text=True))


def test_the_users_pages_promise_no_email_without_an_account(client, case_at):
    # Approved before approvals needed an account of record.
    case, token = case_at(account=False, issue_type="forgot_password")
    db.session.execute(sa.update(RecoveryCase).where(RecoveryCase.id == case.id).values(
        state="resolved", resolution="approved"))
    db.session.commit()
    status = client.get(f"/api/v1/recovery-requests/{token}").get_json()["status_text"]
    page = text(client.get(f"/status/{token}").get_data(as_text=True))
    for shown in (status, page):
        assert "Your identity is confirmed." in shown
        assert "email" not in shown.lower() and "address of record" not in shown


def test_with_an_account_the_approved_page_says_where_the_steps_go(client, staff, case_at):
    case, token = case_at(issue_type="forgot_password")
    assert fire(client, case.id, staff["Sam"][1], "approve").status_code == 200
    status = client.get(f"/api/v1/recovery-requests/{token}").get_json()["status_text"]
    assert "We will email your account's address of record" in status


# --- each stage clear or overridden; rejected results overridden explicitly ------------------

def test_overriding_a_rejected_result_needs_the_explicit_field_api(client, staff, case_at):
    (_sam, sam) = staff["Sam"]
    case, _ = case_at(issue_type="forgot_password")
    add_finding(case.id, "selfie.match.document", "rejected", "face_mismatch")
    body = get(client, case.id, sam)
    assert body["approval"]["overrides"] == [
        {"check": "selfie.match.document", "result": "rejected", "reason_code": "face_mismatch"}]
    assert "approve" in {e["event"] for e in body["allowed_events"]}
    refused(fire(client, case.id, sam, "approve"), "override_not_confirmed",
            "Approving overrides rejected results: selfie.match.document (face_mismatch). "
            "Confirm that you override them, with your reason, to approve.", field="override")
    refused(fire(client, case.id, sam, "approve", reason=None, override=True), "reason_required",
            field="reason")
    bad = fire(client, case.id, sam, "approve", override="yes")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "override"
    assert service.get_case(case.id).state == "selfie_check"
    approved = fire(client, case.id, sam, "approve", override=True)
    assert approved.status_code == 200, approved.get_data(as_text=True)
    review = approved.get_json()["checks"][-1]
    assert (review["check"], review["reason_code"]) == ("selfie.review", "agent_overrode")
    stored = service.get_case(case.id).checks[-1]
    assert stored.details == {"overrode": [{"check": "selfie.match.document",
                                            "reason_code": "face_mismatch"}]}


def test_a_lead_overrides_rejected_results_of_an_escalated_case_explicitly(client, staff,
                                                                          case_at):
    (_lee, lee) = staff["Lee"]
    case, _ = case_at("escalated", issue_type="account_locked")
    add_finding(case.id, "document.mrz.found", "rejected", "mrz_not_found")
    add_finding(case.id, "selfie.match.document", "rejected", "face_mismatch")
    refused(fire(client, case.id, lee, "approve"), "override_not_confirmed",
            "Approving overrides rejected results: document.mrz.found (mrz_not_found); "
            "selfie.match.document (face_mismatch). Confirm that you override them, with your "
            "reason, to approve.", field="override")
    assert fire(client, case.id, lee, "approve", override=True).status_code == 200


def test_a_document_nobody_overrode_stops_an_approval_at_the_selfie_check(client, staff,
                                                                         case_at):
    (_sam, sam) = staff["Sam"]
    case, _ = case_at(issue_type="forgot_password")
    # Found after the person confirmed the document: their confirmation overrode nothing.
    add_finding(case.id, "document.mrz.found", "rejected", "mrz_not_found")
    refused(fire(client, case.id, sam, "approve", override=True), "stage_not_cleared",
            "The document check of the current photos is rejected (document.mrz.found "
            "(mrz_not_found)) and nobody has overridden it: escalate the case so that a "
            "security lead can decide.")


def test_the_console_asks_to_confirm_an_override_and_names_it(app, staff, case_at):
    client = app.test_client()
    sign_in(client, "sam@example.test")
    case, _ = case_at(issue_type="forgot_password")
    add_finding(case.id, "selfie.match.document", "rejected", "face_mismatch")
    page = client.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    shown = section(page, "override-confirmation")
    assert "Approving overrides what the automated checks rejected:" in shown
    assert "selfie.match.document rejected face_mismatch" in shown
    assert 'id="confirm-override"' in page
    url = f"/agent/cases/{case.id}/events"
    unconfirmed = client.post(url, data={"event": "approve", "version": case.version,
                                         "reason": REASON})
    assert unconfirmed.status_code == 422
    assert ("Approving overrides rejected results: selfie.match.document (face_mismatch)."
            in section(unconfirmed.get_data(as_text=True), "case-error"))
    assert service.get_case(case.id).state == "selfie_check"
    confirmed = client.post(url, data={"event": "approve", "version": case.version,
                                       "reason": REASON, "override": "y"})
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)
    assert service.get_case(case.id).resolution == "approved"


# --- four eyes in the console ---------------------------------------------------------------

def test_four_eyes_in_the_console_with_two_people(app, staff, case_at):
    sam, lee = app.test_client(), app.test_client()
    sign_in(sam, "sam@example.test")
    sign_in(lee, "lee@example.test")
    case, _ = case_at()
    url = f"/agent/cases/{case.id}"
    page = sam.get(url).get_data(as_text=True)
    assert "Approving needs two people: its recovery (lost_2fa)" in section(page, "four-eyes")
    assert 'id="propose-approval"' in page and 'data-event="approve"' not in page
    lee_page = lee.get(url).get_data(as_text=True)
    assert 'data-event="approve"' not in lee_page
    assert "Nobody has proposed approving this case yet." in section(lee_page, "four-eyes")

    empty = sam.post(f"{url}/proposal", data={"version": case.version, "reason": ""})
    assert empty.status_code == 400
    done = sam.post(f"{url}/proposal", data={"version": case.version,
                                             "reason": "ID and selfie match; code confirmed."})
    assert done.status_code == 302, done.get_data(as_text=True)
    page = sam.get(url).get_data(as_text=True)
    shown = section(page, "four-eyes")
    assert "Proposed by Sam" in shown and "ID and selfie match; code confirmed." in shown
    assert 'id="propose-approval"' not in page and 'data-event="approve"' not in page
    assert ("You proposed approving this case: a different security lead or admin must "
            "approve it.") in shown
    assert "approval proposed" in section(page, "timeline")

    lee_page = lee.get(url).get_data(as_text=True)
    assert 'data-event="approve"' in lee_page
    assert "Proposed by Sam" in section(lee_page, "four-eyes")
    version = service.get_case(case.id).version
    approved = lee.post(f"{url}/events", data={"event": "approve", "version": version})
    assert approved.status_code == 302, approved.get_data(as_text=True)
    assert service.get_case(case.id).resolution == "approved"


def test_the_console_refuses_the_proposer_and_says_why(app, staff, case_at):
    lee = app.test_client()
    sign_in(lee, "lee@example.test")
    case, _ = case_at("escalated")
    url = f"/agent/cases/{case.id}"
    assert lee.post(f"{url}/proposal", data={"version": case.version,
                                             "reason": "Called the holder."}).status_code == 302
    page = lee.get(url).get_data(as_text=True)
    assert 'data-event="approve"' not in page
    assert ("You proposed approving this case: a different security lead or admin must "
            "approve it.") in section(page, "four-eyes")
    version = service.get_case(case.id).version
    posted = lee.post(f"{url}/events", data={"event": "approve", "version": version,
                                             "reason": REASON})
    assert posted.status_code == 422
    assert service.get_case(case.id).state == "escalated"


def test_a_proposal_is_open_to_colleagues_of_the_holder(client, staff, case_at, make_agent):
    """Like a note, proposing does not act on the case: the holder still decides who approves
    (a lead takes the case over to approve it)."""
    (_sam, sam), (_lee, lee) = staff["Sam"], staff["Lee"]
    _kim, kim = make_agent("agent", email="kim@example.test", name="Kim")
    case, _ = case_at()
    claimed = client.post(f"/api/v1/cases/{case.id}/claim", headers=auth(kim),
                          json={"version": case.version})
    assert claimed.status_code == 200
    assert propose(client, case.id, sam).status_code == 201
    held = fire(client, case.id, lee, "approve")
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "case_claimed"
    refused(fire(client, case.id, kim, "approve"), "four_eyes_required")
    taken = client.post(f"/api/v1/cases/{case.id}/take-over", headers=auth(lee),
                        json={"version": get(client, case.id, lee)["version"]})
    assert taken.status_code == 200
    assert fire(client, case.id, lee, "approve").get_json()["resolution"] == "approved"
