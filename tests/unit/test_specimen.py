"""Specimen documents: deterministic, the right size, a valid MRZ printed on a fixed pitch."""

import io
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from PIL import Image

from verification.images import normalize_upload
from verification.mrz import parse_mrz, td1_lines, td2_lines, td3_lines
from verification.specimen import (
    ID_CARD_SIZE,
    MRZ_STYLES,
    OCR_B_FONT,
    PASSPORT_SIZE,
    SELFIE_SIZE,
    TD2_SIZE,
    MrzStyle,
    SpecimenPerson,
    id_card_mrz,
    mrz_font,
    passport_mrz,
    render_document,
    render_id_card,
    render_national_card,
    render_passport,
    render_republic_passport,
    render_selfie,
    synthetic_face,
    td2_mrz,
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


# --- Other designs, MRZ fonts and formats (the generated test bed) ---------------------------

TD2_PERSON = replace(ICAO_ANNA, optional_data="")
# layout -> (size, MRZ lines, characters per line, nominal pitch in pixels)
LAYOUT_SHAPES = {"utopia_td3": (PASSPORT_SIZE, 2, 44, 25.4),
                 "utopia_td1": (ID_CARD_SIZE, 3, 30, 30.0),
                 "national_td1": (ID_CARD_SIZE, 3, 30, 30.0),
                 "republic_td3": (PASSPORT_SIZE, 2, 44, 25.4),
                 "residence_td2": (TD2_SIZE, 2, 36, 30.0)}


def mrz_ink(img: Image.Image) -> np.ndarray:
    """Where the MRZ's pure black ink is."""
    return np.all(np.asarray(img.convert("RGB")) == (0, 0, 0), axis=-1)


def test_td2_lines_parse_back_to_the_holder():
    lines = td2_mrz(TD2_PERSON)
    assert [len(line) for line in lines] == [36, 36]
    result = parse_mrz(list(lines), today=date(2026, 1, 1))
    assert result.format == "TD2" and result.valid_check_digits
    assert (result.surname, result.given_names, result.document_number) == (
        "ERIKSSON", "ANNA MARIA", "L898902C3")
    assert (result.date_of_birth, result.expiry_date) == (date(1974, 8, 12), date(2012, 4, 15))


def test_td2_long_number_runs_on_into_the_optional_data():
    lines = td2_lines(issuing_country="UTO", surname="LI", given_names="", sex="M",
                      document_number="D231458907AB", nationality="UTO",
                      date_of_birth=date(1990, 1, 2), expiry_date=date(2030, 3, 4))
    result = parse_mrz(list(lines), today=date(2026, 1, 1))
    assert result.valid_check_digits and result.document_number == "D231458907AB"
    with pytest.raises(ValueError, match="do not fit"):
        td2_lines(issuing_country="UTO", surname="LI", given_names="", sex="M",
                  document_number="D23145890", optional_data="ZE184226B", nationality="UTO",
                  date_of_birth=date(1990, 1, 2), expiry_date=date(2030, 3, 4))


@pytest.mark.parametrize("render", [render_passport, render_id_card])
def test_the_default_mrz_style_draws_exactly_as_before(render):
    plain = pixels(render(ICAO_ANNA, seed=2))
    assert pixels(render(ICAO_ANNA, seed=2, mrz_style=MrzStyle())) == plain
    assert pixels(render(ICAO_ANNA, seed=2, mrz_style=MRZ_STYLES["ocrb"])) == plain
    assert pixels(render(ICAO_ANNA, seed=2, mrz_style=MRZ_STYLES["ocrb_heavy"])) != plain


@pytest.mark.parametrize("layout", LAYOUT_SHAPES)
def test_layouts_are_deterministic_and_their_size(layout):
    size = LAYOUT_SHAPES[layout][0]
    person = TD2_PERSON if layout == "residence_td2" else ICAO_ANNA
    first = render_document(layout, person, seed=4)
    again = render_document(layout, person, seed=4)
    other = render_document(layout, person, seed=5)
    assert first.front.size == size and first.mrz_image.size == size
    assert pixels(first.front) == pixels(again.front)
    assert pixels(first.mrz_image) == pixels(again.mrz_image)
    assert pixels(first.front) != pixels(other.front)


@pytest.mark.parametrize("layout", LAYOUT_SHAPES)
@pytest.mark.parametrize("style", MRZ_STYLES)
def test_every_layout_and_style_prints_a_full_fixed_pitch_mrz(layout, style):
    size, line_count, width, pitch = LAYOUT_SHAPES[layout]
    person = TD2_PERSON if layout == "residence_td2" else ICAO_ANNA
    document = render_document(layout, person, seed=1, mrz_style=MRZ_STYLES[style])
    assert len(document.lines) == line_count and {len(line) for line in document.lines} == {width}
    lines = mrz_glyphs(document.mrz_image)
    assert len(lines) == line_count
    expected_pitch = pitch * MRZ_STYLES[style].pitch_scale
    for glyphs in lines:
        assert len(glyphs) == width  # one glyph per character, fillers included
        centres = [(start + end) / 2 for start, end in glyphs]
        assert (centres[-1] - centres[0]) / (width - 1) == pytest.approx(expected_pitch, abs=0.4)
        assert glyphs[0][0] > 0 and glyphs[-1][1] < size[0]


def test_mrz_styles_change_the_ink_the_way_they_say():
    def ink(style):
        return mrz_ink(render_id_card(ICAO_ANNA, seed=1, mrz_style=MRZ_STYLES[style])).sum()

    def extent(style):
        line = mrz_glyphs(render_id_card(ICAO_ANNA, seed=1, mrz_style=MRZ_STYLES[style]))[0]
        return float(np.mean([end - start for start, end in line]))

    assert ink("ocrb_heavy") > 1.2 * ink("ocrb") > 1.44 * ink("ocrb_light")
    assert extent("ocrb_narrow") < extent("ocrb") < extent("ocrb_wide")


@pytest.mark.parametrize("layout", ["national_td1", "republic_td3", "residence_td2"])
def test_new_layouts_mrz_band_depends_only_on_the_mrz(layout):
    size = LAYOUT_SHAPES[layout][0]
    person = TD2_PERSON if layout == "residence_td2" else ICAO_ANNA

    def band(person):
        document = render_document(layout, person, seed=1)
        return pixels(document.mrz_image.crop((0, size[1] - 200, *size)))

    plain = band(person)
    assert band(replace(person, place_of_birth="NADIR", authority="ELSEWHERE")) == plain
    assert band(replace(person, document_number="L898902C4")) != plain


def test_national_card_has_its_mrz_on_the_back_only():
    front, back = render_national_card(ICAO_ANNA, seed=3)
    assert front.size == back.size == ID_CARD_SIZE
    assert mrz_ink(front).sum() == 0  # no MRZ ink on the front
    ink = mrz_ink(back)
    assert ink.sum() > 10_000 and ink[: ID_CARD_SIZE[1] - 232].sum() == 0
    assert len(mrz_glyphs(back)) == 3
    document = render_document("national_td1", ICAO_ANNA, seed=3)
    assert document.mrz_side == "back" and document.lines == id_card_mrz(ICAO_ANNA)
    assert pixels(document.mrz_image) == pixels(back)


def test_guilloche_runs_faintly_under_the_mrz():
    def unprinted_rows(page):
        """The MRZ band's rows that no character reaches (between and around the lines)."""
        band = np.asarray(page.convert("L"))[-232:]
        return band[band.min(axis=1) > 200]

    patterned = unprinted_rows(render_republic_passport(ICAO_ANNA, seed=1))
    plain = unprinted_rows(render_passport(ICAO_ANNA, seed=1))
    assert len(patterned) > 50 and len(plain) > 50
    # Pale lines over a good part of the paper, against the Utopia design's plain shade.
    values, counts = np.unique(patterned, return_counts=True)
    assert len(values) >= 2 and values.min() > 200
    assert 0.03 < 1 - counts.max() / counts.sum() < 0.5
    assert len(np.unique(plain)) == 1


def test_unknown_layout_is_a_value_error():
    with pytest.raises(ValueError, match="unknown layout"):
        render_document("atlantis_td9", ICAO_ANNA)


@pytest.mark.parametrize("layout", LAYOUT_SHAPES)
@pytest.mark.parametrize("style", ["ocrb", "ocrb_condensed_heavy"])
def test_each_mrz_character_is_drawn_in_its_own_cell(layout, style):
    """Changing one character of the document number changes the ink of exactly the cells
    whose characters changed (the number, its check digit, the composite), nothing else."""
    size = LAYOUT_SHAPES[layout][0]
    person = TD2_PERSON if layout == "residence_td2" else ICAO_ANNA
    other = replace(person, document_number="L898902C4")
    first = render_document(layout, person, seed=1, mrz_style=MRZ_STYLES[style])
    second = render_document(layout, other, seed=1, mrz_style=MRZ_STYLES[style])
    changed = {(row, col) for row, (a, b) in enumerate(zip(first.lines, second.lines,
                                                           strict=True))
               for col, (x, y) in enumerate(zip(a, b, strict=True)) if x != y}
    assert len(changed) >= 2  # the number and at least its check digit

    top = size[1] - MRZ_BAND
    grey = np.asarray(first.mrz_image.convert("L"))[top:]
    rows = ink_runs((grey < 128).any(axis=1))
    glyphs = mrz_glyphs(first.mrz_image)
    difference = np.any(np.asarray(first.mrz_image)[top:] != np.asarray(second.mrz_image)[top:],
                        axis=-1)
    for row, ((y0, y1), cells) in enumerate(zip(rows, glyphs, strict=True)):
        for col, (x0, x1) in enumerate(cells):
            touched = difference[y0:y1, x0:x1].any()
            assert touched == ((row, col) in changed), (row, col)
    # Nothing outside the glyphs' boxes changed (plus the faint anti-aliased edge of a
    # squeezed glyph, a few pixels wide).
    boxes = np.zeros_like(difference)
    for (y0, y1), cells in zip(rows, glyphs, strict=True):
        for x0, x1 in cells:
            boxes[y0 - 3:y1 + 3, x0 - 6:x1 + 6] = True
    assert not (difference & ~boxes).any()
