"""Specimen identity documents for demo data and tests, so no test ever needs a real document.

Renders a TD3 passport data page or a TD1 identity card for the fictional state of Utopia
(ICAO 9303's own specimen country): guilloche-like background, labelled fields, a portrait (a
given photo or a drawn face) and a valid MRZ. The MRZ and the field values use the OCR-B font
bundled in verification/fonts/ (public domain, see its README); labels use Pillow's own
scalable font. Nothing outside the virtual environment and this package is read.

For the test bed (bench/testbed.py) there are more: `DOCUMENT_LAYOUTS` adds a national TD1 card
with its MRZ on the back, another passport design and a TD2 residence card, in other colour
schemes on fine guilloches that run faintly under the MRZ; `MRZ_STYLES` draws the same OCR-B
heavier, lighter, narrower or wider, on a slightly different pitch and line spacing.
"""

import io
import math
import random
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from .mrz import td1_lines, td2_lines, td3_lines

OCR_B_FONT = Path(__file__).parent / "fonts" / "OCRB.otf"

# ID-1 is 85.6 x 54 mm and ID-3 125 x 88 mm; these sizes are about 300 dpi and 250 dpi.
PASSPORT_SIZE = (1250, 880)
ID_CARD_SIZE = (1012, 638)
SELFIE_SIZE = (720, 960)

STATE_NAME = "UTOPIA"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_INK = (20, 24, 40)
_LABEL_INK = (70, 80, 110)
_SPECIMEN_RED = (190, 30, 40)


def _years_from_today(years: int, month: int, day: int) -> date:
    """A fixed day of the month in a year relative to today, so defaults never expire."""
    return date(date.today().year + years, month, day)


@dataclass(frozen=True)
class SpecimenPerson:
    """The holder data printed on a specimen document (ICAO's fictional Anna Eriksson)."""

    surname: str = "ERIKSSON"
    given_names: str = "ANNA MARIA"
    date_of_birth: date = date(1974, 8, 12)
    sex: str = "F"
    nationality: str = "UTO"
    issuing_country: str = "UTO"
    document_number: str = "L898902C3"
    optional_data: str = ""
    place_of_birth: str = "ZENITH"
    authority: str = "UTOPIA PASSPORT OFFICE"
    date_of_issue: date = field(default_factory=lambda: _years_from_today(-5, 4, 16))
    expiry_date: date = field(default_factory=lambda: _years_from_today(5, 4, 15))


def passport_mrz(person: SpecimenPerson) -> tuple[str, str]:
    """The TD3 MRZ lines printed on `person`'s specimen passport."""
    return td3_lines(
        document_type="P", issuing_country=person.issuing_country, surname=person.surname,
        given_names=person.given_names, document_number=person.document_number,
        nationality=person.nationality, date_of_birth=person.date_of_birth, sex=person.sex,
        expiry_date=person.expiry_date, optional_data=person.optional_data,
    )


def id_card_mrz(person: SpecimenPerson) -> tuple[str, str, str]:
    """The TD1 MRZ lines printed on `person`'s specimen identity card."""
    return td1_lines(
        document_type="I", issuing_country=person.issuing_country, surname=person.surname,
        given_names=person.given_names, document_number=person.document_number,
        nationality=person.nationality, date_of_birth=person.date_of_birth, sex=person.sex,
        expiry_date=person.expiry_date, optional_data=person.optional_data,
    )


@lru_cache(maxsize=16)
def mrz_font(size: int) -> ImageFont.FreeTypeFont:
    """The bundled OCR-B font at `size` pixels."""
    return ImageFont.truetype(str(OCR_B_FONT), size)


