"""Bad uploads through the API: clear errors, and never a case."""

import io
import struct
import zlib

import pytest
import sqlalchemy as sa
from PIL import Image

from extensions import db
from tests.conftest import image_bytes
from tests.functional.test_api import assert_error, submit
from workflow.models import Evidence, RecoveryCase


def nothing_stored() -> bool:
    return all(db.session.scalar(sa.select(sa.func.count()).select_from(m)) == 0
               for m in (RecoveryCase, Evidence))


def png_bomb(width=40_000, height=40_000) -> bytes:
    """A valid PNG header that claims a huge canvas: a few KB that would decode to gigabytes."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\0" + b"\0" * (width * 3)
    idat = zlib.compress(row * 8, 9)  # only a few rows: refusal must come from the header
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 200, 30)).save(buffer, "WEBP")
    return buffer.getvalue()


@pytest.mark.parametrize("payload,name", [
    (image_bytes("JPEG"), "photo.png"),   # names lie: content decides
    (image_bytes("PNG"), "photo.jpg"),
    (webp(), "photo.bin"),
])
def test_accepted_formats_by_content(client, payload, name):
    response = submit(client, id_document=(io.BytesIO(payload), name))
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("payload,status,code", [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", 415, "unsupported_image"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 415, "unsupported_image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", 415, "unsupported_image"),
    (image_bytes()[:300], 400, "image_damaged"),
    (image_bytes("PNG")[:100], 400, "image_damaged"),
    (b"", 400, "empty_file"),
], ids=["pdf", "gif", "svg", "truncated-jpeg", "truncated-png", "empty"])
def test_refused_uploads(client, payload, status, code):
    assert_error(submit(client, selfie=(io.BytesIO(payload), "selfie.jpg")), status, code,
                 "selfie")
    assert nothing_stored()


def test_decompression_bomb_is_refused_before_decoding(client):
    assert_error(submit(client, id_document=(io.BytesIO(png_bomb()), "id.png")), 413,
                 "image_too_large", "id_document")
    assert nothing_stored()


@pytest.mark.parametrize("app_config", [{"MAX_UPLOAD_BYTES": 20_000}])
def test_file_over_the_size_limit(client):
    noisy = Image.effect_noise((150, 150), 100).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, "PNG")
    assert_error(submit(client, selfie=(io.BytesIO(buffer.getvalue()), "s.png")), 413,
                 "image_too_large", "selfie")
    assert nothing_stored()


def test_stored_copy_is_upright_and_has_no_metadata(client, app):
    original = Image.new("RGB", (400, 200), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    exif[0x0131] = "PhotoEditor 9"  # Software
    buffer = io.BytesIO()
    original.save(buffer, "JPEG", exif=exif)
    response = submit(client, id_document=(io.BytesIO(buffer.getvalue()), "id.jpg"))
    assert response.status_code == 201
    stored = db.session.scalars(sa.select(Evidence).where(Evidence.kind == "id_document")).one()
    image = Image.open(io.BytesIO(stored.data))
    assert image.size == (200, 400)
    assert not image.getexif() and "exif" not in image.info
    assert stored.exif_software == "PhotoEditor 9"
