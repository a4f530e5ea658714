"""A corpus of hostile uploads, generated in code: files built to cost a server time or memory.

Each entry says what the intake (``normalize_upload``) must answer and what a submission
must answer once the upload gate has looked at it; the bench (``bench/upload_cost.py``) and
the tests (``tests/unit/test_upload_bounds.py``, ``tests/functional/test_upload_bounds.py``)
run the same files. Built for the default limits of ``config.Config``.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from PIL import Image


@dataclass(frozen=True)
class HostileFile:
    """One hostile upload and the answers expected for it.

    ``intake`` is the (status, code) ``normalize_upload`` raises, or None when the file is a
    valid image within every bound (the upload gate then refuses it: ``submit`` is the HTTP
    status of the whole submission, a 4xx).
    """

    name: str
    build: Callable[[], bytes]
    intake: tuple[int, str] | None
    submit: int
    note: str

    def data(self) -> bytes:
        """The file's bytes (built once per process)."""
        return _built(self.name)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width: int, height: int, *, bit_depth: int = 8, colour_type: int = 2,
        row: bytes | None = None, rows: int | None = None, before_idat: bytes = b"",
        after_idat: bytes = b"") -> bytes:
    """A PNG whose every scanline is ``row`` (zeros by default), streamed through zlib.

    ``rows`` below ``height`` writes a truncated image (valid header, short pixel data).
    """
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    stride = (width * channels * bit_depth + 7) // 8
    line = b"\0" + (row if row is not None else bytes(stride))
    compressor = zlib.compressobj(9)
    idat = bytearray()
    for _ in range(height if rows is None else rows):
        idat += compressor.compress(line)
    idat += compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + before_idat
            + _chunk(b"IDAT", bytes(idat)) + after_idat + _chunk(b"IEND", b""))


def _pattern_row(width: int, channels: int) -> bytes:
    """A scanline with some texture, so the pixels are not one flat colour."""
    return bytes((x * 7 + c * 50) % 256 for x in range(width) for c in range(channels))


def animated_png(frames: int, size=(64, 48)) -> bytes:
    """An APNG with ``frames`` frames, each a different grey."""
    images = [Image.new("RGB", size, (i % 256,) * 3) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "PNG", save_all=True, append_images=images[1:], duration=10)
    return buffer.getvalue()


def apng_claiming_frames(frames: int) -> bytes:
    """A tiny PNG whose acTL chunk claims ``frames`` frames (the count alone must refuse it)."""
    actl = _chunk(b"acTL", struct.pack(">II", frames, 0))
    return png(32, 32, before_idat=actl)


