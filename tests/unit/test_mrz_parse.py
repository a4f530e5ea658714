"""The MRZ parser: ICAO 9303 specimens, round trips, tampering, and OCR look-alike repairs."""

import json
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.unit.test_mrz import ANNA
from verification.mrz import (
    CHECKABLE_TWINS,
    MrzError,
    check_digit,
    parse_mrz,
    td1_lines,
    td3_lines,
)

TODAY = date(2025, 6, 1)
ANNA_FIELDS = ANNA
# ICAO 9303 visa specimen: same holder, stateless (XXX), born 1940, visa valid to (19)96.
VISA_FIELDS = {**ANNA_FIELDS, "nationality": "XXX", "date_of_birth": date(1940, 9, 7),
               "document_type": "V", "document_number": "L8988901C",
               "expiry_date": date(2096, 12, 10)}  # two-digit expiry years are read as 20xx

SPECIMENS = {
    "TD3": (
        ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
         "L898902C36UTO7408122F1204159ZE184226B<<<<<10"),
        {**ANNA_FIELDS, "document_type": "P", "document_number": "L898902C3",
         "optional_data": "ZE184226B", "optional_data_2": None},
        {"document_number", "date_of_birth", "expiry_date", "optional_data", "composite"},
    ),
    "TD1": (
        ("I<UTOD231458907<<<<<<<<<<<<<<<",
         "7408122F1204159UTO<<<<<<<<<<<6",
         "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"),
        {**ANNA_FIELDS, "document_type": "I", "document_number": "D23145890",
         "optional_data": "", "optional_data_2": ""},
        {"document_number", "date_of_birth", "expiry_date", "composite"},
    ),
    "TD2": (
        ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
         "D231458907UTO7408122F1204159<<<<<<<6"),
        {**ANNA_FIELDS, "document_type": "I", "document_number": "D23145890",
         "optional_data": "", "optional_data_2": None},
        {"document_number", "date_of_birth", "expiry_date", "composite"},
    ),
    "MRVA": (
        ("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
         "L8988901C4XXX4009078F96121096ZE184226B<<<<<<"),
        {**VISA_FIELDS, "optional_data": "6ZE184226B", "optional_data_2": None},
        {"document_number", "date_of_birth", "expiry_date"},
    ),
    "MRVB": (
        ("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
         "L8988901C4XXX4009078F9612109<<<<<<<<"),
        {**VISA_FIELDS, "optional_data": "", "optional_data_2": None},
        {"document_number", "date_of_birth", "expiry_date"},
    ),
}


def parse(lines, **kwargs):
    """parse_mrz with a fixed 'today' for the birth-date century."""
    return parse_mrz(lines, today=TODAY, **kwargs)


def assert_fields(result, expected: dict) -> None:
    """Every expected field has the expected value."""
    assert {name: getattr(result, name) for name in expected} == expected


# --- ICAO 9303 specimens ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", SPECIMENS)
def test_icao_specimens(fmt):
    lines, fields, checks = SPECIMENS[fmt]
    result = parse(list(lines))
    assert result.format == fmt
    assert_fields(result, fields)
    assert result.checks == dict.fromkeys(checks, True)
    assert result.valid_check_digits
    assert result.corrections == [] and result.warnings == []
    assert result.raw_lines == lines


def test_specimen_check_digits_by_hand():
    assert check_digit("L898902C3") == "6" and check_digit("ZE184226B<<<<<") == "1"
    assert check_digit("L8988901C") == "4"
    assert check_digit("400907") == "8" and check_digit("961210") == "9"


def test_one_string_with_newlines_and_surrounding_space():
    lines, fields, _ = SPECIMENS["TD1"]
    result = parse("\n  " + "\n".join(lines) + "  \n\n")
    assert_fields(result, fields)
    assert result.valid_check_digits


def test_a_line_one_character_long_is_cut_with_a_warning():
    # The MRV-B specimen's first line with one filler too many, as OCR may return it.
    lines, fields, _ = SPECIMENS["MRVB"]
    result = parse([lines[0] + "<", lines[1]])
    assert result.format == "MRVB"
    assert_fields(result, fields)
    assert result.valid_check_digits
    assert result.warnings == ["line 1 had 37 characters, not 36: cut at the end"]


