"""The check tree: immutable results of automated and human checks, and how stages derive theirs.

Check names are dotted paths (``document.mrz.check_digits``); the first segment is the stage.
A stage's result is the worst of its children's: one rejection rejects the stage, one
"consider" sends it to a person.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum


class Result(StrEnum):
    """The outcome of one check, in increasing severity."""

    CLEAR = "clear"
    CONSIDER = "consider"
    REJECTED = "rejected"


SEVERITY = {Result.CLEAR: 0, Result.CONSIDER: 1, Result.REJECTED: 2}


@dataclass(frozen=True)
class Reason:
    """A reason code's texts: what the person should do, and what the agent should know."""

    user_text: str
    internal_text: str


# The one registry of reason codes. Adding a reason is one entry.
REASONS: dict[str, Reason] = {
    "agent_confirmed": Reason(
        "We have checked this part of your request.",
        "An agent looked at the evidence and confirmed it."),
    "agent_overrode": Reason(
        "We have checked this part of your request.",
        "An agent confirmed what the automated checks had flagged; the reason is in the events."),
    "agent_declined": Reason(
        "We could not confirm your identity from what you sent.",
        "An agent declined the case at this stage; the reason is in the case events."),
    "resubmission_requested": Reason(
        "Please send new photos: see the message from our team.",
        "An agent asked the user for new photos."),
    "security_approved": Reason(
        "Our security team has confirmed your request.",
        "A security lead approved the escalated case."),
    "security_declined": Reason(
        "Our security team could not confirm your request.",
        "A security lead declined the escalated case."),
    # Image quality of the ID photo (the intake gate and the document stage).
    "document_too_small": Reason(
        "Your ID is too small in the photo: hold the phone closer so the document fills most "
        "of the picture, then take it again.",
        "The document, or the whole image, has too few pixels to read its text."),
    "document_blurry": Reason(
        "Your ID photo is blurry: hold the phone still, tap the screen to focus on the "
        "document, and take it again.",
        "The document's sharpness is below the blur threshold."),
    "document_too_dark": Reason(
        "Your ID photo is too dark: take it again in good light, near a window or a lamp.",
        "The document's brightness or contrast is below the darkness threshold."),
    "document_glare": Reason(
        "Light is reflecting off your ID: tilt it slightly or turn off the flash so no "
        "bright spot hides the text, then take it again.",
        "A large share of the document is blown-out highlight (glare)."),
    "document_cut_off": Reason(
        "Part of your ID is outside the photo: place the whole document inside the frame, "
        "with a little space around all four corners, and take it again.",
        "The document touches the edge of the image: a corner or edge is missing."),
    "document_no_face": Reason(
        "We could not see the photo on your ID: send the page or side of the document that "
        "shows your picture.",
        "No portrait face was found on the document."),
    "document_several_faces": Reason(
        "We found more than one face on your ID photo: photograph only your document, on "
        "a plain surface, and take it again.",
        "More than one face was found on the document image."),
    # Reading the machine-readable zone.
    "mrz_not_found": Reason(
        "We could not read the code lines on your ID (the rows with <<<): make sure they are "
        "in the photo, sharp and free of reflections. On an identity card they are often on "
        "the back: then add a photo of the back as well.",
        "No machine-readable zone was found or read on the document."),
    "mrz_check_digits_failed": Reason(
        "We could not confirm the details printed on your ID: please take a new, sharp "
        "photo of the whole document.",
        "The MRZ was read but one or more ICAO 9303 check digits do not match."),
    "mrz_corrected": Reason(
        "We are checking the details on your ID.",
        "The MRZ validated only after OCR repairs; an agent should compare it with the image."),
    # Validity of the document.
    "document_expired": Reason(
        "Your ID has expired: please send a document that is still valid.",
        "The MRZ expiry date is in the past."),
    "document_type_not_accepted": Reason(
        "We cannot accept this type of document: please send a passport or a national "
        "identity card.",
        "The MRZ document type is not in the accepted list."),
    "document_expiry_unreadable": Reason(
        "We are checking the details on your ID.",
        "The MRZ expiry date is not a valid date."),
    # Data comparison.
    "name_mismatch": Reason(
        "The name on your ID does not match the account. If you changed your name, reply "
        "with a document that shows the change.",
        "The MRZ name does not match the name on the account of record."),
    "name_partial_match": Reason(
        "We are checking the details on your ID.",
        "The MRZ name matches the account of record only partly; an agent should compare."),
    "date_of_birth_mismatch": Reason(
        "The date of birth on your ID does not match the account.",
        "The MRZ date of birth differs from the account of record."),
    "typed_data_mismatch": Reason(
        "We are checking the details you typed against your ID.",
        "The name or date of birth the user typed differs from the MRZ."),
    "no_account_of_record": Reason(
        "We are checking the details on your ID.",
        "No account of record was found for the email, so nothing to compare with."),
    # The selfie.
    "selfie_no_face": Reason(
        "We could not find a face in your selfie: take a new one facing the camera, with your "
        "whole face in the picture and in good light.",
        "No face was detected on the selfie."),
    "selfie_blank": Reason(
        "Your selfie is a blank image: make sure nothing covers the camera, then take a new "
        "one facing it, with your whole face in the picture and in good light.",
        "The selfie has almost no contrast (one flat colour): a covered lens or a blank file."),
    "selfie_several_faces": Reason(
        "Your selfie shows more than one person: take a new one with only you in the picture.",
        "More than one face (other than a held ID's portrait) was detected on the selfie."),
    "selfie_face_too_small": Reason(
        "Your face is too small in the selfie: hold the phone closer so your face fills more "
        "of the picture.",
        "The selfie face is smaller than the minimum size for a reliable comparison."),
    "selfie_blurry": Reason(
        "Your selfie is blurry: hold the phone still in good light and take it again.",
        "The selfie face's sharpness is below the blur threshold."),
    "selfie_is_document": Reason(
        "Your selfie shows your ID rather than you: take a new photo of your face.",
        "The selfie face is the document's own portrait (the same photograph): the ID or "
        "its photo was sent as the selfie."),
    "face_mismatch": Reason(
        "We are comparing your selfie with your ID.",
        "The selfie face is further from the document portrait than the match threshold."),
    "no_document_portrait": Reason(
        "We are comparing your selfie with your ID.",
        "The document check found no single portrait to compare the selfie with."),
    "reference_mismatch": Reason(
        "We are comparing your selfie with your ID.",
        "The selfie face does not match the account's reference KYC portrait."),
    "face_seen_on_other_account": Reason(
        "We are comparing your selfie with your ID.",
        "The same face was filed in cases of other accounts (the fraud-ring signal)."),
    "challenge_code_not_read": Reason(
        "We are checking the code in your selfie.",
        "The verification code could not be read automatically: compare it by eye."),
    "challenge_document_not_seen": Reason(
        "We are checking the ID you hold in your selfie.",
        "No face matching the document portrait was found on the held ID."),
    "challenge_confirmed": Reason(
        "We have checked the code in your selfie.",
        "An agent read the expected code on the selfie."),
    # Risk.
    "risk_medium": Reason(
        "We are reviewing your request.",
        "Medium risk: see the reasons listed with the assessment."),
    "risk_high": Reason(
        "Your request is being reviewed by our security team.",
        "High risk: see the reasons listed with the assessment."),
    # Recent account activity only the owner knows (verification/activity.py).
    "activity_deposit_mismatch": Reason(
        "We are checking the details of your request.",
        "The last deposit the user described (amount or date) does not match the account's "
        "last deposit, within the tolerances; or the account has no deposit on record."),
    "activity_purchase_mismatch": Reason(
        "We are checking the details of your request.",
        "The asset the user says they bought last is not the account's last purchase."),
    "activity_attempts_exceeded": Reason(
        "We are checking the details of your request.",
        "Earlier requests for this account already answered the activity questions as many "
        "times as allowed: these answers were not compared (someone may be guessing)."),
    # Compromised documents and integrity signals.
    "document_used_by_other_account": Reason(
        "We are checking the details on your ID.",
        "The same document number and issuing country were submitted for another account."),
    "edited_with_software": Reason(
        "We are checking the details on your ID.",
        "The original upload's EXIF names image-editing software."),
    "screenshot_dimensions": Reason(
        "We are checking the details on your ID.",
        "The image has the exact pixel size of a common phone or computer screen."),
}


