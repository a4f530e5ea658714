"""The cost of one upload is bounded from the header, before any pixel is decoded."""

import io
import math
from pathlib import Path

import pytest
from PIL import Image, ImageFile, WebPImagePlugin

from config import Config
from verification import hostile
from verification.images import (
    ImageRejected,
    ImageTooLarge,
    decode_scale,
    decoded_bytes,
    normalize_upload,
    read_header,
    sniff_format,
)

FACES = Path(__file__).parent.parent / "fixtures" / "faces"
LIMITS = {"max_bytes": Config.MAX_UPLOAD_BYTES, "max_pixels": Config.MAX_IMAGE_PIXELS,
          "max_decoded_bytes": Config.MAX_DECODED_BYTES,
          "working_pixels": Config.WORKING_PIXELS}
# Pillow holds a colour pixel in 4 bytes, a 16-bit grey one in 2 and an 8-bit grey one in 1.
PILLOW_BYTES = {"RGB": 4, "RGBA": 4, "RGBX": 4, "CMYK": 4, "YCbCr": 4, "LA": 4, "I": 4,
                "F": 4, "I;16": 2, "L": 1, "P": 1, "1": 1}


@pytest.fixture
def decodes(monkeypatch):
    """Every decode Pillow starts: (mode, width, height) at the moment pixels are read."""
    seen = []
    for cls in (ImageFile.ImageFile, WebPImagePlugin.WebPImageFile):
        original = cls.load

        def load(self, _original=original):
            seen.append((self.mode, *self.size))
            return _original(self)

        monkeypatch.setattr(cls, "load", load)
    return seen


@pytest.mark.parametrize("name", list(hostile.CORPUS))
def test_each_hostile_file_gets_its_answer_within_the_bound(name, decodes):
    entry = hostile.CORPUS[name]
    data = entry.data()
    if entry.intake is None:
        result = normalize_upload(data, **LIMITS)
        assert result.width * result.height <= Config.WORKING_PIXELS
    else:
        with pytest.raises(ImageRejected) as caught:
            normalize_upload(data, **LIMITS)
        assert (caught.value.status, caught.value.code) == entry.intake
        assert caught.value.message.endswith(".")
    if entry.intake is not None and entry.intake[0] in (413, 415):
        # Too large or animated: decided from the header, nothing was decoded.
        assert decodes == []
    for mode, width, height in decodes:
        assert width * height * PILLOW_BYTES[mode] <= Config.MAX_DECODED_BYTES
    if decodes:
        fmt = sniff_format(data)
        header = read_header(data, fmt)
        scale = decode_scale(header, fmt, Config.WORKING_PIXELS)
        assert decoded_bytes(header, scale) <= Config.MAX_DECODED_BYTES


def test_the_sixteen_bit_bomb_is_refused_for_its_depth_not_its_pixels():
    data = hostile.CORPUS["png16_rgba_7999x8000"].data()
    header = read_header(data, "png")
    assert (header.channels, header.sample_bytes) == (4, 2)
    assert header.pixels < Config.MAX_IMAGE_PIXELS
    assert decoded_bytes(header) == 7999 * 8000 * 8
    with pytest.raises(ImageTooLarge) as caught:
        normalize_upload(data, **LIMITS)
    assert "16 bits" in caught.value.message and "7999 x 8000" in caught.value.message
    assert "JPEG" in caught.value.message  # what to do instead


def test_a_large_jpeg_is_decoded_reduced(decodes):
    data = hostile.CORPUS["jpeg_64mp"].data()
    result = normalize_upload(data, **LIMITS)
    # Decoded at half size straight from the file: no full-size pixels ever existed.
    assert set(decodes) == {("RGB", math.ceil(9230 / 2), math.ceil(6920 / 2))}
    assert (result.width, result.height) == (4615, 3460)


def test_a_progressive_jpeg_counts_its_coefficients():
    header = read_header(hostile.CORPUS["jpeg_64mp_progressive"].data(), "jpeg")
    assert header.progressive
    # 4:2:0: the luminance at full size, each chroma component at a quarter.
    assert header.coefficients == 9230 * 6920 + 2 * (4615 * 3460)


def test_a_large_png_is_reduced_after_decoding():
    image = Image.linear_gradient("L").resize((5000, 4000)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    result = normalize_upload(buffer.getvalue(), **{**LIMITS, "working_pixels": 5_000_000})
    assert (result.width, result.height) == (2500, 2000)


def test_a_twelve_megapixel_photo_is_stored_as_before():
    """Up to WORKING_PIXELS nothing is reduced: the stored copy is the plain re-encoding."""
    small = Image.open(FACES / "obama_3.jpg").convert("RGB")
    photo = small.resize((4032, 3024), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    result = normalize_upload(data, **LIMITS)
    expected = io.BytesIO()
    Image.open(io.BytesIO(data)).save(expected, "JPEG", quality=92, optimize=True)
    assert (result.width, result.height) == (4032, 3024)
    assert result.data == expected.getvalue()


def test_header_segments_are_bounded():
    """Millions of empty chunks before the pixels would take seconds to walk: refused."""
    many = b"".join(hostile._chunk(b"tEXt", b"") for _ in range(5000))
    with pytest.raises(ImageRejected) as caught:
        normalize_upload(hostile.png(8, 8, before_idat=many), **LIMITS)
    assert caught.value.code == "image_damaged"