def test_a_line_two_characters_short_is_padded_with_a_warning():
    lines, fields, _ = SPECIMENS["TD3"]
    result = parse([lines[0][:-2], lines[1]])
    assert_fields(result, fields)
    assert result.valid_check_digits
    assert result.warnings == ["line 1 had 42 characters, not 44: padded with '<' at the end"]


def test_td1_long_document_number():
    number = "D23145890734"
    line1, line2, line3 = td1_lines(document_number=number, optional_data="AB12", **ANNA)
    assert line1 == "I<UTOD23145890<734" + check_digit(number) + "<AB12<<<<<<"
    result = parse([line1, line2, line3])
    assert result.format == "TD1"
    assert result.document_number == number
    assert result.optional_data == "AB12"
    assert result.checks == dict.fromkeys(
        ["document_number", "date_of_birth", "expiry_date", "composite"], True)
    assert result.valid_check_digits


def test_td2_long_document_number():
    number = "D23145890734"
    line2 = "D23145890<UTO7408122F1204159" + ("734" + check_digit(number)).ljust(7, "<")
    line2 += check_digit(line2[0:10] + line2[13:20] + line2[21:35])
    result = parse(["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", line2])
    assert result.format == "TD2"
    assert result.document_number == number
    assert result.optional_data == ""
    assert result.valid_check_digits


def test_long_number_without_its_check_digit_fails():
    line1 = "I<UTOD23145890<<<<<<<<<<<<<<<<"
    lines = SPECIMENS["TD1"][0]
    result = parse([line1, lines[1], lines[2]])
    assert result.checks["document_number"] is False
    assert not result.valid_check_digits
    assert "document number: the check digit is missing" in result.warnings


def test_optional_data_filled_in_with_a_filler_check_digit_fails():
    line2 = SPECIMENS["TD3"][0][1]
    result = parse([SPECIMENS["TD3"][0][0], line2[:42] + "<" + line2[43]])
    assert result.checks["optional_data"] is False
    assert not result.valid_check_digits


@pytest.mark.parametrize("yymmdd,born", [
    ("740812", date(1974, 8, 12)),
    ("200229", date(2020, 2, 29)),
    ("250601", date(2025, 6, 1)),   # born today
    ("250602", date(1925, 6, 2)),   # tomorrow in 2025 is impossible: 1925
    ("000229", date(2000, 2, 29)),
])
def test_birth_year_pivot(yymmdd, born):
    line1, line2 = td3_lines(document_number="L898902C3", **ANNA)
    line2 = line2[:13] + yymmdd + check_digit(yymmdd) + line2[20:]
    assert parse([line1, line2]).date_of_birth == born


def test_an_impossible_date_is_none_with_a_warning():
    line1, line2 = td3_lines(document_number="L898902C3", **ANNA)
    line2 = line2[:21] + "121315" + check_digit("121315") + line2[28:]
    result = parse([line1, line2])
    assert result.expiry_date is None
    assert result.checks["expiry_date"] is True
    assert "expiry date: '121315' is not a date" in result.warnings


def test_unspecified_sex_and_short_country_codes():
    lines = td3_lines(**{**ANNA, "issuing_country": "D", "nationality": "D", "sex": "X"},
                      document_number="C01X00T47")
    result = parse(list(lines))
    assert (result.issuing_country, result.nationality, result.sex) == ("D", "D", "X")
    assert result.valid_check_digits


def test_as_dict_is_json_safe():
    result = parse(list(SPECIMENS["TD3"][0]))
    data = json.loads(json.dumps(result.as_dict()))
    assert data["date_of_birth"] == "1974-08-12" and data["expiry_date"] == "2012-04-15"
    assert {key: data[key] for key in ("document_type", "issuing_country", "surname",
                                       "given_names", "document_number", "nationality",
                                       "sex", "valid_check_digits")} == {
        "document_type": "P", "issuing_country": "UTO", "surname": "ERIKSSON",
        "given_names": "ANNA MARIA", "document_number": "L898902C3", "nationality": "UTO",
        "sex": "F", "valid_check_digits": True,
    }
    assert data["raw_lines"] == list(SPECIMENS["TD3"][0])


def test_result_is_frozen():
    result = parse(list(SPECIMENS["TD3"][0]))
    with pytest.raises(AttributeError):
        result.surname = "SMITH"


# --- Not an MRZ ------------------------------------------------------------------------------