@dataclass(frozen=True)
class CheckResult:
    """One finding, as the engines and the console produce it (before it is stored)."""

    check: str
    result: Result
    reason_code: str | None = None
    score: float | None = None
    threshold: float | None = None
    engine: str = "agent"
    engine_version: str = "console"
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if "." not in self.check:
            raise ValueError(f"check names are dotted paths: {self.check!r}")
        if self.reason_code is not None and self.reason_code not in REASONS:
            raise ValueError(f"unknown reason code {self.reason_code!r}")

    @property
    def stage(self) -> str:
        """The stage a check belongs to: the first segment of its name."""
        return self.check.split(".", 1)[0]


# Keys of a check's details that hold what a person is, typed or showed: names, dates of
# birth, document numbers, MRZ lines and other text read off a photo, answers about account
# activity. They go with the evidence when it is purged or erased; the rest of a result
# (check, result, reason code, score, threshold, engine, links to other cases) stays.
PERSONAL_DETAILS = frozenset({
    "document", "account",  # document.data.name / .date_of_birth: the MRZ and the record
    "typed_name", "typed_date_of_birth",  # document.data.typed: what the person typed
    "document_number", "issuing_country",  # document.compromised.document_number
    "lines",  # document.mrz.read: the MRZ text itself
    "corrections", "warnings",  # document.mrz.check_digits: repairs quote the characters
    "texts", "error",  # selfie.challenge.code: text read off the selfie
    "answered", "on_record",  # account.activity.*: deposits and purchases
    "software",  # document.integrity.software: the device's editing software
})


