"""Upload intake: recognise a photo by its content, refuse what we cannot use, keep a clean copy."""

import hashlib
import io
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageCms, ImageOps

EXIF_SOFTWARE = 0x0131
EXIF_ORIENTATION = 0x0112


class ImageRejected(Exception):
    """An upload we will not store; `code`, `status` and `message` feed the API error body."""

    code = "image_rejected"
    status = 400
    message = "This photo could not be used. Take the photo again and upload it."

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


class UnsupportedImage(ImageRejected):
    """The content is not a JPEG, PNG or WebP still photo."""

    code = "unsupported_image"
    status = 415
    message = (
        "This file is not a JPEG, PNG or WebP photo. "
        "Take a photo and upload it as JPEG, PNG or WebP."
    )


class AnimatedImage(UnsupportedImage):
    """The image has several frames (animated PNG or WebP)."""

    code = "animated_image"
    message = "This image is animated. Upload a single still photo as JPEG, PNG or WebP."


class ImageTooLarge(ImageRejected):
    """The file or its pixel count is over the configured limit."""

    code = "image_too_large"
    status = 413
    message = (
        "This photo is too large. Upload a smaller photo, for example one taken "
        "at a lower resolution."
    )


class DamagedImage(ImageRejected):
    """The file claims to be a photo but cannot be decoded (truncated or corrupt)."""

    code = "image_damaged"
    status = 400
    message = (
        "This photo could not be read: the file may be damaged or incomplete. "
        "Take the photo again and upload it."
    )


class EmptyUpload(DamagedImage):
    """The uploaded file has no bytes at all."""

    code = "empty_file"
    message = "This file is empty. Choose your photo again and upload it."


class PoorQuality(ImageRejected):
    """A valid photo that cannot be checked: blurry, too dark, glare, cut off, no portrait.

    ``code`` is the most actionable reason code; ``reasons`` lists every one found.
    """

    status = 422

    def __init__(self, code: str, message: str, reasons: tuple[str, ...] = ()) -> None:
        self.code = code
        self.reasons = reasons or (code,)
        super().__init__(message)


@dataclass(frozen=True)
class ImageFormat:
    """One accepted format: its name, Pillow plugin and MIME type."""

    name: str
    pillow: str
    mime_type: str


FORMATS: dict[str, ImageFormat] = {
    "jpeg": ImageFormat("jpeg", "JPEG", "image/jpeg"),
    "png": ImageFormat("png", "PNG", "image/png"),
    "webp": ImageFormat("webp", "WEBP", "image/webp"),
}

# What each stored format may hold; anything else goes through _convert.
_STORED_MODES = {
    "jpeg": {"L", "RGB"},
    "png": {"L", "RGB", "RGBA"},
    "webp": {"RGB", "RGBA"},
}

# Decoders of untrusted bytes fail in many ways (OSError, SyntaxError, struct.error, ValueError,
# IndexError...); whichever it is, the client sent a broken file, which is a 400, never a 500.
_BOMBS = (Image.DecompressionBombError, Image.DecompressionBombWarning)

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class NormalizedImage:
    """A cleaned upload: oriented, metadata-free, same format as received."""

    data: bytes = field(repr=False)
    mime_type: str
    format: str
    width: int
    height: int
    sha256: str
    original_sha256: str
    original_bytes: int
    exif_software: str | None
    exif_orientation: int | None


