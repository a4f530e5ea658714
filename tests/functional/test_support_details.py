"""What support needs to know: the request's optional details and error screenshots, through
the form, the API and the reply on the status page; what agents see; export, purge, erasure."""

import io
import json
import re
from datetime import date, time, timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from PIL import Image

from extensions import db
from tests.conftest import image_bytes, sign_in
from tests.functional.test_public_pages import form_data
from tests.functional.test_uploads import nothing_stored
from workflow import service
from workflow.models import Evidence, Message, RecoveryCase, utcnow
from workflow.states import TRIED_FIXES

DETAILS = {"device": "iPhone 13, iOS 17.4", "app_version": "5.2.1",
           "began_on": "2026-11-30", "began_time": "14:30",
           "tried_fixes": ["clock_automatic", "updated_app"],
           "tried_other": "Reinstalled the authenticator."}


def screenshot(color=(20, 90, 200), exif: bool = False) -> bytes:
    """A small PNG screenshot, or a JPEG carrying EXIF (a camera make and a GPS block)."""
    image = Image.new("RGB", (320, 640), color)
    buffer = io.BytesIO()
    if exif:
        tags = Image.Exif()
        tags[0x010F] = "SpyCam"  # Make
        tags[0x8825] = {1: "N", 2: (52.0, 22.0, 0.0)}  # GPS
        image.save(buffer, "JPEG", exif=tags)
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def shots(*images: bytes) -> list:
    return [(io.BytesIO(data), f"shot{n}.png") for n, data in enumerate(images, start=1)]


def the_case() -> RecoveryCase:
    return db.session.scalars(sa.select(RecoveryCase)).one()


def screenshot_rows(case_id: int) -> list[Evidence]:
    return list(db.session.scalars(sa.select(Evidence).where(
        Evidence.case_id == case_id, Evidence.kind.like("screenshot-%")).order_by(Evidence.id)))


@pytest.fixture
def agent_client(client, make_agent):
    make_agent("agent", email="sam@example.test", name="Sam")
    assert sign_in(client, "sam@example.test").status_code == 302
    return client


def test_the_form_offers_the_details_every_fix_and_the_screenshots(client):
    html = client.get("/recover").get_data(as_text=True)
    for name in ("device", "app_version", "began_on", "began_time", "tried_other"):
        assert f'name="{name}"' in html
    boxes = re.findall(r'<input data-issue-types="[a-z_0-9 ]+" id="tried_fixes-\d+" '
                       r'name="tried_fixes" type="checkbox" value="(\w+)">', html)
    assert boxes == list(TRIED_FIXES)
    assert 'data-issue-types="lost_2fa new_device" id="tried_fixes-2"' in html
    assert 'name="screenshots"' in html and "multiple" in html
    assert 'data-prefill="device"' in html and "details.js" in html
    assert "what support needs to know" in html


def test_the_web_form_stores_the_details_and_the_screenshots(client):
    data = form_data(**DETAILS, screenshots=shots(screenshot(), screenshot(exif=True)))
    response = client.post("/recover", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    case = the_case()
    assert (case.device, case.app_version) == ("iPhone 13, iOS 17.4", "5.2.1")
    assert (case.began_on, case.began_time) == (date(2026, 11, 30), time(14, 30))
    assert case.tried_fixes == ["clock_automatic", "updated_app"]
    assert case.tried_other == "Reinstalled the authenticator."
    rows = screenshot_rows(case.id)
    assert [(r.kind, r.attempt, r.message_id) for r in rows] == [
        ("screenshot-1", 0, None), ("screenshot-2", 0, None)]
    # Re-encoded through the intake, metadata gone; sealed at rest like the photos.
    stored = Image.open(io.BytesIO(rows[1].data))
    assert not stored.getexif() and rows[1].original_sha256 != rows[1].sha256
    assert rows[1].sealed_data != rows[1].data
    # Never among the photos the checks read.
    assert {e.kind for e in case.current_evidence()} == {"id_document", "selfie"}


def test_a_request_without_the_details_stores_none(client):
    response = client.post("/recover", data=form_data(), content_type="multipart/form-data")
    assert response.status_code == 303
    case = the_case()
    assert (case.device, case.began_on, case.tried_fixes, case.tried_other) == (
        None, None, None, None)
    assert screenshot_rows(case.id) == []


TOMORROW_PLUS = (date.today() + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"began_on": TOMORROW_PLUS}, "began_on", "This date is in the future"),
    ({"began_on": "30/11/2026"}, "began_on", "Please enter the date as YYYY-MM-DD, for example"),
    ({"began_on": "1999-12-31"}, "began_on", "Please check the year."),
    ({"began_time": "25:00", "began_on": "2026-11-30"}, "began_time",
     "Please enter the time as HH:MM"),
    ({"began_time": "14:30"}, "began_time", "Please give the date as well as the time."),
    ({"tried_fixes": ["reboot_the_moon"]}, "tried_fixes", "not a valid choice"),
    ({"device": "x" * 201}, "device", "200"),
    ({"tried_other": "a\x00b"}, "tried_other", "characters that are not allowed"),
])
def test_bad_details_are_refused_next_to_their_field(client, fields, field, message):
    response = client.post("/recover", data=form_data(**fields),
                           content_type="multipart/form-data")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    errors = html.split(f'id="{field}-errors">', 1)
    assert len(errors) == 2 and message in errors[1].split("</ul>", 1)[0], html
    assert nothing_stored()


