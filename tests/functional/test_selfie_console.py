"""The selfie stage, risk and challenge codes in the console and in the API case detail.

Selfie findings are stored through the service's own entry point (record_selfie_check) with
a report as the face engine would produce it, so these tests need no face models.
"""

import html as html_lib
import itertools
import re

import pytest

from tests.conftest import csrf_sign_in, sign_in
from verification.checks import CheckResult, Result
from verification.selfie import SelfieReport
from workflow import service

EMAILS = (f"person{n}@example.test" for n in itertools.count(1))
CHALLENGE_ISSUE = "account_locked"
FACE_ENGINE = {"engine": "face_recognition", "engine_version": "test"}


@pytest.fixture
def app_config():
    # A challenge issue type one person may approve: four eyes are tested on their own.
    return {"CHALLENGE_ISSUE_TYPES": [CHALLENGE_ISSUE]}


def signed_in(client, make_agent, role: str, name: str):
    """The test client signed in as a new staff member, with their agent and API token."""
    email = f"{name.lower()}@example.test"
    agent, token = make_agent(role, email=email, name=name)
    assert sign_in(client, email).status_code == 302
    client.agent, client.token = agent, token
    return client


@pytest.fixture
def agent_client(client, make_agent):
    return signed_in(client, make_agent, "agent", "Sam")


@pytest.fixture
def leads(app, make_agent):
    """A second browser, signed in as a security lead: escalated cases are theirs alone."""
    return signed_in(app.test_client(), make_agent, "security_lead", "Lia")


@pytest.fixture
def new_case(make_case, make_account):
    """Builder: a case of its own email (no velocity risk) and account of record, with a
    challenge code if asked."""

    def build(state="selfie_check", *, challenge=False, **overrides):
        fields = {"email": next(EMAILS), "issue_type": CHALLENGE_ISSUE if challenge else "other",
                  **overrides}
        make_account(email=fields["email"])
        if challenge:
            fields["challenge_token"] = service.issue_challenge().token
        return make_case(state, **fields)[0]

    return build


def record_selfie(case, *, distance=0.41, threshold=0.6, reference=None, faces=1,
                  code_read=None, known=()):
    """Store a selfie reading for the case's current attempt, as the selfie job does."""
    match = distance <= threshold
    checks = [
        CheckResult("selfie.face.count", Result.CLEAR if faces == 1 else Result.REJECTED,
                    None if faces == 1 else "selfie_no_face", **FACE_ENGINE),
        CheckResult("selfie.match.document", Result.CLEAR if match else Result.REJECTED,
                    None if match else "face_mismatch", score=distance, threshold=threshold,
                    **FACE_ENGINE),
        CheckResult("selfie.known_faces",
                    Result.CONSIDER if known else Result.CLEAR,
                    "face_seen_on_other_account" if known else None, threshold=threshold,
                    details={"case_ids": list(known), "compared": 3} if known else
                    {"compared": 3}, **FACE_ENGINE),
    ]
    if reference is not None:
        checks.append(CheckResult(
            "selfie.match.reference", Result.CLEAR if reference <= threshold else
            Result.REJECTED, None if reference <= threshold else "reference_mismatch",
            score=reference, threshold=threshold, **FACE_ENGINE))
    if code_read is not None:
        checks.append(CheckResult(
            "selfie.challenge.code", Result.CLEAR if code_read else Result.CONSIDER,
            None if code_read else "challenge_code_not_read", engine="rapidocr",
            engine_version="test"))
    job = service.SelfieJob(case_id=case.id, attempt=case.evidence_attempt, selfie=b"",
                            document=None, reference=None, challenge_code=case.challenge_code)
    report = SelfieReport(checks=checks, faces=faces, document_distance=distance,
                          reference_distance=reference)
    service.record_selfie_check(job, report)
    return service.get_case(case.id)


