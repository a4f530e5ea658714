"""ICAO 9303 machine-readable zone: check digits, MRZ lines for TD1 and TD2 cards and TD3
passports, and a parser for TD1, TD2, TD3, MRV-A and MRV-B zones that repairs common OCR
confusions."""

import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import pycountry

WEIGHTS = (7, 3, 1)
FILLER = "<"
TD1_WIDTH = 30
TD2_WIDTH = 36
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


def td2_lines(
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
    document_type: str = "I",
) -> tuple[str, str]:
    """The two 36-character MRZ lines of a TD2 document (ICAO 9303 part 6)."""
    number = _code(document_number, "document number")
    optional = _code(optional_data, "optional data")
    if len(number) <= 9:
        number_part = _fit(number, 9) + check_digit(_fit(number, 9))
    else:
        # As on TD1: the rest of a long number and its check digit open the optional data.
        number_part = number[:9] + FILLER
        optional = number[9:] + check_digit(number) + FILLER + optional
    if len(optional) > 7:
        raise ValueError("TD2 document number and optional data do not fit in 16 characters")
    line1 = _fit(_kind(document_type) + _country(issuing_country), 5) + name_field(
        surname, given_names, TD2_WIDTH - 5
    )
    birth, expiry = _yymmdd(date_of_birth), _yymmdd(expiry_date)
    line2 = (
        number_part + _country(nationality) + birth + check_digit(birth) + _sex(sex)
        + expiry + check_digit(expiry) + _fit(optional, 7)
    )
    composite = line2[0:10] + line2[13:20] + line2[21:35]
    return line1, line2 + check_digit(composite)


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


# --- Parsing ------------------------------------------------------------------------------------

MRZ_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
# OCR output is often a character or two short or long at the end of a line; more than that and
# the line is more likely not an MRZ line at all.
MAX_LENGTH_SLACK = 2
# Characters outside the MRZ alphabet are read as '<' (and break a check digit); beyond this many
# the text is not taken for an MRZ.
MAX_FOREIGN_CHARACTERS = 4
# Alphanumeric fields try every combination of swaps at this many suspect look-alikes at most
# (2**3 = 8 variants): more variants would make a chance match of the check digit likely.
MAX_AMBIGUOUS_POSITIONS = 3

# The letters a document code begins with (ICAO 9303 parts 4 to 7): A, C or I on a card, P on
# a passport, V on a visa.
DOCUMENT_LETTERS = frozenset("ACIPV")
# Letters OCR reads for digits, and back.
LETTER_TO_DIGIT = {"O": "0", "I": "1", "S": "5", "B": "8", "Z": "2", "G": "6"}
DIGIT_TO_LETTER = {digit: letter for letter, digit in LETTER_TO_DIGIT.items()}
# The look-alike pairs a check digit can tell apart. G (16) and 6, K (20) and '<' (0) differ by a
# multiple of 10, so swapping them never changes any check digit: trying them could only ever
# produce two valid variants, and the field would never be repaired.
CHECKABLE_TWINS = {
    a: b
    for a, b in [*LETTER_TO_DIGIT.items(), *DIGIT_TO_LETTER.items()]
    if (_value(a) - _value(b)) % 10
}


# How a repair chosen by a check digit among look-alike readings is labelled in `corrections`
# (the other repairs follow from the field type alone: a digit in a letters-only field).
CHOSEN_BY_CHECK_DIGIT = "the only reading its check digit accepts"
# ... and an issuing state or nationality chosen among the recogniser's readings as the only
# one that is a code (`known_code`).
CHOSEN_BY_CODE_LIST = "the only reading that names a state or organisation ICAO 9303 lists"


def chosen_repair(note: str) -> bool:
    """Whether a note in `corrections` records a reading chosen among several by a check digit
    or the list of codes alone, which a person should compare with the image."""
    return CHOSEN_BY_CHECK_DIGIT in note or CHOSEN_BY_CODE_LIST in note


class MrzError(ValueError):
    """The text is not recognisable as a machine-readable zone."""


