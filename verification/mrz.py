"""ICAO 9303 machine-readable zone: check digits and MRZ lines for TD1 and TD3 documents."""

import re
import unicodedata
from datetime import date

WEIGHTS = (7, 3, 1)


def _value(char: str) -> int:
    if char.isdigit():
        return int(char)
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise ValueError(f"not an MRZ character: {char!r}")


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit of ``field`` (weights 7, 3, 1; '<' counts 0, A=10 ... Z=35)."""
    return str(sum(_value(c) * WEIGHTS[i % 3] for i, c in enumerate(field)) % 10)


def mrz_text(text: str) -> str:
    """Upper-case A-Z, digits and '<' only: diacritics dropped, spaces and hyphens to '<'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
    plain = re.sub(r"[\s\-']+", "<", plain.strip())
    return re.sub(r"[^A-Z0-9<]", "", plain)


def name_field(surname: str, given_names: str, width: int) -> str:
    """``SURNAME<<GIVEN<NAMES`` padded or truncated to ``width``."""
    return f"{mrz_text(surname)}<<{mrz_text(given_names)}"[:width].ljust(width, "<")


def _pad(text: str, width: int) -> str:
    return mrz_text(text)[:width].ljust(width, "<")


def _yymmdd(day: date) -> str:
    return day.strftime("%y%m%d")


def td3_lines(*, document_type: str, issuing_country: str, surname: str, given_names: str,
              document_number: str, nationality: str, date_of_birth: date, sex: str,
              expiry_date: date, optional_data: str = "") -> tuple[str, str]:
    """The two 44-character lines of a passport data page (TD3)."""
    line1 = (_pad(document_type, 2) + _pad(issuing_country, 3)
             + name_field(surname, given_names, 39))
    number = _pad(document_number, 9)
    birth, expiry, optional = _yymmdd(date_of_birth), _yymmdd(expiry_date), _pad(optional_data, 14)
    optional_check = check_digit(optional) if optional_data else "<"
    line2 = (number + check_digit(number) + _pad(nationality, 3) + birth + check_digit(birth)
             + (sex or "<")[:1] + expiry + check_digit(expiry) + optional + optional_check)
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    return line1, line2 + check_digit(composite)


def td1_lines(*, document_type: str, issuing_country: str, surname: str, given_names: str,
              document_number: str, nationality: str, date_of_birth: date, sex: str,
              expiry_date: date, optional_data: str = "") -> tuple[str, str, str]:
    """The three 30-character lines of an identity card (TD1)."""
    number = _pad(document_number, 9)
    line1 = (_pad(document_type, 2) + _pad(issuing_country, 3) + number + check_digit(number)
             + _pad(optional_data, 15))
    birth, expiry = _yymmdd(date_of_birth), _yymmdd(expiry_date)
    line2 = (birth + check_digit(birth) + (sex or "<")[:1] + expiry + check_digit(expiry)
             + _pad(nationality, 3) + "<" * 11)
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    line2 += check_digit(composite)
    return line1, line2, name_field(surname, given_names, 30)