def page(client, case) -> str:
    response = client.get(f"/agent/cases/{case.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def section(html: str, element_id: str) -> str:
    """The text of the card with ``element_id`` (up to the next card)."""
    start = html.index(f'id="{element_id}"')
    end = html.find('<div class="card', start)
    return html[start:end if end != -1 else None]


def text(fragment: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def auth(token):
    return {"Authorization": f"Bearer {token}"}


# --- the selfie panel ---------------------------------------------------------------------

def test_the_selfie_panel_shows_the_photo_the_distance_and_the_verdict(agent_client, new_case):
    case = record_selfie(new_case(), distance=0.412, reference=0.455)
    html = page(agent_client, case)
    panel = section(html, "selfie")
    selfie = next(e for e in case.current_evidence() if e.kind == "selfie")
    assert f"/agent/cases/{case.id}/evidence/{selfie.id}" in panel
    shown = text(panel)
    assert "Faces found 1" in shown
    assert "distance 0.412 / threshold 0.595 match" in shown
    assert "Reference portrait distance 0.455 / threshold 0.595 match" in shown
    assert "not seen on other accounts (3 faces compared)" in shown
    assert 'id="challenge"' not in panel  # no code on this request


def test_a_different_face_shows_no_match(leads, new_case):
    case = record_selfie(new_case(), distance=0.71)
    shown = text(section(page(leads, case), "selfie"))
    assert "distance 0.710 / threshold 0.595 no match" in shown
    assert "Reference portrait" not in shown


def test_a_known_face_links_to_the_other_cases(leads, new_case):
    other = new_case("submitted")
    case = record_selfie(new_case(), known=[other.id])
    html = page(leads, case)
    known = section(html, "selfie")
    assert f'href="/agent/cases/{other.id}"' in known
    assert "Seen on other accounts' cases" in text(known)
    # The check tree links them as well, as it does for a reused document.
    assert f'href="/agent/cases/{other.id}">#{other.id}</a>' in section(html, "checks")


def test_before_the_selfie_check_ran_the_panel_says_so(agent_client, new_case):
    case = new_case("id_check")
    shown = text(section(page(agent_client, case), "selfie"))
    assert "has not run for this attempt: it runs after the document check" in shown


# --- challenge codes ----------------------------------------------------------------------

def test_the_expected_code_and_the_automatic_read_are_shown(agent_client, new_case):
    case = record_selfie(new_case(challenge=True), code_read=False)
    panel = section(page(agent_client, case), "selfie")
    assert re.search(rf'id="expected-code">{case.challenge_code}<', panel)
    assert "not read automatically: compare by eye" in text(panel)
    assert 'id="confirm-code"' in panel and "Code matches" in panel

    read = record_selfie(new_case(challenge=True), code_read=True)
    shown = text(section(page(agent_client, read), "selfie"))
    assert "read automatically" in shown and "compare by eye" not in shown


def test_approve_waits_for_the_code_then_the_agent_confirms_it(agent_client, new_case):
    case = new_case(challenge=True)
    url = f"/agent/cases/{case.id}"
    refused = agent_client.post(f"{url}/events", data={"event": "approve",
                                                       "version": case.version})
    assert refused.status_code == 422
    assert case.challenge_code in refused.get_data(as_text=True)
    assert service.get_case(case.id).state == "selfie_check"

    confirmed = agent_client.post(f"{url}/challenge-confirmation",
                                  data={"version": case.version})
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)
    case = service.get_case(case.id)
    assert service.challenge_confirmed(case)
    html = page(agent_client, case)
    assert "The code on the selfie is confirmed." in html
    assert "Code confirmed by Sam" in text(section(html, "selfie"))
    assert 'id="confirm-code"' not in html

    approved = agent_client.post(f"{url}/events", data={"event": "approve",
                                                        "version": case.version})
    assert approved.status_code == 302
    case = service.get_case(case.id)
    assert (case.state, case.resolution) == ("resolved", "approved")


def test_a_stale_or_misplaced_confirmation_is_refused_on_the_page(agent_client, new_case):
    case = new_case(challenge=True)
    url = f"/agent/cases/{case.id}/challenge-confirmation"
    stale = agent_client.post(url, data={"version": case.version - 1})
    assert stale.status_code == 409
    assert "changed while you were looking" in stale.get_data(as_text=True)
    early = new_case("id_check", challenge=True)
    html = page(agent_client, early)
    assert 'id="confirm-code"' not in html and "it is confirmed at the selfie check" in html
    refused = agent_client.post(f"/agent/cases/{early.id}/challenge-confirmation",
                                data={"version": early.version})
    assert refused.status_code == 422
    assert "confirmed at the selfie check" in text(section(refused.get_data(as_text=True),
                                                           "case-error"))
    assert not service.challenge_confirmed(service.get_case(early.id))


# Before, the code was needed only to approve from the selfie check: a lead could approve an
# escalated case whose code nobody had compared with the selfie.
@pytest.fixture
def lead_client(client, make_agent):
    return signed_in(client, make_agent, "security_lead", "Lee")


def test_an_escalated_case_is_approved_only_after_the_code_is_confirmed_api(lead_client,
                                                                          new_case):
    case = new_case("escalated", challenge=True)
    url, headers = f"/api/v1/cases/{case.id}", auth(lead_client.token)
    body = lead_client.get(url, headers=headers).get_json()
    assert "approve" in {e["event"] for e in body["allowed_events"]}
    approve = {"event": "approve", "version": case.version, "reason": "Called the holder."}
    refused = lead_client.post(f"{url}/events", json=approve, headers=headers)
    assert refused.status_code == 422, refused.get_data(as_text=True)
    error = refused.get_json()["error"]
    assert error["code"] == "transition_not_allowed"
    assert error["message"] == (f"Compare the code on the selfie with {case.challenge_code} "
                                "and confirm it before approving.")
    case = service.get_case(case.id)
    assert (case.state, case.resolution) == ("escalated", None)

    confirmed = lead_client.post(f"{url}/challenge-confirmation",
                                 json={"version": case.version}, headers=headers)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    assert confirmed.get_json()["challenge"]["confirmed"] is True
    approve["version"] = confirmed.get_json()["version"]
    approved = lead_client.post(f"{url}/events", json=approve, headers=headers)
    assert approved.status_code == 200, approved.get_data(as_text=True)
    case = service.get_case(case.id)
    assert (case.state, case.resolution) == ("resolved", "approved")


def test_an_escalated_case_is_approved_only_after_the_code_is_confirmed_console(lead_client,
                                                                              new_case):
    case = new_case("escalated", challenge=True)
    url = f"/agent/cases/{case.id}"
    html = page(lead_client, case)
    assert 'data-event="approve"' in html and 'id="confirm-code"' in html
    approve = {"event": "approve", "version": case.version, "reason": "Called the holder."}
    refused = lead_client.post(f"{url}/events", data=approve)
    assert refused.status_code == 422
    assert (f"Compare the code on the selfie with {case.challenge_code} and confirm it before "
            "approving.") in text(section(refused.get_data(as_text=True), "case-error"))
    case = service.get_case(case.id)
    assert (case.state, case.resolution) == ("escalated", None)
    assert not service.challenge_confirmed(case)

    confirmed = lead_client.post(f"{url}/challenge-confirmation",
                                 data={"version": case.version})
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)
    case = service.get_case(case.id)
    assert "Code confirmed by Lee" in text(section(page(lead_client, case), "selfie"))
    approved = lead_client.post(f"{url}/events", data={**approve, "version": case.version})
    assert approved.status_code == 302, approved.get_data(as_text=True)
    case = service.get_case(case.id)
    assert (case.state, case.resolution) == ("resolved", "approved")