@pytest.mark.parametrize("text,message", [
    ("", "expected 2 or 3 lines, got 0"),
    ("hello world", "expected 2 or 3 lines, got 1"),
    ("a\nb\nc\nd", "expected 2 or 3 lines, got 4"),
    ("hello\nworld", "2 lines of lengths 5, 5 match no format"),
    ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6",
     "2 lines of lengths 44, 36 match no format"),
    ("P" * 30 + "\n" + "P" * 30, "2 lines of lengths 30, 30 match no format"),
    ("3" * 44 + "\n" + "4" * 44, "the document code '33' is not a letter"),
    ("Dear customer, thank you for your letter (ref. 42)\nWe have received it, "
     "please wait; regards!", "characters outside A-Z, 0-9 and '<'"),
])
def test_garbage_is_refused(text, message):
    with pytest.raises(MrzError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_mrz_error_is_a_value_error():
    assert issubclass(MrzError, ValueError)


# --- OCR look-alikes -------------------------------------------------------------------------


def test_a_document_code_read_as_the_digit_its_letter_looks_like_is_repaired():
    lines = SPECIMENS["TD1"][0]
    result = parse(["1" + lines[0][1:], *lines[1:]])
    assert result.document_type == "I" and result.valid_check_digits
    assert result.corrections == ["document code: 1< -> I< ('1'->'I' at 1; letters only)"]
    # '8' looks like 'B', which begins no document code (A, C or I, P, V): no MRZ.
    with pytest.raises(MrzError, match="the document code '8<' is not a letter"):
        parse(["8" + lines[0][1:], *lines[1:]])


def test_letter_o_in_a_date_is_read_as_zero():
    line1, line2 = SPECIMENS["TD3"][0]
    result = parse([line1, line2.replace("7408122", "74O8122")])
    assert result.date_of_birth == date(1974, 8, 12)
    assert result.valid_check_digits
    assert result.corrections == [
        "date of birth: 74O8122 -> 7408122 ('O'->'0' at 3; digits only, check digit agrees)"
    ]


def test_letters_in_a_date_and_its_check_digit():
    line1, line2 = SPECIMENS["TD3"][0]
    result = parse([line1, line2.replace("1204159", "I2O4IS9")])
    assert result.expiry_date == date(2012, 4, 15)
    assert result.valid_check_digits and len(result.corrections) == 1


def test_a_date_repair_the_check_digit_rejects_is_not_made():
    line1, line2 = SPECIMENS["TD3"][0]
    result = parse([line1, line2.replace("7408122", "74O8123")])  # the check digit is wrong too
    assert result.date_of_birth is None
    assert result.corrections == []
    assert result.checks["date_of_birth"] is False


def test_letter_o_in_a_document_number_resolved_by_its_check_digit():
    line1, line2 = td3_lines(document_number="C4X7093A7", **ANNA)
    result = parse([line1, line2.replace("C4X7093A7", "C4X7O93A7")])
    assert result.document_number == "C4X7093A7"
    assert result.valid_check_digits
    assert result.corrections == [
        "document number: C4X7O93A75 -> C4X7093A75 "
        "('O'->'0' at 5; the only reading its check digit accepts)"
    ]


def test_zero_read_for_letter_o_in_a_document_number():
    line1, line2 = td3_lines(document_number="AX7CDOTYR", **ANNA)
    result = parse([line1, line2.replace("AX7CDOTYR", "AX7CD0TYR")])
    assert result.document_number == "AX7CDOTYR"
    assert result.valid_check_digits


def test_two_valid_readings_stay_unrepaired_and_invalid():
    # 'X004370T3' (check digit 5) read as 'XO04370T3': that fails, but two look-alike readings
    # pass, the true one and 'XO0437OT3', so neither is chosen.
    line1, line2 = td3_lines(document_number="X004370T3", **ANNA)
    assert line2[9] == "5"
    read = "XO04370T3"
    assert check_digit(read) != "5"
    assert check_digit("X004370T3") == check_digit("XO0437OT3") == "5"
    result = parse([line1, read + line2[9:]])
    assert result.document_number == read
    assert result.checks["document_number"] is False
    assert not result.valid_check_digits
    assert result.corrections == []
    assert "document number: 2 look-alike readings pass the check digit; not repaired" in (
        result.warnings)


def test_a_field_whose_check_digit_passes_is_not_changed():
    # 'XO0437OT3' passes its check digit as read, although 'X004370T3' would pass too.
    line1, line2 = td3_lines(document_number="XO0437OT3", **ANNA)
    result = parse([line1, line2])
    assert result.document_number == "XO0437OT3"
    assert result.valid_check_digits
    assert result.corrections == []


def test_the_specimen_number_with_letter_o_among_digits():
    line1, line2 = SPECIMENS["TD3"][0]
    result = parse([line1, line2.replace("L898902C3", "L8989O2C3")])
    assert result.document_number == "L898902C3"
    assert result.valid_check_digits


def test_too_many_look_alikes_are_left_alone():
    line1, line2 = td3_lines(document_number="707070707", **ANNA)
    result = parse([line1, line2.replace("707070707", "7O7O7O7O7")])  # four suspect O's
    assert result.document_number == "7O7O7O7O7"
    assert not result.valid_check_digits
    assert "document number: too many look-alike characters to repair" in result.warnings


def test_a_look_alike_that_fits_its_neighbours_is_not_swapped():
    # 'A8347' read for 'AB347': the only reading that passes swaps the '8', but a digit among
    # digits is not suspect, and an unsuspected swap could as well hide a different misread.
    line1, line2 = td3_lines(document_number="L898902C3", optional_data="AB347", **ANNA)
    result = parse([line1, line2.replace("AB347", "A8347")])
    assert result.optional_data == "A8347"
    assert not result.valid_check_digits
    assert result.corrections == []


def test_look_alike_in_optional_data():
    line1, line2 = td3_lines(document_number="L898902C3", optional_data="XY4713", **ANNA)
    result = parse([line1, line2.replace("XY4713", "XY47I3")])
    assert result.optional_data == "XY4713"
    assert result.valid_check_digits
    assert result.corrections == [
        "optional data: XY47I3<<<<<<<<2 -> XY4713<<<<<<<<2 "
        "('I'->'1' at 5; the only reading its check digit accepts)"
    ]


def test_repairs_are_undone_when_the_composite_disagrees():
    line1, line2, line3 = td1_lines(document_number="C4X7093A7", optional_data_2="XYZ", **ANNA)
    # The number is repairable by its own check digit, but the optional data 2 (protected only
    # by the composite) is damaged too: the composite disagrees, so nothing is repaired.
    line1 = line1.replace("C4X7093A7", "C4X7O93A7")
    result = parse([line1, line2.replace("XYZ", "XYA"), line3])
    assert result.document_number == "C4X7O93A7"
    assert result.corrections == []
    assert not result.valid_check_digits
    assert any("undone" in warning for warning in result.warnings)


def test_country_code_zero_is_letter_o():
    line1, line2 = SPECIMENS["TD3"][0]
    result = parse([line1.replace("P<UTO", "P<UT0"), line2.replace("C36UTO", "C36UT0")])
    assert result.issuing_country == result.nationality == "UTO"
    assert result.valid_check_digits
    assert result.corrections == [
        "issuing country: UT0 -> UTO ('0'->'O' at 3; letters only)",
        "nationality: UT0 -> UTO ('0'->'O' at 3; letters only)",
    ]


@pytest.mark.parametrize("read_as", ["0<<", "O<<"])
def test_a_lone_country_letter_read_as_zero_or_o_is_germany(read_as):
    lines = td3_lines(**{**ANNA, "issuing_country": "D", "nationality": "D"},
                      document_number="C01X00T47")
    line1, line2 = lines
    result = parse([line1[:2] + read_as + line1[5:], line2[:10] + read_as + line2[13:]])
    assert (result.issuing_country, result.nationality) == ("D", "D")
    assert result.valid_check_digits


def test_digits_in_names_are_letters():
    line1, line2 = SPECIMENS["TD3"][0]
    result = parse([line1.replace("ERIKSSON", "ER1K55ON"), line2])
    assert result.surname == "ERIKSSON"
    assert len(result.corrections) == 1


def test_k_in_name_fillers_and_sex_is_a_filler():
    line1, line2 = SPECIMENS["TD3"][0]
    line1 = "P<UTOERIKSSON<<ANNA<MARIA<<K<<<<<KK<<<<<<<K"
    result = parse([line1, line2.replace("2F12", "2K12")])
    assert (result.surname, result.given_names, result.sex) == ("ERIKSSON", "ANNA MARIA", "X")
    assert len(result.corrections) == 2


def test_k_that_may_be_part_of_a_name_is_kept():
    line1, line2 = SPECIMENS["TD3"][0]
    line1 = "P<UTOERIKSSON<<ANNA<K<<<<<<<<<<<<<<<<<<<<<<"
    assert parse([line1, line2]).given_names == "ANNA K"
    line1 = "P<UTOERIKSSON<<ANNAK<<<<<<<<<<<<<<<<<<<<<<<"
    assert parse([line1, line2]).given_names == "ANNAK"


def test_guillemets_spaces_and_lower_case():
    lines, fields, _ = SPECIMENS["TD1"]
    result = parse([lines[0].replace("<<<<", "««««").lower(), lines[1],
                    lines[2].replace("<<", "  ", 1)])
    assert_fields(result, fields)
    assert result.valid_check_digits
    assert result.corrections == ["line 1: '«' read as '<'", "line 3: spaces read as '<'"]


def test_ocr_words_split_by_spaces_are_joined():
    lines, fields, _ = SPECIMENS["TD3"]
    result = parse([lines[0], "L898902C36 UTO 7408122 F 1204159 ZE184226B<<<<<10"])
    assert_fields(result, fields)
    assert result.corrections == ["line 2: spaces removed"]


def test_look_alike_composite_check_digit():
    line1, line2 = SPECIMENS["TD3"][0]
    result = parse([line1, line2[:43] + "O"])
    assert result.valid_check_digits
    assert result.corrections == ["composite check digit: 'O' read as '0'"]


def test_g_and_6_k_and_filler_are_never_tried_in_alphanumeric_fields():
    # Their values differ by 10 and 20: no check digit can tell them apart.
    assert (check_digit("AB6") == check_digit("ABG")) and (check_digit("A<") == check_digit("AK"))
    assert not {"G", "6", "K", "<"} & set(CHECKABLE_TWINS)


# --- Round trips and tampering ---------------------------------------------------------------

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MRZ_CHARS = ALNUM + "<"
WORDS = st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6),
                 min_size=1, max_size=2).map(" ".join)
