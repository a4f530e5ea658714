"""The request form on a phone's terms: kept photos across an error, the pre-send photo
check, one date format, the error summary and the fields' aria attributes, the new code."""

import io
import re
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from extensions import db
from tests.conftest import FACES, document_photo, image_bytes, selfie_photo
from tests.functional.test_public_pages import cases, form_data
from verification.checks import REASONS
from workflow import service
from workflow.models import Evidence, KeptUpload, RecoveryCase, utcnow


def upload_token(html: str) -> str:
    match = re.search(r'name="upload_token" type="hidden" value="([A-Za-z0-9_\-]{43})"', html)
    assert match, html
    return match.group(1)


def post(client, **overrides):
    return client.post("/recover", data=form_data(**overrides),
                       content_type="multipart/form-data")


def kept_rows() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(KeptUpload))


def test_photos_survive_a_validation_error_and_are_not_asked_again(client):
    first = post(client, email="not-an-email")
    assert first.status_code == 400
    html = first.get_data(as_text=True)
    assert "Photo kept: id.jpg" in html and "Photo kept: me.png" in html
    assert cases() == 0

    again = post(client, upload_token=upload_token(html), id_document=None, selfie=None)
    assert again.status_code == 303, again.get_data(as_text=True)
    case = db.session.scalar(sa.select(RecoveryCase))
    assert sorted(e.kind for e in case.evidence) == ["id_document", "selfie"]
    assert kept_rows() == 0  # filed: nothing kept any longer


def test_a_new_photo_replaces_the_kept_one(client):
    html = post(client, full_name="").get_data(as_text=True)
    token = upload_token(html)
    replacement = image_bytes(color=(10, 200, 30))
    assert post(client, upload_token=token, selfie=None,
                id_document=(io.BytesIO(replacement), "new.jpg")).status_code == 303
    stored = db.session.scalar(sa.select(Evidence).where(Evidence.kind == "id_document"))
    kept_selfie = db.session.scalar(sa.select(Evidence).where(Evidence.kind == "selfie"))
    assert stored.original_sha256 != kept_selfie.original_sha256
    assert stored.width == 640


def test_a_form_token_replayed_from_another_session_finds_nothing(app, client):
    token = upload_token(post(client, email="not-an-email").get_data(as_text=True))
    other = app.test_client()
    replay = other.post("/recover", data=form_data(upload_token=token, id_document=None,
                                                   selfie=None),
                        content_type="multipart/form-data")
    assert replay.status_code == 400
    html = replay.get_data(as_text=True)
    assert "Please attach a photo of your ID." in html and "Photo kept" not in html
    assert cases() == 0
    # The first browser still has its photos.
    assert post(client, upload_token=token, id_document=None,
                selfie=None).status_code == 303


def test_kept_photos_are_sealed_and_purged_when_their_time_is_up(client):
    post(client, email="not-an-email")
    row = db.session.scalar(sa.select(KeptUpload).where(KeptUpload.kind == "id_document"))
    assert row.data_key_id is not None and row.sealed_data != row.data
    assert row.expires_at - row.created_at == timedelta(hours=1)
    assert service.purge_kept_uploads() == 0
    db.session.execute(sa.update(KeptUpload).values(expires_at=utcnow()))
    db.session.commit()
    assert service.purge_kept_uploads() == 2
    assert kept_rows() == 0


def test_an_expired_kept_photo_is_asked_for_again(client):
    token = upload_token(post(client, email="not-an-email").get_data(as_text=True))
    db.session.execute(sa.update(KeptUpload).values(expires_at=utcnow()))
    db.session.commit()
    answer = post(client, upload_token=token, id_document=None, selfie=None)
    assert answer.status_code == 400
    assert "Please attach a photo of your ID." in answer.get_data(as_text=True)
    assert cases() == 0


def test_a_forged_upload_token_is_replaced(client):
    html = post(client, email="bad", upload_token="../../etc").get_data(as_text=True)
    assert re.fullmatch(r"[A-Za-z0-9_\-]{43}", upload_token(html))