@lru_cache(maxsize=16)
def _label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled scalable sans-serif font (Aileron) at `size` pixels."""
    return ImageFont.load_default(size=size)


def render_passport(
    person: SpecimenPerson, portrait: Image.Image | None = None, *, seed: int = 0,
    mrz_style: "MrzStyle | None" = None,
) -> Image.Image:
    """A TD3 passport data page (RGB, PASSPORT_SIZE) with a valid MRZ (in `mrz_style`)."""
    width, height = PASSPORT_SIZE
    image = _background(PASSPORT_SIZE, (228, 233, 242), (150, 170, 205), seed)
    draw = ImageDraw.Draw(image)
    draw.text((50, 28), STATE_NAME, fill=(30, 45, 100), font=_label_font(40))
    draw.text((250, 40), "PASSPORT / PASSEPORT", fill=(30, 45, 100), font=_label_font(26))
    _specimen_title(draw, (width - 60, 26), 52)

    image.paste(_portrait(portrait, (320, 410), seed), (50, 130))
    row = _Fields(draw, x=410, y=122, label_size=17, value_size=28)
    row.add(("Type", "P", 90), ("Code", person.issuing_country, 130),
            ("Passport No.", person.document_number, 0))
    row.add(("Surname", person.surname, 0))
    row.add(("Given names", person.given_names, 0))
    row.add(("Nationality", _nationality(person), 0))
    row.add(("Date of birth", _printed(person.date_of_birth), 300), ("Sex", _sex(person), 110),
            ("Place of birth", person.place_of_birth, 0))
    row.add(("Date of issue", _printed(person.date_of_issue), 300),
            ("Authority", person.authority, 0))
    row.add(("Date of expiry", _printed(person.expiry_date), 0))

    _any_mrz_zone(image, passport_mrz(person), top=height - 232, pitch=25.4, size=35,
                  style=mrz_style)
    return image


def render_id_card(
    person: SpecimenPerson, portrait: Image.Image | None = None, *, seed: int = 0,
    mrz_style: "MrzStyle | None" = None,
) -> Image.Image:
    """A TD1 identity card (RGB, ID_CARD_SIZE), front and MRZ (in `mrz_style`) on one side."""
    width, height = ID_CARD_SIZE
    image = _background(ID_CARD_SIZE, (232, 241, 229), (150, 190, 150), seed)
    draw = ImageDraw.Draw(image)
    draw.text((40, 22), STATE_NAME, fill=(25, 80, 45), font=_label_font(32))
    draw.text((210, 32), "IDENTITY CARD / CARTE D'IDENTITE", fill=(25, 80, 45),
              font=_label_font(20))
    _specimen_title(draw, (width - 40, 18), 40)

    image.paste(_portrait(portrait, (225, 290), seed), (40, 84))
    row = _Fields(draw, x=295, y=80, label_size=14, value_size=22)
    row.add(("Surname", person.surname, 0))
    row.add(("Given names", person.given_names, 0))
    row.add(("Sex", _sex(person), 80), ("Nationality", _nationality(person), 170),
            ("Date of birth", _printed(person.date_of_birth), 0))
    row.add(("Document No.", person.document_number, 250),
            ("Date of expiry", _printed(person.expiry_date), 0))

    _any_mrz_zone(image, id_card_mrz(person), top=height - 232, pitch=30.0, size=40,
                  style=mrz_style)
    return image


def render_selfie(portrait: Image.Image | None = None, seed: int = 0) -> Image.Image:
    """A selfie-like RGB photo: a drawn face in a room, or `portrait` re-shot."""
    rng = random.Random(seed)
    if portrait is None:
        image = _room(SELFIE_SIZE, rng)
        # The face layer is larger than the frame so that tilting it never shows its edges.
        margin = 200
        width, height = SELFIE_SIZE
        face = Image.new("RGBA", (width + 2 * margin, height + 2 * margin), (0, 0, 0, 0))
        _draw_face(ImageDraw.Draw(face), (margin + 90, margin + 150, margin + 630,
                                          margin + 960), rng)
        face = face.rotate(rng.uniform(-6, 6), resample=Image.Resampling.BICUBIC,
                           center=(margin + 360, margin + 500))
        offset = (rng.randint(-30, 30) - margin, rng.randint(-20, 20) - margin)
        image.paste(face, offset, face)
    else:
        # Keep the whole photo (no crop): a face near the edge must stay in the frame.
        image = ImageOps.contain(ImageOps.exif_transpose(portrait).convert("RGB"), SELFIE_SIZE)
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.92, 1.08))
        image = ImageEnhance.Color(image).enhance(rng.uniform(0.9, 1.1))
    return _sensor_noise(image, rng)


CHALLENGE_SELFIE_SIZE = (2000, 1500)


def render_challenge_selfie(portrait: Image.Image, document: Image.Image, code: str,
                            seed: int = 0) -> Image.Image:
    """A challenge selfie: the person, their ID held up, and ``code`` written on paper."""
    rng = random.Random(seed)
    width, height = CHALLENGE_SELFIE_SIZE
    image = _room(CHALLENGE_SELFIE_SIZE, rng)
    person = ImageOps.contain(ImageOps.exif_transpose(portrait).convert("RGB"),
                              (round(width * 0.5), height))
    image.paste(person, (rng.randint(20, 80), height - person.height))
    # The ID, held at arm's length on the right, slightly tilted.
    held = ImageOps.contain(document.convert("RGB"), (round(width * 0.42), height))
    image.paste(held, (width - held.width - rng.randint(30, 70), rng.randint(60, 140)))
    # The sheet of paper with the code, below the ID.
    paper = Image.new("RGB", (round(width * 0.36), round(height * 0.22)), (246, 246, 240))
    draw = ImageDraw.Draw(paper)
    draw.text((paper.width // 2, paper.height // 2), code, fill=(25, 25, 60),
              font=_label_font(round(paper.height * 0.55)), anchor="mm")
    paper = paper.rotate(rng.uniform(-5, 5), expand=True, fillcolor=tuple(
        image.getpixel((width - 10, height - 10))), resample=Image.Resampling.BICUBIC)
    image.paste(paper, (width - paper.width - rng.randint(60, 120),
                        height - paper.height - rng.randint(40, 100)))
    return _sensor_noise(image, rng)


def synthetic_face(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A simple drawn head and shoulders on a plain background, deterministic for `seed`."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, _pick(rng, [(214, 222, 230), (225, 225, 218), (205, 215, 225)]))
    _draw_face(ImageDraw.Draw(image), (0, 0, *size), rng)
    return image


def to_jpeg_bytes(img: Image.Image, quality: int = 90) -> bytes:
    """Encode an image as JPEG bytes (RGB or greyscale)."""
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


class _Fields:
    """Lays out rows of labelled values; each cell is (label, value, width or 0 for the rest)."""

    def __init__(self, draw: ImageDraw.ImageDraw, *, x: int, y: int, label_size: int,
                 value_size: int):
        self.draw, self.x, self.y = draw, x, y
        self.label_font, self.value_font = _label_font(label_size), mrz_font(value_size)
        self.label_size, self.value_size = label_size, value_size

    def add(self, *cells: tuple[str, str, int]) -> None:
        """Draw one row of cells and move down."""
        x = self.x
        for label, value, cell_width in cells:
            self.draw.text((x, self.y), label, fill=_LABEL_INK, font=self.label_font)
            self.draw.text((x, self.y + self.label_size + 4), value.upper(), fill=_INK,
                           font=self.value_font)
            x += cell_width
        self.y += self.label_size + self.value_size + 22


def _specimen_title(draw: ImageDraw.ImageDraw, top_right: tuple[int, int], size: int) -> None:
    """The red SPECIMEN title, right-aligned at `top_right`."""
    draw.text(top_right, "SPECIMEN", fill=_SPECIMEN_RED, font=_label_font(size), anchor="ra")


def _mrz_zone(image: Image.Image, lines: tuple[str, ...], *, top: int, pitch: float,
              size: int) -> None:
    """Print the MRZ on a plain band at the bottom, one character per fixed-pitch cell."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, top, width, height), fill=(247, 247, 243))
    font = mrz_font(size)
    left = (width - pitch * len(lines[0])) / 2
    spacing = (height - top) / (len(lines) + 1)
    for row, line in enumerate(lines):
        baseline = top + spacing * (row + 1) + size * 0.35
        for col, char in enumerate(line):
            # Fixed pitch (ICAO: 2.54 mm a character) whatever the font's own advance is.
            x = left + pitch * (col + 0.5)
            draw.text((round(x), round(baseline)), char, fill=(0, 0, 0), font=font, anchor="ms")


