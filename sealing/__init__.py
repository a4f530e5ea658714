"""Authenticated encryption of values kept at rest: bytes in, bytes out, no Flask or database.

A sealed value is AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce per value:
``version byte | nonce (12 bytes) | ciphertext and 16-byte tag``. The caller passes a
*context* that is authenticated with the value but not stored in it (GCM's associated data):
the desk passes the table, column and row a value belongs to, so a value copied into another
row, another column or relabelled with another key id fails to open instead of showing the
wrong person's photo. Random nonces are safe for far more values than a desk stores under one
key (the bound is 2**32 values per key; rotate-key moves everything to a new key anyway).

A ``Keyring`` holds every key the data may still be written with, by key id, and the one new
values are sealed with. Keys are 32 random bytes, configured as base64 text.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The first byte of every sealed value: a later format can be told apart and read beside it.
FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
# Key ids are stored on every row next to the value: short, printable, no spaces.
KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
# What a key's check value seals: opening it proves the configured key is the one that
# wrote the data under that key id (see Keyring.check_value).
CHECK_PLAINTEXT = b"recovery-desk key check"


class BadKeys(ValueError):
    """The configured keys cannot be used; the message says which setting and why."""


class Unreadable(Exception):
    """A sealed value does not open: the wrong key, another row's value, or damaged bytes."""


@dataclass(frozen=True)
class Sealed:
    """A value as stored: the sealed bytes and the id of the key that sealed them."""

    data: bytes
    key_id: str


def new_key() -> str:
    """A new random key, as the base64 text the configuration takes."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _decode_key(key_id: str, text) -> bytes:
    """The 32 bytes of one configured key, or BadKeys naming it."""
    if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
        raise BadKeys(f"ENCRYPTION_KEYS has a key id {key_id!r} that is not 1-32 letters, "
                      "digits, '.', '_' or '-'.")
    if not isinstance(text, str):
        raise BadKeys(f"ENCRYPTION_KEYS[{key_id!r}] must be base64 text, not "
                      f"{type(text).__name__}.")
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadKeys(f"ENCRYPTION_KEYS[{key_id!r}] is not valid base64.") from None
    if len(key) != KEY_BYTES:
        raise BadKeys(f"ENCRYPTION_KEYS[{key_id!r}] is {len(key)} bytes; a key is {KEY_BYTES} "
                      "random bytes in base64 (44 characters).")
    return key


class Keyring:
    """The configured keys by id, and the id of the one that seals new values."""

    def __init__(self, keys: dict, current: str | None = None):
        if not isinstance(keys, dict) or not keys:
            raise BadKeys("ENCRYPTION_KEYS must map at least one key id to a base64 key.")
        self._ciphers = {key_id: AESGCM(_decode_key(key_id, text))
                         for key_id, text in keys.items()}
        if isinstance(current, int):
            current = str(current)  # RECOVERY_ENCRYPTION_KEY_ID=2026 reads as a JSON number
        if current is None and len(keys) == 1:
            current = next(iter(keys))
        if current is None:
            raise BadKeys("ENCRYPTION_KEY_ID must name the key that new values are sealed "
                          "with when ENCRYPTION_KEYS holds more than one.")
        if current not in self._ciphers:
            raise BadKeys(f"ENCRYPTION_KEY_ID is {current!r}, which ENCRYPTION_KEYS does not "
                          "hold.")
        self.current = current

    @property
    def key_ids(self) -> list[str]:
        """Every configured key id."""
        return sorted(self._ciphers)

    def seal(self, plaintext: bytes, context: bytes) -> Sealed:
        """``plaintext`` sealed with the current key, bound to ``context``."""
        return self._seal_with(self.current, plaintext, context)

    def _seal_with(self, key_id: str, plaintext: bytes, context: bytes) -> Sealed:
        nonce = secrets.token_bytes(NONCE_BYTES)
        body = self._ciphers[key_id].encrypt(nonce, bytes(plaintext),
                                             _associated(context, key_id))
        return Sealed(FORMAT_V1 + nonce + body, key_id)

    def open(self, sealed: bytes, key_id: str, context: bytes) -> bytes:
        """The plaintext of a value sealed with ``key_id`` for ``context``; Unreadable if not."""
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise Unreadable(f"the value was sealed with key {key_id!r}, which ENCRYPTION_KEYS "
                             "does not hold")
        sealed = bytes(sealed)
        if len(sealed) < 1 + NONCE_BYTES + TAG_BYTES or sealed[:1] != FORMAT_V1:
            raise Unreadable("the value is not in a sealed format this desk reads")
        nonce, body = sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:]
        try:
            return cipher.decrypt(nonce, body, _associated(context, key_id))
        except InvalidTag:
            raise Unreadable(f"the value does not open with key {key_id!r}: another key was "
                             "used under that id, or the value belongs elsewhere or is "
                             "damaged") from None

    def check_value(self, key_id: str) -> bytes:
        """A value that only this key opens, kept to tell at start-up that a key is right."""
        return self._seal_with(key_id, CHECK_PLAINTEXT, b"key-check").data

    def matches(self, key_id: str, check_value: bytes) -> bool:
        """Whether the configured key ``key_id`` is the one that made ``check_value``."""
        try:
            return self.open(check_value, key_id, b"key-check") == CHECK_PLAINTEXT
        except Unreadable:
            return False


def _associated(context: bytes, key_id: str) -> bytes:
    """GCM's associated data: the caller's context and the key id, unambiguously joined."""
    return b"recovery-desk/v1\x00" + key_id.encode() + b"\x00" + context