@dataclass(frozen=True)
class MrzResult:
    """The fields of one machine-readable zone, its check digits and the OCR repairs applied."""

    format: str
    document_type: str
    issuing_country: str
    surname: str
    given_names: str
    document_number: str
    nationality: str
    date_of_birth: date | None
    sex: str
    expiry_date: date | None
    optional_data: str
    optional_data_2: str | None
    checks: dict[str, bool]
    valid_check_digits: bool
    corrections: list[str]
    warnings: list[str]
    raw_lines: tuple[str, ...]

    def as_dict(self) -> dict:
        """JSON-safe values: ISO dates, lists instead of tuples."""
        return {
            "format": self.format,
            "document_type": self.document_type,
            "issuing_country": self.issuing_country,
            "surname": self.surname,
            "given_names": self.given_names,
            "document_number": self.document_number,
            "nationality": self.nationality,
            "date_of_birth": _iso(self.date_of_birth),
            "sex": self.sex,
            "expiry_date": _iso(self.expiry_date),
            "optional_data": self.optional_data,
            "optional_data_2": self.optional_data_2,
            "checks": dict(self.checks),
            "valid_check_digits": self.valid_check_digits,
            "corrections": list(self.corrections),
            "warnings": list(self.warnings),
            "raw_lines": list(self.raw_lines),
        }


Span = tuple[int, int]


@dataclass(frozen=True)
class _Layout:
    """Where each field sits in the lines joined into one string (ICAO 9303 parts 4 to 7)."""

    name: str
    width: int
    lines: int
    names: Span
    number: Span
    number_check: int
    nationality: Span
    birth: Span
    birth_check: int
    sex: int
    expiry: Span
    expiry_check: int
    optional: Span
    optional_check: int | None = None
    optional_2: Span | None = None
    composite: int | None = None
    composite_parts: tuple[Span, ...] = ()
    # TD1 and TD2: a number longer than 9 characters continues in the optional data.
    long_number: bool = False


LAYOUTS = {
    "TD1": _Layout(
        "TD1", 30, 3, names=(60, 90), number=(5, 14), number_check=14, optional=(15, 30),
        birth=(30, 36), birth_check=36, sex=37, expiry=(38, 44), expiry_check=44,
        nationality=(45, 48), optional_2=(48, 59), composite=59,
        composite_parts=((5, 30), (30, 37), (38, 45), (48, 59)), long_number=True,
    ),
    "TD2": _Layout(
        "TD2", 36, 2, names=(5, 36), number=(36, 45), number_check=45, nationality=(46, 49),
        birth=(49, 55), birth_check=55, sex=56, expiry=(57, 63), expiry_check=63,
        optional=(64, 71), composite=71, composite_parts=((36, 46), (49, 56), (57, 71)),
        long_number=True,
    ),
    "TD3": _Layout(
        "TD3", 44, 2, names=(5, 44), number=(44, 53), number_check=53, nationality=(54, 57),
        birth=(57, 63), birth_check=63, sex=64, expiry=(65, 71), expiry_check=71,
        optional=(72, 86), optional_check=86, composite=87,
        composite_parts=((44, 54), (57, 64), (65, 87)),
    ),
    "MRVA": _Layout(
        "MRVA", 44, 2, names=(5, 44), number=(44, 53), number_check=53, nationality=(54, 57),
        birth=(57, 63), birth_check=63, sex=64, expiry=(65, 71), expiry_check=71,
        optional=(72, 88),
    ),
    "MRVB": _Layout(
        "MRVB", 36, 2, names=(5, 36), number=(36, 45), number_check=45, nationality=(46, 49),
        birth=(49, 55), birth_check=55, sex=56, expiry=(57, 63), expiry_check=63,
        optional=(64, 72),
    ),
}
# (line count, nominal width) -> (format, the format when the document code starts with 'V').
_FORMATS = {(3, 30): ("TD1", "TD1"), (2, 36): ("TD2", "MRVB"), (2, 44): ("TD3", "MRVA")}
_CODE, _ISSUING = (0, 2), (2, 5)


def field_kinds(lines: int, width: int) -> tuple[frozenset[int], frozenset[int]] | None:
    """The positions (in the lines joined) that hold a digit in every zone of this size (the
    dates, their check digits, the composite check digit), and those that hold only letters or
    '<' (issuing state, nationality, names); None for a size ICAO 9303 does not define."""
    formats = _FORMATS.get((lines, width))
    if formats is None:
        return None
    layout = LAYOUTS[formats[0]]
    digits = {*range(*layout.birth), layout.birth_check, *range(*layout.expiry),
              layout.expiry_check}
    if layout.composite is not None:
        digits.add(layout.composite)
    letters = {*range(*_ISSUING), *range(*layout.nationality), *range(*layout.names)}
    return frozenset(digits), frozenset(letters)


