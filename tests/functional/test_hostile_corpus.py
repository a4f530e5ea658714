"""The generated corpus of malformed and malicious files (tests/hostile_corpus.py), each sent as
the ID photo through the form and the API: a clear 4xx with a sentence, never a 5xx, never a
case or a stored photo."""

import io
import re
from collections import Counter
from html import unescape

import pytest

from tests.conftest import selfie_photo
from tests.functional.test_uploads import nothing_stored
from tests.hostile_corpus import corpus

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