def test_more_than_three_screenshots_are_refused(client):
    data = form_data(screenshots=shots(*(screenshot() for _ in range(4))))
    response = client.post("/recover", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Attach at most 3 screenshots." in response.get_data(as_text=True)
    assert nothing_stored()


def test_a_file_that_is_no_image_is_refused_as_a_screenshot(client):
    data = form_data(screenshots=[(io.BytesIO(b"<script>alert(1)</script>"), "x.png")])
    response = client.post("/recover", data=data, content_type="multipart/form-data")
    assert response.status_code == 415
    html = response.get_data(as_text=True)
    assert 'id="screenshots-errors"' in html
    assert nothing_stored()


def api_form(**overrides) -> dict:
    data = {"email": "anna@example.test", "full_name": "Anna Eriksson",
            "date_of_birth": "1974-08-12", "issue_type": "lost_2fa", "consent": "true",
            "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
            "selfie": (io.BytesIO(image_bytes("PNG")), "me.png")}
    data.update(overrides)
    return data


def test_the_api_takes_the_details_and_the_screenshots(client):
    response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           data=api_form(**DETAILS, screenshots=shots(screenshot())))
    assert response.status_code == 201, response.get_json()
    case = the_case()
    assert case.device == "iPhone 13, iOS 17.4" and case.began_time == time(14, 30)
    assert case.tried_fixes == ["clock_automatic", "updated_app"]
    assert [r.kind for r in screenshot_rows(case.id)] == ["screenshot-1"]


@pytest.mark.parametrize(("fields", "status", "field"), [
    ({"began_on": TOMORROW_PLUS}, 400, "began_on"),
    ({"tried_fixes": "nope"}, 400, "tried_fixes"),
    ({"screenshots": [(io.BytesIO(b"GIF89a" + b"\0" * 40), "a.gif")]}, 415, "screenshots"),
])
def test_the_api_names_the_field_it_refuses(client, fields, status, field):
    response = client.post("/api/v1/recovery-requests", content_type="multipart/form-data",
                           data=api_form(**fields))
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field
    assert nothing_stored()


def test_the_api_documents_the_new_fields(client):
    schema = client.get("/api/v1/openapi.json").get_json()
    form = schema["components"]["schemas"]["RecoveryRequestForm"]
    for name in ("device", "app_version", "began_on", "began_time", "tried_fixes",
                 "tried_other", "screenshots"):
        assert name in form["properties"] and name not in form["required"]


def test_a_reply_carries_screenshots_the_agent_sees_in_the_message(client, agent_client,
                                                                   make_case):
    case, token = make_case("awaiting_user")
    response = client.post(f"/status/{token}/reply", content_type="multipart/form-data",
                           data={"body": "Here is the error.",
                                 "screenshots": shots(screenshot(), screenshot((9, 9, 9)))})
    assert response.status_code == 302
    message = db.session.scalars(sa.select(Message).where(
        Message.case_id == case.id, Message.author_type == "user")).one()
    rows = screenshot_rows(case.id)
    assert [(r.kind, r.message_id) for r in rows] == [
        ("screenshot-1", message.id), ("screenshot-2", message.id)]
    html = agent_client.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    messages = html.split('id="timeline"', 1)[1]
    for row in rows:
        assert f"/agent/cases/{case.id}/evidence/{row.id}" in messages
    image = agent_client.get(f"/agent/cases/{case.id}/evidence/{rows[0].id}")
    assert image.status_code == 200 and image.mimetype == "image/png"