def code_positions(lines: int, width: int) -> frozenset[int] | None:
    """The positions (in the lines joined) of the issuing state and the nationality, which no
    check digit covers and the list of codes does (`known_code`); None for a size ICAO 9303
    does not define."""
    formats = _FORMATS.get((lines, width))
    if formats is None:
        return None
    return frozenset({*range(*_ISSUING), *range(*LAYOUTS[formats[0]].nationality)})


# The codes ICAO 9303 part 3 (section 5) adds to ISO 3166-1 alpha-3 for an issuing state or
# organisation and a nationality: Germany's one letter, the British nationality classes, the
# United Nations, the European Union, the international organisations, stateless persons and
# refugees, Kosovo, and the neutral zone; and Utopia, the state of ICAO's specimens.
ICAO_CODES = frozenset({
    "D", "GBD", "GBN", "GBO", "GBP", "GBS", "UNO", "UNA", "UNK", "EUE",
    "XBA", "XIM", "XCC", "XCE", "XCO", "XDC", "XEC", "XES", "XMP", "XOM", "XPO", "XSC",
    "XXA", "XXB", "XXC", "XXX", "RKS", "NTZ", "UTO",
})
KNOWN_CODES = ICAO_CODES | frozenset(country.alpha_3 for country in pycountry.countries)


def known_code(code: str) -> bool:
    """Whether an issuing state or nationality, as parsed (without its '<'), is a code an MRZ
    may hold: ISO 3166-1 alpha-3 or one of ICAO_CODES."""
    return code in KNOWN_CODES


def sex_position(lines: int, width: int) -> int | None:
    """The position (in the lines joined) of the sex, which holds only 'M', 'F', 'X' or '<';
    None for a size ICAO 9303 does not define."""
    formats = _FORMATS.get((lines, width))
    return None if formats is None else LAYOUTS[formats[0]].sex


def checked_positions(lines: int, width: int) -> frozenset[int] | None:
    """The positions (in the lines joined) some check digit covers, the check digits included;
    None for a size ICAO 9303 does not define. A misread anywhere else (a name, the issuing
    state, the nationality, the sex) leaves every check digit as it was."""
    formats = _FORMATS.get((lines, width))
    if formats is None:
        return None
    layout = LAYOUTS[formats[0]]
    spans = [layout.number, layout.birth, layout.expiry, *layout.composite_parts]
    if layout.optional_check is not None:
        spans.append(layout.optional)
    checks = [layout.number_check, layout.birth_check, layout.expiry_check,
              layout.optional_check, layout.composite]
    return frozenset({i for span in spans for i in range(*span)}
                     | {i for i in checks if i is not None})


def parse_mrz(lines: list[str] | tuple[str, ...] | str, *, today: date | None = None) -> MrzResult:
    """Parse 2 or 3 MRZ lines (or one string with newlines) into an MrzResult."""
    today = today or date.today()
    if isinstance(lines, str):
        lines = lines.splitlines()
    raw = tuple(line.strip() for line in lines if line.strip())
    corrections: list[str] = []
    warnings: list[str] = []
    text = _normalise(raw, corrections, warnings)
    layout = LAYOUTS[_detect(text)]
    buf = list("".join(_fit_line(line, layout.width, n, warnings) for n, line in enumerate(text)))
    if not (buf[0].isalpha() or DIGIT_TO_LETTER.get(buf[0], "") in DOCUMENT_LETTERS):
        # A digit is taken for the letter it looks like (_repair_alphabetic) only where that
        # letter can begin a document code: a narrow OCR-B 'I' on a screen photo read '1'.
        raise MrzError(f"not an MRZ: the document code {''.join(buf[0:2])!r} is not a letter")

    _repair_alphabetic(buf, layout, corrections)
    for label, span, check in (("date of birth", layout.birth, layout.birth_check),
                               ("expiry date", layout.expiry, layout.expiry_check)):
        _repair_numeric(buf, label, span, check, corrections)
    _repair_alphanumeric(buf, layout, corrections, warnings)
    if layout.composite is not None:
        _repair_check_character(buf, "composite", layout.composite,
                                _composite_digit(buf, layout), corrections)

    return _result(buf, layout, raw, corrections, warnings, today)