def _any_mrz_zone(image: Image.Image, lines: tuple[str, ...], *, top: int, pitch: float,
                  size: int, style: "MrzStyle | None") -> None:
    """The plain-band MRZ: as it always was for the default style, else in `style`."""
    if style is None or style == MrzStyle():
        _mrz_zone(image, lines, top=top, pitch=pitch, size=size)
    else:
        _styled_mrz_zone(image, lines, top=top, pitch=pitch, size=size, style=style)


def _background(size: tuple[int, int], paper: tuple[int, int, int],
                ink: tuple[int, int, int], seed: int) -> Image.Image:
    """Pale paper with guilloche-like rosettes and wave bands, deterministic for `seed`."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    faint = tuple(round(p + (i - p) * 0.3) for p, i in zip(paper, ink, strict=True))
    for band in range(18):
        phase, amplitude = rng.uniform(0, 2 * math.pi), rng.uniform(8, 22)
        wavelength, y0 = rng.uniform(60, 140), height * (band + 0.5) / 18
        points = [(x, y0 + amplitude * math.sin(x / wavelength * 2 * math.pi + phase))
                  for x in range(0, width + 8, 8)]
        draw.line(points, fill=faint, width=1)
    for _ in range(2):
        cx, cy = rng.uniform(0.45, 0.9) * width, rng.uniform(0.25, 0.6) * height
        radius = rng.uniform(0.22, 0.32) * height
        for scale in (1.0, 0.9, 0.8):
            _rosette(draw, (cx, cy), radius * scale, rng, faint)
    return image


def _rosette(draw: ImageDraw.ImageDraw, centre: tuple[float, float], radius: float,
             rng: random.Random, colour: tuple[int, ...]) -> None:
    """A hypotrochoid (spirograph) curve, the classic guilloche motif."""
    big, small = radius, radius * rng.choice([0.3, 0.35, 0.4, 0.45])
    offset = small * rng.uniform(0.8, 1.3)
    cx, cy = centre
    steps = 1800
    turns = 20  # enough turns for these ratios to close the curve
    points = []
    for i in range(steps + 1):
        t = 2 * math.pi * turns * i / steps
        x = (big - small) * math.cos(t) + offset * math.cos((big - small) / small * t)
        y = (big - small) * math.sin(t) - offset * math.sin((big - small) / small * t)
        points.append((cx + x, cy + y))
    draw.line(points, fill=colour, width=1)


def _portrait(portrait: Image.Image | None, box: tuple[int, int], seed: int) -> Image.Image:
    """The holder's photo fitted to `box`, or a drawn face."""
    if portrait is None:
        return synthetic_face(box, seed)
    photo = ImageOps.exif_transpose(portrait).convert("RGB")
    return ImageOps.fit(photo, box, method=Image.Resampling.LANCZOS, centering=(0.5, 0.4))


