"""The console's case page for a working day: the compare view, the checks in plain words,
one timeline, one action area, success texts, the agent's workload and earlier cases."""

import html as html_lib
import itertools
import re
from datetime import timedelta

import pytest

from extensions import db
from tests.conftest import sign_in
from verification.checks import REASONS
from workflow import service
from workflow.models import CaseSla, RecoveryCase, VerificationCheck, utcnow


@pytest.fixture
def staff(make_agent):
    """Sam (agent) and Lee (security lead)."""
    return {name: make_agent(role, email=f"{name.lower()}@example.test", name=name)[0]
            for name, role in (("Sam", "agent"), ("Lee", "security_lead"))}


@pytest.fixture
def sam(client, staff):
    assert sign_in(client, "sam@example.test").status_code == 302
    return client


def page(client, case_id) -> str:
    response = client.get(f"/agent/cases/{case_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def element(html: str, element_id: str) -> str:
    """The markup from the element with ``element_id`` up to the next card."""
    start = html.index(f'id="{element_id}"')
    end = html.find('<div class="card', start)
    return html[start:end if end != -1 else None]


def text(fragment: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def without_details(fragment: str) -> str:
    return re.sub(r"<details.*?</details>", "", fragment, flags=re.S)


def add_finding(case_id, check, result, reason_code, **fields):
    case = db.session.get(RecoveryCase, case_id)
    db.session.add(VerificationCheck(case_id=case_id, attempt=case.evidence_attempt,
                                     check=check, result=result, reason_code=reason_code,
                                     engine="test", engine_version="1", details={}, **fields))
    db.session.commit()


def fire(client, case_id, **data):
    version = service.get_case(case_id).version
    return client.post(f"/agent/cases/{case_id}/events", data={"version": version, **data})


# --- 1. the compare view ---------------------------------------------------------------------

def test_the_id_and_the_selfie_are_side_by_side_with_zoom_rotate_and_full_links(sam, make_case):
    case, _ = make_case("selfie_check")
    html = page(sam, case.id)
    compare = element(html, "selfie")
    for item in case.current_evidence():
        url = f"/agent/cases/{case.id}/evidence/{item.id}"
        assert f'<img src="{url}"' in compare
        # Without JavaScript: a plain link to the full image.
        assert f'<a href="{url}" target="_blank" rel="noopener">Open full size</a>' in compare
    assert compare.index('id="viewer-id_document"') < compare.index('id="viewer-selfie"')
    # The controls wait for the script (which the page loads from a file, not inline).
    tools = re.findall(r'<div class="viewer-tools"[^>]*>', compare)
    assert len(tools) == 2 and all(" hidden" in t for t in tools)
    for step in ("zoom-in", "zoom-out", "rotate", "reset"):
        assert compare.count(f'data-viewer="{step}"') == 2
    assert 'data-shortcut="z" data-shortcut-label="Zoom the ID"' in compare
    assert '<script src="/static/case.js" defer></script>' in html
    assert "<script>" not in html and " style=" not in html


# --- 2. the checks in plain words -------------------------------------------------------------

def test_checks_read_in_plain_words_failed_first_with_the_raw_figures_folded(sam, make_case):
    case, _ = make_case("selfie_check")
    add_finding(case.id, "document.quality.sharpness", "clear", None, score=1592.0,
                threshold=0.0)
    add_finding(case.id, "selfie.match.document", "rejected", "face_mismatch", score=0.71,
                threshold=0.6)
    add_finding(case.id, "document.mrz.found", "consider", "mrz_not_found")
    checks = element(page(sam, case.id), "checks")
    shown = text(without_details(checks))
    mismatch = REASONS["face_mismatch"].internal_text
    no_mrz = REASONS["mrz_not_found"].internal_text
    assert mismatch in shown and no_mrz in shown and "Passed." in shown
    # Failed first, then what needs a look, then what passed.
    assert shown.index(mismatch) < shown.index(no_mrz) < shown.index("Passed.")
    # The codes, scores and thresholds are there, folded away.
    for raw in ("face_mismatch", "selfie.match.document", "score 1592.000", "threshold 0.600"):
        assert raw not in shown
        assert raw in text(checks)
    assert '<details class="raw" id="raw-checks">' in checks


# --- 3. one timeline --------------------------------------------------------------------------

def test_one_timeline_of_messages_notes_events_and_checks_newest_first(sam, make_case):
    case, token = make_case("id_check")
    sam.post(f"/agent/cases/{case.id}/messages", data={"body": "Please hold on"})
    sam.post(f"/agent/cases/{case.id}/messages", data={"body": "Looks fine", "internal": "y"})
    sam.post(f"/status/{token}/reply", data={"body": "Thanks"})
    add_finding(case.id, "document.mrz.found", "rejected", "mrz_not_found")

    timeline = element(page(sam, case.id), "timeline")
    entries = re.findall(r'<li class="entry entry-(\w+)">(.*?)</li>', timeline, flags=re.S)
    kinds = [kind for kind, _ in entries]
    assert {"event", "message", "note", "check"} <= set(kinds)
    shown = [text(body) for _, body in entries]
    # Newest first: the check written last comes first, the filing last.
    assert REASONS["mrz_not_found"].internal_text in shown[0]
    assert shown[-1].startswith("submitted")
    note = shown[kinds.index("note")]
    assert "Internal note internal note" in note and "Looks fine" in note and "Sam" in note
    # Each with when: relative, and the exact time in the title.
    times = re.findall(r'<time datetime="([^"]+)" title="([^"]+) UTC">([^<]+)</time>', timeline)
    assert len(times) == len(entries)
    assert all(ago == "just now" or ago.endswith(" ago") for _, _, ago in times)


# --- 4. one action area -----------------------------------------------------------------------

def test_one_form_offers_every_allowed_action_with_one_reason_box(sam, staff, make_case):
    case, _ = make_case("id_check")
    html = page(sam, case.id)
    actions = element(html, "actions")
    assert actions.count("<form") == 1 and actions.count('type="submit"') == 1
    assert actions.count('name="reason"') == 1
    radios = re.findall(r'<input type="radio" name="event" value="([a-z_]+)"', actions)
    allowed = {row.trigger for row in service.allowed_events(case, {"agent"}, staff["Sam"].id)}
    assert set(radios) == allowed and len(radios) == len(allowed)
    assert 'data-shortcut="d" data-shortcut-label="Choose decline"' in actions
    # Which actions need the reason, said without JavaScript too.
    assert re.search(r'value="decline"[^>]*data-needs-reason="yes"', actions)
    assert re.search(r'value="confirm_document"[^>]*data-needs-reason="no"', actions)
    assert "Needed for: " in text(actions) and "Decline" in text(actions)


def test_the_one_form_performs_each_action(sam, make_case):
    for trigger, state, reason in (("start_review", "submitted", ""),
                                   ("confirm_document", "id_check", ""),
                                   ("request_info", "id_check", "Which phone do you use?"),
                                   ("request_resubmission", "selfie_check", "The ID is blurry."),
                                   ("mark_duplicate", "id_check", "Same as the earlier one."),
                                   ("decline", "selfie_check", "Not the same person.")):
        # Each requester apart: cases of one person in a row would raise its risk.
        case, _ = make_case(state, email=f"{trigger}@example.test")
        html = page(sam, case.id)
        assert f'value="{trigger}"' in element(html, "actions"), trigger
        response = fire(sam, case.id, event=trigger, reason=reason)
        assert response.status_code == 302, (trigger, response.get_data(as_text=True))
        assert service.get_case(case.id).events[-1].event == trigger


def test_a_missing_reason_is_refused_and_the_choice_kept(sam, make_case):
    case, _ = make_case("id_check")
    response = fire(sam, case.id, event="decline", reason="  ")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please write a reason for this action." in text(element(html, "case-error"))
    assert re.search(r'value="decline"[^>]*checked', html)
    assert service.get_case(case.id).state == "id_check"


# --- 5. success texts -------------------------------------------------------------------------

@pytest.mark.parametrize("trigger,state,reason,said", [
    ("decline", "selfie_check", "Not the same person.",
     "Case #{id} declined: the requester is told why at a•••@example.test."),
    ("request_info", "id_check", "Which phone?",
     "Question sent to the requester (a•••@example.test): case #{id} waits for the answer."),
    ("confirm_document", "id_check", "",
     "Case #{id}: document verified; the case is at the selfie check."),
])
def test_success_texts_say_what_happened(sam, make_case, trigger, state, reason, said):
    case, _ = make_case(state)
    response = fire(sam, case.id, event=trigger, reason=reason)
    assert response.status_code == 302
    html = sam.get(response.location).get_data(as_text=True)
    assert said.format(id=case.id) in text(html)
    assert "Done." not in html


def test_approving_says_where_the_requester_is_told(sam, make_case, make_account):
    make_account()
    case, _ = make_case("selfie_check", issue_type="forgot_password")
    response = fire(sam, case.id, event="approve")
    assert response.status_code == 302, response.get_data(as_text=True)
    html = text(sam.get(response.location).get_data(as_text=True))
    assert f"Case #{case.id} approved: the requester is told by email at a•••@example.test." \
        in html


def test_claim_assign_reply_and_note_say_what_happened(client, sam, staff, make_case):
    case, _ = make_case()
    url = f"/agent/cases/{case.id}"
    claimed = sam.post(f"{url}/assign", data={"action": "claim", "version": case.version})
    assert f"You hold case #{case.id} now." in text(sam.get(claimed.location).get_data(True))
    replied = sam.post(f"{url}/messages", data={"body": "Hello Anna"})
    assert "Reply sent to the requester." in text(sam.get(replied.location).get_data(True))
    noted = sam.post(f"{url}/messages", data={"body": "Fine", "internal": "y"})
    assert "Internal note added." in text(sam.get(noted.location).get_data(True))
    released = sam.post(f"{url}/assign", data={"action": "release",
                                               "version": service.get_case(case.id).version})
    assert f"Case #{case.id} released: nobody holds it now." in \
        text(sam.get(released.location).get_data(True))

    lee = client.application.test_client()
    assert sign_in(lee, "lee@example.test").status_code == 302
    assigned = lee.post(f"{url}/assign", data={"action": "assign", "assignee_id": staff["Sam"].id,
                                               "version": service.get_case(case.id).version})
    assert "Assigned to Sam." in text(lee.get(assigned.location).get_data(True))


# --- 6. the agent's workload and the requester's earlier cases --------------------------------

def test_the_agents_workload_counts_what_is_due_soon_and_overdue(sam, staff, make_case):
    mine = [make_case("id_check")[0] for _ in range(3)]
    make_case("id_check")  # somebody else's
    now = utcnow()
    for case in mine:
        service.claim_case(case.id, staff["Sam"], service.get_case(case.id).version)
    overdue, soon = (db.session.get(CaseSla, c.id) for c in mine[:2])
    overdue.first_response_due_at = now - timedelta(minutes=5)
    soon.first_response_warn_at = now - timedelta(minutes=5)
    soon.first_response_due_at = now + timedelta(minutes=30)
    db.session.commit()
    workload = element(page(sam, mine[2].id), "workload")
    assert "3 open cases assigned to you · 1 due soon · 1 overdue" in text(workload)
    listed = re.findall(r'href="/agent/cases/(\d+)"', workload)
    assert listed[:2] == [str(mine[0].id), str(mine[1].id)]  # overdue first, then due soon


def test_the_requesters_earlier_cases_are_listed_with_links(sam, make_case, make_account):
    account = make_account()
    earlier, _ = make_case("resolved", email="Anna@Example.test")
    by_account, _ = make_case("id_check", email="anna.other@example.test")
    by_account.account_id = account.id
    escalated, _ = make_case("escalated")
    stranger, _ = make_case("id_check", email="bob@example.test")
    db.session.commit()
    case, _ = make_case("selfie_check")
    shown = element(page(sam, case.id), "earlier-cases")
    ids = re.findall(r'href="/agent/cases/(\d+)">#', shown)
    assert str(earlier.id) in ids and str(by_account.id) in ids
    assert str(stranger.id) not in ids and str(case.id) not in ids
    # An escalated case is the security leads' alone: an agent does not see it here either.
    assert str(escalated.id) not in ids
    assert "resolved" in text(shown)


# --- 7. at 390 px, headings, landmarks --------------------------------------------------------

def test_headings_go_in_order_and_the_reply_box_has_its_stable_id(sam, make_case):
    html = page(sam, make_case("selfie_check")[0].id)
    levels = [int(level) for level in re.findall(r"<h([1-6])", html)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    reply = element(html, "reply")
    assert re.search(r'<textarea[^>]*data-shortcut="r"[^>]*id="reply-body"', reply)
    assert '<label for="reply-body">' in reply
    assert 'data-shortcut="c" data-shortcut-label="Claim this case"' in html


def test_a_case_escalated_while_held_leaves_the_agents_workload(sam, staff, make_case):
    held, _ = make_case("id_check")
    other, _ = make_case("id_check")
    service.claim_case(held.id, staff["Sam"], service.get_case(held.id).version)
    db.session.get(RecoveryCase, held.id).state = "escalated"
    db.session.commit()
    workload = element(page(sam, other.id), "workload")
    assert f'href="/agent/cases/{held.id}"' not in workload
    assert "0 open cases assigned to you" in text(workload) or \
        "no open cases" in text(workload).lower()