def _normalise(raw: tuple[str, ...], corrections: list[str], warnings: list[str]) -> list[str]:
    """Upper-case the lines, read '«' and inner spaces as '<', refuse what is no MRZ at all."""
    if len(raw) not in (2, 3):
        raise MrzError(f"not an MRZ: expected 2 or 3 lines, got {len(raw)}")
    widths = {width for count, width in _FORMATS if count == len(raw)}
    lines, foreign = [], 0
    for n, line in enumerate(raw, start=1):
        line = line.upper()
        if "«" in line:
            line = line.replace("«", FILLER)
            corrections.append(f"line {n}: '«' read as '<'")
        if " " in line:
            # OCR either splits a line into words (drop the spaces) or reads '<' as a space.
            joined = line.replace(" ", "")
            if len(joined) in widths and len(line) not in widths:
                line = joined
                corrections.append(f"line {n}: spaces removed")
            else:
                line = line.replace(" ", FILLER)
                corrections.append(f"line {n}: spaces read as '<'")
        strange = [char for char in line if char not in MRZ_ALPHABET]
        if strange:
            foreign += len(strange)
            line = "".join(char if char in MRZ_ALPHABET else FILLER for char in line)
            warnings.append(f"line {n}: characters {''.join(strange)!r} read as '<'")
        lines.append(line)
    if foreign > MAX_FOREIGN_CHARACTERS:
        raise MrzError(f"not an MRZ: {foreign} characters outside A-Z, 0-9 and '<'")
    return lines


def _detect(lines: list[str]) -> str:
    """The format of the lines from their count, lengths and document code."""
    for (count, width), (plain, visa) in _FORMATS.items():
        if count == len(lines) and all(abs(len(line) - width) <= MAX_LENGTH_SLACK
                                       for line in lines):
            return visa if lines[0][:1] == "V" else plain
    lengths = ", ".join(str(len(line)) for line in lines)
    raise MrzError(
        f"not an MRZ: {len(lines)} lines of lengths {lengths} match no format "
        "(TD1 3x30, TD2 or MRV-B 2x36, TD3 or MRV-A 2x44)"
    )


def _fit_line(line: str, width: int, index: int, warnings: list[str]) -> str:
    """Pad or cut a line at its end to `width`, with a warning."""
    if len(line) != width:
        how = "padded with '<'" if len(line) < width else "cut"
        warnings.append(
            f"line {index + 1} had {len(line)} characters, not {width}: {how} at the end"
        )
    return _fit(line, width)


def _text(buf: list[str], span: Span) -> str:
    """The characters of one field."""
    return "".join(buf[span[0]:span[1]])


def _put(buf: list[str], span: Span, text: str) -> None:
    """Overwrite one field."""
    buf[span[0]:span[1]] = list(text)


def _note(corrections: list[str], label: str, before: str, after: str, why: str) -> None:
    """Record one repair, character by character."""
    swaps = ", ".join(f"{a!r}->{b!r} at {i + 1}"
                      for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b)
    corrections.append(f"{label}: {before} -> {after} ({swaps}; {why})")


def _repair_alphabetic(buf: list[str], layout: _Layout, corrections: list[str]) -> None:
    """Digits in letter-only fields are letters; 'K' in the sex field or name fillers is '<'."""
    for label, span in (("document code", _CODE), ("issuing country", _ISSUING),
                        ("nationality", layout.nationality), ("name", layout.names)):
        before = _text(buf, span)
        after = before.translate(str.maketrans(DIGIT_TO_LETTER))
        if label == "name":
            after = _name_fillers(after)
        elif label in ("issuing country", "nationality") and after == "O<<":
            # Germany's "D<<" is the only one-letter code; OCR takes a lone D for a 0 (or an
            # O). No check digit covers this field, so the code list is the only guard.
            after = "D<<"
        if after != before:
            _put(buf, span, after)
            _note(corrections, label, before, after, "letters only")
    if buf[layout.sex] == "K":
        buf[layout.sex] = FILLER
        corrections.append("sex: 'K' read as '<' (unspecified)")


def _name_fillers(name: str) -> str:
    """Read 'K' as '<' in the fillers after the name: past the first '<<' that follows the
    surname separator only fillers may come, so a 'K' there can only be a misread '<'."""
    separator = name.find("<<")
    end = name.find("<<", separator + 2) if separator > 0 else -1
    if end < 0 or set(name[end:]) - {"K", FILLER}:
        return name
    return name[:end] + FILLER * (len(name) - end)


def _check_ok(field: str, check: str) -> bool:
    """Whether `check` is the check digit of `field`."""
    return check == check_digit(field)


