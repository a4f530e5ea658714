"""ICAO 9303 check digits and MRZ line builders, checked against the specification's examples."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verification.mrz import (
    check_digit,
    checked_positions,
    code_positions,
    field_kinds,
    known_code,
    name_field,
    td1_lines,
    td3_lines,
    transliterate,
)

# ICAO Doc 9303 specimen holder: Anna Maria Eriksson of Utopia.
ANNA = {
    "issuing_country": "UTO",
    "surname": "ERIKSSON",
    "given_names": "ANNA MARIA",
    "nationality": "UTO",
    "date_of_birth": date(1974, 8, 12),
    "sex": "F",
    "expiry_date": date(2012, 4, 15),
}
TD3_SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD1_SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)


@pytest.mark.parametrize("field,digit", [
    ("L898902C3", "6"),
    ("740812", "2"),
    ("120415", "9"),
    ("ZE184226B<<<<<", "1"),
    ("L898902C3674081221204159ZE184226B<<<<<1", "0"),  # TD3 composite
    ("D23145890", "7"),
    ("D231458907" + "<" * 15 + "7408122" + "1204159" + "<" * 11, "6"),  # TD1 composite
    ("D23145890734", "9"),  # a long TD1 document number
    ("<<<<<<<<<", "0"),
    ("", "0"),
])
def test_check_digit_on_icao_examples(field, digit):
    assert check_digit(field) == digit


def test_check_digit_refuses_non_mrz_characters():
    with pytest.raises(ValueError):
        check_digit("l898902c3")
    with pytest.raises(ValueError):
        check_digit("AB-12")


def test_td3_specimen():
    lines = td3_lines(document_type="P", document_number="L898902C3",
                      optional_data="ZE184226B", **ANNA)
    assert lines == TD3_SPECIMEN


def test_td1_specimen():
    lines = td1_lines(document_type="I", document_number="D23145890", **ANNA)
    assert lines == TD1_SPECIMEN


def test_td1_long_document_number_overflows_into_optional_data():
    line1, line2, _ = td1_lines(document_number="D23145890734", **ANNA)
    assert line1 == "I<UTOD23145890<7349<<<<<<<<<<<"
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    assert line2[29] == check_digit(composite)


def test_td3_empty_optional_data_has_filler_check_digit():
    _, line2 = td3_lines(document_number="L898902C3", **ANNA)
    assert line2[28:43] == "<" * 15
    assert line2[43] == check_digit(line2[0:10] + line2[13:20] + line2[21:43])


@pytest.mark.parametrize("text,expected", [
    ("Ångström", "ANGSTROM"),
    ("Müller-Lüdenscheidt", "MULLER<LUDENSCHEIDT"),
    ("O'Neil", "ONEIL"),
    ("Groß", "GROSS"),
    ("Øster Ærø", "OESTER<AEROE"),
    ("Łukasz  Żółć", "LUKASZ<ZOLC"),
    ("  de la Cruz ", "DE<LA<CRUZ"),
    ("Anne-Marie, Jr", "ANNE<MARIE<JR"),
])
def test_transliteration(text, expected):
    assert transliterate(text) == expected


def test_names_are_truncated_to_the_field():
    long = name_field("Wolfeschlegelsteinhausenbergerdorff", "Hubert Blaine", 39)
    assert len(long) == 39
    assert long == "WOLFESCHLEGELSTEINHAUSENBERGERDORFF<<HU"
    assert name_field("Li", "", 10) == "LI<<<<<<<<"


def test_short_country_codes_and_unspecified_sex():
    line1, line2 = td3_lines(**{**ANNA, "issuing_country": "D", "nationality": "D",
                                "sex": "X"}, document_number="C01X00T47")
    assert line1.startswith("P<D<<")
    assert line2[10:13] == "D<<" and line2[20] == "<"


@pytest.mark.parametrize("override", [
    {"document_number": "L89890-2C3-7"},   # 10 characters once hyphens go: too long for TD3
    {"document_number": "ÅB12"},
    {"sex": "Q"},
    {"issuing_country": "UTOP"},
    {"document_type": "PASS"},
])
def test_bad_fields_are_refused(override):
    with pytest.raises(ValueError):
        td3_lines(**{**ANNA, "document_number": "L898902C3", **override})


# Round trip: whatever the fields, every check digit in the lines verifies, and changing any
# single digit of a checked field breaks that field's check digit (weights 7, 3, 1 are all
# coprime with 10, so a one-digit change always shifts the sum modulo 10).

DOCUMENT_NUMBERS = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1,
                           max_size=9)
NAMES = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZÉÖÅ -", min_size=1, max_size=40)
DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
PEOPLE = st.fixed_dictionaries({
    "issuing_country": st.sampled_from(["UTO", "D", "NLD", "GBR"]),
    "surname": NAMES,
    "given_names": NAMES,
    "document_number": DOCUMENT_NUMBERS,
    "nationality": st.sampled_from(["UTO", "D", "FRA"]),
    "date_of_birth": DATES,
    "sex": st.sampled_from(["M", "F", "X"]),
    "expiry_date": DATES,
    "optional_data": st.text(alphabet="0123456789ABCXYZ<", max_size=14),
})

# (start, end, check digit position) of each checked field, and the composite parts.
TD3_FIELDS = [(0, 9, 9), (13, 19, 19), (21, 27, 27), (28, 42, 42)]
TD1_LINE2_FIELDS = [(0, 6, 6), (8, 14, 14)]


def changed_digit_variants(field: str):
    """Every copy of `field` with exactly one digit replaced by a different digit."""
    for i, char in enumerate(field):
        if char.isdigit():
            for other in "0123456789":
                if other != char:
                    yield field[:i] + other + field[i + 1:]


def assert_checked(line: str, start: int, end: int, position: int) -> None:
    """The digit at `position` verifies line[start:end] and no one-digit change keeps it."""
    field, digit = line[start:end], line[position]
    if digit == "<":  # an empty optional-data field may carry a filler check digit
        assert field.strip("<") == ""
        return
    assert check_digit(field) == digit
    for variant in changed_digit_variants(field):
        assert check_digit(variant) != digit, (field, variant)


@given(PEOPLE)
def test_td3_round_trip(person):
    line1, line2 = td3_lines(**person)
    assert len(line1) == len(line2) == 44
    assert set(line1 + line2) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
    assert line2[0:9].rstrip("<") == person["document_number"]
    assert line2[13:19] == person["date_of_birth"].strftime("%y%m%d")
    for start, end, position in TD3_FIELDS:
        assert_checked(line2, start, end, position)
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    assert line2[43] == check_digit(composite)
    for variant in changed_digit_variants(composite):
        assert check_digit(variant) != line2[43]


@given(PEOPLE, st.text(alphabet="0123456789ABC", max_size=11))
def test_td1_round_trip(person, optional_data_2):
    line1, line2, line3 = td1_lines(**person, optional_data_2=optional_data_2)
    assert len(line1) == len(line2) == len(line3) == 30
    assert_checked(line1, 5, 14, 14)
    for start, end, position in TD1_LINE2_FIELDS:
        assert_checked(line2, start, end, position)
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    assert line2[29] == check_digit(composite)
    for variant in changed_digit_variants(composite):
        assert check_digit(variant) != line2[29]
    assert line3.startswith(transliterate(person["surname"])[:30])


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=10, max_size=14))
def test_td1_long_numbers_round_trip(number):
    line1, _, _ = td1_lines(**{**ANNA, "document_number": number})
    assert line1[5:14] == number[:9] and line1[14] == "<"
    rest = line1[15:15 + len(number) - 9]
    assert rest == number[9:]
    assert line1[15 + len(number) - 9] == check_digit(number)


@pytest.mark.parametrize("lines", [
    td3_lines(document_type="P", issuing_country="UTO", surname="ERIKSSON", given_names="ANNA",
              document_number="L898902C3", nationality="UTO", date_of_birth=date(1974, 8, 12),
              sex="F", expiry_date=date(2032, 4, 15), optional_data="ZE184226B"),
    td1_lines(document_type="I", issuing_country="UTO", surname="ERIKSSON", given_names="ANNA",
              document_number="D23145890", nationality="UTO", date_of_birth=date(1974, 8, 12),
              sex="F", expiry_date=date(2032, 4, 15)),
])
def test_field_kinds_mark_the_digits_and_letters_of_every_zone_of_a_size(lines):
    digits, letters = field_kinds(len(lines), len(lines[0]))
    joined = "".join(lines)
    assert digits and letters and not digits & letters
    assert all(joined[i].isdigit() for i in digits)
    assert all(joined[i].isalpha() or joined[i] == "<" for i in letters)
    # Dates, their check digits and the composite are all there.
    assert len(digits) == 6 + 1 + 6 + 1 + 1
    assert field_kinds(2, 40) is None


def test_checked_positions_are_what_the_check_digits_cover():
    lines = td3_lines(issuing_country="UTO", surname="ERIKSSON", given_names="ANNA",
                      document_number="L898902C3", nationality="UTO",
                      date_of_birth=date(1974, 8, 12), sex="F", expiry_date=date(2032, 4, 15),
                      optional_data="ZE184226B")
    checked = checked_positions(2, 44)
    assert set(range(44)).isdisjoint(checked)  # the name line
    assert set(range(44, 54)) <= checked  # the document number and its check digit
    assert {54, 55, 56, 64}.isdisjoint(checked)  # nationality and sex
    assert set(range(57, 64)) | set(range(65, 88)) <= checked
    assert lines[1][20] == "F" and checked_positions(3, 30) and checked_positions(2, 40) is None


def test_the_codes_an_mrz_may_name_are_iso_3166_and_icao_9303s_own():
    for code in ("NLD", "SWE", "D", "UTO", "XXA", "GBN", "UNO", "EUE", "XOM", "RKS"):
        assert known_code(code), code
    for code in ("ZLD", "P", "DEU<", "", "UT0", "XYZ"):
        assert not known_code(code), code
    # The issuing state (line 1, 3-5) and the nationality (TD1: line 2, 16-18).
    assert code_positions(3, 30) == {2, 3, 4, 45, 46, 47}
    assert code_positions(2, 44) == {2, 3, 4, 54, 55, 56}
    assert code_positions(2, 40) is None
