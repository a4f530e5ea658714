"""Staff credentials, without a database: the password rules, one-time codes and back-off.

NIST SP 800-63B is the yardstick: a password of at least 12 characters that is not a known
common one (nor one dressed up with digits and symbols), nor the person's own name or address;
a TOTP code is good for one use only; single-use recovery codes; and repeated failures slow
the next attempt down instead of locking the account (a lock-out would let anyone keep a
security lead out by failing on purpose).
"""

from __future__ import annotations

import gzip
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pyotp

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
COMMON_PASSWORDS = Path(__file__).with_name("data") / "common-passwords.txt.gz"

# TOTP (RFC 6238) as every authenticator app does it: SHA-1, 6 digits, 30-second steps. A code
# of the step before or after is accepted too (a phone's clock a little off), once.
TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1

# Ten recovery codes of ten characters from an alphabet without look-alikes (no 0/O, 1/I/L):
# 31 letters, about 50 bits each.
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 10
RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class WeakPassword(ValueError):
    """The password breaks a rule; the message says which, in words."""


@cache
def _common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def _is_run(text: str) -> bool:
    """One character again and again, or a straight run up or down ("abcdef", "987654"; digits
    go round: "7890123")."""
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    if text.isdigit():
        steps = {step % 10 for step in steps}
        return len(steps) == 1 and steps <= {0, 1, 9}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def _repeats(text: str) -> bool:
    """Made of one short piece repeated ("abcabcabcabc", "1234512345")."""
    return any(len(text) % size == 0 and text == text[:size] * (len(text) // size)
               for size in range(1, len(text) // 2 + 1))


def check_password(password: str, *, personal: tuple[str, ...] = ()) -> None:
    """Refuse, with a sentence, a password an attacker would try early; ``personal`` holds the
    person's own words (email address, name)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    lowered = password.lower()
    bare = re.sub(r"^[\d\W_]+|[\d\W_]+$", "", lowered)  # "Password123!" -> "password"
    common = _common_passwords()
    if lowered in common or (bare and bare in common):
        raise WeakPassword("the password is on a list of common passwords: choose another")
    squeezed = re.sub(r"\s+", "", lowered)
    if _is_run(squeezed) or _repeats(squeezed):
        raise WeakPassword("the password is a repeated or sequential pattern: choose another")
    words = set()
    for item in personal:
        words.update(w for w in re.split(r"[\W_]+", item.lower()) if len(w) >= 4)
    if any(word in lowered for word in words):
        raise WeakPassword("the password must not contain your name or email address")


def new_totp_secret() -> str:
    """A random 160-bit TOTP secret, base32 as authenticator apps take it."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer)


def totp_step(at: datetime) -> int:
    """The TOTP time step ``at`` falls in."""
    return int(at.timestamp()) // TOTP_STEP_SECONDS


def matching_step(secret: str, code: str, at: datetime, *, after: int | None) -> int | None:
    """The time step whose code ``code`` is, near ``at`` and later than ``after`` (the step of
    the last code used: a code is good once), or None."""
    code = re.sub(r"\s+", "", code)
    if not (code.isascii() and code.isdigit() and len(code) == TOTP_DIGITS):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    now = totp_step(at)
    for step in range(now - TOTP_DRIFT_STEPS, now + TOTP_DRIFT_STEPS + 1):
        if (after is None or step > after) and secrets.compare_digest(
                totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten fresh recovery codes, written ``XXXXX-XXXXX``."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalise_recovery_code(text: str) -> str | None:
    """A recovery code as stored (upper case, no dash or spaces), or None if it cannot be one."""
    bare = re.sub(r"[\s-]+", "", text).upper()
    if len(bare) != RECOVERY_CODE_LENGTH or any(ch not in RECOVERY_ALPHABET for ch in bare):
        return None
    return bare


@dataclass(frozen=True)
class Backoff:
    """How failed sign-ins slow the next attempt: ``free`` failures cost nothing, then each one
    doubles the wait from ``first`` up to ``longest``; failures older than ``forget`` count no
    more."""

    free: int
    first: timedelta
    longest: timedelta
    forget: timedelta

    def wait_after(self, failures: int) -> timedelta:
        """The wait after the ``failures``-th failure in a row."""
        if failures < self.free:
            return timedelta(0)
        return min(self.first * 2 ** min(failures - self.free, 32), self.longest)


def wait_words(wait: timedelta) -> str:
    """A wait in words, rounded up: "40 seconds", "3 minutes"."""
    seconds = max(1, int(-(-wait.total_seconds() // 1)))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"