def _draw_face(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
               rng: random.Random) -> None:
    """Draw head, hair, ears, eyes, brows, nose, mouth and shoulders inside `box`."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    skin = _pick(rng, [(241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36),
                       (255, 219, 172), (176, 118, 72)])
    hair = _pick(rng, [(40, 30, 20), (90, 60, 30), (200, 170, 90), (20, 20, 20),
                       (130, 125, 120), (120, 50, 20)])
    cloth = _pick(rng, [(40, 60, 120), (90, 20, 30), (30, 90, 60), (60, 60, 60), (200, 200, 210)])
    cx = left + w / 2 + rng.uniform(-0.02, 0.02) * w
    cy = top + h * rng.uniform(0.40, 0.44)
    hw, hh = w * rng.uniform(0.27, 0.32), h * rng.uniform(0.28, 0.31)

    draw.ellipse((cx - w * 0.48, cy + hh * 1.05, cx + w * 0.48, bottom + h * 0.35), fill=cloth)
    draw.rectangle((cx - hw * 0.38, cy + hh * 0.6, cx + hw * 0.38, cy + hh * 1.25), fill=skin)
    draw.ellipse((cx - hw * 1.08, cy - hh * 1.12, cx + hw * 1.08, cy + hh * 0.3), fill=hair)
    for side in (-1, 1):
        ex = cx + side * hw * 0.98
        draw.ellipse((ex - hw * 0.12, cy - hh * 0.15, ex + hw * 0.12, cy + hh * 0.2), fill=skin)
    draw.ellipse((cx - hw, cy - hh, cx + hw, cy + hh), fill=skin)
    draw.chord((cx - hw * 1.02, cy - hh * 1.08, cx + hw * 1.02, cy - hh * 0.2), 180, 360,
               fill=hair)

    eye_y, eye_dx = cy - hh * 0.1, hw * rng.uniform(0.36, 0.44)
    eye_w, eye_h = hw * 0.2, hh * 0.08
    iris = _pick(rng, [(60, 40, 25), (50, 90, 140), (70, 110, 60), (30, 25, 20)])
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse((ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h), fill=(250, 250, 250))
        draw.ellipse((ex - eye_h, eye_y - eye_h, ex + eye_h, eye_y + eye_h), fill=iris)
        draw.ellipse((ex - eye_h / 2, eye_y - eye_h / 2, ex + eye_h / 2, eye_y + eye_h / 2),
                     fill=(10, 10, 10))
        brow_y = eye_y - hh * 0.17
        draw.line((ex - eye_w * 1.1, brow_y, ex + eye_w * 1.1, brow_y - hh * 0.02),
                  fill=hair, width=max(2, round(hh * 0.035)))
    shade = tuple(round(c * 0.75) for c in skin)
    nose_y = cy + hh * 0.25
    draw.line((cx, eye_y + eye_h, cx - hw * 0.08, nose_y, cx + hw * 0.06, nose_y),
              fill=shade, width=max(2, round(hh * 0.025)))
    mouth_y = cy + hh * 0.5
    mouth_w = hw * rng.uniform(0.32, 0.42)
    draw.arc((cx - mouth_w, mouth_y - hh * 0.12, cx + mouth_w, mouth_y + hh * 0.08), 20, 160,
             fill=(150, 60, 60), width=max(2, round(hh * 0.035)))


def _room(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A blurred indoor background: wall, a window and a door frame."""
    width, height = size
    wall = _pick(rng, [(205, 195, 180), (190, 200, 205), (215, 210, 200), (170, 160, 150)])
    image = Image.new("RGB", size, wall)
    draw = ImageDraw.Draw(image)
    wx, wy = rng.randint(-100, width - 200), rng.randint(40, 200)
    draw.rectangle((wx, wy, wx + 260, wy + 320), fill=(235, 242, 250), outline=(120, 110, 100),
                   width=12)
    dx = rng.randint(0, width - 160)
    draw.rectangle((dx, 120, dx + 200, height), outline=tuple(c - 50 for c in wall), width=18)
    draw.rectangle((0, height * 0.8, width, height), fill=tuple(c - 30 for c in wall))
    return image.filter(ImageFilter.GaussianBlur(8))


