"""Texts of the lower layers that reach requesters, marked here for the catalogues.

The domain, the service and the pure verification cores keep their one English text (the
console, the API and the logs read it); the pages and the emails translate it at the edge,
with ``translated``: gettext on the English text, found in the catalogue because it is marked
below. tests/functional/test_translations.py checks that each registry's text is marked.
"""

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from verification.checks import REASONS
from workflow import service
from workflow.states import ISSUE_TYPES

# workflow.states.ISSUE_TYPES (the form's choices, the pages, the emails).
ISSUE_TYPE_TEXTS = (
    _l("I forgot my password"),
    _l("I lost my two-factor device"),
    _l("My account is locked after failed sign-ins"),
    _l("I have a new phone or device"),
    _l("My account was frozen for suspicious activity"),
    _l("Something else"),
)

# workflow.states.RECOVERY_STEP_LABELS ("this wasn't me" page, approval emails).
STEP_TEXTS = (
    _l("Password-reset link sent to the address of record"),
    _l("Second factor removed"),
    _l("Account unlocked"),
    _l("Account unfrozen"),
)

# workflow.states.CONSENT_TEXTS: each version's consent, beside the form's box. A case stores
# the version and the digest of its English text; a translation says the same version.
CONSENT_TEXTS = (
    _l("I agree that my ID and selfie are processed to verify my identity for this request."),
)

# The service's refusals that public pages show.
SERVICE_TEXTS = (
    _l("This link is not valid or was used. If you still cannot sign in, file a new recovery "
       "request."),
    _l("This link is not valid or has expired. If someone is trying to take over your "
       "account, contact support from the app or website."),
    _l("This tracking link is not valid."),
    _l("Your message is empty."),
    _l("This request is closed. Please file a new request if you still need help."),
    _l("We have not asked for new photos on this request."),
)

# verification.images: the upload refusals (keyed by their code, the text is the English one).
IMAGE_TEXTS = (
    _l("This photo could not be used. Take the photo again and upload it."),
    _l("This file is not a JPEG, PNG or WebP photo. Take a photo and upload it as JPEG, PNG or "
       "WebP."),
    _l("This image is animated. Upload a single still photo as JPEG, PNG or WebP."),
    _l("This photo is too large. Upload a smaller photo, for example one taken at a lower "
       "resolution."),
    _l("This photo could not be read: the file may be damaged or incomplete. Take the photo "
       "again and upload it."),
    _l("This file is empty. Choose your photo again and upload it."),
)

# verification.checks.REASONS: the user texts of the reasons the upload gate refuses with.
GATE_REASON_TEXTS = (
    _l("Your ID is too small in the photo: hold the phone closer so the document fills most "
       "of the picture, then take it again."),
    _l("Your ID photo is blurry: hold the phone still, tap the screen to focus on the "
       "document, and take it again."),
    _l("Your ID photo is too dark: take it again in good light, near a window or a lamp."),
    _l("Light is reflecting off your ID: tilt it slightly or turn off the flash so no bright "
       "spot hides the text, then take it again."),
    _l("Part of your ID is outside the photo: place the whole document inside the frame, with "
       "a little space around all four corners, and take it again."),
    _l("We could not see the photo on your ID: send the page or side of the document that "
       "shows your picture."),
    _l("We found more than one face on your ID photo: photograph only your document, on a "
       "plain surface, and take it again."),
    _l("We could not find a face in your selfie: take a new one facing the camera, with your "
       "whole face in the picture and in good light."),
    _l("Your selfie is a blank image: make sure nothing covers the camera, then take a new one "
       "facing it, with your whole face in the picture and in good light."),
    _l("Your selfie shows more than one person: take a new one with only you in the picture."),
    _l("Your face is too small in the selfie: hold the phone closer so your face fills more of "
       "the picture."),
    _l("Your selfie is blurry: hold the phone still in good light and take it again."),
    _l("Your selfie shows your ID rather than you: take a new photo of your face."),
)

