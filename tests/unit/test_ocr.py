"""The MRZ reader: text clean-up on its own, then RapidOCR on generated document photos."""

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

from bench.testbed import CaseSpec, build
from verification.degrade import degrade, low_light, on_background
from verification.mrz import CHOSEN_BY_CODE_LIST, chosen_repair, parse_mrz
from verification.ocr import (
    ENGINE,
    LOOSE_BAND_SPACING,
    _Cell,
    _decide,
    _filler_read_as_letters,
    _group_bands,
    _in_runs,
    _ink_extent,
    _likeness,
    _Line,
    _look_at_names,
    _look_for_twins,
    _much_nearer,
    _padding_marks,
    _parse,
    _settle_fillers,
    _typical_likeness,
    _unlike,
    _unread_name,
    fit_fillers,
    normalise_char,
    normalise_line,
    read_mrz,
)
from verification.specimen import (
    MRZ_STYLES,
    SpecimenPerson,
    id_card_mrz,
    render_document,
    render_id_card,
    render_passport,
)

FACES = Path(__file__).parent.parent / "fixtures" / "faces"
TODAY = date(2026, 11, 22)
HOLDER = SpecimenPerson(surname="O'NEIL", given_names="JEAN-PIERRE", sex="M",
                        date_of_birth=date(1988, 3, 2), document_number="K4M7R2",
                        expiry_date=date(2031, 6, 30))


@pytest.mark.parametrize("printed,expected", [
    ("Ｌ８９８９０２", "L898902"),            # full-width forms
    ("L898902℃36UTO", "L898902C36UTO"),     # 'C3' merged into the degree-Celsius sign
    ("P<UTO ERIKSSON«ANNA", "P<UTOERIKSSON<<ANNA"),
    ("l898902c3.", "L898902C3"),            # lower case and stray punctuation
    ("", ""),
])
def test_normalise_line(printed, expected):
    assert normalise_line(printed) == expected


def test_normalise_char_drops_what_is_not_an_mrz_character():
    assert normalise_char("°") == "" and normalise_char("‹") == "<" and normalise_char("5") == "5"


def test_fit_fillers_only_changes_runs_of_filler():
    line = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
    assert fit_fillers(line, 44) == [line]
    longer = fit_fillers(line[:-3], 44)
    assert longer[0] == line  # the trailing padding is the usual miscount
    assert all(len(candidate) == 44 and candidate.replace("<", "") == line.replace("<", "")
               for candidate in longer)
    shorter = fit_fillers(line + "<<", 44)
    assert shorter[0] == line


def _fields(result) -> tuple:
    return (result.surname, result.given_names, result.document_number, result.date_of_birth,
            result.expiry_date, result.sex)


EXPECTED = ("ONEIL", "JEAN PIERRE", "K4M7R2", date(1988, 3, 2), date(2031, 6, 30), "M")


@pytest.mark.parametrize("render,fmt", [(render_passport, "TD3"), (render_id_card, "TD1")])
def test_reads_a_clean_document_exactly(render, fmt):
    page = render(HOLDER, Image.open(FACES / "biden_2.jpg"), seed=5)
    reading = read_mrz(degrade(page, "clean", 5), today=TODAY)
    assert reading.found and reading.error is None
    assert reading.result.format == fmt and reading.result.valid_check_digits
    assert _fields(reading.result) == EXPECTED
    assert reading.engine == ENGINE and reading.engine_version != "unknown"
    assert 0 < reading.confidence <= 1


@pytest.mark.parametrize("render,degradation", [(render_passport, "rotation"),
                                                (render_id_card, "perspective"),
                                                (render_passport, "low_light")])