PERSON = st.fixed_dictionaries({
    "issuing_country": st.sampled_from(["UTO", "D", "NLD", "GBR"]),
    "surname": WORDS,
    "given_names": st.one_of(st.just(""), WORDS),
    "nationality": st.sampled_from(["UTO", "D", "FRA", "XXX"]),
    "date_of_birth": st.dates(min_value=date(1925, 6, 2), max_value=TODAY),
    "sex": st.sampled_from(["M", "F", "X"]),
    "expiry_date": st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
})
TD3_DOCUMENTS = st.fixed_dictionaries({
    "document_type": st.sampled_from(["P", "PD", "PO"]),
    "document_number": st.text(alphabet=ALNUM, min_size=1, max_size=9),
    "optional_data": st.text(alphabet=ALNUM, max_size=14),
}).flatmap(lambda doc: PERSON.map(lambda person: {**person, **doc}))


@st.composite
def td1_documents(draw):
    """Fields for td1_lines, long document numbers included."""
    number = draw(st.text(alphabet=ALNUM, min_size=1, max_size=12))
    room = 15 if len(number) <= 9 else 15 - (len(number) - 9) - 2
    return {
        **draw(PERSON),
        "document_type": draw(st.sampled_from(["I", "ID", "AC", "C"])),
        "document_number": number,
        "optional_data": draw(st.text(alphabet=ALNUM, max_size=room)),
        "optional_data_2": draw(st.text(alphabet=ALNUM, max_size=11)),
    }


