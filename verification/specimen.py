"""Specimen identity documents for demo data and tests: never a real person's document.

Renders a TD3 passport data page or a TD1 identity card with printed fields, a portrait (a
given photo, or a synthetic face) and a valid MRZ. Text uses Pillow's bundled scalable font,
so rendering needs nothing outside the virtual environment.
"""

import io
import random
from dataclasses import dataclass, field
from datetime import date

from PIL import Image, ImageDraw, ImageFont, ImageOps

from .mrz import td1_lines, td3_lines

PASSPORT_SIZE = (1250, 880)
ID_CARD_SIZE = (1012, 638)


@dataclass(frozen=True)
class SpecimenPerson:
    """The data printed on a specimen document (ICAO's fictional Utopia by default)."""

    surname: str = "ERIKSSON"
    given_names: str = "ANNA MARIA"
    date_of_birth: date = date(1974, 8, 12)
    sex: str = "F"
    nationality: str = "UTO"
    issuing_country: str = "UTO"
    document_number: str = "L898902C3"
    expiry_date: date = field(default_factory=lambda: date(date.today().year + 5, 4, 15))
    optional_data: str = ""


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def synthetic_face(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A simple drawn face (head, hair, eyes, mouth), deterministic for a seed."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, (rng.randint(200, 235),) * 3)
    draw = ImageDraw.Draw(image)
    skin = rng.choice([(241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36),
                       (255, 219, 172)])
    hair = rng.choice([(40, 30, 20), (90, 60, 30), (200, 170, 90), (20, 20, 20), (120, 120, 120)])
    cx, cy = width // 2, int(height * 0.45)
    hw, hh = int(width * 0.32), int(height * 0.36)
    draw.ellipse((cx - hw - 6, cy - hh - 14, cx + hw + 6, cy + hh // 2), fill=hair)
    draw.ellipse((cx - hw, cy - hh, cx + hw, cy + hh), fill=skin)
    draw.rectangle((cx - hw // 3, cy + hh - 10, cx + hw // 3, height), fill=skin)
    draw.pieslice((cx - hw * 2, cy + hh, cx + hw * 2, height + hh), 180, 360,
                  fill=rng.choice([(40, 60, 120), (90, 20, 30), (30, 90, 60), (60, 60, 60)]))
    eye_y, eye_dx = cy - hh // 5, hw // 2
    for ex in (cx - eye_dx, cx + eye_dx):
        draw.ellipse((ex - 12, eye_y - 7, ex + 12, eye_y + 7), fill=(255, 255, 255))
        draw.ellipse((ex - 5, eye_y - 5, ex + 5, eye_y + 5), fill=(50, 40, 30))
    draw.line((cx, eye_y + 8, cx - 6, cy + hh // 4), fill=(150, 100, 70), width=3)
    draw.arc((cx - hw // 2, cy + hh // 4, cx + hw // 2, cy + hh // 2 + 10), 20, 160,
             fill=(150, 60, 60), width=4)
    return image


def _background(size: tuple[int, int], tint: tuple[int, int, int], seed: int) -> Image.Image:
    """A pale card with guilloche-like wave lines."""
    import math

    rng = random.Random(seed)
    image = Image.new("RGB", size, tint)
    draw = ImageDraw.Draw(image)
    width, height = size
    for k in range(14):
        phase, amp = rng.random() * 6.28, 10 + k * 3
        colour = tuple(max(0, c - 25 - k) for c in tint)
        points = [(x, height * (k + 1) / 15 + amp * math.sin(x / (40 + k * 3) + phase))
                  for x in range(0, width, 6)]
        draw.line(points, fill=colour, width=1)
    return image


def _portrait(portrait: Image.Image | None, box: tuple[int, int], seed: int) -> Image.Image:
    if portrait is None:
        return synthetic_face(box, seed)
    return ImageOps.fit(ImageOps.exif_transpose(portrait).convert("RGB"), box)


def _fields(draw, person: SpecimenPerson, x: int, y: int, scale: int, number_label: str):
    rows = [
        ("Surname", person.surname), ("Given names", person.given_names),
        ("Nationality", person.nationality),
        ("Date of birth", person.date_of_birth.strftime("%d %b %Y").upper()),
        ("Sex", person.sex), ("Date of expiry", person.expiry_date.strftime("%d %b %Y").upper()),
        (number_label, person.document_number),
    ]
    label_font, value_font = _font(scale), _font(int(scale * 1.5))
    for label, value in rows:
        draw.text((x, y), label, fill=(70, 70, 90), font=label_font)
        draw.text((x, y + scale + 2), value, fill=(10, 10, 20), font=value_font)
        y += int(scale * 3.1)


def _mrz(draw, lines, x: int, y: int, size: int) -> None:
    font = _font(size)
    for line in lines:
        # Draw character by character on a fixed pitch: MRZ text is monospaced.
        for i, char in enumerate(line):
            draw.text((x + i * int(size * 0.62), y), char, fill=(0, 0, 0), font=font)
        y += int(size * 1.35)


def render_passport(person: SpecimenPerson, portrait: Image.Image | None = None, *,
                    seed: int = 0) -> Image.Image:
    """A TD3 passport data page."""
    image = _background(PASSPORT_SIZE, (226, 232, 240), seed)
    draw = ImageDraw.Draw(image)
    draw.text((40, 24), "SPECIMEN · PASSPORT · UTOPIA", fill=(30, 40, 90), font=_font(34))
    image.paste(_portrait(portrait, (330, 420), seed), (40, 90))
    _fields(draw, person, 410, 90, 22, "Passport No.")
    lines = td3_lines(document_type="P", issuing_country=person.issuing_country,
                      surname=person.surname, given_names=person.given_names,
                      document_number=person.document_number, nationality=person.nationality,
                      date_of_birth=person.date_of_birth, sex=person.sex,
                      expiry_date=person.expiry_date, optional_data=person.optional_data)
    draw.rectangle((0, 690, PASSPORT_SIZE[0], PASSPORT_SIZE[1]), fill=(245, 245, 240))
    _mrz(draw, lines, 40, 720, 40)
    return image


def render_id_card(person: SpecimenPerson, portrait: Image.Image | None = None, *,
                   seed: int = 0) -> Image.Image:
    """A TD1 identity card (front with the MRZ)."""
    image = _background(ID_CARD_SIZE, (232, 240, 228), seed)
    draw = ImageDraw.Draw(image)
    draw.text((30, 18), "SPECIMEN · IDENTITY CARD · UTOPIA", fill=(20, 70, 40), font=_font(28))
    image.paste(_portrait(portrait, (230, 290), seed), (30, 70))
    _fields(draw, person, 290, 66, 16, "Document No.")
    lines = td1_lines(document_type="ID", issuing_country=person.issuing_country,
                      surname=person.surname, given_names=person.given_names,
                      document_number=person.document_number, nationality=person.nationality,
                      date_of_birth=person.date_of_birth, sex=person.sex,
                      expiry_date=person.expiry_date, optional_data=person.optional_data)
    draw.rectangle((0, 430, ID_CARD_SIZE[0], ID_CARD_SIZE[1]), fill=(246, 246, 242))
    _mrz(draw, lines, 30, 450, 44)
    return image


def render_selfie(portrait: Image.Image | None = None, *, seed: int = 0) -> Image.Image:
    """A selfie-like portrait photo (synthetic when no photo is given)."""
    if portrait is not None:
        return ImageOps.exif_transpose(portrait).convert("RGB")
    return synthetic_face((720, 960), seed + 1000)


def to_jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    """Encode as JPEG."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
