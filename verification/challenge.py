"""Challenge selfies: a one-time code the person writes on paper and holds up with their ID.

A fresh code in the picture shows the selfie was taken for this request, now: an old photo or
a photo of someone's ID cannot carry it. The code is issued with the form as a signed,
timestamped token (nothing is stored until the request is filed); the request stores the
token's nonce under a unique constraint, so one code backs one case only.

An agent reads the code on the selfie by eye and confirms it. The automatic read below is an
extra signal for that agent, never the only gate: handwriting defeats OCR often enough.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from PIL import Image

from .checks import CheckResult, Result
from .ocr import ENGINE, engine_version, ocr_engine

# Digits only: the easiest to write by hand and to read back, by people and by OCR. Six of
# them give a million codes; a code is also bound to its signed token and expires.
CODE_LENGTH = 6
_SALT = "recovery-desk/challenge-code"
# Characters handwriting and OCR confuse with digits, read as the digit they stand for.
_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1",
                             "i": "1", "|": "1", "Z": "2", "z": "2", "S": "5", "s": "5",
                             "B": "8", "G": "6", "b": "6", "q": "9", "g": "9", "T": "7"})
# The OCR engine works on a copy this long on its longer side (as for the MRZ).
READ_MAX_SIDE = 1600


class ChallengeInvalid(ValueError):
    """The challenge token was not issued by this desk (or was altered)."""


class ChallengeExpired(ValueError):
    """The challenge token is older than its time to live."""


@dataclass(frozen=True)
class IssuedChallenge:
    """A code for the person and the token that proves this desk issued it, and when."""

    code: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Challenge:
    """A verified challenge: the code and the nonce that makes it single-use."""

    code: str
    nonce: str


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def issue(secret: str, ttl_seconds: int) -> IssuedChallenge:
    """A fresh random code and its signed token."""
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_LENGTH))
    token = _serializer(secret).dumps({"c": code, "n": secrets.token_hex(16)})
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl_seconds)
    return IssuedChallenge(code, token, expires)


def verify(token: str, secret: str, ttl_seconds: int) -> Challenge:
    """The code and nonce of a token this desk issued less than ``ttl_seconds`` ago."""
    try:
        data = _serializer(secret).loads(token, max_age=ttl_seconds)
    except SignatureExpired as err:
        raise ChallengeExpired("The verification code has expired.") from err
    except BadSignature as err:
        raise ChallengeInvalid("The verification code is not one this desk issued.") from err
    if (not isinstance(data, dict)
            or not re.fullmatch(rf"\d{{{CODE_LENGTH}}}", str(data.get("c")))
            or not re.fullmatch(r"[0-9a-f]{32}", str(data.get("n")))):
        raise ChallengeInvalid("The verification code is not one this desk issued.")
    return Challenge(code=data["c"], nonce=data["n"])


@dataclass(frozen=True)
class CodeReading:
    """What the OCR engine read on a challenge selfie, and whether the code was among it."""

    found: bool
    texts: tuple[str, ...] = field(default=())
    elapsed_ms: float = 0.0


def digits_of(text: str) -> str:
    """The digits a piece of read text stands for (look-alike letters folded to digits)."""
    return re.sub(r"\D", "", text.translate(_LOOKALIKES))


def read_code(image: Image.Image, code: str) -> CodeReading:
    """Look for ``code`` among the text RapidOCR reads on the selfie; raises OcrUnavailable."""
    started = time.perf_counter()
    engine = ocr_engine()
    rgb = image.convert("RGB")
    scale = min(1.0, READ_MAX_SIDE / max(rgb.size))
    if scale < 1.0:
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)),
                         Image.Resampling.BILINEAR)
    # RapidOCR takes OpenCV's channel order.
    result, _ = engine(np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1]))
    texts = tuple(str(item[1]) for item in (result or []))
    # A code may be read as one box or split in two ("482 913"); joining neighbours covers both.
    joined = [digits_of(t) for t in texts]
    candidates = set(joined) | {a + b for a, b in zip(joined, joined[1:], strict=False)}
    found = any(code in candidate for candidate in candidates)
    return CodeReading(found, texts, (time.perf_counter() - started) * 1000)


def code_check(reading: CodeReading | None, error: str | None = None) -> CheckResult:
    """selfie.challenge.code: the automatic read of the code; consider, never rejected."""
    if reading is not None and reading.found:
        result, reason = Result.CLEAR, None
    else:
        result, reason = Result.CONSIDER, "challenge_code_not_read"
    details = {"texts": list(reading.texts)[:20]} if reading is not None else {}
    if error:
        details["error"] = error
    return CheckResult("selfie.challenge.code", result, reason,
                       score=1.0 if result is Result.CLEAR else 0.0, threshold=1.0,
                       engine=ENGINE, engine_version=engine_version(), details=details)