FIELDS = ("document_type", "issuing_country", "surname", "given_names", "document_number",
          "nationality", "date_of_birth", "sex", "expiry_date", "optional_data")


def expected_fields(doc: dict) -> dict:
    """What the parser should read back from the builder's input."""
    return {name: doc[name] for name in FIELDS}


@settings(max_examples=200, deadline=None)
@given(TD3_DOCUMENTS)
def test_td3_round_trip(doc):
    result = parse(list(td3_lines(**doc)))
    assert result.format == "TD3"
    assert_fields(result, expected_fields(doc))
    assert result.valid_check_digits
    expected_checks = {"document_number", "date_of_birth", "expiry_date", "composite"}
    assert set(result.checks) == expected_checks | ({"optional_data"} if doc["optional_data"]
                                                    else set())
    assert result.corrections == [] and result.warnings == []


@settings(max_examples=200, deadline=None)
@given(td1_documents())
def test_td1_round_trip(doc):
    result = parse(list(td1_lines(**doc)))
    assert result.format == "TD1"
    assert_fields(result, {**expected_fields(doc), "optional_data_2": doc["optional_data_2"]})
    assert result.valid_check_digits
    assert set(result.checks) == {"document_number", "date_of_birth", "expiry_date", "composite"}
    assert result.corrections == [] and result.warnings == []


