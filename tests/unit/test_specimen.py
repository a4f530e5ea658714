"""Specimen documents: deterministic, the right size, a valid MRZ printed on a fixed pitch."""

import io
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from PIL import Image

from verification.images import normalize_upload
from verification.mrz import td1_lines, td3_lines
from verification.specimen import (
    ID_CARD_SIZE,
    OCR_B_FONT,
    PASSPORT_SIZE,
    SELFIE_SIZE,
    SpecimenPerson,
    id_card_mrz,
    mrz_font,
    passport_mrz,
    render_id_card,
    render_passport,
    render_selfie,
    synthetic_face,
    to_jpeg_bytes,
)

MRZ_BAND = 232  # pixels at the bottom of both documents
MAGENTA = (255, 0, 255)
ICAO_ANNA = SpecimenPerson(document_number="L898902C3", optional_data="ZE184226B",
                           expiry_date=date(2012, 4, 15))
# renderer, size, MRZ lines, characters per line, pitch (ICAO's 2.54 mm in pixels)
RENDERERS = {"passport": (render_passport, PASSPORT_SIZE, 2, 44, 25.4),
             "id_card": (render_id_card, ID_CARD_SIZE, 3, 30, 30.0)}


def pixels(img: Image.Image) -> bytes:
    """Raw pixels, for exact comparisons."""
    return img.tobytes()


def ink_runs(values) -> list[tuple[int, int]]:
    """(start, end) of each run of True values."""
    runs, start = [], None
    for i, inked in enumerate([*values, False]):
        if inked and start is None:
            start = i
        elif not inked and start is not None:
            runs.append((start, i))
            start = None
    return runs


def mrz_glyphs(img: Image.Image) -> list[list[tuple[int, int]]]:
    """For each printed MRZ line, the horizontal extent of every glyph."""
    grey = np.asarray(img.convert("L"))[-MRZ_BAND:]
    dark = grey < 128
    lines = []
    for top, bottom in ink_runs(dark.any(axis=1)):
        lines.append(ink_runs(dark[top:bottom].any(axis=0)))
    return lines


def count_colour(img: Image.Image, colour: tuple[int, int, int]) -> int:
    """How many pixels are exactly `colour`."""
    return int(np.all(np.asarray(img.convert("RGB")) == colour, axis=-1).sum())


def test_default_person_is_icaos_fictional_holder_and_never_expired():
    person = SpecimenPerson()
    assert (person.surname, person.given_names, person.nationality) == (
        "ERIKSSON", "ANNA MARIA", "UTO")
    assert person.expiry_date > date.today() > person.date_of_issue


def test_mrz_of_the_icao_specimen():
    assert passport_mrz(ICAO_ANNA) == (
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    )
    card = replace(ICAO_ANNA, document_number="D23145890", optional_data="")
    assert id_card_mrz(card) == (
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    )


def test_mrz_helpers_match_the_builders():
    person = SpecimenPerson(surname="Lopez García", given_names="María José", sex="F",
                            document_number="D01234567", date_of_birth=date(1992, 11, 30))
    fields = dict(issuing_country="UTO", surname=person.surname,
                  given_names=person.given_names, document_number=person.document_number,
                  nationality="UTO", date_of_birth=person.date_of_birth, sex="F",
                  expiry_date=person.expiry_date)
    assert passport_mrz(person) == td3_lines(**fields)
    assert id_card_mrz(person) == td1_lines(**fields)
    assert passport_mrz(person)[0].startswith("P<UTOLOPEZ<GARCIA<<MARIA<JOSE<")


@pytest.mark.parametrize("kind", RENDERERS)
def test_documents_have_their_size_and_are_deterministic(kind):
    render, size, *_ = RENDERERS[kind]
    first = render(ICAO_ANNA, seed=7)
    assert first.size == size and first.mode == "RGB"
    assert pixels(render(ICAO_ANNA, seed=7)) == pixels(first)
    assert pixels(render(ICAO_ANNA, seed=8)) != pixels(first)


