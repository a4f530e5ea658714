"""Document checks: what an identity-verification vendor checks on a photo of an ID.

Pure functions: PIL images and plain facts in, CheckResult dataclasses out; no Flask, no
database. ``check_document`` runs the whole tree for one evidence attempt; the pieces are
public so the intake gate, the command line and tests can run them one by one.

Check names (the first segment is the stage, see verification.checks):
- document.quality.*            image quality (verification.quality)
- document.portrait.face_count  exactly one face on the document
- document.mrz.read             a machine-readable zone was found and parsed
- document.mrz.check_digits     every ICAO 9303 check digit holds
- document.validity.expiry      the document has not expired
- document.validity.document_type  the kind of document is accepted
- document.data.name / .date_of_birth  the MRZ against the account of record
- document.data.typed           the MRZ against what the user typed in the form
- document.compromised.document_number  the document already used for another account
- document.integrity.software / .screenshot  signals for the agent, never verdicts
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from anyascii import anyascii
from PIL import Image
from rapidfuzz import fuzz

from .checks import CheckResult, Result
from .faces import encode_face, find_faces
from .faces import engine_version as face_engine_version
from .mrz import MrzResult, chosen_repair
from .ocr import MrzReading, read_mrz, read_mrz_sides
from .quality import QualityThresholds, assess_document_photo

ENGINE = "recovery-desk-documents"
ENGINE_VERSION = "1"

# ICAO 9303 document codes by their first letter: P passport, I/A/C identity cards and
# official travel documents, V visa. A visa alone does not identify its holder's account.
DEFAULT_ACCEPTED_TYPES = frozenset({"P", "I", "A", "C"})

# Name similarity (0-100, see name_score). Calibrated by the unit tests' name pairs:
# reordered names, dropped diacritics, ICAO umlaut spellings (MUELLER / MULLER), omitted middle
# names and MRZ truncation all score 100; a single-letter typo in a 6-letter name scores ~83
# (a person should look); different people with one shared name score below 60.
NAME_CLEAR_SCORE = 90.0
NAME_CONSIDER_SCORE = 75.0

# ICAO 9303 part 3 allows two spellings of these letters in the MRZ (Ä as AE or A ...).
_ICAO_VARIANTS = {"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "Å": "AA", "Æ": "AE",
                  "Ø": "OE", "Ĳ": "IJ", "Œ": "OE", "Þ": "TH", "Ñ": "NXX"}
# Screens whose exact size in a photo suggests a screenshot (or a picture of a picture):
# current phones (portrait) and common desktop resolutions.
SCREEN_SIZES = frozenset({
    (750, 1334), (828, 1792), (1080, 1920), (1080, 2280), (1080, 2340), (1080, 2400),
    (1125, 2436), (1170, 2532), (1179, 2556), (1242, 2208), (1242, 2688), (1284, 2778),
    (1290, 2796), (1440, 3040), (1440, 3200), (1440, 3088), (720, 1600), (1206, 2622),
    (1320, 2868), (1366, 768), (1440, 900), (1536, 864), (1600, 900), (1920, 1080),
    (1920, 1200), (2560, 1440), (2560, 1600), (2880, 1800), (3024, 1964), (3840, 2160),
})
# EXIF Software values written by editors rather than by a camera.
EDITING_SOFTWARE = re.compile(
    r"photoshop|gimp|lightroom|affinity|pixelmator|paint\.net|snapseed|picsart|canva|"
    r"facetune|illustrator|corel|krita|photopea|fotor|befunky|inkscape", re.IGNORECASE)


class DocumentPolicy:
    """What the desk accepts and how strict the comparisons are (from configuration)."""

    def __init__(self, accepted_types=DEFAULT_ACCEPTED_TYPES, name_clear=NAME_CLEAR_SCORE,
                 name_consider=NAME_CONSIDER_SCORE,
                 quality: QualityThresholds | None = None):
        if isinstance(accepted_types, str):  # "P,I" from an environment variable
            accepted_types = accepted_types.split(",")
        self.accepted_types = frozenset(str(t).strip().upper() for t in accepted_types)
        if not self.accepted_types or not all(
                len(t) == 1 and t.isalpha() for t in self.accepted_types):
            raise ValueError("accepted document types are ICAO letters such as P, I, A, C")
        self.name_clear = float(name_clear)
        self.name_consider = float(name_consider)
        self.quality = quality or QualityThresholds()
        if not 0 <= self.name_consider <= self.name_clear <= 100:
            raise ValueError("name thresholds must satisfy 0 <= consider <= clear <= 100")


@dataclass(frozen=True)
class PersonFacts:
    """A name and date of birth to compare with the document (account of record, or typed)."""

    full_name: str
    date_of_birth: date | None


@dataclass(frozen=True)
class Portrait:
    """The face found on the document: how many, where, and its encoding for the selfie stage."""

    faces: int
    box: tuple[int, int, int, int] | None = None
    encoding: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class DocumentReport:
    """Everything the document stage found for one attempt."""

    checks: tuple[CheckResult, ...]
    reading: MrzReading | None
    mrz_side: str | None
    portrait: Portrait
    timings_ms: dict[str, float]

    @property
    def mrz(self) -> MrzResult | None:
        """The parsed MRZ, when one was read."""
        return self.reading.result if self.reading is not None else None

    def as_dict(self) -> dict:
        """A JSON-safe summary (the command line's --json output)."""
        mrz = self.mrz
        return {
            "mrz_found": mrz is not None,
            "mrz_side": self.mrz_side,
            "mrz": mrz.as_dict() if mrz else None,
            # What the reader saw, even when it is no valid MRZ: a person can compare it with
            # the photo.
            "mrz_lines": list(self.reading.lines) if self.reading is not None else [],
            "mrz_error": self.reading.error if self.reading is not None else None,
            "portrait_faces": self.portrait.faces,
            "checks": [check_as_dict(c) for c in self.checks],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


def check_as_dict(found: CheckResult) -> dict:
    """One check as JSON-safe values."""
    return {"check": found.check, "result": found.result.value,
            "reason_code": found.reason_code, "score": found.score,
            "threshold": found.threshold, "engine": found.engine,
            "engine_version": found.engine_version, "details": dict(found.details)}


def _found(check: str, result: Result, reason: str | None = None, *, score=None,
           threshold=None, engine: str = ENGINE, version: str = ENGINE_VERSION,
           **details) -> CheckResult:
    return CheckResult(check=check, result=result, reason_code=reason, score=score,
                       threshold=threshold, engine=engine, engine_version=version,
                       details=details)


# --- portrait -----------------------------------------------------------------------------

def find_portrait(image: Image.Image, *, encode: bool = True, steady: bool = False) -> Portrait:
    """The faces on a document photo; the largest one's encoding when there is exactly one.

    ``steady``: its steady encoding (encode_face(..., steady=True)).
    """
    faces = find_faces(image)
    if len(faces) != 1:
        return Portrait(faces=len(faces), box=faces[0].box if faces else None)
    encoding = encode_face(image, faces[0], steady=steady) if encode else None
    return Portrait(faces=1, box=faces[0].box, encoding=encoding)


def portrait_check(portrait: Portrait) -> CheckResult:
    """document.portrait.face_count: exactly one face on the document."""
    engine_version = face_engine_version()  # the version of the engine behind the finding
    if portrait.faces == 1:
        result, reason = Result.CLEAR, None
    elif portrait.faces == 0:
        result, reason = Result.REJECTED, "document_no_face"
    else:
        result, reason = Result.REJECTED, "document_several_faces"
    return _found("document.portrait.face_count", result, reason, score=float(portrait.faces),
                  threshold=1.0, engine="face_recognition", version=engine_version,
                  box=list(portrait.box) if portrait.box else None)


# --- MRZ ----------------------------------------------------------------------------------

def mrz_checks(reading: MrzReading) -> list[CheckResult]:
    """document.mrz.read and, when read, document.mrz.check_digits."""
    common = {"engine": reading.engine, "version": reading.engine_version}
    if reading.result is None:
        return [_found("document.mrz.read", Result.REJECTED, "mrz_not_found",
                       score=reading.confidence, error=reading.error, **common)]
    mrz = reading.result
    found = [_found("document.mrz.read", Result.CLEAR, score=reading.confidence,
                    format=mrz.format, lines=list(reading.lines), **common)]
    passed = sum(mrz.checks.values())
    score = passed / len(mrz.checks) if mrz.checks else 0.0
    details = {"checks": dict(mrz.checks), "corrections": list(mrz.corrections),
               "warnings": list(mrz.warnings)}
    if not mrz.valid_check_digits:
        found.append(_found("document.mrz.check_digits", Result.REJECTED,
                            "mrz_check_digits_failed", score=score, threshold=1.0, **details))
    elif any(chosen_repair(c) for c in mrz.corrections):
        # A look-alike in the document number or optional data was chosen by its check digit
        # alone (which misses one swap in ten), or a state or nationality by the list of codes:
        # a person compares it with the image. Repairs the field type dictates (a '0' in a
        # letters-only field) need no one.
        found.append(_found("document.mrz.check_digits", Result.CONSIDER, "mrz_corrected",
                            score=score, threshold=1.0, **details))
    else:
        found.append(_found("document.mrz.check_digits", Result.CLEAR, score=score,
                            threshold=1.0, **details))
    return found


# --- validity -----------------------------------------------------------------------------

def validity_checks(mrz: MrzResult, policy: DocumentPolicy, today: date) -> list[CheckResult]:
    """document.validity.expiry and document.validity.document_type."""
    found = []
    if mrz.expiry_date is None:
        found.append(_found("document.validity.expiry", Result.CONSIDER,
                            "document_expiry_unreadable"))
    else:
        days_left = (mrz.expiry_date - today).days
        result, reason = (Result.CLEAR, None) if days_left >= 0 else \
            (Result.REJECTED, "document_expired")
        found.append(_found("document.validity.expiry", result, reason, score=float(days_left),
                            threshold=0.0, expiry_date=mrz.expiry_date.isoformat()))
    kind = mrz.document_type[:1]
    accepted = kind in policy.accepted_types
    found.append(_found("document.validity.document_type",
                        Result.CLEAR if accepted else Result.REJECTED,
                        None if accepted else "document_type_not_accepted",
                        document_type=mrz.document_type,
                        accepted=sorted(policy.accepted_types)))
    return found


# --- data comparison ----------------------------------------------------------------------

def name_tokens(text: str) -> list[set[str]]:
    """Each word of a name as its possible MRZ spellings (A-Z only).

    Any script is transliterated (anyascii); letters ICAO spells two ways (Ä as AE or A)
    give both spellings.
    """
    # Apostrophes join (O'NEIL is ONEIL in the MRZ); spaces, hyphens and '<' separate.
    joined = re.sub(r"['’`´]", "", unicodedata.normalize("NFC", text.strip()))
    words = re.split(r"[\s<\-,.]+", joined)
    tokens = []
    for word in words:
        if not word:
            continue
        upper = word.upper()
        spellings = {_letters(anyascii(upper)),
                     _letters(anyascii("".join(_ICAO_VARIANTS.get(c, c) for c in upper)))}
        spellings.discard("")
        if spellings:
            tokens.append(spellings)
    return tokens


def _letters(text: str) -> str:
    return re.sub(r"[^A-Z]", "", text.upper())


def _best(spellings: set[str], others: list[set[str]], *, prefix: bool = False) -> float:
    """The best similarity of any spelling of one word to any spelling of the others."""
    best = 0.0
    for word in spellings:
        for other in others:
            for candidate in other:
                if prefix and len(candidate) > len(word):
                    candidate = candidate[:len(word)]  # the MRZ cut the name short
                best = max(best, fuzz.ratio(word, candidate))
    return best


def name_score(surname: str, given_names: str, full_name: str, *,
               truncated: bool = False) -> float:
    """How well an MRZ name matches a free-text full name, 0-100 (order-independent).

    The score is the lowest of: each surname word found in the full name, the first given
    name found in it, and each word of the full name found on the document (so an extra or a
    missing surname does not pass). Middle names on the document may be missing from the
    full name. ``truncated``: the MRZ name filled its field, so its last word may be cut short.
    """
    doc_surname, doc_given = name_tokens(surname), name_tokens(given_names)
    theirs = name_tokens(full_name)
    if not theirs or not doc_surname:
        return 0.0
    document = doc_surname + doc_given
    last = len(document) - 1
    needed = range(len(doc_surname) + (1 if doc_given else 0))
    scores = [_best(document[i], theirs, prefix=truncated and i == last) for i in needed]
    for word in theirs:
        found = _best(word, document)
        if truncated:
            found = max(found, _best(document[last], [word], prefix=True))
        scores.append(found)
    # A name written without spaces (王小明 -> WANGXIAOMING) has no words to pair: then
    # compare all the letters, surname first or last, and keep the better view.
    if len(theirs) > 1 and len(document) > 1:
        return min(scores)
    whole = max(fuzz.ratio(_joined(first + second), _joined(theirs))
                for first, second in ((doc_surname, doc_given), (doc_given, doc_surname)))
    return max(min(scores), whole)


def _joined(tokens: list[set[str]]) -> str:
    """The words of a name run together, each in its plainest spelling."""
    return "".join(min(spellings, key=len) for spellings in tokens)


def _same_birth_date(document: date | None, theirs: date | None) -> bool:
    """Equal dates; the MRZ gives two-digit years, so its century may be a guess."""
    if document is None or theirs is None:
        return False
    return (document.month, document.day, document.year % 100) == \
        (theirs.month, theirs.day, theirs.year % 100)


def data_checks(mrz: MrzResult, account: PersonFacts | None, typed: PersonFacts | None,
                policy: DocumentPolicy) -> list[CheckResult]:
    """The MRZ name and date of birth against the account of record and the typed form."""
    truncated = _name_truncated(mrz)
    found = []
    if account is None:
        found.append(_found("document.data.name", Result.CONSIDER, "no_account_of_record"))
    else:
        score = name_score(mrz.surname, mrz.given_names, account.full_name, truncated=truncated)
        if score >= policy.name_clear:
            result, reason = Result.CLEAR, None
        elif score >= policy.name_consider:
            result, reason = Result.CONSIDER, "name_partial_match"
        else:
            result, reason = Result.CONSIDER, "name_mismatch"
        found.append(_found("document.data.name", result, reason, score=round(score, 1),
                            threshold=policy.name_clear, document=_mrz_name(mrz),
                            account=account.full_name))
        same = _same_birth_date(mrz.date_of_birth, account.date_of_birth)
        found.append(_found(
            "document.data.date_of_birth", Result.CLEAR if same else Result.CONSIDER,
            None if same else "date_of_birth_mismatch", score=1.0 if same else 0.0,
            threshold=1.0, document=_iso(mrz.date_of_birth), account=_iso(account.date_of_birth)))
    if typed is not None:
        score = name_score(mrz.surname, mrz.given_names, typed.full_name, truncated=truncated)
        same = _same_birth_date(mrz.date_of_birth, typed.date_of_birth)
        ok = score >= policy.name_clear and same
        found.append(_found("document.data.typed", Result.CLEAR if ok else Result.CONSIDER,
                            None if ok else "typed_data_mismatch", score=round(score, 1),
                            threshold=policy.name_clear, name_score=round(score, 1),
                            date_of_birth_matches=same, typed_name=typed.full_name,
                            typed_date_of_birth=_iso(typed.date_of_birth)))
    return found


def _name_truncated(mrz: MrzResult) -> bool:
    """True when the name filled its whole MRZ field (ICAO then cuts it short)."""
    widths = {"TD1": 30, "TD2": 31, "MRVB": 31, "TD3": 39, "MRVA": 39}
    used = len(mrz.surname.replace(" ", "<")) + 2 + len(mrz.given_names.replace(" ", "<"))
    return used >= widths.get(mrz.format, 39)


def _mrz_name(mrz: MrzResult) -> str:
    return f"{mrz.surname}, {mrz.given_names}".strip(", ")


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# --- compromised documents and integrity signals ------------------------------------------

def compromised_check(mrz: MrzResult, other_cases: Sequence[int]) -> CheckResult:
    """document.compromised.document_number: the same document filed for other accounts."""
    if not other_cases:
        return _found("document.compromised.document_number", Result.CLEAR, score=0.0,
                      threshold=1.0)
    return _found("document.compromised.document_number", Result.CONSIDER,
                  "document_used_by_other_account", score=float(len(other_cases)),
                  threshold=1.0, other_cases=sorted(set(other_cases)),
                  document_number=mrz.document_number, issuing_country=mrz.issuing_country)


def integrity_checks(exif_software: str | None, size: tuple[int, int]) -> list[CheckResult]:
    """Signals for the agent (editing software in EXIF, screen-sized image): never verdicts.

    They are recorded as clear with a reason code and ``signal`` in the details, so they show
    in the tree without stopping a case that is otherwise clear.
    """
    edited = bool(exif_software and EDITING_SOFTWARE.search(exif_software))
    width, height = size
    screen = (width, height) in SCREEN_SIZES or (height, width) in SCREEN_SIZES
    return [
        _found("document.integrity.software", Result.CLEAR,
               "edited_with_software" if edited else None, score=1.0 if edited else 0.0,
               signal=edited, software=exif_software),
        _found("document.integrity.screenshot", Result.CLEAR,
               "screenshot_dimensions" if screen else None, score=1.0 if screen else 0.0,
               signal=screen, width=width, height=height),
    ]


# --- the whole stage ----------------------------------------------------------------------

def check_document(front: Image.Image, back: Image.Image | None = None, *,
                   account: PersonFacts | None = None, typed: PersonFacts | None = None,
                   exif_software: str | None = None, policy: DocumentPolicy | None = None,
                   today: date | None = None) -> DocumentReport:
    """Run every document check on one attempt's photos (front, and back when given)."""
    policy = policy or DocumentPolicy()
    today = today or date.today()
    timings: dict[str, float] = {}
    checks: list[CheckResult] = []

    started = time.perf_counter()
    checks.extend(assess_document_photo(front, policy.quality).checks)
    timings["quality"] = _ms(started)

    started = time.perf_counter()
    portrait = find_portrait(front)
    checks.append(portrait_check(portrait))
    timings["portrait"] = _ms(started)

    started = time.perf_counter()
    if back is None:
        reading, side = read_mrz(front, today=today), "front"
    else:
        # A TD1 card carries its MRZ on the back: both sides' lines are found first, and the
        # zone that looks most like an MRZ is read first, whichever side it is on.
        reading, index = read_mrz_sides([front, back], today=today)
        side = ("front", "back")[index] if index is not None else None
    timings["mrz"] = _ms(started)
    checks.extend(mrz_checks(reading))

    if reading.result is not None:
        checks.extend(validity_checks(reading.result, policy, today))
        checks.extend(data_checks(reading.result, account, typed, policy))
    checks.extend(integrity_checks(exif_software, front.size))
    return DocumentReport(checks=tuple(checks), reading=reading,
                          mrz_side=side if reading.result is not None else None,
                          portrait=portrait, timings_ms=timings)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
