"""Upload intake: recognise a photo by its content, enforce limits, store an upright, clean copy.

Pure: bytes in, a dataclass out; no Flask or database imports.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# Magic numbers of the accepted formats. Checking them first gives a precise "unsupported"
# answer for PDFs, GIFs, HEIC and the like before Pillow is asked to parse anything.
SIGNATURES = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
}
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
MIME_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

EXIF_SOFTWARE = 0x0131
EXIF_ORIENTATION = 0x0112


class ImageRejected(Exception):
    """An upload that cannot be accepted; ``message`` tells the person what to do."""

    code = "image_rejected"
    status = 400

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class EmptyUpload(ImageRejected):
    """The file has no content."""

    code = "empty_file"
    status = 400


class UnsupportedImage(ImageRejected):
    """Not a JPEG, PNG or WebP photo."""

    code = "unsupported_image"
    status = 415


class ImageTooLarge(ImageRejected):
    """Too many bytes or too many pixels."""

    code = "image_too_large"
    status = 413


class DamagedImage(ImageRejected):
    """A photo format we accept, but the file is truncated or corrupt."""

    code = "image_damaged"
    status = 400


@dataclass(frozen=True)
class NormalizedImage:
    """The stored copy of an upload and what was learnt from the original."""

    data: bytes
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
    """The accepted format the bytes start with, or None."""
    for name, signatures in SIGNATURES.items():
        if any(data.startswith(sig) for sig in signatures):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _unsupported() -> UnsupportedImage:
    return UnsupportedImage(
        "This file is not a JPEG, PNG or WebP photo. Take a photo and upload it as "
        "JPEG, PNG or WebP."
    )


def _damaged() -> DamagedImage:
    return DamagedImage(
        "This photo is damaged or incomplete. Please take or export it again and upload it."
    )


def _too_many_pixels(width: int, height: int, max_pixels: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"This photo is too large ({width}x{height} pixels; at most "
        f"{max_pixels // 1_000_000} megapixels). Please upload a smaller photo."
    )


def _open(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    """Open the header only, refusing oversized canvases before any pixel is decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[fmt]])
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
            raise ImageTooLarge(
                "This photo is far too large in pixels. Please upload a normal photo."
            ) from err
        except UnidentifiedImageError as err:
            raise _damaged() from err
        except (OSError, SyntaxError, ValueError) as err:
            raise _damaged() from err
    if image.width * image.height > max_pixels:
        raise _too_many_pixels(image.width, image.height, max_pixels)
    if image.width < 1 or image.height < 1:
        raise _damaged()
    if getattr(image, "n_frames", 1) > 1:
        raise UnsupportedImage(
            "Animated images are not accepted. Please upload a single still photo."
        )
    return image


def _exif_of(image: Image.Image) -> tuple[str | None, int | None]:
    try:
        exif = image.getexif()
    except Exception:  # corrupt EXIF is common and must not refuse the photo
        return None, None
    software = exif.get(EXIF_SOFTWARE)
    orientation = exif.get(EXIF_ORIENTATION)
    if isinstance(software, bytes):
        software = software.decode("utf-8", "replace")
    software = str(software).strip("\x00 ")[:200] if software else None
    return software or None, orientation if isinstance(orientation, int) else None


def _clean_mode(image: Image.Image, fmt: str) -> Image.Image:
    """Modes every viewer shows the same way; JPEG has no alpha channel."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if fmt == "jpeg":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if has_alpha:
        return image if image.mode == "RGBA" else image.convert("RGBA")
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def normalize_upload(data: bytes, *, max_bytes: int, max_pixels: int,
                     jpeg_quality: int = 92) -> NormalizedImage:
    """Check an uploaded photo and return its upright, metadata-free stored copy."""
    if not data:
        raise EmptyUpload("The file is empty. Please choose the photo again.")
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"This file is too large ({len(data) / 1_048_576:.1f} MB; at most "
            f"{max_bytes / 1_048_576:.0f} MB). Please upload a smaller photo."
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise _unsupported()
    image = _open(data, fmt, max_pixels)
    software, orientation = _exif_of(image)
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise _damaged() from err
    upright = _clean_mode(upright, fmt)
    # Saving a fresh image without exif=/icc_profile=/pnginfo= writes no metadata at all.
    clean = Image.new(upright.mode, upright.size)
    clean.paste(upright)
    out = io.BytesIO()
    if fmt == "jpeg":
        clean.save(out, "JPEG", quality=jpeg_quality, optimize=True)
    elif fmt == "png":
        clean.save(out, "PNG", optimize=True)
    else:
        clean.save(out, "WEBP", quality=jpeg_quality)
    stored = out.getvalue()
    return NormalizedImage(
        data=stored, mime_type=MIME_TYPES[fmt], format=fmt, width=clean.width,
        height=clean.height, sha256=hashlib.sha256(stored).hexdigest(),
        original_sha256=hashlib.sha256(data).hexdigest(), original_bytes=len(data),
        exif_software=software, exif_orientation=orientation,
    )
