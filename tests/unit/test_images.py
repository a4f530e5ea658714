"""Upload intake: content-based format detection, limits, damage, orientation and stripping."""

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from verification.images import (
    AnimatedImage,
    DamagedImage,
    EmptyUpload,
    ImageRejected,
    ImageTooLarge,
    NormalizedImage,
    UnsupportedImage,
    normalize_upload,
    sniff_format,
)

FACES = Path(__file__).parent.parent / "fixtures" / "faces"
LIMITS = {"max_bytes": 5_000_000, "max_pixels": 20_000_000}
METADATA_KEYS = ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "photoshop", "comment")


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    """Encode `img` in `fmt` with Pillow's save `params`."""
    buffer = io.BytesIO()
    img.save(buffer, fmt, **params)
    return buffer.getvalue()


def gradient(size=(64, 48), mode="RGB") -> Image.Image:
    """A small image whose pixels are not all equal (so orientation is observable)."""
    img = Image.linear_gradient("L").resize(size)
    return img if mode == "L" else Image.merge("RGB", (img, img.transpose(0), img)).convert(mode)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header claiming a `width` x `height` canvas with only a few bytes of pixels.

    Decoding it would fail as truncated, so an ImageTooLarge proves the header decided.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64, 9)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def reopen(result: NormalizedImage) -> Image.Image:
    """Open the stored copy."""
    img = Image.open(io.BytesIO(result.data))
    img.load()
    return img


@pytest.mark.parametrize("fmt,name,mime", [
    ("JPEG", "jpeg", "image/jpeg"),
    ("PNG", "png", "image/png"),
    ("WEBP", "webp", "image/webp"),
])
def test_accepted_formats_round_trip(fmt, name, mime):
    original = encode(gradient((80, 60)), fmt)
    result = normalize_upload(original, **LIMITS)
    assert (result.format, result.mime_type) == (name, mime)
    assert (result.width, result.height) == (80, 60)
    stored = reopen(result)
    assert stored.format == fmt and stored.size == (80, 60)
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    assert result.original_sha256 == hashlib.sha256(original).hexdigest()
    assert result.original_bytes == len(original)


def test_png_named_jpg_is_still_png():
    """Only content counts: there is no filename or content type to be misled by."""
    png = encode(gradient(), "PNG")
    assert sniff_format(png) == "png"
    assert normalize_upload(png, **LIMITS).format == "png"


def test_jpeg_quality_is_applied():
    photo = Image.effect_noise((200, 200), 60).convert("RGB")
    data = encode(photo, "PNG")
    jpeg = encode(photo, "JPEG", quality=95)
    low = normalize_upload(jpeg, **LIMITS, jpeg_quality=30)
    high = normalize_upload(jpeg, **LIMITS, jpeg_quality=95)
    assert len(low.data) < len(high.data)
    assert normalize_upload(data, **LIMITS).format == "png"


@pytest.mark.parametrize("payload", [
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00;",
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n",
    b"Please find my passport attached.\n",
    b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'></svg>",
    b"BM" + b"\0" * 60,
    b"RIFF\x10\x00\x00\x00WAVEfmt ",
], ids=["gif", "pdf", "text", "svg", "bmp", "riff-wave"])
def test_other_content_is_unsupported(payload):
    with pytest.raises(UnsupportedImage) as caught:
        normalize_upload(payload, **LIMITS)
    assert (caught.value.code, caught.value.status) == ("unsupported_image", 415)
    assert "JPEG, PNG or WebP" in caught.value.message


def test_real_gif_is_unsupported():
    with pytest.raises(UnsupportedImage):
        normalize_upload(encode(gradient(), "GIF"), **LIMITS)


def test_empty_file():
    with pytest.raises(EmptyUpload) as caught:
        normalize_upload(b"", **LIMITS)
    assert (caught.value.code, caught.value.status) == ("empty_file", 400)
    assert isinstance(caught.value, DamagedImage)


@pytest.mark.parametrize("fmt,keep", [
    ("JPEG", 300),
    ("JPEG", 0.5),
    ("JPEG", 0.95),
    ("PNG", 100),
    ("PNG", 0.5),
    ("WEBP", 0.5),
])
def test_truncated_files_are_damaged(fmt, keep):
    data = encode(Image.effect_noise((256, 256), 80).convert("RGB"), fmt)
    cut = keep if isinstance(keep, int) else int(len(data) * keep)
    with pytest.raises(DamagedImage) as caught:
        normalize_upload(data[:cut], **LIMITS)
    assert (caught.value.code, caught.value.status) == ("image_damaged", 400)


@pytest.mark.parametrize("payload", [
    b"\xff\xd8\xff" + b"\0" * 50,
    b"\x89PNG\r\n\x1a\n" + b"garbage" * 10,
    b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x01" * 20,
], ids=["jpeg-magic", "png-magic", "webp-magic"])
def test_right_magic_wrong_body_is_damaged(payload):
    with pytest.raises(DamagedImage):
        normalize_upload(payload, **LIMITS)