def test_an_agent_does_not_confirm_the_code_of_an_escalated_case(agent_client, new_case):
    case = new_case("escalated", challenge=True)
    # An escalated case is the security leads' alone: the page and the API refuse the agent.
    shown = agent_client.get(f"/agent/cases/{case.id}")
    assert shown.status_code == 403
    assert "is with the security leads" in shown.get_data(as_text=True)
    for path in (f"/agent/cases/{case.id}/challenge-confirmation",):
        assert agent_client.post(path, data={"version": case.version}).status_code == 403
    refused = agent_client.post(f"/api/v1/cases/{case.id}/challenge-confirmation",
                                json={"version": case.version}, headers=auth(agent_client.token))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "leads_only"
    assert not service.challenge_confirmed(service.get_case(case.id))


# --- risk and "this wasn't me" ------------------------------------------------------------

def test_the_risk_panel_shows_the_level_and_its_reasons(agent_client, leads, new_case):
    unassessed = new_case("id_check")
    assert "Not assessed yet" in text(section(page(agent_client, unassessed), "risk"))
    low = record_selfie(new_case())
    shown = text(section(page(agent_client, low), "risk"))
    assert "low risk" in shown and "Nothing raised the risk." in shown
    high = record_selfie(new_case(), distance=0.8)
    assert high.state == "escalated"
    shown = text(section(page(leads, high), "risk"))
    assert "high risk" in shown
    assert "high The selfie does not match the document portrait." in shown


def test_not_me_report_escalates_and_shows_why(agent_client, leads, new_case):
    case = new_case("id_check")
    response = agent_client.post(f"/agent/cases/{case.id}/not-me",
                                 data={"note": "Holder replied to the notification email."})
    assert response.status_code == 302, response.get_data(as_text=True)
    case = service.get_case(case.id)
    assert case.state == "escalated"
    assert [e.event for e in case.events][-3:] == ["reported_not_me", "risk_assessed",
                                                   "escalate"]
    # The agent is sent back to the queue, saying where the case went.
    assert response.headers["Location"] == "/agent/"
    html = page(leads, case)
    risk = text(section(html, "risk"))
    assert "high risk" in risk
    assert "The account holder reported this request as not theirs (1 report)." in risk
    assert "Holder replied to the notification email." in text(section(html, "timeline"))


