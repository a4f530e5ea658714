"""The generated corpus of malformed and malicious files (tests/hostile_corpus.py), each sent as
the ID photo through the form and the API: a clear 4xx with a sentence, never a 5xx, never a
case or a stored photo; and each sent as an error screenshot: refused the same way, or (a
valid image) kept re-encoded without its metadata."""

import io
import re
from collections import Counter
from html import unescape

import pytest
import sqlalchemy as sa
from PIL import Image

from extensions import db
from tests.conftest import image_bytes, selfie_photo
from tests.functional.test_uploads import nothing_stored
from tests.hostile_corpus import corpus
from verification.images import ImageRejected, normalize_upload
from workflow import service
from workflow.models import Evidence, RecoveryCase

FIELDS = {"email": "anna@example.test", "full_name": "Anna Eriksson",
          "date_of_birth": "1974-08-12", "issue_type": "forgot_password", "description": ""}


@pytest.fixture
def app_config():
    return {"QUALITY_GATE": True}


def test_the_corpus_is_large_and_varied():
    entries = corpus()
    assert len(entries) >= 100
    assert len({name for name, _, _ in entries}) == len(entries)
    assert len({data for _, _, data in entries}) >= 90  # the names share one photo


def send(client, path: str, file_name: str, data: bytes, consent: str):
    return client.post(path, content_type="multipart/form-data", data={
        **FIELDS, "consent": consent, "id_document": (io.BytesIO(data), file_name),
        "selfie": (io.BytesIO(selfie_photo()), "selfie.jpg")})


def test_every_file_is_refused_through_the_api_with_a_sentence(client):
    statuses = Counter()
    for name, file_name, data in corpus():
        answer = send(client, "/api/v1/recovery-requests", file_name, data, "true")
        assert 400 <= answer.status_code < 500, (name, answer.status_code)
        error = answer.get_json()["error"]
        assert error["field"] == "id_document", (name, error)
        assert re.search(r"[A-Z].{15,}\.", error["message"]), (name, error)
        statuses[answer.status_code] += 1
    assert nothing_stored()
    assert set(statuses) <= {400, 413, 415, 422}


def test_every_file_is_refused_on_the_form_next_to_the_field(client):
    for name, file_name, data in corpus():
        answer = send(client, "/recover", file_name, data, "y")
        assert 400 <= answer.status_code < 500, (name, answer.status_code)
        html = answer.get_data(as_text=True)
        field = re.search(r'id="id_document-errors"><li>(.*?)</li>', html, re.S)
        assert field and len(unescape(field.group(1)).strip()) > 15, name
        assert "<img src=x" not in html, name  # a file name is never echoed unescaped
    assert nothing_stored()


def send_screenshot(client, path: str, file_name: str, data: bytes, consent: str):
    return client.post(path, content_type="multipart/form-data", data={
        **FIELDS, "consent": consent, "id_document": (io.BytesIO(image_bytes()), "id.jpg"),
        "selfie": (io.BytesIO(image_bytes("PNG")), "selfie.png"),
        "screenshots": [(io.BytesIO(data), file_name)]})


def intake_accepts(data: bytes) -> bool:
    try:
        normalize_upload(data, **service.intake_limits())
    except ImageRejected:
        return False
    return True


def stored_screenshots_are_clean() -> int:
    """How many screenshots were kept; each re-encoded as a still image without metadata."""
    rows = list(db.session.scalars(sa.select(Evidence).where(Evidence.kind.like("screenshot-%"))))
    for row in rows:
        image = Image.open(io.BytesIO(row.data))
        assert image.format in {"JPEG", "PNG", "WEBP"} and not image.getexif(), row.id
        assert not getattr(image, "is_animated", False) and "icc_profile" not in image.info
        assert row.mime_type in {"image/jpeg", "image/png", "image/webp"}
    return len(rows)


# Screenshots pass no quality gate: the corpus' few valid images are kept (cleaned), every
# other file is refused next to the screenshot field, and the request with it.
@pytest.mark.parametrize("app_config", [{"QUALITY_GATE": False}])
@pytest.mark.parametrize(("path", "consent"), [("/api/v1/recovery-requests", "true"),
                                               ("/recover", "y")])
def test_every_file_sent_as_a_screenshot_is_refused_or_kept_clean(client, path, consent):
    refused = kept = 0
    for name, file_name, data in corpus():
        answer = send_screenshot(client, path, file_name, data, consent)
        if answer.status_code in (201, 303):
            kept += 1
            continue
        assert 400 <= answer.status_code < 500, (name, answer.status_code)
        if path.startswith("/api/"):
            error = answer.get_json()["error"]
            assert error["field"] == "screenshots", (name, error)
            message = error["message"]
        else:
            found = re.search(r'id="screenshots-errors"><li>(.*?)</li>', answer.get_data(
                as_text=True), re.S)
            assert found, name
            message = unescape(found.group(1))
        assert re.search(r"[A-Z].{15,}\.", message), (name, message)
        refused += 1
    # The same intake as the photos: exactly the files it refuses are refused.
    with client.application.test_request_context():
        expected = sum(1 for _, _, data in corpus() if not intake_accepts(data))
    assert refused == expected >= 70
    # (A file name with a line break breaks its part's header: that request is filed, and
    # nothing arrives as a screenshot.)
    assert kept - 1 <= stored_screenshots_are_clean() <= kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase)) == kept
