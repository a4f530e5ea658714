"""Upload intake: recognise a photo by its content, refuse what we cannot use, keep a clean copy."""

import hashlib
import io
import math
import struct
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageCms

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


# --- the header: what decoding will cost, read before any decoder runs ------------------------

@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says about its pixels, enough to bound the cost of decoding it."""

    width: int
    height: int
    # Samples per pixel and bytes per sample as stored in the file (a palette counts as RGBA).
    channels: int
    sample_bytes: int
    frames: int = 1
    # JPEG only: progressive files keep every DCT coefficient of the full image while decoding;
    # ``coefficients`` is how many there are (all components, after chroma subsampling).
    progressive: bool = False
    coefficients: int = 0
    # Memory the decoder keeps per pixel besides the image it returns.
    decoder_bytes_per_pixel: int = 0

    @property
    def pixels(self) -> int:
        """Width times height."""
        return self.width * self.height


# The stored PNG copy is written at zlib's fastest level: the pixels are the same, the file
# ~25% larger, and a 12 MP photo encodes in ~3 s instead of ~8 s at Pillow's default 6.
PNG_COMPRESS_LEVEL = 1
# WebP's fastest encoder effort (0-6; Pillow's default is 4): at the same quality the file is
# ~10% larger, and a 16 MP photo encodes in ~3 s instead of ~8 s on a busy core.
WEBP_METHOD = 0
# Pillow holds every colour pixel in 4 bytes (RGB is stored as RGBX), and the checks work on
# an RGB copy, so no upload costs less than this per pixel of its decoded size.
RGB_WORKING_BYTES = 4
# Pillow decodes every WebP through libwebp's animation decoder, which holds two RGBA canvases
# of the full size (the frame and the previous one) besides Pillow's own image: a 10.6 MP WebP
# measured 165 MB for the whole upload, a 16 MP RGBA PNG 140 MB (docs/benchmarks.md).
WEBP_DECODER_BYTES_PER_PIXEL = 8
# A header that needs more segments or chunks than this before the pixels is not a photo:
# real files have a few dozen, and walking millions of tiny ones would itself take seconds.
MAX_HEADER_SEGMENTS = 4096
# JPEG frame markers (SOF0-SOF15 without DHT, JPG and DAC) and the progressive ones.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}


def read_header(data: bytes, fmt_name: str) -> ImageHeader:
    """Parse the dimensions, samples and frames from the header; DamagedImage when it is broken."""
    try:
        header = _HEADER_READERS[fmt_name](data)
    except (struct.error, IndexError, ValueError) as exc:
        raise DamagedImage() from exc
    if header.width < 1 or header.height < 1:
        raise DamagedImage()
    return header


def _png_header(data: bytes) -> ImageHeader:
    if data[12:16] != b"IHDR":
        raise ValueError("IHDR must come first")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise ValueError("bad IHDR")
    frames, pos = 1, 8
    for _ in range(MAX_HEADER_SEGMENTS):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"acTL":
            frames = struct.unpack(">I", data[pos + 8:pos + 12])[0]
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    else:
        raise ValueError("too many chunks before the pixels")
    return ImageHeader(width, height, _PNG_CHANNELS[colour], 2 if depth == 16 else 1,
                       frames=max(frames, 1))


def _jpeg_header(data: bytes) -> ImageHeader:
    pos, frame = 2, None
    for _ in range(MAX_HEADER_SEGMENTS):
        while data[pos] == 0xFF and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        if data[pos] != 0xFF:
            raise ValueError("not a marker")
        marker = data[pos + 1]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in _JPEG_SOF:
            frame = (marker, data[pos + 4:pos + 4 + length - 2])
        if marker == 0xDA:  # start of scan: the pixels follow
            break
        pos += 2 + length
    else:
        raise ValueError("too many segments before the pixels")
    if frame is None:
        raise ValueError("no frame header")
    marker, body = frame
    precision, height, width, count = struct.unpack(">BHHB", body[:6])
    factors = [(body[7 + 3 * i] >> 4, body[7 + 3 * i] & 0x0F) for i in range(count)]
    h_max = max(h for h, _ in factors) or 1
    v_max = max(v for _, v in factors) or 1
    coefficients = sum(math.ceil(width * h / h_max) * math.ceil(height * v / v_max)
                       for h, v in factors)
    return ImageHeader(width, height, count, 2 if precision > 8 else 1,
                       progressive=marker in _JPEG_PROGRESSIVE, coefficients=coefficients)


def _webp_header(data: bytes) -> ImageHeader:
    kind = data[12:16]
    canvases = WEBP_DECODER_BYTES_PER_PIXEL
    if kind == b"VP8X":
        flags = data[20]
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        # Bit 1 of the flags: an animation. Its frames are not counted: one is enough to refuse.
        return ImageHeader(width, height, 4, 1, frames=2 if flags & 0x02 else 1,
                           decoder_bytes_per_pixel=canvases)
    if kind == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ValueError("no VP8 start code")
        width, height = struct.unpack("<HH", data[26:30])
        return ImageHeader(width & 0x3FFF, height & 0x3FFF, 4, 1,
                           decoder_bytes_per_pixel=canvases)
    if kind == b"VP8L":
        if data[20] != 0x2F:
            raise ValueError("no VP8L signature")
        bits = int.from_bytes(data[21:25], "little")
        return ImageHeader((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4, 1,
                           decoder_bytes_per_pixel=canvases)
    raise ValueError("unknown WebP chunk")


_HEADER_READERS = {"png": _png_header, "jpeg": _jpeg_header, "webp": _webp_header}


def decode_scale(header: ImageHeader, fmt_name: str, working_pixels: int) -> int:
    """The reduction (1, 2, 4 or 8) a JPEG is decoded at so it has at most ``working_pixels``."""
    if fmt_name != "jpeg":
        return 1
    for scale in (1, 2, 4, 8):
        if math.ceil(header.width / scale) * math.ceil(header.height / scale) <= working_pixels:
            return scale
    return 8


def decoded_bytes(header: ImageHeader, scale: int = 1) -> int:
    """The memory decoding the file takes: its pixels at their stored depth, or as RGB if more.

    A progressive JPEG adds its coefficient buffer (2 bytes per coefficient, full size), a
    WebP its decoder's canvases.
    """
    pixels = math.ceil(header.width / scale) * math.ceil(header.height / scale)
    per_pixel = (max(RGB_WORKING_BYTES, header.channels * header.sample_bytes)
                 + header.decoder_bytes_per_pixel)
    coefficients = 2 * header.coefficients if header.progressive else 0
    return pixels * per_pixel + coefficients


def normalize_upload(
    data: bytes, *, max_bytes: int, max_pixels: int, max_decoded_bytes: int | None = None,
    working_pixels: int | None = None, jpeg_quality: int = 92
) -> NormalizedImage:
    """Validate an uploaded photo and return an oriented copy stripped of all metadata.

    Everything that bounds the cost is decided from the header, before any pixel is decoded:
    the file size, the pixel count, the frames and the memory decoding takes at the file's
    bit depth (``max_decoded_bytes``). A JPEG with more than ``working_pixels`` is decoded at
    1/2, 1/4 or 1/8 scale; a PNG or WebP over it is reduced right after decoding, so the
    stored copy never has more pixels than that. None leaves a bound out.
    """
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
    header = read_header(data, fmt_name)
    scale = _check_cost(header, fmt_name, max_pixels, max_decoded_bytes, working_pixels)

    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; make it a refusal here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = _open(data, fmt)
            _same_size(img, header)
            if scale > 1:
                img.draft(None, (img.width // scale, img.height // scale))
            # Decode before reading EXIF: PNG's getexif() loads the pixels itself, and a
            # failure there would be swallowed as "no EXIF" instead of refusing the file.
            img = _decode(img)
            software, orientation = _exif_facts(img)
        except _BOMBS as exc:
            raise _too_many_pixels(min(max_pixels, Image.MAX_IMAGE_PIXELS)) from exc

    # Each step below replaces the image (the previous one is freed), so at most two full-size
    # copies exist at any moment.
    img = _reduced(img, working_pixels)
    img = _oriented(img, orientation)
    img = _to_srgb(img)
    if img.mode not in _STORED_MODES[fmt_name]:
        img = _convert(img, fmt_name)
    # A new image that only the pixels are pasted into guarantees nothing from the upload's
    # info dict (EXIF, ICC, XMP, comments, text chunks) can ride along: several Pillow savers
    # fall back to im.info.
    clean = Image.new(img.mode, img.size)
    clean.paste(img)
    del img
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


def _check_cost(header: ImageHeader, fmt_name: str, max_pixels: int,
                max_decoded_bytes: int | None, working_pixels: int | None) -> int:
    """Refuse what would cost too much to decode; the JPEG decoding scale for the rest."""
    if header.pixels > max_pixels:
        raise _too_many_pixels(max_pixels, header.width, header.height)
    # JPEG files from phones are often MPO (extra depth or preview frames): the first frame
    # is the photo, so only PNG and WebP count as animated.
    if fmt_name != "jpeg" and header.frames > 1:
        raise AnimatedImage()
    scale = decode_scale(header, fmt_name, working_pixels) if working_pixels else 1
    if max_decoded_bytes is not None and decoded_bytes(header, scale) > max_decoded_bytes:
        depth = " at 16 bits per colour" if header.sample_bytes > 1 else ""
        kind = "progressive JPEG " if header.progressive else ""
        raise ImageTooLarge(
            f"This {kind}photo ({header.width} x {header.height} pixels{depth}) needs more "
            f"than {_megabytes(max_decoded_bytes)} of memory to read. Upload it as an "
            "ordinary JPEG photo, or at a lower resolution."
        )
    return scale


def _open(data: bytes, fmt: ImageFormat) -> Image.Image:
    """Parse the header with Pillow (no pixels yet), turning any failure into DamagedImage."""
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt.pillow])
    except _BOMBS:
        raise
    except Exception as exc:  # any decoder failure: see the note above _BOMBS
        # The magic bytes matched, so this is a broken file rather than a foreign format.
        raise DamagedImage() from exc
    if img.width < 1 or img.height < 1:
        raise DamagedImage()
    return img


def _same_size(img: Image.Image, header: ImageHeader) -> None:
    """Pillow must see the canvas the header check bounded; anything else is a broken file."""
    if img.size != (header.width, header.height):
        raise DamagedImage()


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


# EXIF orientation -> the transposition that makes the pixels upright (as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _oriented(img: Image.Image, orientation: int | None) -> Image.Image:
    """Apply the EXIF orientation so the stored pixels are upright (no copy when upright)."""
    method = _TRANSPOSE.get(orientation)
    return img if method is None else img.transpose(method)


def _reduced(img: Image.Image, working_pixels: int | None) -> Image.Image:
    """Reduce by a whole factor to at most ``working_pixels`` (a JPEG's draft may already have)."""
    if not working_pixels or img.width * img.height <= working_pixels:
        return img
    factor = math.ceil(math.sqrt(img.width * img.height / working_pixels))
    while math.ceil(img.width / factor) * math.ceil(img.height / factor) > working_pixels:
        factor += 1
    if img.mode not in ("L", "RGB", "RGBA", "CMYK", "LA", "I", "F"):
        img = _convert(img, "png")
    return img.reduce(factor)


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
        if out_mode == img.mode:  # in place: no second full-size copy
            ImageCms.profileToProfile(img, source, _SRGB, outputMode=out_mode, inPlace=True)
            return img
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
        img.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    else:
        img.save(buffer, "WEBP", quality=jpeg_quality, method=WEBP_METHOD)
    return buffer.getvalue()


def _sixteen_to_eight_bit(img: Image.Image) -> Image.Image:
    """Scale 16-bit greyscale down to 8 bits (plain convert("L") would clip, not scale)."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        # The high byte of each sample, without the 4-byte "I" copy of the whole image.
        return Image.fromarray((np.asarray(img) >> 8).astype(np.uint8), "L")
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