def sniff_format(data: bytes) -> str | None:
    """Return "jpeg", "png" or "webp" from the file's magic bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def normalize_upload(
    data: bytes, *, max_bytes: int, max_pixels: int, jpeg_quality: int = 92
) -> NormalizedImage:
    """Validate an uploaded photo and return an oriented copy stripped of all metadata."""
    if not data:
        raise EmptyUpload()
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"This photo is larger than {_megabytes(max_bytes)}. Upload a smaller photo, "
            "for example one taken at a lower resolution."
        )
    fmt_name = sniff_format(data)
    if fmt_name is None:
        raise UnsupportedImage()
    fmt = FORMATS[fmt_name]

    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; make it a refusal here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # Decode before reading EXIF: PNG's getexif() loads the pixels itself, and a
            # failure there would be swallowed as "no EXIF" instead of refusing the file.
            img = _decode(_open(data, fmt, max_pixels))
            software, orientation = _exif_facts(img)
        except _BOMBS as exc:
            raise _too_many_pixels(min(max_pixels, Image.MAX_IMAGE_PIXELS)) from exc

    img = _to_srgb(_oriented(img))
    if img.mode not in _STORED_MODES[fmt_name]:
        img = _convert(img, fmt_name)
    # Rebuilding from raw pixels guarantees nothing from the upload's info dict (EXIF, ICC,
    # XMP, comments, text chunks) can ride along: several Pillow savers fall back to im.info.
    clean = Image.frombytes(img.mode, img.size, img.tobytes())
    stored = _encode(clean, fmt_name, jpeg_quality)
    return NormalizedImage(
        data=stored,
        mime_type=fmt.mime_type,
        format=fmt_name,
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(stored).hexdigest(),
        original_sha256=hashlib.sha256(data).hexdigest(),
        original_bytes=len(data),
        exif_software=software,
        exif_orientation=orientation,
    )


def _open(data: bytes, fmt: ImageFormat, max_pixels: int) -> Image.Image:
    """Parse the header only and refuse oversized or animated images before any decoding."""
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt.pillow])
    except _BOMBS:
        raise
    except Exception as exc:  # any decoder failure: see the note above _BOMBS
        # The magic bytes matched, so this is a broken file rather than a foreign format.
        raise DamagedImage() from exc
    width, height = img.size
    if width < 1 or height < 1:
        raise DamagedImage()
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels, width, height)
    # JPEG files from phones are often MPO (extra depth or preview frames): the first frame
    # is the photo, so only PNG and WebP count as animated.
    if fmt.name != "jpeg" and getattr(img, "n_frames", 1) > 1:
        raise AnimatedImage()
    return img


def _decode(img: Image.Image) -> Image.Image:
    """Decode all pixels, turning truncation and corruption into DamagedImage."""
    try:
        img.load()
    except _BOMBS:
        raise
    except Exception as exc:  # any decoder failure: see the note above _BOMBS
        raise DamagedImage() from exc
    return img


def _exif_facts(img: Image.Image) -> tuple[str | None, int | None]:
    """Return the original EXIF Software tag and orientation, tolerating broken EXIF."""
    try:
        exif = img.getexif()
    except Exception:  # malformed EXIF must not reject a readable photo
        return None, None
    software = exif.get(EXIF_SOFTWARE)
    if isinstance(software, bytes):
        software = software.decode("utf-8", "replace")
    software = (software.strip("\x00 ").strip() or None) if isinstance(software, str) else None
    orientation = exif.get(EXIF_ORIENTATION)
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else None
    return software, orientation


def _oriented(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation so the stored pixels are upright."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a bad orientation tag leaves the pixels as they are
        return img


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert colour-managed pixels to sRGB before the ICC profile is dropped."""
    icc = img.info.get("icc_profile")
    # Phones tag photos Display P3 or similar; dropping the profile without converting
    # would shift colours that quality and face checks later read.
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(img, source, _SRGB, outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img


def _convert(img: Image.Image, fmt_name: str) -> Image.Image:
    """Convert a mode the stored format should not hold (CMYK, P, LA, 1, 16-bit) sensibly."""
    allowed = _STORED_MODES[fmt_name]
    if img.mode.startswith("I"):
        img = _sixteen_to_eight_bit(img)
        return img if "L" in allowed else img.convert("RGB")
    has_alpha = img.mode in ("LA", "La", "PA", "RGBa") or (
        img.mode == "P" and "transparency" in img.info
    )
    if has_alpha and "RGBA" in allowed:
        return img.convert("RGBA")
    if img.mode in ("1", "LA", "La") and "L" in allowed:
        return img.convert("L")
    return img.convert("RGB")


def _encode(img: Image.Image, fmt_name: str, jpeg_quality: int) -> bytes:
    """Encode the clean pixels in the upload's own format."""
    buffer = io.BytesIO()
    if fmt_name == "jpeg":
        img.save(buffer, "JPEG", quality=jpeg_quality, optimize=True)
    elif fmt_name == "png":
        img.save(buffer, "PNG")
    else:
        img.save(buffer, "WEBP", quality=jpeg_quality)
    return buffer.getvalue()


def _sixteen_to_eight_bit(img: Image.Image) -> Image.Image:
    """Scale 16-bit greyscale down to 8 bits (plain convert("L") would clip, not scale)."""
    return img.convert("I").point(lambda value: value / 256).convert("L")


def _too_many_pixels(max_pixels: int, width: int | None = None, height: int | None = None):
    """Build the ImageTooLarge raised for a pixel count over the limit."""
    size = f" ({width} x {height} pixels)" if width and height else ""
    megapixels = max_pixels / 1_000_000
    return ImageTooLarge(
        f"This photo has too many pixels{size}. Upload a photo of at most "
        f"{megapixels:.3g} megapixels, for example one taken at a lower resolution."
    )


def _megabytes(n: int) -> str:
    """Format a byte limit for people: 15 MB, 1.5 MB, 20 KB."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.3g} MB"
    return f"{max(round(n / 1024), 1)} KB"