def _repair_numeric(buf: list[str], label: str, span: Span, check: int,
                    corrections: list[str]) -> None:
    """Read look-alike letters in a date and its check digit as digits, if the check then agrees."""
    before = _text(buf, span) + buf[check]
    if before[:-1].isdigit() and _check_ok(before[:-1], before[-1]):
        return
    after = before.translate(str.maketrans(LETTER_TO_DIGIT))
    if after != before and after.isdigit() and _check_ok(after[:-1], after[-1]):
        _put(buf, (span[0], check + 1), after)
        _note(corrections, label, before, after, "digits only, check digit agrees")


def _number_positions(buf: list[str], layout: _Layout) -> tuple[list[int], int | None]:
    """The positions of the document number and of its check digit (None when missing).

    TD1 and TD2 (9303 parts 5 and 6): when the check digit position holds '<', the number goes on
    in the optional data up to the next '<', and the last character before it is the check digit.
    """
    positions = list(range(*layout.number))
    if not (layout.long_number and buf[layout.number_check] == FILLER):
        return positions, layout.number_check
    extension = list(itertools.takewhile(lambda i: buf[i] != FILLER, range(*layout.optional)))
    if not extension:
        return positions, None
    return positions + extension[:-1], extension[-1]


def _suspects(field: str) -> list[int]:
    """Positions of look-alikes that stand out from their neighbours (a letter among digits, a
    digit among letters). Repairing only those makes it rarer that a misread of another kind
    plus a swap happens to pass the check digit as a wrong number."""
    suspects = []
    for n, char in enumerate(field):
        neighbours = [c for c in field[max(n - 1, 0):n] + field[n + 1:n + 2] if c != FILLER]
        if char in CHECKABLE_TWINS and neighbours and all(
            c.isdigit() != char.isdigit() for c in neighbours
        ):
            suspects.append(n)
    return suspects


def _readings(field: str, suspects: list[int]) -> set[str]:
    """Candidate readings: every combination of swaps at the suspect positions, and one swap at
    any look-alike. The single swaps make sure that one look-alike misread anywhere always has
    its true reading among the candidates, so it is restored or, when ambiguous, left alone."""
    readings = set()
    for swaps in itertools.product((False, True), repeat=len(suspects)):
        chars = list(field)
        for n, swap in zip(suspects, swaps, strict=True):
            if swap:
                chars[n] = CHECKABLE_TWINS[chars[n]]
        readings.add("".join(chars))
    for n, char in enumerate(field):
        if char in CHECKABLE_TWINS:
            readings.add(field[:n] + CHECKABLE_TWINS[char] + field[n + 1:])
    return readings


def _units(buf: list[str], layout: _Layout) -> list[tuple[str, list[int], int | None]]:
    """The alphanumeric fields that carry their own check digit."""
    units = [("document number", *_number_positions(buf, layout))]
    if layout.optional_check is not None and buf[layout.optional_check] != FILLER:
        units.append(("optional data", list(range(*layout.optional)), layout.optional_check))
    return units


def _repair_alphanumeric(buf: list[str], layout: _Layout, corrections: list[str],
                         warnings: list[str]) -> None:
    """Swap look-alikes in the document number and optional data when exactly one variant
    satisfies the field's check digit; undo all of it if the composite then disagrees."""
    before, made = list(buf), []
    for label, positions, check in _units(buf, layout):
        if check is None:
            continue
        field = "".join(buf[i] for i in positions)
        if _check_ok(field, buf[check]):
            continue
        suspects = _suspects(field)
        if len(suspects) > MAX_AMBIGUOUS_POSITIONS:
            warnings.append(f"{label}: too many look-alike characters to repair")
            continue
        digit = LETTER_TO_DIGIT.get(buf[check], buf[check])
        valid = {reading for reading in _readings(field, suspects) if _check_ok(reading, digit)}
        if len(valid) != 1:
            if len(valid) > 1:
                warnings.append(f"{label}: {len(valid)} look-alike readings pass the check digit; "
                                "not repaired")
            continue
        after = valid.pop()
        if any(a != b and n not in suspects
               for n, (a, b) in enumerate(zip(field, after, strict=True))):
            warnings.append(f"{label}: the one reading its check digit accepts swaps a "
                            "character that fits its neighbours; not repaired")
            continue
        for i, char in zip(positions, after, strict=True):
            buf[i] = char
        buf[check] = digit
        _note(made, label, field + before[check], after + digit, CHOSEN_BY_CHECK_DIGIT)
    composite = layout.composite
    if made and composite is not None and (
        _composite_digit(buf, layout) != LETTER_TO_DIGIT.get(buf[composite], buf[composite])
    ):
        buf[:] = before
        warnings.append("look-alike repairs to the document number or optional data undone: "
                        "the composite check digit disagrees")
        return
    corrections.extend(made)