def value(char: str) -> int:
    """ICAO 9303 character value."""
    return 0 if char == "<" else int(char, 36)


# (attribute, label in corrections, line index, start, end) of each check-digit-protected field.
TD3_PROTECTED = [("document_number", "document number", 1, 0, 9),
                 ("date_of_birth", "date of birth", 1, 13, 19),
                 ("expiry_date", "expiry date", 1, 21, 27),
                 ("optional_data", "optional data", 1, 28, 42)]


def td1_protected(line1: str) -> list[tuple[str, str, int, int, int]]:
    """The protected fields of a TD1 zone; a long number reaches into the optional data."""
    end = 14 if line1[14] != "<" else 15 + line1[15:].index("<") - 1
    return [("document_number", "document number", 0, 5, end),
            ("date_of_birth", "date of birth", 1, 0, 6),
            ("expiry_date", "expiry date", 1, 8, 14)]


def assert_tampering_caught(lines, fields, data):
    """Change one character of one protected field; it must not pass as another valid value."""
    attribute, label, line_no, start, end = data.draw(st.sampled_from(fields))
    position = data.draw(st.integers(min_value=start, max_value=end - 1))
    line = lines[line_no]
    old = line[position]
    new = data.draw(st.sampled_from(MRZ_CHARS.replace(old, "")))
    alphanumeric = attribute in ("document_number", "optional_data")
    if alphanumeric:
        # ICAO's weights 7, 3, 1 only see changes whose value difference is not a multiple of
        # 10: '0'/'A'/'K'/'U'/'<', '6'/'G', '1'/'B'/'L'/'V' and the like swap undetected.
        assume((value(old) - value(new)) % 10)
    original = parse(lines)
    tampered = list(lines)
    tampered[line_no] = line[:position] + new + line[position + 1:]
    result = parse(tampered)

    if not result.valid_check_digits:
        return
    # Passing is only allowed if a repair restored the original value...
    if getattr(result, attribute) == getattr(original, attribute):
        assert any(note.startswith(label) for note in result.corrections)
        return
    # ...or, in an alphanumeric field, if a repair was made and recorded: a check digit cannot
    # tell an arbitrary one-character change plus a look-alike swap from the true value.
    assert alphanumeric and CHECKABLE_TWINS.get(new) != old
    assert any(note.startswith(label) for note in result.corrections)


@settings(max_examples=200, deadline=None)
@given(TD3_DOCUMENTS, st.data())
def test_td3_tampering_is_caught(doc, data):
    lines = list(td3_lines(**doc))
    fields = TD3_PROTECTED if doc["optional_data"] else TD3_PROTECTED[:3]
    assert_tampering_caught(lines, fields, data)


@settings(max_examples=200, deadline=None)
@given(td1_documents(), st.data())
def test_td1_tampering_is_caught(doc, data):
    lines = list(td1_lines(**doc))
    assert_tampering_caught(lines, td1_protected(lines[0]), data)


@settings(max_examples=200, deadline=None)
@given(TD3_DOCUMENTS, st.data())
def test_a_look_alike_misread_is_restored_or_refused(doc, data):
    """An OCR look-alike in a protected field never yields a different valid value."""
    lines = list(td3_lines(**doc))
    fields = TD3_PROTECTED if doc["optional_data"] else TD3_PROTECTED[:3]
    attribute, _, _, start, end = data.draw(st.sampled_from(fields))
    candidates = [i for i in range(start, end) if lines[1][i] in CHECKABLE_TWINS]
    assume(candidates)
    position = data.draw(st.sampled_from(candidates))
    line2 = lines[1]
    tampered = line2[:position] + CHECKABLE_TWINS[line2[position]] + line2[position + 1:]
    result = parse([lines[0], tampered])
    if result.valid_check_digits:
        assert getattr(result, attribute) == getattr(parse(lines), attribute)
        assert result.corrections