def test_png_with_corrupt_pixel_data_is_damaged():
    good = encode(gradient((64, 64)), "PNG")
    start = good.index(b"IDAT") + 4
    corrupt = good[:start] + bytes(b ^ 0x5A for b in good[start:start + 40]) + good[start + 40:]
    with pytest.raises(DamagedImage):
        normalize_upload(corrupt, **LIMITS)


def test_over_max_bytes_is_too_large():
    data = encode(gradient((100, 100)), "PNG")
    with pytest.raises(ImageTooLarge) as caught:
        normalize_upload(data, max_bytes=len(data) - 1, max_pixels=10**8)
    assert (caught.value.code, caught.value.status) == ("image_too_large", 413)
    assert "KB" in caught.value.message
    assert normalize_upload(data, max_bytes=len(data), max_pixels=10**8).format == "png"


def test_over_max_pixels_is_too_large():
    data = encode(gradient((100, 50)), "JPEG")
    with pytest.raises(ImageTooLarge) as caught:
        normalize_upload(data, max_bytes=10**7, max_pixels=4_999)
    assert "100 x 50" in caught.value.message
    assert normalize_upload(data, max_bytes=10**7, max_pixels=5_000).width == 100


def test_decompression_bomb_is_refused_from_its_header():
    """A 30000 x 30000 claim in a file of a few dozen bytes: refused before any decoding."""
    bomb = png_claiming(30_000, 30_000)
    assert len(bomb) < 200
    with pytest.raises(ImageTooLarge) as caught:
        normalize_upload(bomb, max_bytes=10**7, max_pixels=64_000_000)
    assert caught.value.status == 413


def test_bomb_under_pillow_limit_is_refused_by_ours():
    """5000 x 5000 is below Pillow's own limit: only our header check can refuse it.

    Its pixel data is a few bytes, so reaching the decoder would raise DamagedImage instead.
    """
    with pytest.raises(ImageTooLarge) as caught:
        normalize_upload(png_claiming(5_000, 5_000), max_bytes=10**7, max_pixels=1_000_000)
    assert caught.value.__cause__ is None
    with pytest.raises(DamagedImage):
        normalize_upload(png_claiming(5_000, 5_000), max_bytes=10**7, max_pixels=10**8)


@pytest.mark.parametrize("width,height", [(10_000, 10_000), (40_000, 40_000)],
                         ids=["pillow-warning", "pillow-error"])
def test_pillow_bomb_guard_becomes_too_large_without_changing_globals(width, height):
    """Even with a generous configured limit, Pillow's bomb warning or error is a 413."""
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageTooLarge) as caught:
        normalize_upload(png_claiming(width, height), max_bytes=10**7, max_pixels=10**10)
    assert isinstance(caught.value.__cause__,
                      (Image.DecompressionBombWarning, Image.DecompressionBombError))
    assert before == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_images_are_refused(fmt):
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "green", "blue")]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(AnimatedImage) as caught:
        normalize_upload(data, **LIMITS)
    assert caught.value.status == 415
    assert "animated" in caught.value.message
    assert isinstance(caught.value, UnsupportedImage)


def test_multi_picture_jpeg_keeps_its_first_frame():
    """Phones write MPO (a JPEG with extra frames): that is a still photo, not an animation."""
    first, second = Image.new("RGB", (40, 30), "red"), Image.new("RGB", (40, 30), "blue")
    data = encode(first, "MPO", save_all=True, append_images=[second])
    result = normalize_upload(data, **LIMITS)
    assert result.format == "jpeg"
    red, green, blue = reopen(result).convert("RGB").getpixel((20, 15))
    assert red > 200 and green < 40 and blue < 40


