"""Document verification as users, agents, integrators and support engineers meet it."""

import io
import json
from datetime import date

import pytest
import sqlalchemy as sa
from PIL import Image

from extensions import db
from tests.conftest import document_photo, selfie_photo, sign_in
from verification.checks import REASONS
from verification.degrade import blur, on_background
from verification.specimen import (
    SpecimenPerson,
    _mrz_zone,
    render_id_card,
    render_passport,
    to_jpeg_bytes,
)
from workflow.models import RecoveryCase

ANNA = SpecimenPerson(expiry_date=date(date.today().year + 4, 4, 15))


@pytest.fixture
def app_config():
    return {"QUALITY_GATE": True, "VERIFICATION_EXECUTOR": "inline"}


def form(document: bytes, **overrides) -> dict:
    data = {
        "email": "anna@example.test", "full_name": "Anna Maria Eriksson",
        "date_of_birth": "1974-08-12", "issue_type": "lost_2fa", "description": "",
        "consent": "true", "id_document": (io.BytesIO(document), "id.jpg"),
        "selfie": (io.BytesIO(selfie_photo()), "selfie.jpg"),
    }
    data.update(overrides)
    return data


def cases() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase))


def blurry_document(radius: float = 9) -> bytes:
    return to_jpeg_bytes(blur(on_background(render_passport(ANNA, seed=1), seed=1), radius))


# Radius 5 at the render's native size leaves the MRZ unreadable (bench/gate_agreement.py).
@pytest.mark.parametrize("radius", (5, 9))
def test_api_refuses_a_blurry_photo_with_what_to_do(client, radius):
    response = client.post("/api/v1/recovery-requests", data=form(blurry_document(radius)),
                           content_type="multipart/form-data")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("document_blurry", "id_document")
    assert error["message"] == REASONS["document_blurry"].user_text
    assert cases() == 0


def test_form_shows_the_retake_advice_next_to_the_photo(client):
    response = client.post("/recover", data=form(blurry_document()),
                           content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "hold the phone still" in html
    assert cases() == 0


def test_api_detail_and_console_show_what_the_document_says(client, make_account, make_agent):
    make_account()
    created = client.post("/api/v1/recovery-requests", data=form(document_photo(ANNA)),
                          content_type="multipart/form-data").get_json()
    assert created["state"] == "selfie_check"
    agent, token = make_agent()
    detail = client.get(f"/api/v1/cases/{created['case_id']}",
                        headers={"Authorization": f"Bearer {token}"}).get_json()
    document = detail["document"]
    assert document["mrz_found"] and document["valid_check_digits"]
    assert (document["surname"], document["given_names"], document["document_number"],
            document["date_of_birth"]) == ("ERIKSSON", "ANNA MARIA", ANNA.document_number,
                                           "1974-08-12")
    assert detail["stage_results"]["document"] == "clear"
    names = {c["check"] for c in detail["checks"]}
    assert {"document.mrz.check_digits", "document.data.name"} <= names

    sign_in(client, agent.email)
    html = client.get(f"/agent/cases/{created['case_id']}").get_data(as_text=True)
    assert ANNA.document_number in html and "ERIKSSON, ANNA MARIA" in html
    assert "document.mrz.check_digits" in html


@pytest.fixture
def id_card_file(tmp_path):
    path = tmp_path / "card.jpg"
    path.write_bytes(to_jpeg_bytes(on_background(render_id_card(ANNA, seed=4), seed=4)))
    return path


def test_read_document_prints_the_mrz_fields(runner, id_card_file):
    result = runner.invoke(args=["read-document", str(id_card_file)])
    assert result.exit_code == 0, result.output
    assert "MRZ (TD1, read from the front)" in result.output
    assert f"document_number     {ANNA.document_number}" in result.output
    assert "valid_check_digits  yes" in result.output

    result = runner.invoke(args=["read-document", str(id_card_file), "--json"])
    out = json.loads(result.output)
    assert out["fields"] == {
        "document_type": "I", "issuing_country": "UTO", "surname": "ERIKSSON",
        "given_names": "ANNA MARIA", "document_number": ANNA.document_number,
        "nationality": "UTO", "date_of_birth": "1974-08-12", "sex": "F",
        "expiry_date": ANNA.expiry_date.isoformat(), "valid_check_digits": True}
    assert {c["check"] for c in out["checks"]} >= {"document.mrz.read",
                                                   "document.validity.expiry"}


def test_read_document_says_plainly_when_there_is_no_mrz(runner, tmp_path):
    path = tmp_path / "selfie.jpg"
    path.write_bytes(selfie_photo())
    result = runner.invoke(args=["read-document", str(path)])
    assert result.exit_code == 1
    assert "No machine-readable zone was found" in result.output
    result = runner.invoke(args=["read-document", str(path), "--json"])
    assert json.loads(result.output)["mrz_found"] is False and result.exit_code == 1


@pytest.mark.parametrize("content,message", [
    (None, "No such file"),
    (b"not a photo", "is not a JPEG, PNG or WebP photo"),
])
def test_read_document_refuses_what_it_cannot_read(runner, tmp_path, content, message):
    path = tmp_path / "x.jpg"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(args=["read-document", str(path)])
    assert result.exit_code == 2
    assert message in result.output


def test_read_document_prints_the_lines_of_a_reading_that_is_no_mrz(runner, tmp_path):
    # Two fixed-pitch lines in the MRZ font whose document code is a digit no document letter
    # looks like: found and read as a zone, but no MRZ (parse_mrz refuses the code).
    page = Image.new("RGB", (1250, 880), (236, 236, 230))
    _mrz_zone(page, ("3456789012" * 4 + "3456", "ABCDEFGHIJ" * 4 + "ABCD"),
              top=880 - 232, pitch=25.4, size=35)
    path = tmp_path / "strange.png"
    page.save(path)
    result = runner.invoke(args=["read-document", str(path)])
    assert result.exit_code == 1, result.output
    assert "could not be read as one" in result.output
    assert "Lines read (not a valid MRZ):" in result.output
    assert "| 3456789012" in result.output
    out = json.loads(runner.invoke(args=["read-document", str(path), "--json"]).output)
    assert out["mrz_found"] is False and out["mrz_lines"][0].startswith("3456789012")
    assert "could not be read as one" in out["mrz_error"]
    assert any(c["check"] == "document.mrz.read" for c in out["checks"])