def _sensor_noise(image: Image.Image, rng: random.Random) -> Image.Image:
    """Add faint deterministic noise and softness, as a phone camera would."""
    noise = Image.frombytes("L", image.size, rng.randbytes(image.width * image.height))
    noisy = Image.blend(image, Image.merge("RGB", (noise, noise, noise)), 0.04)
    return noisy.filter(ImageFilter.GaussianBlur(0.6))


def _pick(rng: random.Random, options: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    """One option, drawn from `rng`."""
    return options[rng.randrange(len(options))]


def _printed(day: date) -> str:
    """A date as printed in the visual zone: 12 AUG 1974 (locale-independent)."""
    return f"{day.day:02d} {_MONTHS[day.month - 1]} {day.year}"


def _sex(person: SpecimenPerson) -> str:
    """The printed sex: M, F or X."""
    sex = person.sex.strip().upper()[:1]
    return sex if sex in ("M", "F") else "X"


def _nationality(person: SpecimenPerson) -> str:
    """The printed nationality: UTOPIAN for Utopia, otherwise the code."""
    return "UTOPIAN" if person.nationality == "UTO" else person.nationality


# --- Other designs, fonts and formats (the generated test bed) ------------------------------


@dataclass(frozen=True)
class MrzStyle:
    """How an MRZ is printed: the bundled OCR-B drawn heavier or lighter, narrower or wider, on a
    slightly different pitch and line spacing, as different printers and card makers do."""

    name: str = "ocrb"
    stroke: int = 0  # pixels of ink added around every stroke (a heavier print)
    erode: int = 0  # pixels of ink taken off every stroke (a lighter, thinner print)
    x_scale: float = 1.0  # glyph width relative to the font's own
    pitch_scale: float = 1.0  # character pitch relative to ICAO's nominal 2.54 mm
    line_spacing_scale: float = 1.0  # distance between MRZ lines relative to the layout's


# Heavier and lighter mean about one pixel of stroke either way at 250-300 dpi, where the
# OCR-B strokes of a 35-40 px MRZ are 4-5 px wide: visibly bold or thin print, still OCR-B.
# Pitch departures stay within 3% of 2.54 mm and line spacing within 10% of the layout's, so
# every variant still fits its zone with a margin (44 x 25.4 px x 1.03 = 1151 of 1250 px).
MRZ_STYLES: dict[str, MrzStyle] = {
    "ocrb": MrzStyle(),
    "ocrb_heavy": MrzStyle("ocrb_heavy", stroke=1),
    "ocrb_light": MrzStyle("ocrb_light", erode=1),
    "ocrb_narrow": MrzStyle("ocrb_narrow", x_scale=0.88, pitch_scale=0.98,
                            line_spacing_scale=0.94),
    "ocrb_wide": MrzStyle("ocrb_wide", x_scale=1.08, pitch_scale=1.02, line_spacing_scale=1.06),
    "ocrb_condensed_heavy": MrzStyle("ocrb_condensed_heavy", stroke=1, x_scale=0.84,
                                     pitch_scale=0.97, line_spacing_scale=0.9),
}

# Physical widths (ICAO 9303 part 3: ID-1 85.6 mm, ID-2 105 mm, ID-3 125 mm) and the size of
# the TD2 render: 105 x 74 mm at 300 dpi, as the TD1 card is.
TD1_WIDTH_MM, TD2_WIDTH_MM, TD3_WIDTH_MM = 85.6, 105.0, 125.0
TD2_SIZE = (1240, 874)


@dataclass(frozen=True)
class Design:
    """A state's colour scheme for a document: paper, guilloche, headings and the MRZ band."""

    paper: tuple[int, int, int]
    guilloche: tuple[int, int, int]
    heading: tuple[int, int, int]
    # How much the guilloche shows in the MRZ area (0: a plain band, as on the Utopia designs;
    # real cards often let a faint pattern run under the MRZ).
    mrz_guilloche: float = 0.0


DESIGNS = {
    "lavender": Design(paper=(236, 232, 244), guilloche=(160, 140, 200), heading=(70, 40, 120),
                       mrz_guilloche=0.22),
    "peach": Design(paper=(246, 236, 226), guilloche=(215, 150, 120), heading=(140, 50, 30),
                    mrz_guilloche=0.18),
    "teal": Design(paper=(226, 240, 240), guilloche=(110, 175, 180), heading=(10, 90, 100),
                   mrz_guilloche=0.25),
}


@dataclass(frozen=True)
class RenderedDocument:
    """One specimen: its sides, the MRZ lines printed and which side carries them."""

    front: Image.Image
    back: Image.Image | None
    lines: tuple[str, ...]
    mrz_side: str  # "front" or "back"
    width_mm: float

    @property
    def mrz_image(self) -> Image.Image:
        """The side the MRZ is printed on."""
        return self.back if self.mrz_side == "back" and self.back is not None else self.front


def td2_mrz(person: SpecimenPerson) -> tuple[str, str]:
    """The TD2 MRZ lines printed on `person`'s specimen residence card."""
    return td2_lines(
        document_type="IR", issuing_country=person.issuing_country, surname=person.surname,
        given_names=person.given_names, document_number=person.document_number,
        nationality=person.nationality, date_of_birth=person.date_of_birth, sex=person.sex,
        expiry_date=person.expiry_date, optional_data=person.optional_data,
    )


def render_national_card(
    person: SpecimenPerson, portrait: Image.Image | None = None, *, seed: int = 0,
    mrz_style: MrzStyle | None = None, design: str = "lavender",
) -> tuple[Image.Image, Image.Image]:
    """A national TD1 identity card (front, back): portrait and fields on the front, the
    address, the issuing authority and the 3-line MRZ on the back, with a fine guilloche that
    runs faintly under the MRZ."""
    scheme = DESIGNS[design]
    width, height = ID_CARD_SIZE
    rng = random.Random(f"national-{seed}")
    front = _guilloche_paper(ID_CARD_SIZE, scheme, rng)
    draw = ImageDraw.Draw(front)
    draw.text((36, 20), f"REPUBLIC OF {STATE_NAME}", fill=scheme.heading, font=_label_font(30))
    draw.text((36, 58), "NATIONAL IDENTITY CARD", fill=scheme.heading, font=_label_font(18))
    _specimen_title(draw, (width - 36, 16), 36)
    # The portrait on the right, fields on the left: the other way round from the Utopia card.
    front.paste(_portrait(portrait, (240, 300), seed), (width - 276, 110))
    row = _Fields(draw, x=36, y=100, label_size=14, value_size=24)
    row.add(("Surname / Nom", person.surname, 0))
    row.add(("Given names / Prénoms", person.given_names, 0))
    row.add(("Sex", _sex(person), 90), ("Nationality", _nationality(person), 0))
    row.add(("Date of birth", _printed(person.date_of_birth), 0))
    row.add(("Card No.", person.document_number, 260),
            ("Expiry", _printed(person.expiry_date), 0))
    draw.text((36, height - 44), "Holder's signature", fill=_LABEL_INK, font=_label_font(14))
    draw.line((36, height - 52, 420, height - 52), fill=_LABEL_INK, width=1)

    back = _guilloche_paper(ID_CARD_SIZE, scheme, random.Random(f"national-back-{seed}"))
    draw = ImageDraw.Draw(back)
    info = _Fields(draw, x=36, y=24, label_size=14, value_size=22)
    info.add(("Address", _address(rng), 0))
    info.add(("Place of birth", person.place_of_birth, 330),
             ("Date of issue", _printed(person.date_of_issue), 0))
    info.add(("Authority", person.authority, 0))
    lines = id_card_mrz(person)
    _styled_mrz_zone(back, lines, top=height - 232, pitch=30.0, size=40,
                     style=mrz_style or MrzStyle(), scheme=scheme, rng=rng)
    return front, back


def render_republic_passport(
    person: SpecimenPerson, portrait: Image.Image | None = None, *, seed: int = 0,
    mrz_style: MrzStyle | None = None, design: str = "peach",
) -> Image.Image:
    """A TD3 passport data page of another design: fine guilloche everywhere, also faintly
    under the MRZ, portrait on the left, fields in two columns."""
    scheme = DESIGNS[design]
    width, height = PASSPORT_SIZE
    rng = random.Random(f"republic-{seed}")
    image = _guilloche_paper(PASSPORT_SIZE, scheme, rng)
    draw = ImageDraw.Draw(image)
    draw.text((width // 2, 24), f"REPUBLIC OF {STATE_NAME} · PASSPORT", fill=scheme.heading,
              font=_label_font(34), anchor="ma")
    _specimen_title(draw, (width - 40, 80), 40)
    image.paste(_portrait(portrait, (300, 390), seed), (40, 120))
    left = _Fields(draw, x=380, y=130, label_size=16, value_size=27)
    left.add(("1. Surname", person.surname, 0))
    left.add(("2. Given names", person.given_names, 0))
    left.add(("3. Nationality", _nationality(person), 0))
    left.add(("4. Date of birth", _printed(person.date_of_birth), 0))
    left.add(("5. Sex", _sex(person), 0))
    right = _Fields(draw, x=830, y=130, label_size=16, value_size=27)
    right.add(("Type", "P", 0))
    right.add(("Passport No.", person.document_number, 0))
    right.add(("6. Date of issue", _printed(person.date_of_issue), 0))
    right.add(("7. Date of expiry", _printed(person.expiry_date), 0))
    right.add(("8. Place of birth", person.place_of_birth, 0))
    _styled_mrz_zone(image, passport_mrz(person), top=height - 232, pitch=25.4, size=35,
                     style=mrz_style or MrzStyle(), scheme=scheme, rng=rng)
    return image


def render_td2_card(
    person: SpecimenPerson, portrait: Image.Image | None = None, *, seed: int = 0,
    mrz_style: MrzStyle | None = None, design: str = "teal",
) -> Image.Image:
    """A TD2 residence card (ID-2 size, 2 x 36 MRZ on the front) on a fine guilloche."""
    scheme = DESIGNS[design]
    width, height = TD2_SIZE
    rng = random.Random(f"td2-{seed}")
    image = _guilloche_paper(TD2_SIZE, scheme, rng)
    draw = ImageDraw.Draw(image)
    draw.text((40, 22), STATE_NAME, fill=scheme.heading, font=_label_font(36))
    draw.text((260, 34), "RESIDENCE PERMIT / TITRE DE SÉJOUR", fill=scheme.heading,
              font=_label_font(22))
    _specimen_title(draw, (width - 40, 20), 40)
    image.paste(_portrait(portrait, (260, 330), seed), (40, 96))
    row = _Fields(draw, x=330, y=92, label_size=15, value_size=25)
    row.add(("Surname", person.surname, 0))
    row.add(("Given names", person.given_names, 0))
    row.add(("Sex", _sex(person), 90), ("Nationality", _nationality(person), 220),
            ("Date of birth", _printed(person.date_of_birth), 0))
    row.add(("Permit No.", person.document_number, 300),
            ("Valid until", _printed(person.expiry_date), 0))
    row.add(("Remarks", "EMPLOYMENT AUTHORISED", 0))
    _styled_mrz_zone(image, td2_mrz(person), top=height - 214, pitch=30.0, size=40,
                     style=mrz_style or MrzStyle(), scheme=scheme, rng=rng)
    return image


def render_document(layout: str, person: SpecimenPerson, *, seed: int = 0,
                    mrz_style: MrzStyle | None = None) -> RenderedDocument:
    """The specimen of `layout` (a DOCUMENT_LAYOUTS name) for `person`, with `mrz_style`."""
    try:
        render = DOCUMENT_LAYOUTS[layout]
    except KeyError:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(DOCUMENT_LAYOUTS)}") \
            from None
    return render(person, seed, mrz_style)


def _utopia_passport(person, seed, style) -> RenderedDocument:
    page = render_passport(person, seed=seed, mrz_style=style)
    return RenderedDocument(page, None, passport_mrz(person), "front", TD3_WIDTH_MM)


def _utopia_card(person, seed, style) -> RenderedDocument:
    card = render_id_card(person, seed=seed, mrz_style=style)
    return RenderedDocument(card, None, id_card_mrz(person), "front", TD1_WIDTH_MM)


def _national_card(person, seed, style) -> RenderedDocument:
    front, back = render_national_card(person, seed=seed, mrz_style=style)
    return RenderedDocument(front, back, id_card_mrz(person), "back", TD1_WIDTH_MM)


def _republic_passport(person, seed, style) -> RenderedDocument:
    page = render_republic_passport(person, seed=seed, mrz_style=style)
    return RenderedDocument(page, None, passport_mrz(person), "front", TD3_WIDTH_MM)


def _td2_card(person, seed, style) -> RenderedDocument:
    card = render_td2_card(person, seed=seed, mrz_style=style)
    return RenderedDocument(card, None, td2_mrz(person), "front", TD2_WIDTH_MM)


# Every layout the test bed draws from: name -> (person, seed, MrzStyle | None) -> document.
DOCUMENT_LAYOUTS = {
    "utopia_td3": _utopia_passport,
    "utopia_td1": _utopia_card,
    "national_td1": _national_card,
    "republic_td3": _republic_passport,
    "residence_td2": _td2_card,
}


def _styled_mrz_zone(image: Image.Image, lines: tuple[str, ...], *, top: int, pitch: float,
                     size: int, style: MrzStyle, scheme: Design | None = None,
                     rng: random.Random | None = None) -> None:
    """Print the MRZ in `style`; with a `scheme`, on the paper with its guilloche faintly
    running under the print, otherwise on the Utopia designs' plain band."""
    width, height = image.size
    band = (0, top, width, height)
    draw = ImageDraw.Draw(image)
    if scheme is None:
        draw.rectangle(band, fill=(247, 247, 243))
    else:
        # Lighten the paper under the MRZ, then let a faint guilloche run across it.
        lighter = tuple(round(p + (255 - p) * 0.5) for p in scheme.paper)
        draw.rectangle(band, fill=lighter)
        if scheme.mrz_guilloche > 0:
            faint = _mix(lighter, scheme.guilloche, scheme.mrz_guilloche)
            _wave_lines(draw, band, faint, rng or random.Random(0), spacing=9)
    pitch *= style.pitch_scale
    spacing = (height - top) / (len(lines) + 1) * style.line_spacing_scale
    centre = top + (height - top) / 2
    font = mrz_font(size)
    left = (width - pitch * len(lines[0])) / 2
    # Ink coverage drawn on a mask of the band, squeezed or stretched horizontally, then thinned.
    mask_width = math.ceil(width / style.x_scale)
    mask = Image.new("L", (mask_width, height - top), 0)
    mask_draw = ImageDraw.Draw(mask)
    for row, line in enumerate(lines):
        baseline = centre + (row - (len(lines) - 1) / 2) * spacing + size * 0.35 - top
        for col, char in enumerate(line):
            x = (left + pitch * (col + 0.5)) / style.x_scale
            mask_draw.text((round(x), round(baseline)), char, fill=255, font=font, anchor="ms",
                           stroke_width=style.stroke, stroke_fill=255)
    if mask_width != width:
        mask = mask.resize((width, height - top), Image.Resampling.LANCZOS)
    if style.erode:
        mask = mask.filter(ImageFilter.MinFilter(2 * style.erode + 1))
    image.paste((0, 0, 0), (0, top, width, height), mask)


def _guilloche_paper(size: tuple[int, int], scheme: Design,
                     rng: random.Random) -> Image.Image:
    """Paper of `scheme` with two crossing families of fine sinusoidal lines and a rosette."""
    width, height = size
    image = Image.new("RGB", size, scheme.paper)
    draw = ImageDraw.Draw(image)
    faint = _mix(scheme.paper, scheme.guilloche, 0.35)
    _wave_lines(draw, (0, 0, width, height), faint, rng, spacing=7)
    _wave_lines(draw, (0, 0, width, height), faint, rng, spacing=11)
    cx, cy = rng.uniform(0.5, 0.8) * width, rng.uniform(0.3, 0.6) * height
    for scale in (1.0, 0.85):
        _rosette(draw, (cx, cy), rng.uniform(0.2, 0.28) * height * scale, rng,
                 _mix(scheme.paper, scheme.guilloche, 0.45))
    return image


def _wave_lines(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
                colour: tuple[int, ...], rng: random.Random, *, spacing: int) -> None:
    """One family of fine guilloche lines: each a sum of two sines, its phase drifting from
    one line to the next, so neighbouring lines weave in and out of each other."""
    left, top, right, bottom = box
    amplitude = rng.uniform(0.8, 1.6) * spacing
    wavelength = rng.uniform(40, 90)
    long_wave = wavelength * rng.uniform(2.5, 4.0)
    phase, drift = rng.uniform(0, 2 * math.pi), rng.choice((-1, 1)) * rng.uniform(0.2, 0.45)
    y0 = top - 2 * amplitude
    k = 0
    while y0 < bottom + 2 * amplitude:
        points = [(x, y0 + amplitude * math.sin(2 * math.pi * x / wavelength + phase + k * drift)
                   + 0.6 * amplitude * math.sin(2 * math.pi * x / long_wave + k * drift / 2))
                  for x in range(left, right + 4, 4)]
        draw.line(points, fill=colour, width=1)
        y0 += spacing
        k += 1


def _mix(paper: tuple[int, ...], ink: tuple[int, ...], amount: float) -> tuple[int, ...]:
    """`amount` of the way from `paper` to `ink`."""
    return tuple(round(p + (i - p) * amount) for p, i in zip(paper, ink, strict=True))


_STREETS = ("AVENUE DES TILLEULS", "KASTANIENALLEE", "RUA DAS FLORES", "HARBOUR ROAD",
            "ULICA LIPOWA", "VIA ROMA", "NORRA STORGATAN")
_CITIES = ("ZENITH", "NADIR", "MERIDIAN", "EQUINOX", "SOLSTICE")


def _address(rng: random.Random) -> str:
    """A made-up address in Utopia."""
    return f"{rng.randint(1, 240)} {rng.choice(_STREETS)}, {rng.choice(_CITIES)}"