def _composite_digit(buf: list[str], layout: _Layout) -> str:
    """The composite check digit the zone should carry."""
    return check_digit("".join(_text(buf, span) for span in layout.composite_parts))


def _repair_check_character(buf: list[str], label: str, position: int, expected: str,
                            corrections: list[str]) -> None:
    """A look-alike letter in a check digit position is a digit, if it is the expected one."""
    char = buf[position]
    if char != expected and LETTER_TO_DIGIT.get(char) == expected:
        buf[position] = expected
        corrections.append(f"{label} check digit: {char!r} read as {expected!r}")


def _result(buf: list[str], layout: _Layout, raw: tuple[str, ...], corrections: list[str],
            warnings: list[str], today: date) -> MrzResult:
    """Read the (repaired) fields and check digits into an MrzResult."""
    positions, number_check = _number_positions(buf, layout)
    number = "".join(buf[i] for i in positions)
    optional = _text(buf, layout.optional)
    checks = {"document_number": number_check is not None
              and _check_ok(number, buf[number_check])}
    if number_check is None:
        warnings.append("document number: the check digit is missing")
    elif number_check != layout.number_check:
        # The rest of the optional data starts after the extension and its closing '<'.
        optional = optional[number_check - layout.optional[0] + 2:]
    else:
        number = number.rstrip(FILLER)

    birth, expiry = _text(buf, layout.birth), _text(buf, layout.expiry)
    checks["date_of_birth"] = birth.isdigit() and _check_ok(birth, buf[layout.birth_check])
    checks["expiry_date"] = expiry.isdigit() and _check_ok(expiry, buf[layout.expiry_check])
    if layout.optional_check is not None:
        digit = buf[layout.optional_check]
        if digit != FILLER:
            checks["optional_data"] = _check_ok(optional, digit)
        elif optional.strip(FILLER):
            # '<' stands for the check digit only of an unused field (9303 part 4, 4.2.2).
            checks["optional_data"] = False
            warnings.append("optional data: filled in but its check digit is '<'")
    if layout.composite is not None:
        checks["composite"] = buf[layout.composite] == _composite_digit(buf, layout)

    surname, _, given = _text(buf, layout.names).partition("<<")
    sex = {"F": "F", "M": "M", "X": "X", FILLER: "X"}.get(buf[layout.sex])
    if sex is None:
        warnings.append(f"sex: {buf[layout.sex]!r} is not F, M or '<'; read as unspecified")
    return MrzResult(
        format=layout.name,
        document_type=_text(buf, _CODE).rstrip(FILLER),
        issuing_country=_text(buf, _ISSUING).rstrip(FILLER),
        surname=_words(surname),
        given_names=_words(given),
        document_number=number,
        nationality=_text(buf, layout.nationality).rstrip(FILLER),
        date_of_birth=_birth_date(birth, today, warnings),
        sex=sex or "X",
        expiry_date=_date(expiry, 2000, "expiry date", warnings),
        optional_data=optional.rstrip(FILLER),
        optional_data_2=_text(buf, layout.optional_2).rstrip(FILLER) if layout.optional_2 else None,
        checks=checks,
        valid_check_digits=all(checks.values()),
        corrections=corrections,
        warnings=warnings,
        raw_lines=raw,
    )


def _words(text: str) -> str:
    """MRZ name characters as words: '<' separates."""
    return " ".join(word for word in text.split(FILLER) if word)


def _date(yymmdd: str, century: int, label: str, warnings: list[str]) -> date | None:
    """A YYMMDD field as a date in the given century, or None with a warning."""
    try:
        if not yymmdd.isdigit():
            raise ValueError
        return date(century + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        warnings.append(f"{label}: {yymmdd!r} is not a date")
        return None


def _birth_date(yymmdd: str, today: date, warnings: list[str]) -> date | None:
    """A birth date: in the 2000s unless that lies in the future, then in the 1900s."""
    born = _date(yymmdd, 2000, "date of birth", warnings)
    if born is None or born <= today:
        return born
    return _date(yymmdd, 1900, "date of birth", warnings)


def _iso(day: date | None) -> str | None:
    """ISO 8601, or None."""
    return day.isoformat() if day else None