def test_reads_a_degraded_photo(render, degradation):
    page = render(HOLDER, Image.open(FACES / "obama_1.jpg"), seed=1)
    reading = read_mrz(degrade(page, degradation, 1), today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    assert _fields(reading.result) == EXPECTED


@pytest.mark.parametrize("photo", [
    lambda: Image.open(FACES / "obama_2.jpg"),         # a face, no document
    lambda: Image.new("RGB", (800, 600), (90, 70, 50)),  # an empty table
    lambda: Image.new("RGB", (3000, 2), (255, 255, 255)),  # a sliver
])
def test_no_mrz_is_said_plainly(photo):
    reading = read_mrz(photo(), today=TODAY)
    assert not reading.found and reading.result is None
    assert reading.error.endswith(".")


@pytest.mark.parametrize("render,degradation", [(render_passport, "perspective"),
                                                (render_id_card, "clean")])
def test_reads_a_photo_taken_upside_down(render, degradation):
    page = render(HOLDER, Image.open(FACES / "biden_2.jpg"), seed=2)
    reading = read_mrz(degrade(page, degradation, 2).rotate(180), today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    assert _fields(reading.result) == EXPECTED


@pytest.mark.parametrize("render", [render_passport, render_id_card])
def test_reads_a_dim_photo_through_its_grain(render):
    # A tenth of the light with a phone sensor's grain: the print is no stronger than the noise
    # (the gate's darkest accepted photos measure like this one).
    page = render(HOLDER, Image.open(FACES / "obama_1.jpg"), seed=4)
    reading = read_mrz(low_light(on_background(page, seed=4), 0.1, seed=4), today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    assert _fields(reading.result) == EXPECTED


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 8])
def test_reads_a_bent_card_photographed_at_12_megapixels(seed):
    # A flexed card at an angle: its lines bow (boxed taller than they are apart), the zone runs
    # close to the card's edge, and the photo is 8-12 MP. On the 960 px copy the detector boxes
    # the three lines as one or two (seeds 1, 2, 4, 8): they are found on the zone's part of the
    # photo, in halves. Of seeds 0-9 of this card, 9 are read (5 without the second look).
    card = render_id_card(HOLDER, Image.open(FACES / "biden_2.jpg"), seed=seed)
    reading = read_mrz(degrade(card, "card_photo", seed), today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    assert _fields(reading.result) == EXPECTED


@pytest.mark.parametrize("render,seed", [(render_passport, 0), (render_passport, 5),
                                         (render_passport, 6), (render_passport, 7),
                                         (render_id_card, 0), (render_id_card, 2),
                                         (render_id_card, 5), (render_id_card, 6)])
def test_reads_a_photo_of_a_screen_through_its_moire(render, seed):
    # The screen's sub-pixel stripes alias into magenta and green bands across the print; read
    # in colour, the '<' runs came out as 'K', 'A' and 'S' on every one of these photos (of
    # seeds 0-7 of both layouts, 15 of 16 are read).
    page = render(HOLDER, Image.open(FACES / "obama_1.jpg"), seed=seed)
    reading = read_mrz(degrade(page, "screen_moire", seed), today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    assert _fields(reading.result) == EXPECTED


@pytest.mark.parametrize("render,width", [(render_passport, 450), (render_id_card, 500)])
def test_reads_a_small_flatbed_scan(render, width):
    page = render(HOLDER, Image.open(FACES / "obama_1.jpg"), seed=3)
    scan = page.resize((width, round(page.height * width / page.width)),
                       Image.Resampling.LANCZOS)
    reading = read_mrz(scan, today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    assert _fields(reading.result) == EXPECTED


def test_ink_extent_leaves_out_the_documents_edge_at_a_strips_end():
    # Thirty glyphs 10 px apart (line height 16), and a blot of table near each end of the
    # strip, 14 px from the print: the blots are not print; a glare gap inside the line is.
    profile = np.zeros(400)
    for k in range(30):
        profile[40 + 10 * k: 46 + 10 * k] = 5.0
    assert _ink_extent(profile, 16.0) == _ink_extent(profile.copy(), 16.0)
    begin, end = _ink_extent(profile, 16.0)
    edged = profile.copy()
    edged[:10] = 15.0
    edged[358:370] = 15.0
    assert _ink_extent(edged, 16.0) == (begin, end)
    glared = edged.copy()
    glared[150:250] = 0.0
    assert _ink_extent(glared, 16.0) == (begin, end)


def test_a_run_of_filler_read_as_letters_is_no_reading():
    # A screen photo of the held-out split: the '<' runs read as 'K' and 'A', which count as
    # '<' in a check digit, so the lines validated with a made-up name.
    misread = ("IKUTOY7Q9X93A18KKKAAAAAAAAAAAA", "7512021F2811165DKAKAAAAAAAAAA2",
               "DEKLAKCRUZKKLOKAAAAAAAAAAAAAAA")
    assert _filler_read_as_letters(misread)
    assert _parse(misread, TODAY) is None
    plain = ("I<UTOY7Q9X93A18<<<<<<<<<<<<<<<", "7512021F2811165D<<<<<<<<<<<<<2",
             "DE<LA<CRUZ<<JO<<<<<<<<<<<<<<<<")
    assert not _filler_read_as_letters(plain)
    # Doubled letters are names ('AARON', 'KAAS'); a document number may repeat anything.
    assert not _filler_read_as_letters(("P<UTOKAAS<<AARON<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
                                        "AAA111<<<4UTO7408122F1204159<<<<<<<<<<<<<<06"))
    # A name's padding read as a digit parse_mrz would take for a letter: a TD1 blurred at
    # radius 7, read as garbage that validated ('6' for 'G' in the name).
    garbage = ("I<UT01709I9341841824T666666666", "5612020M3306068UT0464664666642",
               "LICCEAICC666666666666666666666")
    assert parse_mrz(list(garbage), today=TODAY).valid_check_digits
    assert _filler_read_as_letters(garbage)
    assert _parse(garbage, TODAY) is None
    # Digits repeat in optional data (a personal number '000...'), which stays a reading.
    assert not _filler_read_as_letters(("I<UTOY7Q9X93A18000<<<<<<<<<<<<", plain[1], plain[2]))


def test_stray_marks_in_a_names_padding_are_read_as_filler():
    # A thin '<' read as 'L', 'K' or 'C' in the padding after the name: no check digit covers
    # the name, so without this the reading validates with the wrong given names.
    lines = ("I<UTOY7Q9X93A1812345<<<<<<<<<<", "5412194M3110186UTO<<<<<<<<<<<5",
             "YU<<WILHELMINA<<<<<<<<<LK<<K<<")
    cleaned, notes = _padding_marks(lines)
    assert cleaned[2] == "YU<<WILHELMINA<<<<<<<<<<<<<<<<" and cleaned[:2] == lines[:2]
    assert len(notes) == 1 and "'LKK'" in notes[0]
    # A run longer than a mark is left as read (a person sees it), and so is a name without
    # padding marks.
    long_run = ("P<UTOERIKSSON<<ANNA<<<MARIA<<<<<<<<<<<<<<<<<<", lines[1] + "<" * 14)
    assert _padding_marks(long_run) == (long_run, [])
    plain = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", lines[1] + "<" * 14)
    assert _padding_marks(plain) == (plain, [])


def test_stray_marks_in_optional_data_and_unread_cells_count_as_padding():
    # The held-out test bed's one false read (a TD2 residence card on a screen): an 'A' in the
    # name's padding beside unread cells, and one in the empty optional data. 'A' counts as '<'
    # in a check digit, so the composite check digit held with the wrong optional data.
    lines = ("IRUTOMUELLER<SCHMIDT<<ZOE<<<A<<<A??A", "K4M7R2<<<6NLD3803028<3402203<<<<?A?2")
    cleaned, notes = _padding_marks(lines)
    assert cleaned == ("IRUTOMUELLER<SCHMIDT<<ZOE<<<<<<<<<<<",
                       "K4M7R2<<<6NLD3803028<3402203<<<<<<<2")
    assert [note.split(":")[0] for note in notes] == ["name", "optional data"]
    # TD1: both optional fields; data at the start of a field is kept, marks after it are not.
    td1 = ("I<UTOY7Q9X93A18AB12<<<<<K<<<<<", "5412194M3110186UTO<<<<K<<<<<<5",
           "YU<<WILHELMINA<<<<<<<<<<<<<<<<")
    cleaned, notes = _padding_marks(td1)
    assert cleaned[0] == "I<UTOY7Q9X93A18AB12<<<<<<<<<<<"
    assert cleaned[1] == "5412194M3110186UTO<<<<<<<<<<<5" and cleaned[2] == td1[2]
    assert len(notes) == 2
    # A name holds one '<<': what follows a second one is padding too.
    bent = ("I<UTOY7Q9X93A18<<<<<<<<<<<<<<<", "5510034<2909048NLD<<<<<<<<<<<8",
            "ABERCROMBIE<FITZGERALD<<KAI<<S")
    cleaned, notes = _padding_marks(bent)
    assert cleaned[2] == "ABERCROMBIE<FITZGERALD<<KAI<<<" and len(notes) == 1
    # A personal number is data, however it is padded.
    personal = ("P<UTOERIKSSON<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<",
                "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    assert _padding_marks(personal) == (personal, [])


def test_unread_cells_followed_by_a_mark_are_no_padding():
    # A glare photo (tune split): optional data '12345' read '1???5'. Taken for '<' and a mark
    # in the padding it gave '1', and the composite check digit held by chance.
    lines = ("I<UTOZE184226B11???5<<<<<<<<<<", "5604104M2606152D<<<<<<<<<<<<<1",
             "ONEIL<<MOHAMMED<ALI<<<<<<<<<<<")
    assert _padding_marks(lines) == (lines, [])
    result = _parse(lines, date(2026, 12, 7))
    assert result is None or not result.valid_check_digits
    # Read right, the same zone validates: the check digits are not what refused it.
    assert _parse(("I<UTOZE184226B112345<<<<<<<<<<", *lines[1:]),
                  date(2026, 12, 7)).valid_check_digits
    # The padding begins at the first '<' that was read: a mark after it is still padding,
    # and the unread cells before it are left for the check digits.
    padded = ("I<UTOZE184226B11??<<<K<<<<<<<<", lines[1], lines[2])
    cleaned, notes = _padding_marks(padded)
    assert cleaned[0] == "I<UTOZE184226B11??<<<<<<<<<<<<" and len(notes) == 1


# Light OCR-B on the back of a national card (tune split of the test bed). The detector stops
# before the faint '<' runs that end every line, check digit included; the recogniser reads
# '0' as 'O' next to letters, and a '<' after a letter as 'K'.
LIGHT_CARDS = [
    (SpecimenPerson(surname="NGUYEN", given_names="WILHELMINA", sex="X", nationality="D",
                    date_of_birth=date(1992, 11, 9), document_number="C01X00T47",
                    optional_data="12345", expiry_date=date(2036, 12, 14)), 100010),
    (SpecimenPerson(surname="DE LA CRUZ", given_names="ZOË", sex="M",
                    date_of_birth=date(1964, 4, 12), document_number="AB12345",
                    expiry_date=date(2031, 1, 10)), 100030),
    (SpecimenPerson(surname="YU", given_names="", sex="F", nationality="NLD",
                    date_of_birth=date(1974, 1, 21), document_number="C01X00T47",
                    optional_data="ZE184226B", expiry_date=date(2032, 12, 20)), 100046),
]


@pytest.mark.parametrize("person,seed", LIGHT_CARDS)
def test_reads_a_light_ocrb_card_back_whose_filler_the_detector_misses(person, seed):
    document = render_document("national_td1", person, seed=seed,
                               mrz_style=MRZ_STYLES["ocrb_light"])
    reading = read_mrz(degrade(document.back, "clean", seed + 500), today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    expected = parse_mrz(list(document.lines), today=TODAY)
    assert reading.result.as_dict() | {"corrections": [], "warnings": [], "raw_lines": []} == \
        expected.as_dict() | {"corrections": [], "warnings": [], "raw_lines": []}


def test_a_strip_grown_twice_follows_the_print_it_grew_into():
    # A light OCR-B passport turned a little (the test bed's tune case rotation-005): the
    # detector stopped a dozen cells short of the second line's end. The first growth took the
    # '<' run; the second, which holds the composite check digit, was refused while its rhythm
    # was compared with the detector's end instead of with the print grown into before it.
    _assert_reads_as_printed("utopia_td3", "ocrb_light", "rotation", 103005)


def test_a_strip_grows_three_times_when_the_detector_saw_three_fifths_of_the_line():
    # A card's back photographed off a screen (the test bed's tune case screen_moire-036): in
    # the moire the detector boxed 60% of the lines, and two growths still stopped a cell short
    # of the last '<' and the composite check digit.
    _assert_reads_as_printed("national_td1", "ocrb", "screen_moire", 110036)


def _assert_reads_as_printed(layout: str, font: str, condition: str, seed: int) -> None:
    """A tune case of the test bed reads, with every field as printed."""
    case = build(CaseSpec(id=f"tune-{condition}-{seed % 1000:03d}", split="tune", layout=layout,
                          font=font, condition=condition, seed=seed), today=TODAY)
    reading = read_mrz(case.mrz_photo, today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    ignored = {"corrections": [], "warnings": [], "raw_lines": []}
    assert reading.result.as_dict() | ignored == \
        parse_mrz(list(case.mrz_lines), today=TODAY).as_dict() | ignored


def test_a_padding_every_chunk_read_as_letters_is_read_as_it_looks():
    # A light OCR-B passport photographed off a screen (tune case screen_moire-034): every
    # chunk read the name's padding as 'AAAA...' ('A' counts as '<' in a check digit), and most
    # of those cells were not read alone; each looks like the document's '<'.
    case = build(CaseSpec(id="tune-screen_moire-034", split="tune", layout="utopia_td3",
                          font="ocrb_light", condition="screen_moire", seed=110034), today=TODAY)
    reading = read_mrz(case.mrz_photo, today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    assert reading.lines == case.mrz_lines


def test_a_run_of_cells_that_look_like_filler_is_padding_a_single_one_is_not():
    assert _in_runs([False, True, True, True, False, True, True, False, True]) == \
        [False, True, True, True, False, False, False, False, False]


def test_a_letter_that_looks_like_filler_and_reads_as_nothing_alone_is_filler():
    # A light OCR-B card's document code 'I<': every chunk read 'IK', the cell looks like the
    # zone's '<', and read alone it gives nothing (a faint thin '<' does; a letter does not).
    grid = _grid(("IK", "F4"))
    fillers = [[False, True], [False, True]]
    grid[0][1].alone = ""
    grid[1][1].alone = ""
    _settle_fillers(grid, fillers, [(0, 1), (1, 1)])
    assert grid[0][1].ranked()[0] == "<"
    # A digit is left to the check digits; a cell not read alone, or read alone as a letter,
    # keeps its reading.
    assert grid[1][1].ranked()[0] == "4"
    grid = _grid(("IK", "IK"))
    grid[1][1].add("K", 0.9, alone=True)
    _settle_fillers(grid, fillers, [(0, 1), (1, 1)])
    assert [row[1].ranked()[0] for row in grid] == ["K", "K"]


def test_lines_boxed_taller_than_their_spacing_are_a_zone_only_when_stacked_loosely():
    # A small bowed card (tune case card_photo-069): the detector boxed its three MRZ lines
    # about 120 px high, 94 px apart; an MRZ's lines are 1.8-2.3 line heights apart.
    lines = [_Line((100.0, 500.0 + 94 * n), (2500.0, 500.0 + 94 * n), 120.0) for n in range(3)]
    # Stacked as an MRZ's, only the first and the third line pair up (188 px apart).
    assert _group_bands(lines) == [[lines[0], lines[2]]]
    assert _group_bands(lines, LOOSE_BAND_SPACING)[0] == lines
    # Lines as far apart as an MRZ's are a zone either way.
    spaced = [_Line(line.left, line.right, 45.0) for line in lines]
    assert _group_bands(spaced)[0] == spaced


def test_a_name_with_a_cell_read_as_nothing_is_no_reading():
    # No check digit covers a name: a letter read as nothing cannot be taken for '<'.
    td1 = ("I<UTOY7Q9X93A18<<<<<<<<<<<<<<<", "3501184M3503166NLD<<<<<<<<<<<2",
           "?1<<ZOE<<<<<<<<<<<<<<<<<<<<<<<")
    assert _unread_name(td1)
    assert _parse(td1, TODAY) is None
    assert not _unread_name((*td1[:2], "LI<<ZOE<<<<<<<<<<<<<<<<<<<<<<<"))
    # Cells read as nothing in the padding are '<', before a mark and after one.
    assert not _unread_name((*td1[:2], "LI<<ZOE<<<<<??<<<<<<<K<<<<<??<"))
    td3 = ("P<UTOERIKSSON<<ANNA?MARIA<<<<<<<<<<<<<<<<<<<",
           "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    assert _unread_name(td3)
    assert not _unread_name(("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<???<<<<<", td3[1]))


def test_a_card_line_whose_faint_first_letter_the_grid_missed_is_no_false_read():
    # A bent card photo in light OCR-B (tune case card_photo-066): the name line's grid began a
    # cell late, after the faint 'L' of 'LI<<ZOE', and '1<<Z0E' validated as the surname 'I'.
    # Aligned with the other two lines, the 'L' is a cell read as nothing, which is no name.
    case = build(CaseSpec(id="tune-card_photo-066", split="tune", layout="national_td1",
                          font="ocrb_light", condition="card_photo", seed=109066), today=TODAY)
    reading = read_mrz(case.mrz_photo, today=TODAY)
    assert not (reading.found and reading.result.valid_check_digits) or \
        reading.result.surname == "LI"


def test_a_surnames_last_letter_read_as_filler_is_read_again():
    # Narrow OCR-B: the first reading took KOWALCZYK's last K for '<' with nothing else in
    # doubt, and a name carries no check digit; the cell does not look like the document's '<'.
    person = SpecimenPerson(surname="KOWALCZYK", given_names="", sex="M", nationality="NLD",
                            date_of_birth=date(1945, 3, 7), document_number="L898902C3",
                            optional_data="A1B2", expiry_date=date(2031, 1, 1))
    document = render_document("republic_td3", person, seed=100047,
                               mrz_style=MRZ_STYLES["ocrb_narrow"])
    reading = read_mrz(degrade(document.front, "clean", 100047), today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    assert reading.result.surname == "KOWALCZYK"


def _grid(lines: tuple[str, ...]) -> list[list[_Cell]]:
    grid = []
    for line in lines:
        row = []
        for char in line:
            cell = _Cell()
            for _ in range(3):
                cell.add(char, 0.9)
            row.append(cell)
        grid.append(row)
    return grid


def test_the_check_digits_take_the_look_alike_and_no_change_they_did_not_ask_for():
    lines = ("I<UTOCO1X00T47812345<<<<<<<<<<", "9211096<3612141D<<<<<<<<<<<<<7",
             "NGUYEN<<WILHELMINA<<<<<<<<<<<<")
    grid = _grid(lines)
    grid[0][6].twin = "0"           # the 'O' looks like the zone's '0's
    grid[0][1].add("K", 0.3)        # 'I<' once read 'IK': K counts as '<' in a check digit
    grid[0][22].add("5", 0.3)       # a mark in the padding, taken for '<' either way
    assert not _parse(lines, TODAY).valid_check_digits
    attempt = _decide(grid, TODAY)
    assert attempt.result.valid_check_digits
    assert attempt.lines[0] == "I<UTOC01X00T47812345<<<<<<<<<<"
    assert attempt.result.document_number == "C01X00T47"
    assert attempt.result.document_type == "I"
    assert "'O' read as '0', the look-alike the printed character resembles" in \
        attempt.result.corrections[0]
    # Without the look, no reading makes the check digits agree: nothing is chosen.
    grid[0][6].twin = None
    assert not _decide(grid, TODAY).result.valid_check_digits


def _ring(width: int, seed: int) -> np.ndarray:
    patch = np.full((48, 24), 230.0, np.float32)
    cv2.ellipse(patch, (12, 24), (width, 15), 0, 0, 360, 30.0, 3)
    return patch + np.random.default_rng(seed).normal(0, 4, patch.shape).astype(np.float32)


def test_a_cell_unlike_the_zones_sure_cells_of_its_reading_is_offered_its_twin():
    # No 'O' is surely read anywhere in the zone (no O in the country, the name or the sex), so
    # the document number's 'O' read as '0' can only be told by how unlike the dates' '0's it
    # looks.
    lines = ("I<UTAC01X00T47812345<<<<<<<<<<", "9001006<3010041M<<<<<<<<<<<<<7",
             "NGUYEN<<WILHELMINA<<<<<<<<<<<<")
    grid = _grid(lines)
    blank = np.full((48, 24), 230.0, np.float32)
    patches = [[blank + np.random.default_rng(100 * n + k).normal(0, 4, blank.shape)
                .astype(np.float32) for k in range(30)] for n in range(3)]
    for n, line in enumerate(lines):
        for k, char in enumerate(line):
            if char == "0":
                patches[n][k] = _ring(6, 100 * n + k)   # OCR-B's narrow zero
    patches[0][6] = _ring(10, 6)                        # the wider letter O, read as '0'
    strips = [SimpleNamespace(pitch=24.0)]
    _look_for_twins(strips, grid, patches)
    assert grid[0][6].twin == "O"
    assert all(grid[0][k].twin is None for k in (9, 10))  # the zeros of the number look as read
    # Where the cell looks like the dates' zeros, nothing is offered.
    grid = _grid(lines)
    patches[0][6] = _ring(6, 6)
    _look_for_twins(strips, grid, patches)
    assert all(cell.twin is None for row in grid for cell in row)


def test_on_blurred_print_a_look_alike_much_nearer_its_twin_is_offered_it():
    # Tune case blur-039: the cells of 'ZZ' read '22' matched the zone's sure 'Z' at 0.998 and
    # its sure '2' at 0.962, within TWIN_MARGIN of each other; the true '2' after them matched
    # them at 0.954 and 0.997.
    assert _much_nearer(0.998, 0.962)
    assert not _much_nearer(0.954, 0.997)
    # A right reading whose twin is a little nearer on a dim photo stays as read (ratio 1.5).
    assert not _much_nearer(0.842, 0.760)
    # A hair's difference on a sharp zone is no evidence, whatever the ratio.
    assert not _much_nearer(0.9999, 0.9995)


def test_a_cell_far_less_alike_than_two_prints_of_one_character_is_offered_its_twin():
    # Tune case blur-000: a blurred 'O' read as '0' matched the zone's one sure '0' at 0.929,
    # where two prints of one character typically match at 0.994: 12 times the distance.
    assert _unlike(0.929, 0.994)
    assert not _unlike(0.965, 0.994)   # six times: as far as a right reading may be
    assert not _unlike(0.5, 1.0)       # nothing typical was measured: nothing is marked
    assert _unlike(0.99, 0.99999)      # a sharp zone: the floor counts, not a hair's difference
    assert not _unlike(0.995, 0.99999)


def test_what_is_typical_between_prints_of_one_character_leaves_out_fillers_and_singles():
    zeros = [_ring(6, seed) for seed in range(3)]
    bar = np.full((48, 24), 230.0, np.float32)
    bar[22:26, 4:20] = 30.0
    patches = [[*zeros, bar, bar.copy(), _ring(10, 9)]]
    sure = {"0": [(0, 0), (0, 1), (0, 2)], "<": [(0, 3), (0, 4)], "O": [(0, 5)]}
    typical = _typical_likeness(patches, sure, 2)
    assert typical == pytest.approx(
        np.mean([_likeness(zeros[a], zeros[b], 2) for a in range(3) for b in range(3) if a != b]))
    assert typical < 1.0
    assert _typical_likeness(patches, {"O": [(0, 5)], "<": [(0, 3), (0, 4)]}, 2) == 1.0


def _glyph(char: str, seed: int) -> np.ndarray:
    """A cell's pixels: `char` drawn, softened, with a little noise."""
    patch = np.full((48, 24), 230, np.uint8)
    cv2.putText(patch, char, (1, 34), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 30, 2)
    patch = cv2.GaussianBlur(patch.astype(np.float32), (0, 0), 1.5)
    return patch + np.random.default_rng(seed).normal(0, 2, patch.shape).astype(np.float32)


@pytest.mark.parametrize(("drawn", "surname"), [("M", "MUELLER"), ("N", "NUELLER")])
def test_a_names_letter_read_two_ways_is_the_one_it_looks_like_elsewhere(drawn, surname):
    # No check digit covers a name. The first letter was read 'N' twice and 'M' once; the only
    # 'M' elsewhere is in the document number, which the check digits cover, and no 'N' is
    # printed anywhere else.
    person = SpecimenPerson(surname="MUELLER", given_names="JO", document_number="K4M7R2",
                            date_of_birth=date(1990, 1, 2), expiry_date=date(2031, 5, 6))
    lines = id_card_mrz(person)
    grid = _grid(lines)
    cell = grid[2][0] = _Cell()
    for char, confidence in (("N", 0.6), ("N", 0.6), ("M", 0.4)):
        cell.add(char, confidence)
    patches = [[_glyph(char, 100 * n + k) for k, char in enumerate(line)]
               for n, line in enumerate(lines)]
    patches[2][0] = _glyph(drawn, 999)
    _look_at_names([SimpleNamespace(pitch=24.0)], grid, patches)
    attempt = _decide(grid, TODAY)
    assert attempt.result.valid_check_digits
    assert attempt.result.surname == surname
    noted = [note for note in attempt.result.corrections if "the letter it looks like" in note]
    # A cell that looks like the number's 'M' takes it, and says so; one that does not (an
    # 'N' drawn: far from the 'M', and no 'N' to compare it with) keeps what most readings said.
    assert noted == (["line 3 position 1: read as 'N' or 'M'; 'M' taken, the letter it looks "
                      "like elsewhere in the zone"] if drawn == "M" else [])


@pytest.mark.parametrize("spec", [
    # A blurred 'MOHAMMED' read 'XOHARNED' and validated: the three 'M' were read two or three
    # ways each, and look like the document number's 'M' (_look_at_names).
    CaseSpec(id="tune-blur-027", split="tune", layout="utopia_td3", font="ocrb",
             condition="blur", seed=101027),
    # A small card bowed more: its MRZ lines were boxed taller than their spacing, and were
    # stacked only loosely (LOOSE_BAND_SPACING).
    CaseSpec(id="tune-card_photo-069", split="tune", layout="utopia_td1", font="ocrb_heavy",
             condition="card_photo", seed=109069),
    # A light OCR-B card's document code 'I<' read 'IK' in every chunk and validated.
    CaseSpec(id="tune-card_photo-036", split="tune", layout="national_td1", font="ocrb_light",
             condition="card_photo", seed=109036),
    # '9ZZ2' blurred (Gaussian): every chunk read '9222', and the look told the Z's apart only
    # by distance ratios (above).
    CaseSpec(id="tune-blur-039", split="tune", layout="utopia_td3", font="ocrb",
             condition="blur", seed=101039),
    # A bowed card at 8-12 MP: the detector boxed its three curved MRZ lines, but scored them
    # over their rectangles, half background, and dropped them (DETECT_SCORE_MODE).
    CaseSpec(id="tune-card_photo-090", split="tune", layout="national_td1", font="ocrb_narrow",
             condition="card_photo", seed=109090),
    # Light OCR-B photographed off a screen: in the colour moire the detector found no MRZ line
    # at all; on a grey copy it finds both (the grey second look of read_mrz_sides).
    CaseSpec(id="tune-screen_moire-042", split="tune", layout="utopia_td3", font="ocrb_light",
             condition="screen_moire", seed=110042),
    # The same off a screen: in colour the detector boxed the printed dates and authority
    # lines, and only part of each MRZ line, so the MRZ band was ranked below them.
    CaseSpec(id="tune-screen_moire-006", split="tune", layout="utopia_td3", font="ocrb_light",
             condition="screen_moire", seed=110006),
])
def test_photos_the_reader_missed_are_read_right(spec):
    case = build(spec, today=TODAY)
    reading = read_mrz(case.mrz_photo, today=TODAY)
    assert reading.found and reading.result.valid_check_digits
    got = reading.result.as_dict()
    assert all(got[key] == case.expected[key] for key in case.expected)


def test_a_document_number_with_a_filler_inside_is_no_reading():
    # '9ZZ2<<<<<' read '97Z2<4<<<': its check digit passes by chance, the composite with it
    # (the composite weighs the number as its own check digit does).
    lines = ("P<UTOOESTERGARD<<JO<<<<<<<<<<<<<<<<<<<<<<<<<",
             "97Z2<4<<<7UTO5509210M2806262A1B2<<<<<<<<<<86")
    assert parse_mrz(list(lines), today=TODAY).valid_check_digits
    assert _parse(lines, TODAY) is None
    assert _parse((lines[0], lines[1].replace("97Z2<4<<<", "9ZZ2<<<<<")), TODAY) \
        .valid_check_digits


def test_a_nationality_that_is_no_state_is_no_reading_and_the_one_that_is_is_chosen():
    # A glare photo of a light OCR-B card read 'NLD' as 'ZLD': no check digit covers the
    # nationality, so the reading validated with it.
    lines = ("I<UTOY7Q9X93A18<<<<<<<<<<<<<<<", "8311173F2710121ZLD<<<<<<<<<<<8",
             "YU<<JO<<<<<<<<<<<<<<<<<<<<<<<<")
    assert _parse(lines, TODAY, codes=False).valid_check_digits
    assert _parse(lines, TODAY) is None
    grid = _grid(lines)
    assert _decide(grid, TODAY).result is None   # nothing else was read there: no reading
    grid[1][15].add("N", 0.9)                     # another chunking read the 'N'
    grid[1][15].add("Z", 0.9)
    attempt = _decide(grid, TODAY)
    assert attempt.result.nationality == "NLD" and attempt.result.valid_check_digits
    assert attempt.result.corrections == [
        f"line 2 position 16: 'Z' read as 'N', another reading of the recogniser "
        f"({CHOSEN_BY_CODE_LIST})"]
    assert chosen_repair(attempt.result.corrections[0])


def test_a_name_holding_a_digit_no_letter_looks_like_is_no_reading():
    # '<' read as '4' after the last given name: no check digit covers a name.
    lines = ("IRUTOONEIL<<MARIE<CLAIRE<ANNE<4<<<<<", "ZE184226B1NLD6906285M300707712345<<3")
    assert _parse(lines, TODAY) is None
    assert _parse((lines[0].replace("<4<", "<<<"), lines[1]), TODAY).valid_check_digits


def test_a_reading_with_a_small_share_of_the_votes_is_not_tried():
    # The '<' after a short document number, read once as '4': with it the document number's
    # check digit passes by chance (9ZZ2 and 92224 both give 7).
    lines = ("P<UTONGUYEN<<MARIE<CLAIRE<ANNE<<<<<<<<<<<<<<",
             "9222<<<<<7NLD5812048F2812162<<<<<<<<<<<<<<<4")
    grid = _grid(lines)
    grid[1][4].add("4", 0.3)
    assert _parse((lines[0], lines[1][:4] + "4" + lines[1][5:]), TODAY).valid_check_digits
    assert not _decide(grid, TODAY).result.valid_check_digits
    grid[1][4].add("4", 1.5)  # read so more often, it is tried
    assert _decide(grid, TODAY).result.valid_check_digits