# verification.checks.REASONS: the other user texts, which the automated checks write to the
# requester when they ask for new photos (joined, see workflow.rules.route_reason).
REASON_TEXTS = (
    _l("We have checked this part of your request."),
    _l("We could not confirm your identity from what you sent."),
    _l("Please send new photos: see the message from our team."),
    _l("Our security team has confirmed your request."),
    _l("Our security team could not confirm your request."),
    _l("We could not read the code lines on your ID (the rows with <<<): make sure they are in "
       "the photo, sharp and free of reflections. On an identity card they are often on the "
       "back: then add a photo of the back as well."),
    _l("We could not confirm the details printed on your ID: please take a new, sharp photo "
       "of the whole document."),
    _l("We are checking the details on your ID."),
    _l("Your ID has expired: please send a document that is still valid."),
    _l("We cannot accept this type of document: please send a passport or a national "
       "identity card."),
    _l("The name on your ID does not match the account. If you changed your name, reply with "
       "a document that shows the change."),
    _l("The date of birth on your ID does not match the account."),
    _l("We are checking the details you typed against your ID."),
    _l("We are comparing your selfie with your ID."),
    _l("We are checking the code in your selfie."),
    _l("We are checking the ID you hold in your selfie."),
    _l("We have checked the code in your selfie."),
    _l("We are reviewing your request."),
    _l("Your request is being reviewed by our security team."),
    _l("We are checking the details of your request."),
)

# The reason codes of GATE_REASON_TEXTS, in the registry (the test checks they agree).
GATE_REASON_CODES = (
    "document_too_small", "document_blurry", "document_too_dark", "document_glare",
    "document_cut_off", "document_no_face", "document_several_faces", "selfie_no_face",
    "selfie_blank", "selfie_several_faces", "selfie_face_too_small", "selfie_blurry",
    "selfie_is_document",
)

# The photo fields, as MissingEvidence names them.
EVIDENCE_NAMES = {
    "id_document": _l("Please attach a photo of your ID."),
    "id_document_back": _l("Please attach a photo of the back of your ID."),
    "selfie": _l("Please attach a selfie."),
}


def translated(text: str) -> str:
    """``text`` in the current language when the catalogue has it; else as it is."""
    return gettext(text) if text else text


def _reason_texts_in(body: str) -> list[str] | None:
    """The REASONS user texts ``body`` is made of, in order, or None when it is not only
    those (a message a person wrote)."""
    known = sorted({reason.user_text for reason in REASONS.values() if reason.user_text},
                   key=len, reverse=True)
    found, rest = [], body.strip()
    while rest:
        text = next((text for text in known if rest.startswith(text)), None)
        if text is None:
            return None
        found.append(text)
        rest = rest[len(text):].lstrip()
    return found


def message_body(message) -> str:
    """A message on the status page: what the automated checks wrote, in the current
    language; what a person wrote, as written."""
    if message.author_type != "system":
        return message.body
    parts = _reason_texts_in(message.body)
    return " ".join(translated(text) for text in parts) if parts else translated(message.body)


def issue_label(issue_type: str) -> str:
    """The issue type's label in the current language."""
    return translated(ISSUE_TYPES.get(issue_type, issue_type))


def evidence_refusal(err: service.EvidenceRejected) -> str:
    """The refusal of an uploaded photo in the current language (rebuilt from its reason
    codes when the gate refused it, as the service joins the first two)."""
    reasons = getattr(err.error, "reasons", None)
    if reasons and all(code in REASONS for code in reasons):
        return " ".join(translated(REASONS[code].user_text) for code in reasons[:2])
    return translated(err.error.message)


def missing_evidence(err: service.MissingEvidence) -> str:
    """The request for a missing photo in the current language."""
    text = EVIDENCE_NAMES.get(err.field)
    return str(text) if text is not None else str(err)


def challenge_refusal(err: service.ChallengeRefused, minutes: int) -> str:
    """The refusal of a challenge code in the current language, by its code."""
    texts = {
        "challenge_used": gettext("This verification code was already used for another "
                                  "request. Reload the form to get a new code."),
        "challenge_required": gettext("This kind of request needs a selfie holding your ID "
                                      "and the verification code shown on the form. Get a "
                                      "code and try again."),
        "challenge_expired": gettext("The verification code is more than %(minutes)s minutes "
                                     "old. Reload the form to get a new code, write it down "
                                     "and take the selfie again.", minutes=minutes),
        "challenge_invalid": gettext("The verification code is not valid. Reload the form to "
                                     "get a new one."),
    }
    return texts.get(err.code, str(err))