def animated_webp(frames: int, size=(64, 48)) -> bytes:
    """An animated WebP with ``frames`` frames."""
    images = [Image.new("RGB", size, (i % 256, 0, 0)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "WEBP", save_all=True, append_images=images[1:], duration=10,
                   lossless=True)
    return buffer.getvalue()


def webp_claiming(width: int, height: int) -> bytes:
    """A WebP extended header (VP8X) claiming a canvas, followed by a small real image."""
    small = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(small, "WEBP")
    body = small.getvalue()[12:]  # the VP8 chunk of a real file
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0, 0, 0, 0]) + \
        (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    payload = b"WEBP" + vp8x + body
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is rewritten to claim ``width`` x ``height``."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "grey").save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def large_jpeg(width: int, height: int, *, progressive: bool = False) -> bytes:
    """A real JPEG of ``width`` x ``height`` with smooth content (a few MB at most)."""
    small = Image.effect_noise((width // 64 + 1, height // 64 + 1), 60).convert("RGB")
    image = small.resize((width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80, progressive=progressive)
    return buffer.getvalue()


def text_chunk_png(kind: bytes, megabytes: int) -> bytes:
    """A small PNG with a compressed text (zTXt) or ICC profile (iCCP) chunk that inflates large."""
    payload = zlib.compress(b"A" * (megabytes * 1024 * 1024), 9)
    name = b"Comment" if kind == b"zTXt" else b"icc"
    return png(64, 64, before_idat=_chunk(kind, name + b"\0\0" + payload))


def _truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[:int(len(data) * keep)]


def _smooth(fmt: str, size: tuple[int, int]) -> bytes:
    small = Image.effect_noise((size[0] // 64 + 1, size[1] // 64 + 1), 60).convert("RGB")
    buffer = io.BytesIO()
    small.resize(size, Image.Resampling.BILINEAR).save(buffer, fmt, quality=80)
    return buffer.getvalue()


def _noise(fmt: str, size=(400, 300)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 90).convert("RGB").save(buffer, fmt)
    return buffer.getvalue()


CORPUS: dict[str, HostileFile] = {f.name: f for f in [
    HostileFile("png16_rgba_7999x8000", lambda: png(7999, 8000, bit_depth=16, colour_type=6),
                (413, "image_too_large"), 413,
                "16-bit RGBA under the pixel limit: 498 KB that inflate to 512 MB"),
    HostileFile("png8_rgba_7999x8000", lambda: png(7999, 8000, colour_type=6),
                (413, "image_too_large"), 413, "8-bit RGBA at the pixel limit: 256 MB decoded"),
    HostileFile("png8_rgb_7999x8000", lambda: png(7999, 8000),
                (413, "image_too_large"), 413, "8-bit RGB at the pixel limit: 192 MB decoded"),
    HostileFile("png16_grey_7999x8000", lambda: png(7999, 8000, bit_depth=16, colour_type=0),
                (413, "image_too_large"), 413, "16-bit greyscale at the pixel limit"),
    HostileFile("png8_rgba_at_bound", lambda: png(4000, 4000, colour_type=6,
                                                  row=_pattern_row(4000, 4)),
                None, 422, "8-bit RGBA of 16 MP: the largest PNG within the bound"),
    HostileFile("png8_rgb_at_bound", lambda: png(5792, 5792, row=_pattern_row(5792, 3)),
                None, 422, "8-bit RGB of 33.5 MP: the most pixels within the bound"),
    HostileFile("png16_rgba_at_bound", lambda: png(4000, 4000, bit_depth=16, colour_type=6,
                                                   row=_pattern_row(8000, 4)),
                None, 422, "16-bit RGBA of 16 MP: the deepest PNG within the bound"),
    HostileFile("webp_16mp", lambda: _smooth("WEBP", (4000, 4000)),
                (413, "image_too_large"), 413,
                "a lossy WebP of 16 MP: its decoder holds 12 bytes a pixel, 192 MB"),
    HostileFile("webp_at_bound", lambda: _smooth("WEBP", (3800, 2800)), None, 422,
                "a lossy WebP of 10.6 MP: the largest WebP within the bound"),
    HostileFile("png_40000x40000", lambda: png(40_000, 40_000, rows=8),
                (413, "image_too_large"), 413, "a canvas of 1.6 gigapixels in a few KB"),
    HostileFile("png_1x60000", lambda: png(1, 60_000), None, 422, "one pixel wide"),
    HostileFile("png_60000x1", lambda: png(60_000, 1), None, 422, "one pixel high"),
    HostileFile("png_1x1", lambda: png(1, 1), None, 422, "a single pixel"),
    HostileFile("png_truncated", lambda: _truncated(png(2000, 2000, row=_pattern_row(2000, 3))),
                (400, "image_damaged"), 400, "the first half of a PNG file"),
    HostileFile("png_huge_ztxt", lambda: text_chunk_png(b"zTXt", 200),
                (400, "image_damaged"), 400, "a text chunk that inflates to 200 MB"),
    HostileFile("png_huge_iccp", lambda: text_chunk_png(b"iCCP", 200),
                (400, "image_damaged"), 400, "an ICC profile chunk that inflates to 200 MB"),
    HostileFile("apng_300_frames", lambda: animated_png(300), (415, "animated_image"), 415,
                "an animated PNG of 300 frames"),
    HostileFile("apng_claims_2e31_frames", lambda: apng_claiming_frames(2**31 - 1),
                (415, "animated_image"), 415, "an animation header claiming 2^31 frames"),
    HostileFile("webp_300_frames", lambda: animated_webp(300), (415, "animated_image"), 415,
                "an animated WebP of 300 frames"),
    HostileFile("webp_16383x16383", lambda: webp_claiming(16_383, 16_383),
                (413, "image_too_large"), 413, "WebP's largest canvas (268 MP) in a header"),
    HostileFile("webp_truncated", lambda: _truncated(_noise("WEBP")), (400, "image_damaged"),
                400, "half of a WebP file"),
    HostileFile("jpeg_65000x65000", lambda: jpeg_claiming(65_000, 65_000),
                (413, "image_too_large"), 413, "a JPEG frame header claiming 4.2 gigapixels"),
    HostileFile("jpeg_64mp", lambda: large_jpeg(9230, 6920), None, 422,
                "a real 64 MP JPEG (decoded at half size)"),
    HostileFile("jpeg_64mp_progressive", lambda: large_jpeg(9230, 6920, progressive=True),
                (413, "image_too_large"), 413,
                "a real 64 MP progressive JPEG: its coefficients alone take 192 MB"),
    HostileFile("jpeg_truncated", lambda: _truncated(_noise("JPEG")), (400, "image_damaged"),
                400, "half of a JPEG file"),
    HostileFile("jpeg_noise", lambda: _noise("JPEG", (1200, 900)), None, 422,
                "a photo of nothing: noise"),
]}


@cache
def _built(name: str) -> bytes:
    return CORPUS[name].build()