def exif_with(orientation: int, software: str = "PhotoEditor 9") -> Image.Exif:
    """EXIF with an orientation, a Software tag and a GPS position."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x0131] = software
    exif[0x010F] = "Camera Maker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 22.0, 10.0), 3: "E", 4: (4.0, 53.0, 20.0)})
    return exif


def test_exif_orientation_applied_and_metadata_stripped():
    # A 60x40 image, left half black: orientation 6 means "rotate 90 degrees clockwise".
    original = Image.new("RGB", (60, 40), "white")
    original.paste((0, 0, 0), (0, 0, 30, 40))
    data = encode(original, "JPEG", exif=exif_with(6), quality=95)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)

    result = normalize_upload(data, **LIMITS)
    assert (result.width, result.height) == (40, 60)
    assert (result.exif_orientation, result.exif_software) == (6, "PhotoEditor 9")
    stored = reopen(result)
    assert stored.size == (40, 60)
    # After a clockwise turn the black left half is at the top.
    assert stored.convert("L").getpixel((20, 5)) < 60
    assert stored.convert("L").getpixel((20, 55)) > 200
    assert not stored.getexif()
    assert not stored.getexif().get_ifd(0x8825)
    assert not any(key in stored.info for key in METADATA_KEYS)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_orientation_and_stripping_in_png_and_webp(fmt):
    data = encode(gradient((60, 40)), fmt, exif=exif_with(8, "Editor"))
    result = normalize_upload(data, **LIMITS)
    assert (result.width, result.height, result.exif_orientation) == (40, 60, 8)
    assert result.exif_software == "Editor"
    stored = reopen(result)
    assert not stored.getexif() and not any(key in stored.info for key in METADATA_KEYS)


def test_icc_xmp_and_comments_are_stripped_from_jpeg():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(Image.new("RGB", (30, 30), (10, 120, 200)), "JPEG", icc_profile=srgb,
                  xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>secret</x:xmpmeta>",
                  comment=b"shot at home", quality=100)
    assert {"icc_profile", "xmp", "comment"} <= set(Image.open(io.BytesIO(data)).info)
    result = normalize_upload(data, **LIMITS)
    stored = reopen(result)
    assert not any(key in stored.info for key in METADATA_KEYS)
    assert b"secret" not in result.data and b"shot at home" not in result.data
    # Converting through the profile keeps the colour.
    assert all(abs(a - b) <= 4 for a, b in zip(stored.getpixel((15, 15)), (10, 120, 200),
                                                strict=True))


@pytest.mark.parametrize("fmt,mode,params", [
    ("JPEG", "RGB", {"comment": b"shot at home"}),
    ("JPEG", "L", {"comment": b"shot at home"}),
    ("PNG", "L", {"icc_profile": b"shot at home" * 40}),
], ids=["jpeg-comment", "grey-jpeg-comment", "grey-png-icc"])
def test_metadata_kept_in_pillow_info_is_not_written_back(fmt, mode, params):
    """Pillow's JPEG and PNG savers fall back to im.info for comments and ICC profiles."""
    data = encode(gradient(mode=mode), fmt, **params)
    result = normalize_upload(data, **LIMITS)
    assert b"shot at home" not in result.data
    assert not any(key in reopen(result).info for key in METADATA_KEYS)


def test_png_text_chunks_are_stripped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Someone Private")
    info.add_itxt("Location", "Home address")
    data = encode(gradient(), "PNG", pnginfo=info)
    result = normalize_upload(data, **LIMITS)
    assert b"Someone Private" not in result.data and b"Home address" not in result.data
    assert not reopen(result).text


@pytest.mark.parametrize("name,software", [
    ("obama_1.jpg", "Adobe Photoshop CC 2017 (Macintosh)"),
    ("obama_2.jpg", "Adobe Photoshop CC 2017 (Macintosh)"),
    ("bill_gates_1.jpg", None),
    ("keanu_reeves_2.jpg", None),
])
def test_real_photos_lose_all_metadata(name, software):
    data = (FACES / name).read_bytes()
    original = Image.open(io.BytesIO(data))
    result = normalize_upload(data, **LIMITS)
    assert result.format == "jpeg" and (result.width, result.height) == original.size
    assert result.exif_software == software
    stored = reopen(result)
    assert not stored.getexif()
    assert not any(key in stored.info for key in METADATA_KEYS)
    assert b"Souza" not in result.data and b"Photoshop" not in result.data


@pytest.mark.parametrize("mode,fmt,stored_mode", [
    ("CMYK", "JPEG", "RGB"),
    ("L", "JPEG", "L"),
    ("P", "PNG", "RGB"),
    ("LA", "PNG", "RGBA"),
    ("RGBA", "PNG", "RGBA"),
    ("1", "PNG", "L"),
    ("I;16", "PNG", "L"),
    ("RGBA", "WEBP", "RGBA"),
])
def test_odd_modes_are_converted(mode, fmt, stored_mode):
    img = Image.new(mode, (20, 20))
    result = normalize_upload(encode(img, fmt), **LIMITS)
    assert reopen(result).mode == stored_mode


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    img = Image.new("I;16", (10, 10), 32_768)
    stored = reopen(normalize_upload(encode(img, "PNG"), **LIMITS))
    assert stored.getpixel((5, 5)) == 128


def test_transparent_palette_png_keeps_its_alpha():
    img = Image.new("P", (10, 10), 0)
    img.putpalette([255, 0, 0, 0, 255, 0])
    data = encode(img, "PNG", transparency=0)
    stored = reopen(normalize_upload(data, **LIMITS))
    assert stored.mode == "RGBA" and stored.getpixel((1, 1))[3] == 0


@pytest.mark.parametrize("error,code,status", [
    (UnsupportedImage(), "unsupported_image", 415),
    (AnimatedImage(), "animated_image", 415),
    (ImageTooLarge(), "image_too_large", 413),
    (DamagedImage(), "image_damaged", 400),
    (EmptyUpload(), "empty_file", 400),
])
def test_every_error_has_code_status_and_a_sentence(error, code, status):
    assert isinstance(error, ImageRejected)
    assert (error.code, error.status) == (code, status)
    assert error.message.endswith(".") and error.message[0].isupper()
    assert str(error) == error.message


def test_custom_message_replaces_the_default():
    assert ImageTooLarge("Too big.").message == "Too big."
    assert ImageTooLarge().message != "Too big."


def test_result_is_frozen_and_its_repr_hides_the_bytes():
    result = normalize_upload(encode(gradient(), "PNG"), **LIMITS)
    with pytest.raises(AttributeError):
        result.width = 1  # type: ignore[misc]
    assert "data=" not in repr(result)