@pytest.mark.parametrize("note", ["", "   "])
def test_not_me_needs_a_note(agent_client, new_case, note):
    case = new_case("id_check")
    response = agent_client.post(f"/agent/cases/{case.id}/not-me", data={"note": note})
    assert response.status_code == 400
    assert "Say who reported it and how." in text(section(response.get_data(as_text=True),
                                                          "not-me"))
    assert service.get_case(case.id).state == "id_check"


def test_not_me_on_a_closed_case_is_refused(agent_client, new_case):
    case = new_case("resolved")
    assert 'id="not-me"' not in page(agent_client, case)
    response = agent_client.post(f"/agent/cases/{case.id}/not-me", data={"note": "Call."})
    assert response.status_code == 422 and "closed" in response.get_data(as_text=True)


# --- failed checks ------------------------------------------------------------------------

def test_a_failed_check_shows_a_banner_and_can_be_run_again(agent_client, new_case):
    case = new_case("id_check")
    assert 'id="verification-failure"' not in page(agent_client, case)
    service.record_verification_failure(case.id, case.evidence_attempt, "boom")
    banner = section(page(agent_client, case), "verification-failure")
    assert "Automated checks failed: boom" in text(banner)
    assert "Run the checks again" in banner

    response = agent_client.post(f"/agent/cases/{case.id}/verification-retry")
    assert response.status_code == 302
    case = service.get_case(case.id)
    assert case.events[-1].event == "verification_retried"
    assert case.events[-1].actor_agent_id == agent_client.agent.id
    html = page(agent_client, case)
    assert "The automated checks will run again." in html
    assert 'id="verification-failure"' not in html


def test_running_the_checks_of_a_closed_case_is_refused(agent_client, new_case):
    case = new_case("resolved")
    response = agent_client.post(f"/agent/cases/{case.id}/verification-retry")
    assert response.status_code == 422 and "closed" in response.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True,
                                         "CHALLENGE_ISSUE_TYPES": [CHALLENGE_ISSUE]}])
def test_the_new_forms_are_csrf_protected(client, make_agent, new_case):
    make_agent("agent", email="sam@example.test")
    assert csrf_sign_in(client, "sam@example.test").status_code == 302
    case = new_case(challenge=True)
    url = f"/agent/cases/{case.id}"
    html = page(client, case)
    for action in ("challenge-confirmation", "not-me"):
        form = re.search(rf'action="{url}/{action}">(.*?)</form>', html, re.S).group(1)
        assert 'name="csrf_token"' in form, action
    forged = client.post(f"{url}/challenge-confirmation", data={"version": case.version})
    assert forged.status_code == 400
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    ok = client.post(f"{url}/challenge-confirmation",
                     data={"version": case.version, "csrf_token": token})
    assert ok.status_code == 302


# --- the API ------------------------------------------------------------------------------

def test_case_detail_has_selfie_risk_challenge_and_failure(agent_client, leads, new_case):
    token = agent_client.token
    plain = new_case("id_check")
    body = agent_client.get(f"/api/v1/cases/{plain.id}", headers=auth(token)).get_json()
    assert {k: body[k] for k in ("selfie", "risk", "challenge", "verification_failure")} == \
        dict.fromkeys(("selfie", "risk", "challenge", "verification_failure"))

    case = record_selfie(new_case(challenge=True), distance=0.412, reference=0.7,
                         code_read=False)
    service.record_verification_failure(case.id, case.evidence_attempt, "boom")
    body = leads.get(f"/api/v1/cases/{case.id}", headers=auth(leads.token)).get_json()
    selfie = body["selfie"]
    assert selfie["faces"] == 1 and isinstance(selfie["faces"], int)
    assert selfie["document_distance"] == pytest.approx(0.412)
    assert selfie["reference_distance"] == pytest.approx(0.7)
    assert selfie["threshold"] == pytest.approx(0.595)
    assert selfie["match"] is True and selfie["reference_match"] is False
    assert selfie["challenge_code_read"] is False
    assert selfie["outcome"] == "rejected" and selfie["created_at"].endswith("Z")
    assert body["risk"]["level"] == "high"
    assert [r["code"] for r in body["risk"]["reasons"]] == ["reference_mismatch"]
    assert set(body["risk"]["reasons"][0]) == {"code", "level", "text"}
    assert body["challenge"] == {"code": case.challenge_code, "confirmed": False}
    assert body["verification_failure"]["reason"] == "boom"
    assert body["verification_failure"]["at"].endswith("Z")