@pytest.mark.parametrize("kind", RENDERERS)
def test_mrz_is_printed_on_a_fixed_pitch(kind):
    render, size, line_count, width, pitch = RENDERERS[kind]
    lines = mrz_glyphs(render(ICAO_ANNA, seed=1))
    assert len(lines) == line_count
    for glyphs in lines:
        assert len(glyphs) == width
        assert glyphs[0][0] > 0 and glyphs[-1][1] < size[0]
        centres = [(start + end) / 2 for start, end in glyphs]
        measured = (centres[-1] - centres[0]) / (width - 1)
        assert measured == pytest.approx(pitch, abs=0.3)
        # Each glyph's ink sits in its own cell, whatever its shape (1, I and M differ).
        for k, centre in enumerate(centres):
            assert abs(centre - (centres[0] + k * measured)) < pitch / 4


@pytest.mark.parametrize("kind", RENDERERS)
def test_mrz_band_depends_only_on_the_mrz(kind):
    render, size, *_ = RENDERERS[kind]

    def band(img):
        return pixels(img.crop((0, size[1] - MRZ_BAND, size[0], size[1])))

    plain = render(ICAO_ANNA, seed=1)
    assert band(render(ICAO_ANNA, Image.new("RGB", (50, 50), MAGENTA), seed=9)) == band(plain)
    assert band(render(replace(ICAO_ANNA, document_number="L898902C4"), seed=1)) != band(plain)


@pytest.mark.parametrize("kind", RENDERERS)
def test_given_portrait_is_pasted_at_the_left(kind):
    render, size, *_ = RENDERERS[kind]
    with_photo = render(ICAO_ANNA, Image.new("RGB", (300, 400), MAGENTA), seed=1)
    left_half = with_photo.crop((0, 0, size[0] // 2, size[1] - MRZ_BAND))
    assert count_colour(left_half, MAGENTA) > 0.1 * size[0] * size[1]
    assert count_colour(with_photo, MAGENTA) == count_colour(left_half, MAGENTA)
    assert count_colour(render(ICAO_ANNA, seed=1), MAGENTA) == 0


@pytest.mark.parametrize("kind", RENDERERS)
def test_specimen_title_is_red_at_the_top_right(kind):
    render, size, *_ = RENDERERS[kind]
    corner = np.asarray(render(ICAO_ANNA).crop((size[0] // 2, 0, size[0], 90))).astype(int)
    red = (corner[..., 0] > 150) & (corner[..., 1] < 80) & (corner[..., 2] < 80)
    assert red.sum() > 500


def test_synthetic_face_is_deterministic_per_seed():
    assert pixels(synthetic_face((200, 260), seed=3)) == pixels(synthetic_face((200, 260), 3))
    assert pixels(synthetic_face((200, 260), seed=3)) != pixels(synthetic_face((200, 260), 4))
    assert synthetic_face((120, 160)).size == (120, 160)


def test_drawn_selfie():
    selfie = render_selfie(None, seed=2)
    assert selfie.size == SELFIE_SIZE and selfie.mode == "RGB"
    assert pixels(render_selfie(seed=2)) == pixels(selfie)
    assert pixels(render_selfie(seed=3)) != pixels(selfie)


def test_selfie_from_a_portrait_keeps_the_whole_photo_but_not_its_pixels():
    portrait = synthetic_face((300, 200), seed=5)
    selfie = render_selfie(portrait, seed=1)
    assert selfie.width <= SELFIE_SIZE[0] and selfie.height <= SELFIE_SIZE[1]
    assert abs(selfie.width / selfie.height - 1.5) < 0.01
    assert pixels(selfie) != pixels(portrait.resize(selfie.size))


def test_to_jpeg_bytes_feeds_the_intake():
    data = to_jpeg_bytes(render_id_card(ICAO_ANNA).convert("RGBA"), quality=80)
    assert data[:3] == b"\xff\xd8\xff"
    assert Image.open(io.BytesIO(data)).size == ID_CARD_SIZE
    result = normalize_upload(data, max_bytes=5_000_000, max_pixels=10_000_000)
    assert (result.format, result.width, result.height) == ("jpeg", *ID_CARD_SIZE)


def test_mrz_font_is_the_bundled_ocr_b():
    assert OCR_B_FONT.is_file()
    assert mrz_font(30).getname() == ("OCR B", "Regular")
    assert "public domain" in (OCR_B_FONT.parent / "README.md").read_text().lower()
    # OCR-B is monospaced: every MRZ character has the same advance.
    advances = {mrz_font(30).getlength(c) for c in "<0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    assert len(advances) == 1
