"""ICAO 9303 machine-readable zone: check digits and MRZ lines for TD1 cards and TD3 passports."""

import re
import unicodedata
from datetime import date

WEIGHTS = (7, 3, 1)
FILLER = "<"
TD1_WIDTH = 30
TD3_WIDTH = 44

# Letters that Unicode does not decompose into A-Z plus a combining mark (ICAO 9303 part 3,
# transliteration of Latin-based national characters).
_LETTERS = {
    "ß": "SS", "Æ": "AE", "æ": "AE", "Ø": "OE", "ø": "OE", "Œ": "OE", "œ": "OE",
    "Þ": "TH", "þ": "TH", "Ð": "D", "ð": "D", "Đ": "D", "đ": "D", "Ł": "L", "ł": "L",
    "ı": "I", "Ħ": "H", "ħ": "H",
}


def _value(char: str) -> int:
    """The numeric value of one MRZ character."""
    if "0" <= char <= "9":
        return ord(char) - ord("0")
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == FILLER:
        return 0
    raise ValueError(f"not an MRZ character: {char!r}")


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit of `field` (weights 7, 3, 1; '<' is 0, A=10 ... Z=35)."""
    return str(sum(_value(char) * WEIGHTS[i % 3] for i, char in enumerate(field)) % 10)


def transliterate(text: str) -> str:
    """Upper-case A-Z and '<' only: diacritics dropped, spaces and hyphens become '<'."""
    text = "".join(_LETTERS.get(char, char) for char in text)
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
    # Apostrophes and other punctuation are left out (O'NEIL -> ONEIL), separators become '<'.
    plain = re.sub(r"[\s\-,]+", FILLER, plain.strip(" -,"))
    return re.sub(r"[^A-Z<]", "", plain)


def name_field(surname: str, given_names: str, width: int) -> str:
    """`SURNAME<<GIVEN<NAMES`, cut to `width` and padded with '<'."""
    surname, given = transliterate(surname), transliterate(given_names)
    name = f"{surname}<<{given}" if given else surname
    return _fit(name, width)


def td3_lines(
    *,
    issuing_country: str,
    surname: str,
    given_names: str,
    document_number: str,
    nationality: str,
    date_of_birth: date,
    sex: str,
    expiry_date: date,
    optional_data: str = "",
    document_type: str = "P",
) -> tuple[str, str]:
    """The two 44-character MRZ lines of a passport data page (TD3)."""
    number = _code(document_number, "document number")
    if len(number) > 9:
        raise ValueError("a TD3 document number has at most 9 characters")
    optional = _fit(_code(optional_data, "optional data"), 14)
    line1 = _fit(_kind(document_type) + _country(issuing_country), 5) + name_field(
        surname, given_names, TD3_WIDTH - 5
    )
    number = _fit(number, 9)
    birth, expiry = _yymmdd(date_of_birth), _yymmdd(expiry_date)
    # An unused personal-number field may carry '<' as its check digit (9303 part 4, 4.2.2).
    optional_check = check_digit(optional) if optional.strip(FILLER) else FILLER
    line2 = (
        number + check_digit(number) + _country(nationality)
        + birth + check_digit(birth) + _sex(sex)
        + expiry + check_digit(expiry) + optional + optional_check
    )
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    return line1, line2 + check_digit(composite)


def td1_lines(
    *,
    issuing_country: str,
    surname: str,
    given_names: str,
    document_number: str,
    nationality: str,
    date_of_birth: date,
    sex: str,
    expiry_date: date,
    optional_data: str = "",
    optional_data_2: str = "",
    document_type: str = "I",
) -> tuple[str, str, str]:
    """The three 30-character MRZ lines of an identity card (TD1)."""
    number = _code(document_number, "document number")
    optional = _code(optional_data, "optional data")
    if len(number) <= 9:
        number_part = _fit(number, 9) + check_digit(_fit(number, 9))
    else:
        # Long numbers: 9 characters, '<' where the check digit goes, then the rest and the
        # check digit of the whole number at the start of the optional data (9303 part 5).
        number_part = number[:9] + FILLER
        optional = number[9:] + check_digit(number) + FILLER + optional
    if len(optional) > 15:
        raise ValueError("TD1 document number and optional data do not fit in 24 characters")
    line1 = _fit(_kind(document_type) + _country(issuing_country), 5) + number_part + _fit(
        optional, 15
    )
    birth, expiry = _yymmdd(date_of_birth), _yymmdd(expiry_date)
    line2 = (
        birth + check_digit(birth) + _sex(sex) + expiry + check_digit(expiry)
        + _country(nationality) + _fit(_code(optional_data_2, "optional data"), 11)
    )
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    line2 += check_digit(composite)
    return line1, line2, name_field(surname, given_names, TD1_WIDTH)


def _fit(text: str, width: int) -> str:
    """Cut or pad `text` with '<' to exactly `width` characters."""
    return text[:width].ljust(width, FILLER)


def _code(text: str, what: str) -> str:
    """Upper-case a number or code, dropping spaces and hyphens; refuse other characters."""
    code = re.sub(r"[\s\-]", "", text).upper()
    if not re.fullmatch(r"[A-Z0-9<]*", code):
        raise ValueError(f"{what} may hold only A-Z, 0-9 and '<': {text!r}")
    return code


def _kind(document_type: str) -> str:
    """The 2-character document code (P, I, ID, AC...)."""
    kind = _code(document_type, "document type")
    if not 1 <= len(kind) <= 2:
        raise ValueError(f"document type must have 1 or 2 characters: {document_type!r}")
    return _fit(kind, 2)


def _country(code: str) -> str:
    """A 3-character state code; shorter codes (D for Germany) are padded with '<'."""
    country = _code(code, "country code")
    if not 1 <= len(country) <= 3:
        raise ValueError(f"country code must have 1 to 3 characters: {code!r}")
    return _fit(country, 3)


def _sex(sex: str) -> str:
    """M, F, or '<' for unspecified (X)."""
    value = (sex or FILLER).strip().upper()[:1]
    if value in ("", "X"):
        return FILLER
    if value not in ("M", "F", FILLER):
        raise ValueError(f"sex must be M, F or X: {sex!r}")
    return value


def _yymmdd(day: date) -> str:
    """A date as the MRZ writes it."""
    return day.strftime("%y%m%d")