def test_error_summary_and_aria_attributes(client):
    html = post(client, email="not-an-email", consent=None).get_data(as_text=True)
    summary = re.search(r'<div class="error-summary"[^>]*>', html).group(0)
    assert 'role="alert"' in summary and 'tabindex="-1"' in summary
    assert '<a href="#email">' in html and '<a href="#consent">' in html
    email = re.search(r'<input[^>]*id="email"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in email and 'aria-describedby="email-errors"' in email
    consent = re.search(r'<input[^>]*id="consent"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in consent
    name = re.search(r'<input[^>]*id="full_name"[^>]*>', html).group(0)
    assert "aria-invalid" not in name
    # A photo field is described by its help and by the pre-send verdict.
    photo = re.search(r'<input[^>]*id="selfie"[^>]*>', html).group(0)
    assert re.search(r'aria-describedby="selfie-help (selfie-hint )?selfie-verdict"', photo)


def test_no_error_summary_on_a_fresh_form(client):
    html = client.get("/recover").get_data(as_text=True)
    assert "error-summary" not in html and "aria-invalid" not in html


@pytest.mark.parametrize("field", ["date_of_birth", "last_deposit_date"])
def test_date_input_hint_and_error_agree(client, field):
    html = post(client, **{field: "12/08/1974"}).get_data(as_text=True)
    date_input = re.search(rf'<input[^>]*id="{field}"[^>]*>', html).group(0)
    assert 'type="text"' in date_input and 'placeholder="YYYY-MM-DD"' in date_input
    assert 'value="12/08/1974"' in date_input  # what was typed comes back
    hint = re.search(rf'<p class="help" id="{field}-help">([^<]*)</p>', html).group(1)
    error = re.search(rf'<ul class="errors" id="{field}-errors"><li>([^<]*)</li>',
                      html).group(1)
    assert "YYYY-MM-DD, for example 1990-04-21" in hint
    assert "YYYY-MM-DD, for example 1990-04-21" in error
    assert f'aria-describedby="{field}-errors {field}-help"' in date_input
    assert cases() == 0


def test_issue_type_is_prefilled_from_the_query_string(client):
    html = client.get("/recover?issue_type=forgot_password").get_data(as_text=True)
    assert re.search(r'<option selected value="forgot_password">', html)
    html = client.get("/recover?issue_type=nonsense").get_data(as_text=True)
    assert "<option selected" not in html


@pytest.fixture
def challenge_config():
    return {"CHALLENGE_ISSUE_TYPES": ["lost_2fa"]}


def test_new_code_without_javascript_keeps_what_was_typed_and_the_photos(app, client):
    app.config["CHALLENGE_ISSUE_TYPES"] = ["lost_2fa"]
    answer = post(client, full_name="Anna Typed", new_code="1")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert 'value="Anna Typed"' in html and "Photo kept: id.jpg" in html
    assert "error-summary" not in html
    assert cases() == 0


def test_a_new_code_drops_the_selfie_that_shows_the_old_one(app, client):
    app.config["CHALLENGE_ISSUE_TYPES"] = ["lost_2fa"]
    html = post(client, issue_type="lost_2fa", email="not-an-email").get_data(as_text=True)
    assert "Photo kept: me.png" in html
    again = post(client, issue_type="lost_2fa", upload_token=upload_token(html),
                 id_document=None, selfie=None, new_code="1").get_data(as_text=True)
    assert "Photo kept: id.jpg" in again and "Photo kept: me.png" not in again
    assert cases() == 0


def test_a_new_code_keeps_the_selfie_of_a_type_without_a_code(app, client):
    app.config["CHALLENGE_ISSUE_TYPES"] = ["lost_2fa"]
    html = post(client, issue_type="forgot_password", email="x").get_data(as_text=True)
    again = post(client, issue_type="forgot_password", upload_token=upload_token(html),
                 id_document=None, selfie=None, new_code="1").get_data(as_text=True)
    assert "Photo kept: me.png" in again


def test_new_code_as_json(app, client):
    app.config["CHALLENGE_ISSUE_TYPES"] = ["lost_2fa"]
    answer = client.post("/recover/new-code")
    assert answer.status_code == 200
    body = answer.get_json()
    assert re.fullmatch(r"\d{6}", body["code"]) and body["token"]
    assert re.search(r"until \d\d:\d\d UTC on \d{4}-\d\d-\d\d", body["expiry"])


@cache
def sharp_id() -> bytes:
    return document_photo(kind="id_card")


@cache
def blurred_id() -> bytes:
    """The card photographed with a missed focus, Gaussian radius 5 px at its native size: the
    MRZ reader reads none of these (bench/gate_agreement.py), so the gate refuses it."""
    from verification.degrade import blur, on_background
    from verification.specimen import SpecimenPerson, render_id_card, to_jpeg_bytes

    card = render_id_card(SpecimenPerson(), Image.open(FACES / "obama_1.jpg"))
    return to_jpeg_bytes(blur(on_background(card), radius=5.0), quality=90)


def check(client, token, data, kind="id_document", name="id.jpg"):
    return client.post("/recover/check-photo", content_type="multipart/form-data", data={
        "kind": kind, "upload_token": token, "photo": (io.BytesIO(data), name)})


TOKEN = "A" * 43


def test_check_photo_answers_in_plain_words_and_keeps_a_good_photo(app, client):
    app.config["QUALITY_GATE"] = True
    good = check(client, TOKEN, sharp_id())
    assert good.status_code == 200, good.get_json()
    assert good.get_json()["ok"] is True and "clear enough" in good.get_json()["message"]
    assert kept_rows() == 1

    bad = check(client, TOKEN, blurred_id(), name="blurry.jpg")
    assert bad.status_code == 422
    body = bad.get_json()
    assert body["ok"] is False and body["reason"] == "document_blurry"
    assert REASONS["document_blurry"].user_text in body["message"]
    # The refused photo replaced nothing: the good one is still kept, and the form says so.
    html = client.get("/recover").get_data(as_text=True)
    assert "Photo kept" not in html  # a fresh form has a token of its own
    assert kept_rows() == 1


def test_the_form_shows_a_photo_kept_by_the_check(app, client):
    html = client.get("/recover").get_data(as_text=True)
    token = upload_token(html)
    assert check(client, token, image_bytes(), name="card.jpg").get_json()["ok"] is True
    answer = post(client, upload_token=token, id_document=None, email="bad")
    assert "Photo kept: card.jpg" in answer.get_data(as_text=True)
    assert post(client, upload_token=token, id_document=None).status_code == 303


@pytest.mark.parametrize("data,status", [
    ({"kind": "id_document", "upload_token": TOKEN}, 400),
    ({"kind": "passport_scan", "upload_token": TOKEN,
      "photo": (io.BytesIO(b"x"), "x.jpg")}, 400),
    ({"kind": "id_document", "upload_token": "short",
      "photo": (io.BytesIO(b"x"), "x.jpg")}, 400),
    ({"kind": "id_document", "upload_token": TOKEN,
      "photo": (io.BytesIO(b"GIF89a" + b"\0" * 64), "x.gif")}, 415),
])
def test_check_photo_refuses_bad_input_with_a_message(client, data, status):
    answer = client.post("/recover/check-photo", content_type="multipart/form-data", data=data)
    assert answer.status_code == status
    assert answer.get_json()["ok"] is False and answer.get_json()["message"]
    assert kept_rows() == 0


def test_the_file_name_shown_back_is_tamed(client):
    check(client, TOKEN, image_bytes(), name="../../<script>x.jpg")
    row = db.session.scalar(sa.select(KeptUpload))
    assert row.filename == "_script_x.jpg"


# --- a selfie that is the ID's own portrait ----------------------------------------------
# Measured on the fixtures (tests/fixtures/faces, each portrait on a passport and an ID card):
# the portrait photograph sent as the selfie measures 0.046-0.164 from the document's
# portrait, the document photo itself 0.0; other photos of the same person stay above the
# gate's 0.30 (SelfiePolicy.same_photo_distance), as in the 55 pairs behind that value.

@pytest.mark.parametrize("selfie", ["portrait", "document"])
def test_the_id_sent_as_the_selfie_is_refused_at_upload(app, client, selfie):
    app.config["QUALITY_GATE"] = True
    document = document_photo(kind="id_card", portrait="obama_2.jpg")
    sent = selfie_photo("obama_2.jpg") if selfie == "portrait" else document
    answer = post(client, id_document=(io.BytesIO(document), "id.jpg"),
                  selfie=(io.BytesIO(sent), "me.jpg"))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert REASONS["selfie_is_document"].user_text in html
    assert cases() == 0
    assert "Photo kept: id.jpg" in html  # the ID photo passed and is not asked for again


def test_the_pre_send_check_refuses_the_portrait_as_selfie_and_takes_a_real_one(app, client):
    app.config["QUALITY_GATE"] = True
    check(client, TOKEN, document_photo(kind="id_card", portrait="obama_2.jpg"))
    refused = check(client, TOKEN, selfie_photo("obama_2.jpg"), kind="selfie")
    assert refused.status_code == 422 and refused.get_json()["reason"] == "selfie_is_document"
    taken = check(client, TOKEN, selfie_photo("obama_1.jpg"), kind="selfie")
    assert taken.status_code == 200 and taken.get_json()["ok"] is True


PUBLIC_TEMPLATES = ["recover.html", "not_me.html", "reset.html", "submitted.html",
                    "link_invalid.html", "reset_done.html"]


@pytest.mark.parametrize("name", PUBLIC_TEMPLATES)
def test_public_pages_write_dates_one_way(app, name):
    """Dates on the public pages (this part's) are YYYY-MM-DD: no day-month-name formats."""
    source = (Path(app.root_path) / "templates" / "public" / name).read_text()
    for pattern in re.findall(r"strftime\('([^']*)'\)", source):
        assert "%b" not in pattern and "%B" not in pattern, pattern
        assert "%d" not in pattern or "%Y-%m-%d" in pattern, pattern