def impersonal(details: Mapping[str, object]) -> dict:
    """``details`` without the keys that hold personal data, marked as purged."""
    kept = {key: value for key, value in details.items() if key not in PERSONAL_DETAILS}
    kept["purged"] = True
    return kept


def worst(results: Iterable[str]) -> Result | None:
    """The most severe of ``results``; None when there are none."""
    found = [Result(r) for r in results]
    return max(found, key=SEVERITY.__getitem__) if found else None


def stage_results(checks: Iterable, attempt: int) -> dict[str, Result]:
    """Each stage's result from the checks of evidence ``attempt`` (rows oldest first).

    ``checks`` are objects with ``check``, ``result`` and ``attempt``. A later result of the
    same check supersedes an earlier one (a person revising a decision); stages with no
    result for this attempt are absent: new photos start unjudged.
    """
    newest: dict[str, str] = {}
    for row in checks:
        if row.attempt == attempt:
            newest[row.check] = row.result
    by_stage: dict[str, list[str]] = {}
    for check, result in newest.items():
        by_stage.setdefault(check.split(".", 1)[0], []).append(result)
    return {stage: worst(results) for stage, results in by_stage.items()}


def settings_from_mapping(cls, overrides: Mapping[str, object], what: str):
    """A frozen settings dataclass with ``overrides`` applied, each coerced to its field's type.

    An unknown name, a value that is not a number, or an infinite one is a ValueError that
    names the setting, so a bad configuration stops the desk at start-up.
    """
    known = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    unknown = set(overrides) - set(known)
    if unknown:
        raise ValueError(f"unknown {what} setting(s): {', '.join(map(repr, sorted(unknown)))}; "
                         f"known: {', '.join(known)}")
    values = {}
    for name, value in overrides.items():
        kind = type(known[name])
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what} setting {name!r} must be a number, not {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"{what} setting {name!r} must be finite, not {value!r}")
        values[name] = number
    return cls(**values)