def test_a_bad_screenshot_on_a_reply_stores_no_message(client, make_case):
    case, token = make_case("awaiting_user")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
    response = client.post(f"/status/{token}/reply", content_type="multipart/form-data",
                           data={"body": "See the picture.",
                                 "screenshots": [(io.BytesIO(b"\x89PNG\r\n\x1a\nbroken"),
                                                  "a.png")]})
    assert 400 <= response.status_code < 500
    assert 'id="screenshots-errors"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == before
    assert screenshot_rows(case.id) == []


def filed_with_details(client) -> RecoveryCase:
    data = form_data(**DETAILS, screenshots=shots(screenshot()))
    assert client.post("/recover", data=data,
                       content_type="multipart/form-data").status_code == 303
    return the_case()


def test_the_agent_sees_what_the_person_told_us(client, make_agent):
    case = filed_with_details(client)
    make_agent("agent", email="sam@example.test")
    assert sign_in(client, "sam@example.test").status_code == 302
    html = client.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    block = unescape(html.split('id="support-details"', 1)[1].split('id="identity"', 1)[0])
    assert "What the person told us" in block
    assert "iPhone 13, iOS 17.4" in block and "5.2.1" in block
    assert "2026-11-30 14:30" in block
    assert "Set the phone's date and time to automatic" in block
    assert "Reinstalled the authenticator." in block
    shot = screenshot_rows(case.id)[0]
    assert f"/agent/cases/{case.id}/evidence/{shot.id}" in block


def test_the_subject_export_holds_the_details_and_the_screenshots(client):
    case = filed_with_details(client)
    export = service.export_subject("anna@example.test")
    document = json.loads(json.dumps(export.document, default=str))
    entry = next(c for c in document["cases"] if c["id"] == case.id)
    assert entry["support_details"] == {
        "device": "iPhone 13, iOS 17.4", "app_version": "5.2.1", "began_on": "2026-11-30",
        "began_time": "14:30:00", "tried_fixes": ["clock_automatic", "updated_app"],
        "tried_other": "Reinstalled the authenticator."}
    shot = next(e for e in entry["evidence"] if e["kind"] == "screenshot-1")
    assert shot["file"] in dict(export.files)


def test_the_purge_removes_the_screenshots_and_the_details(client, make_agent):
    case = filed_with_details(client)
    lead, _ = make_agent("security_lead")
    for trigger, reason in (("start_review", None), ("decline", "Not the account holder.")):
        current = service.get_case(case.id)
        service.fire_event(case.id, trigger, agent=lead, expected_version=current.version,
                           reason=reason)
    assert service.purge_expired(now=utcnow() + timedelta(days=4000)).purged == [case.id]
    db.session.expire_all()
    case = db.session.get(RecoveryCase, case.id)
    assert screenshot_rows(case.id) == []
    assert (case.device, case.app_version, case.began_on, case.began_time, case.tried_fixes,
            case.tried_other) == (None,) * 6


def test_erasure_removes_the_screenshots_and_the_details(client, make_case):
    case = filed_with_details(client)
    _other, token = make_case("awaiting_user", email="anna@example.test")
    client.post(f"/status/{token}/reply", content_type="multipart/form-data",
                data={"body": "Screenshot", "screenshots": shots(screenshot())})
    report = service.erase_subject("anna@example.test", force=True)
    assert case.id in report.cases
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 0
    case = db.session.get(RecoveryCase, case.id)
    assert (case.device, case.app_version, case.began_on, case.tried_fixes,
            case.tried_other) == (None,) * 5


def test_a_made_up_link_decodes_no_screenshot(client, monkeypatch):
    import workflow.service.support as support

    decoded = []
    real = support.normalize_upload
    monkeypatch.setattr(support, "normalize_upload",
                        lambda data, **limits: decoded.append(1) or real(data, **limits))
    response = client.post("/status/" + "x" * 43 + "/reply", content_type="multipart/form-data",
                           data={"body": "Here.", "screenshots": shots(screenshot())})
    assert response.status_code == 404
    assert decoded == []


@pytest.mark.parametrize("app_config", [{"MAX_SCREENSHOTS_PER_CASE": 4}])
def test_a_case_gathers_at_most_its_share_of_screenshots(client, make_case):
    case, token = make_case("awaiting_user")
    first = client.post(f"/status/{token}/reply", content_type="multipart/form-data",
                        data={"body": "One.", "screenshots": shots(*[screenshot()] * 3)})
    assert first.status_code == 302
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
    second = client.post(f"/status/{token}/reply", content_type="multipart/form-data",
                         data={"body": "Two.", "screenshots": shots(*[screenshot()] * 2)})
    assert second.status_code == 400
    assert "already holds 4 screenshots" in unescape(second.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == before
    assert len(screenshot_rows(case.id)) == 3