def test_api_confirms_the_code(agent_client, new_case):
    token = agent_client.token
    case = new_case(challenge=True)
    url, seen = f"/api/v1/cases/{case.id}/challenge-confirmation", case.version
    ok = agent_client.post(url, json={"version": seen}, headers=auth(token))
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.get_json()["challenge"] == {"code": case.challenge_code, "confirmed": True}
    assert ok.get_json()["version"] > seen
    again = agent_client.post(url, json={"version": ok.get_json()["version"]},
                              headers=auth(token))
    assert again.status_code == 422 and again.get_json()["error"]["code"] == "action_refused"
    stale = agent_client.post(url, json={"version": seen}, headers=auth(token))
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale_version"


@pytest.mark.parametrize("body,status,code,field", [
    ({}, 400, "invalid_field", "version"),
    ({"version": "1"}, 400, "invalid_field", "version"),
    (None, 400, "invalid_json", None),
])
def test_api_confirmation_needs_a_version(agent_client, new_case, body, status, code, field):
    case = new_case(challenge=True)
    url = f"/api/v1/cases/{case.id}/challenge-confirmation"
    response = (agent_client.post(url, json=body, headers=auth(agent_client.token))
                if body is not None else
                agent_client.post(url, data="version=1", headers=auth(agent_client.token)))
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["field"] == field


def test_api_confirmation_of_a_case_without_a_code_or_unknown(agent_client, new_case):
    token = agent_client.token
    case = new_case()
    response = agent_client.post(f"/api/v1/cases/{case.id}/challenge-confirmation",
                                 json={"version": case.version}, headers=auth(token))
    assert response.status_code == 422 and "no challenge code" in \
        response.get_json()["error"]["message"]
    missing = agent_client.post("/api/v1/cases/999999/challenge-confirmation",
                                json={"version": 1}, headers=auth(token))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert agent_client.post(f"/api/v1/cases/{case.id}/challenge-confirmation",
                             json={"version": 1}).status_code == 401


def test_api_not_me_escalates(agent_client, new_case):
    token = agent_client.token
    case = new_case("id_check")
    url = f"/api/v1/cases/{case.id}/not-me"
    for bad, status, code in (({}, 400, "invalid_field"), ({"note": 3}, 400, "invalid_field"),
                              ({"note": " "}, 422, "action_refused")):
        refused = agent_client.post(url, json=bad, headers=auth(token))
        assert refused.status_code == status and refused.get_json()["error"]["code"] == code
    response = agent_client.post(url, json={"note": "Holder called support."},
                                 headers=auth(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["state"] == "escalated" and body["risk"]["level"] == "high"
    assert "not_me_report" in [r["code"] for r in body["risk"]["reasons"]]
    # From now on the case is the security leads'.
    again = agent_client.post(url, json={"note": "Called again."}, headers=auth(token))
    assert (again.status_code, again.get_json()["error"]["code"]) == (403, "leads_only")


def test_api_retries_the_checks(agent_client, new_case):
    token = agent_client.token
    case = new_case("id_check")
    service.record_verification_failure(case.id, case.evidence_attempt, "boom")
    url = f"/api/v1/cases/{case.id}/verification-retry"
    response = agent_client.post(url, headers=auth(token))
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["verification_failure"] is None
    assert body["events"][-1]["event"] == "verification_retried"
    closed = new_case("resolved")
    refused = agent_client.post(f"/api/v1/cases/{closed.id}/verification-retry",
                                headers=auth(token))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == \
        "action_refused"


def test_openapi_describes_the_new_routes_and_objects(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert "201" in paths["/challenges"]["post"]["responses"]
    assert "200" in paths["/cases/{case_id}/challenge-confirmation"]["post"]["responses"]
    assert "200" in paths["/cases/{case_id}/not-me"]["post"]["responses"]
    assert "202" in paths["/cases/{case_id}/verification-retry"]["post"]["responses"]
    schemas = spec["components"]["schemas"]
    assert "challenge_token" in schemas["RecoveryRequestForm"]["properties"]
    detail = schemas["CaseDetail"]["allOf"][1]
    for name, ref in (("selfie", "SelfieReading"), ("risk", "RiskAssessment"),
                      ("challenge", "CaseChallenge"),
                      ("verification_failure", "VerificationFailure")):
        assert name in detail["required"]
        assert {"$ref": f"#/components/schemas/{ref}"} in detail["properties"][name]["oneOf"]
        assert ref in schemas
    assert set(schemas["IssuedChallenge"]["required"]) == {"code", "challenge_token",
                                                           "expires_at"}
    assert {"match", "threshold", "challenge_code_read"} <= \
        set(schemas["SelfieReading"]["properties"])
