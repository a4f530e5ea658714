"""The load test's photos: specimen passports and selfies as 12-megapixel JPEGs of 2-3 MB.

Each pair is one person: a passport rendered from one fixture photo of a real face
(``tests/fixtures/faces``), framed on a table as a phone photo of it would be, and a selfie
made from another photo of the same person. Both are upscaled to about 12 megapixels (a phone
camera's size) with sensor-like noise, so the JPEG weighs what a phone's does (2-3 MB) instead
of the few hundred kilobytes of a smooth upscale.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from bench.face_pipeline import FACES, passport_photo, to_area
from verification.degrade import degrade
from verification.specimen import SpecimenPerson, render_passport

MEGAPIXELS = 12.0
# A phone's JPEG files of a 12-megapixel photo: 2-3 MB.
MIN_BYTES, MAX_BYTES = 2_000_000, 3_000_000
# (portrait on the passport, selfie, surname, given names): the same person in both photos
# (keanu_reeves_2.jpg shows a second face, so it is only a portrait). Two selfies are the
# portrait's own photo (flipped once), which the selfie check takes for the ID itself.
PEOPLE = (
    ("obama_1.jpg", "obama_2.jpg", "OBAMA", "BARACK HUSSEIN"),
    ("biden_2.jpg", "biden_1.jpg", "BIDEN", "JOSEPH ROBINETTE"),
    ("keanu_reeves_2.jpg", "keanu_reeves_1.jpg", "REEVES", "KEANU CHARLES"),
    ("obama_3.jpg", "obama_1.jpg", "OBAMA", "BARACK"),
    ("bill_gates_1.jpg", "bill_gates_1.jpg", "GATES", "WILLIAM HENRY"),
    ("keanu_reeves_1.jpg", "keanu_reeves_1.jpg", "REEVES", "KEANU"),
)
# Degradations a phone photo of a document may show that still pass the upload's gate.
DOCUMENT_LOOKS = ("clean", "clean", "rotation")


@dataclass(frozen=True)
class PhotoPair:
    """One person's passport and selfie files, with what the form says about them."""

    document: str
    selfie: str
    full_name: str
    date_of_birth: str
    document_bytes: int
    selfie_bytes: int
    document_sha256: str
    selfie_sha256: str


def _noisy(image: Image.Image, rng: np.random.Generator, sigma: float) -> Image.Image:
    """``image`` with Gaussian sensor noise of ``sigma`` grey levels (a camera's grain)."""
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels + rng.normal(0.0, sigma, pixels.shape[:2])[..., None].astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def phone_jpeg(image: Image.Image, seed: int) -> bytes:
    """``image`` as a 12-megapixel JPEG of 2-3 MB: grain added until it weighs that much."""
    big = to_area(image.convert("RGB"), MEGAPIXELS)
    rng = np.random.default_rng(seed)
    sigma, quality = 2.0, 90
    for _ in range(12):
        buffer = io.BytesIO()
        _noisy(big, rng, sigma).save(buffer, "JPEG", quality=quality)
        size = buffer.tell()
        if MIN_BYTES <= size <= MAX_BYTES:
            return buffer.getvalue()
        if size < MIN_BYTES:
            sigma *= 1.5
        else:
            sigma /= 1.4
            quality = max(80, quality - 3)
    raise RuntimeError(f"could not make a JPEG of 2-3 MB (last: {size} bytes)")


def build(folder: Path) -> list[PhotoPair]:
    """Write the pairs to ``folder`` and an index ``pairs.json``; returns them."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    for number, (portrait_name, selfie_name, surname, given) in enumerate(PEOPLE):
        rng = random.Random(number)
        person = SpecimenPerson(
            surname=surname, given_names=given,
            date_of_birth=date(1950 + rng.randrange(45), rng.randrange(1, 13),
                               rng.randrange(1, 28)),
            document_number=f"L{rng.randrange(10**7):07d}", sex="M")
        with Image.open(FACES / portrait_name) as portrait:
            page = render_passport(person, passport_photo(portrait.convert("RGB")), seed=number)
        document = phone_jpeg(degrade(page, DOCUMENT_LOOKS[number % len(DOCUMENT_LOOKS)],
                                      seed=number), seed=number)
        with Image.open(FACES / selfie_name) as source:
            selfie_image = source.convert("RGB")
        if number % 2:
            selfie_image = selfie_image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        selfie = phone_jpeg(selfie_image, seed=100 + number)
        names = (f"document_{number}.jpg", f"selfie_{number}.jpg")
        for name, data in zip(names, (document, selfie), strict=True):
            (folder / name).write_bytes(data)
        pairs.append(PhotoPair(
            document=names[0], selfie=names[1], full_name=f"{given.title()} {surname.title()}",
            date_of_birth=person.date_of_birth.isoformat(),
            document_bytes=len(document), selfie_bytes=len(selfie),
            document_sha256=hashlib.sha256(document).hexdigest(),
            selfie_sha256=hashlib.sha256(selfie).hexdigest()))
    (folder / "pairs.json").write_text(json.dumps([asdict(p) for p in pairs], indent=1))
    return pairs


def load(folder: Path) -> list[dict]:
    """The pairs written by ``build``."""
    return json.loads((folder / "pairs.json").read_text())
