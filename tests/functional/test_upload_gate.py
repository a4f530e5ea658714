"""Hostile uploads and selfies at the door: a clear 4xx through the API and the form, no case."""

import io
from functools import cache

import pytest
from PIL import Image

from tests.conftest import document_photo, selfie_photo
from tests.functional.test_api import assert_error, submit
from tests.functional.test_public_pages import cases, form_data
from tests.functional.test_uploads import nothing_stored
from tests.unit.test_selfie_gate import document_without_person as painted_over
from verification import hostile
from verification.checks import REASONS
from workflow import service


@pytest.fixture
def app_config():
    return {"QUALITY_GATE": True}


@cache
def passport() -> bytes:
    return document_photo(portrait="obama_1.jpg")


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@cache
def document_without_person() -> bytes:
    """A passport on a table with its portrait painted over, as an upload."""
    # Half size: the request body stays small.
    return jpeg(painted_over().reduce(2))


HOSTILE_SELFIES = {
    "blank-grey": (lambda: jpeg(Image.new("RGB", (1200, 900), (128, 128, 128))),
                   "selfie_blank"),
    "blank-black": (lambda: png(Image.new("RGB", (800, 600))), "selfie_blank"),
    "1x1": (lambda: hostile.png(1, 1), "selfie_blank"),
    "1x60000": (lambda: hostile.png(1, 60_000), "selfie_blank"),
    "60000x1": (lambda: hostile.png(60_000, 1), "selfie_blank"),
    "noise": (lambda: jpeg(Image.effect_noise((600, 450), 80).convert("RGB")),
              "selfie_no_face"),
    "document-without-person": (document_without_person, "selfie_no_face"),
    "two-people": (lambda: selfie_photo("multi_face_obama_biden.jpg"), "selfie_several_faces"),
}


def file(data: bytes, name: str = "upload"):
    return (io.BytesIO(data), name)


def closed(response):
    """The response, read and closed: closing it closes the request's temporary upload file."""
    response.get_data()
    response.close()
    return response


def post(client, path: str, data: dict):
    return closed(client.post(path, content_type="multipart/form-data", data=data))


def api_submit(client, **files):
    return closed(submit(client, **files))


@pytest.mark.parametrize("name", list(hostile.CORPUS))
def test_hostile_files_as_the_id_are_refused_without_a_case(client, name):
    entry = hostile.CORPUS[name]
    response = api_submit(client, id_document=file(entry.data()),
                      selfie=file(selfie_photo(), "selfie.jpg"))
    assert response.status_code == entry.submit, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["field"] == "id_document" and error["message"].endswith(".")
    if entry.intake is not None:
        assert error["code"] == entry.intake[1]
    assert nothing_stored()


@pytest.mark.parametrize("name", [n for n, e in hostile.CORPUS.items() if e.intake is not None])
def test_hostile_files_as_the_selfie_are_refused_without_a_case(client, name):
    entry = hostile.CORPUS[name]
    response = api_submit(client, id_document=file(passport(), "id.jpg"),
                      selfie=file(entry.data()))
    assert_error(response, *entry.intake, "selfie")
    assert nothing_stored()


@pytest.mark.parametrize("name", list(HOSTILE_SELFIES))
def test_a_selfie_without_one_usable_face_is_a_422_on_the_api(client, name):
    build, code = HOSTILE_SELFIES[name]
    response = api_submit(client, id_document=file(passport(), "id.jpg"),
                      selfie=file(build(), "selfie"))
    assert_error(response, 422, code, "selfie")
    assert REASONS[code].user_text == response.get_json()["error"]["message"]
    assert cases() == 0


@pytest.mark.parametrize("name", ["blank-grey", "two-people"])
def test_a_selfie_without_one_usable_face_is_refused_on_the_form(client, name):
    build, code = HOSTILE_SELFIES[name]
    response = post(client, "/recover", form_data(
        id_document=file(passport(), "id.jpg"), selfie=file(build(), "selfie.jpg")))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="selfie-errors"' in html
    assert REASONS[code].user_text.split(":")[0] in html
    assert cases() == 0


@pytest.mark.parametrize("name", ["obama_2.jpg", "obama_3.jpg", "biden_1.jpg"])
def test_a_real_selfie_passes_on_the_api_and_the_form(client, name):
    response = api_submit(client, id_document=file(passport(), "id.jpg"),
                      selfie=file(selfie_photo(name), "selfie.jpg"))
    assert response.status_code == 201, response.get_data(as_text=True)
    response = post(client, "/recover", form_data(
        email="bruno@example.test", id_document=file(passport(), "id.jpg"),
        selfie=file(selfie_photo(name), "selfie.jpg")))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert cases() == 2


@pytest.mark.parametrize("app_config", [{"QUALITY_GATE": False}])
def test_without_the_gate_a_blank_selfie_is_left_to_the_checks(client):
    build, _code = HOSTILE_SELFIES["blank-grey"]
    response = api_submit(client, id_document=file(passport(), "id.jpg"),
                      selfie=file(build(), "selfie.jpg"))
    assert response.status_code == 201
    assert cases() == 1


def test_new_photos_go_through_the_same_gate(client, make_agent):
    created = api_submit(client, id_document=file(passport(), "id.jpg"),
                         selfie=file(selfie_photo(), "selfie.jpg")).get_json()
    lead, _ = make_agent("security_lead")
    for trigger, reason in [("start_review", None), ("request_resubmission", "Blurry.")]:
        case = service.get_case(created["case_id"])
        service.fire_event(case.id, trigger, agent=lead, expected_version=case.version,
                           reason=reason)
    token = created["tracking_token"]
    blank, _code = HOSTILE_SELFIES["blank-grey"]
    response = post(client, f"/status/{token}/resubmit",
                    {"id_document": file(passport(), "id.jpg"),
                     "selfie": file(blank(), "selfie.jpg")})
    assert response.status_code == 422
    assert "blank image" in response.get_data(as_text=True)
    case = service.get_case(created["case_id"])
    assert case.evidence_attempt == 1 and len(case.evidence) == 2
    response = post(client, f"/status/{token}/resubmit",
                    {"id_document": file(passport(), "id.jpg"),
                     "selfie": file(selfie_photo("obama_3.jpg"), "selfie.jpg")})
    assert response.status_code in (200, 302)
    assert service.get_case(created["case_id"]).evidence_attempt == 2
