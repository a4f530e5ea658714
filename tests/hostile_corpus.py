"""A corpus of malformed and malicious uploads, generated here: what people and attackers send.

Cheap to build (no file over a few hundred KB, nothing that takes a server long to refuse:
the costly decompression bombs are ``verification.hostile.CORPUS``, measured by the bench).
Each entry is (name, file name sent, bytes). Every one must be refused by the desk with a
clear 4xx, through the form and the API, without a case.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from functools import cache

from PIL import Image

from verification import hostile


def _image(mode: str = "RGB", size=(64, 48)) -> Image.Image:
    image = Image.linear_gradient("L").resize(size)
    return image.convert(mode) if mode != "L" else image


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png_header(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)))


def _gif_claiming(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b";"


def _bmp_claiming(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) + info + b"\0" * 16


def _tiff_claiming(width: int, height: int) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (279, 4, 1, 1)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0\0\0\0"


def _jpeg_with_segment(marker: int, payload: bytes, copies: int = 1) -> bytes:
    jpeg = _save(_image(), "JPEG")
    segment = b"".join(b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload
                       for _ in range(copies))
    return jpeg[:2] + segment + jpeg[2:]


def _exif_bomb() -> bytes:
    # One IFD with as many entries as fit in a segment, each pointing at the same far offset.
    count = 5000
    ifd = struct.pack("<H", count) + struct.pack("<HHII", 0x010E, 2, 0xFFFFFFF0, 8) * count
    return _jpeg_with_segment(0xE1, b"Exif\0\0" + b"II*\x00" + struct.pack("<I", 8) + ifd[:65000])


def _exif_orientation(value: int) -> bytes:
    image = _image()
    exif = image.getexif()
    exif[0x0112] = value
    return _save(image, "JPEG", exif=exif.tobytes())


def _icc_flood() -> bytes:
    # 160 APP2 ICC segments of 64 KB: a 10 MB "profile".
    payload = b"ICC_PROFILE\0" + bytes([1, 160]) + b"\0" * 65000
    return _jpeg_with_segment(0xE2, payload, copies=4)


def _corrupt(data: bytes, at: float, span: int = 64) -> bytes:
    middle = int(len(data) * at)
    return data[:middle] + bytes(b ^ 0xA5 for b in data[middle:middle + span]) + \
        data[middle + span:]


def _bad_png_crc() -> bytes:
    data = bytearray(_save(_image(), "PNG"))
    data[29] ^= 0xFF  # the IHDR chunk's CRC
    return bytes(data)


def _animated_gif(frames: int = 2) -> bytes:
    images = [_image("P") for _ in range(frames)]
    return _save(images[0], "GIF", save_all=True, append_images=images[1:], duration=100)


FORMATS = {"JPEG": {}, "PNG": {}, "WEBP": {}, "GIF": {}, "BMP": {}, "TIFF": {}}

DISGUISES = {
    "svg_with_script": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
                       b'<script>alert(document.cookie)</script></svg>',
    "svg_xxe": b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
    "html": b"<!doctype html><html><body><script>alert(1)</script></body></html>",
    "pdf": b"%PDF-1.7\n1 0 obj <</Type /Catalog /OpenAction <</S /JavaScript /JS (app.alert(1))>>"
           b">> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n",
    "text": b"this is not a photo of an identity document\n" * 20,
    "zip": b"PK\x03\x04" + b"\0" * 26 + b"PK\x05\x06" + b"\0" * 18,
    "elf": b"\x7fELF\x02\x01\x01" + b"\0" * 57,
    "json": b'{"id_document": "yes", "approved": true}',
    "php": b"<?php system($_GET['c']); ?>",
    "windows_exe": b"MZ" + b"\0" * 58 + struct.pack("<I", 64) + b"PE\0\0",
    "shell": b"#!/bin/sh\nrm -rf /\n",
    "heic": b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64,
    "avif": b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf" + b"\0" * 64,
    "ico": b"\0\0\1\0\1\0\x10\x10\0\0\1\0\x20\0" + b"\0" * 40,
    "psd": b"8BPS\0\1" + b"\0" * 40,
    "mp4": b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41" + b"\0" * 32,
}


def _polyglots() -> Iterator[tuple[str, bytes]]:
    jpeg = _save(_image(), "JPEG")
    yield "jpeg_then_zip", jpeg + DISGUISES["zip"]
    yield "jpeg_then_html", jpeg + DISGUISES["html"]
    yield "gif_javascript", b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=alert(1);//" + b";"
    png = _save(_image(), "PNG")
    yield "png_html_in_text", png[:33] + _chunk(b"tEXt", b"c\0" + DISGUISES["html"]) + png[33:]
    yield "html_then_jpeg", DISGUISES["html"] + jpeg
    yield "pdf_then_jpeg", DISGUISES["pdf"] + jpeg


def _odd_images() -> Iterator[tuple[str, bytes]]:
    yield "cmyk_jpeg", _save(_image("CMYK"), "JPEG")
    yield "grey_jpeg", _save(_image("L"), "JPEG")
    yield "progressive_jpeg", _save(_image(), "JPEG", progressive=True)
    yield "palette_png", _save(_image("P"), "PNG")
    yield "one_bit_png", _save(_image("1"), "PNG")
    yield "grey_alpha_png", _save(_image("LA"), "PNG")
    yield "transparent_png", _save(Image.new("RGBA", (64, 48), (0, 0, 0, 0)), "PNG")
    yield "sixteen_bit_png", _save(_image("I;16"), "PNG")
    yield "png_1x1", hostile.png(1, 1)
    yield "tiny_jpeg", _save(_image(size=(8, 8)), "JPEG")
    yield "cmyk_tiff", _save(_image("CMYK"), "TIFF")
    yield "float_tiff", _save(_image("F"), "TIFF")


def _claims() -> Iterator[tuple[str, bytes]]:
    yield "png_0x0", _png_header(0, 0) + _chunk(b"IEND", b"")
    yield "png_1x2147483647", _png_header(1, 2**31 - 1) + _chunk(b"IEND", b"")
    yield "png_2147483647x1", _png_header(2**31 - 1, 1) + _chunk(b"IEND", b"")
    yield "png_4294967295_square", _png_header(2**32 - 1, 2**32 - 1) + _chunk(b"IEND", b"")
    yield "png_bit_depth_99", _png_header(64, 48, depth=99) + _chunk(b"IEND", b"")
    yield "png_colour_type_7", _png_header(64, 48, colour=7) + _chunk(b"IEND", b"")
    yield "gif_65535x65535", _gif_claiming(65_535, 65_535)
    yield "gif_0x0", _gif_claiming(0, 0)
    yield "bmp_huge", _bmp_claiming(2**31 - 1, 2**31 - 1)
    yield "bmp_negative_height", _bmp_claiming(64, -(2**31) + 1)
    yield "tiff_huge", _tiff_claiming(2**32 - 1, 2**32 - 1)
    yield "jpeg_65500x65500_header", hostile.jpeg_claiming(65_500, 65_500)
    yield "jpeg_0x0_header", hostile.jpeg_claiming(0, 0)
    yield "webp_16383x16383_header", hostile.webp_claiming(16_383, 16_383)


def _metadata() -> Iterator[tuple[str, bytes]]:
    yield "exif_bomb", _exif_bomb()
    yield "exif_orientation_0", _exif_orientation(0)
    yield "exif_orientation_9", _exif_orientation(9)
    yield "exif_orientation_65535", _exif_orientation(65_535)
    yield "icc_flood", _icc_flood()
    yield "comment_flood", _jpeg_with_segment(0xFE, b"A" * 65_000, copies=3)
    yield "app_segment_length_0", b"\xff\xd8\xff\xe1\x00\x00" + b"\0" * 32 + b"\xff\xd9"
    yield "app_segment_length_past_end", b"\xff\xd8\xff\xe1\xff\xff" + b"\0" * 32


def _broken() -> Iterator[tuple[str, bytes]]:
    yield "zero_bytes", b""
    yield "one_byte", b"\xff"
    yield "jpeg_magic_only", b"\xff\xd8\xff"
    yield "png_magic_only", b"\x89PNG\r\n\x1a\n"
    yield "riff_magic_only", b"RIFF\0\0\0\0WEBP"
    yield "random_bytes", bytes((i * 131 + 7) % 256 for i in range(4096))
    yield "png_bad_crc", _bad_png_crc()
    yield "animated_gif", _animated_gif()
    for fmt in FORMATS:
        data = _save(_image(size=(160, 120)), fmt)
        for share in (0.05, 0.3, 0.7):
            yield f"{fmt.lower()}_cut_at_{int(share * 100)}", data[:max(1, int(len(data) * share))]
        for share in (0.4, 0.8):
            yield f"{fmt.lower()}_scrambled_at_{int(share * 100)}", _corrupt(data, share)


@cache
def corpus() -> tuple[tuple[str, str, bytes], ...]:
    """Every entry: (name, the file name it is sent under, its bytes)."""
    files = [*((name, data) for name, data in DISGUISES.items()), *_polyglots(),
             *_odd_images(), *_claims(), *_metadata(), *_broken()]
    entries = [(name, f"{name}.jpg", data) for name, data in files]
    # Names that are an attack of their own, on a small valid image.
    photo = _save(_image(), "JPEG")
    for name, file_name in {
        "name_1000_characters": "a" * 996 + ".jpg",
        "name_path_traversal": "../../../../etc/passwd.jpg",
        "name_windows_path": "C:\\Windows\\System32\\drivers\\etc\\hosts.jpg",
        "name_right_to_left_override": "photo\u202egpj.exe",
        "name_emoji_and_accents": "pässpört \U0001f600 ü.jpg",
        "name_newline": "id.jpg\r\nContent-Type: text/html",
        "name_empty_extension": "id.",
        "name_html": "<img src=x onerror=alert(1)>.jpg",
    }.items():
        entries.append((name, file_name, photo))
    return tuple(entries)
