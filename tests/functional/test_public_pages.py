"""The public pages through the test client: the form, the confirmation, the status page."""

import io
import re

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import image_bytes
from workflow.models import RecoveryCase


def form_data(**overrides):
    data = {
        "email": "anna@example.test", "full_name": "Anna Eriksson", "date_of_birth": "1974-08-12",
        "issue_type": "lost_2fa", "description": "New phone, old one lost.", "consent": "y",
        "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
        "selfie": (io.BytesIO(image_bytes("PNG")), "me.png"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def cases() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase))


def tracking_link(html: str) -> str:
    match = re.search(r'id="tracking-link">http://localhost(/status/[A-Za-z0-9_\-]+)<', html)
    assert match, html
    return match.group(1)


def test_form_renders_with_every_field(client):
    html = client.get("/recover").get_data(as_text=True)
    for name in ("email", "full_name", "date_of_birth", "issue_type", "description",
                 "id_document", "id_document_back", "selfie", "consent"):
        assert f'name="{name}"' in html
    assert 'name="viewport"' in html


def test_submit_then_follow_the_tracking_link(client):
    response = client.post("/recover", data=form_data(), content_type="multipart/form-data")
    assert response.status_code == 303
    assert response.headers["Location"] == "/recover/submitted"
    response = client.get("/recover/submitted")
    assert response.status_code == 200
    link = tracking_link(response.get_data(as_text=True))
    page = client.get(link)
    assert page.status_code == 200
    assert "We have received your request" in page.get_data(as_text=True)
    assert cases() == 1


def test_reloading_the_confirmation_files_nothing(client):
    response = client.post("/recover", data=form_data(), content_type="multipart/form-data")
    assert response.status_code == 303 and cases() == 1
    location = response.headers["Location"]
    assert "status" not in location and "token" not in location
    pages = [client.get(location) for _ in range(3)]
    assert [page.status_code for page in pages] == [200] * 3
    links = {tracking_link(page.get_data(as_text=True)) for page in pages}
    assert len(links) == 1  # the same request every time, and no second one filed
    assert cases() == 1
    assert pages[0].headers["Cache-Control"] == "no-store"
    # The next request filed from this browser replaces the one shown.
    client.post("/recover", data=form_data(), content_type="multipart/form-data")
    assert cases() == 2
    assert tracking_link(client.get(location).get_data(as_text=True)) not in links


def test_the_confirmation_without_a_request_filed_leads_to_the_form(client):
    response = client.get("/recover/submitted")
    assert response.status_code == 302 and response.headers["Location"] == "/recover"
    assert cases() == 0


def test_same_response_whether_or_not_the_email_has_an_account(client, make_account):
    make_account(email="known@example.test")

    def normalised(email):
        html = client.post("/recover", data=form_data(email=email), follow_redirects=True,
                           content_type="multipart/form-data").get_data(as_text=True)
        html = re.sub(r"/status/[A-Za-z0-9_\-]+", "/status/T", html)
        return re.sub(r"#\d+", "#N", html)

    assert normalised("known@example.test") == normalised("unknown@example.test")


@pytest.mark.parametrize("override,field,message", [
    ({"email": "not-an-email"}, "email", "valid email"),
    ({"full_name": ""}, "full_name", "full name"),
    ({"date_of_birth": "12/08/1974"}, "date_of_birth", "YYYY-MM-DD"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth", "future"),
    ({"issue_type": "hacked_by_aliens"}, "issue_type", "Not a valid choice"),
    ({"consent": None}, "consent", "consent"),
    ({"selfie": None}, "selfie", "selfie"),
])
def test_invalid_form_explains_and_creates_nothing(client, override, field, message):
    response = client.post("/recover", data=form_data(**override),
                           content_type="multipart/form-data")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-errors"' in html and message in html
    assert cases() == 0


@pytest.mark.parametrize("payload,status,text", [
    (b"GIF89a" + b"\x00" * 64, 415, "JPEG, PNG or WebP"),
    (image_bytes()[:400], 400, ""),
])
def test_bad_photo_on_the_form(client, payload, status, text):
    response = client.post("/recover", data=form_data(id_document=(io.BytesIO(payload), "x.jpg")),
                           content_type="multipart/form-data")
    assert response.status_code == status
    assert 'id="id_document-errors"' in response.get_data(as_text=True)
    assert text in response.get_data(as_text=True)
    assert cases() == 0


def test_unknown_tracking_token_is_404(client):
    assert client.get("/status/not-a-real-token").status_code == 404


def test_status_page_reply_and_resubmission(client, make_case, make_agent):
    from workflow import service

    agent, _ = make_agent()
    case, token = make_case("id_check")
    service.fire_event(case.id, "request_resubmission", agent=agent,
                       expected_version=case.version, reason="The photo is too dark.")
    html = client.get(f"/status/{token}").get_data(as_text=True)
    assert "The photo is too dark." in html and 'id="resubmit"' in html

    response = client.post(f"/status/{token}/resubmit", content_type="multipart/form-data",
                           data={"id_document": (io.BytesIO(image_bytes()), "new.jpg"),
                                 "selfie": (io.BytesIO(image_bytes()), "new.jpg")})
    assert response.status_code == 302
    assert service.case_for_token(token).state == "id_check"

    response = client.post(f"/status/{token}/reply", data={"body": "Thanks!"},
                           follow_redirects=True)
    assert "Thanks!" in response.get_data(as_text=True)


def test_user_can_withdraw(client, make_case):
    from workflow import service

    _case, token = make_case()
    client.post(f"/status/{token}/withdraw", data={"confirm": "yes"})
    assert service.case_for_token(token).resolution == "withdrawn"


def test_internal_notes_never_reach_the_status_page(client, make_case, make_agent):
    from workflow import service

    case, token = make_case()
    agent, _ = make_agent()
    service.add_staff_message(case.id, agent, "SECRET internal note", internal=True)
    assert "SECRET" not in client.get(f"/status/{token}").get_data(as_text=True)
    assert "SECRET" not in client.get(f"/api/v1/recovery-requests/{token}").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_form_requires_csrf_token(client):
    response = client.post("/recover", data=form_data(), content_type="multipart/form-data")
    assert response.status_code == 400
    assert cases() == 0
