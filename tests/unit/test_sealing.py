"""The encryption of values at rest (sealing): AES-GCM bound to a context, keys by id."""

import base64

import pytest

from sealing import FORMAT_V1, BadKeys, Keyring, Unreadable, new_key

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


@pytest.fixture
def ring():
    return Keyring({"k1": new_key()})


def test_a_sealed_value_opens_with_its_key_and_context(ring):
    sealed = ring.seal(PHOTO, b"evidence.data#7/1/selfie")
    assert sealed.key_id == "k1" and sealed.data[:1] == FORMAT_V1
    assert ring.open(sealed.data, "k1", b"evidence.data#7/1/selfie") == PHOTO


def test_the_ciphertext_shows_nothing_of_the_value(ring):
    sealed = ring.seal(PHOTO, b"ctx").data
    assert b"\xff\xd8\xff" not in sealed
    windows = {PHOTO[i:i + 16] for i in range(len(PHOTO) - 15)}
    assert not any(sealed[i:i + 16] in windows for i in range(len(sealed) - 15))
    # A fresh nonce each time: the same photo sealed twice looks different.
    assert ring.seal(PHOTO, b"ctx").data != sealed


def test_a_value_moved_to_another_row_does_not_open(ring):
    sealed = ring.seal(PHOTO, b"evidence.data#7/1/selfie").data
    with pytest.raises(Unreadable, match="belongs elsewhere"):
        ring.open(sealed, "k1", b"evidence.data#8/1/selfie")


@pytest.mark.parametrize("position", [0, 1, 13, -1])
def test_a_changed_byte_is_refused(ring, position):
    sealed = bytearray(ring.seal(PHOTO, b"ctx").data)
    sealed[position] ^= 0x01
    with pytest.raises(Unreadable):
        ring.open(bytes(sealed), "k1", b"ctx")


def test_another_key_under_the_same_id_does_not_open(ring):
    sealed = ring.seal(PHOTO, b"ctx").data
    with pytest.raises(Unreadable, match="does not open with key 'k1'"):
        Keyring({"k1": new_key()}).open(sealed, "k1", b"ctx")


def test_a_value_relabelled_with_another_key_id_does_not_open():
    key = new_key()
    ring = Keyring({"old": key, "new": key}, "old")
    sealed = ring.seal(PHOTO, b"ctx").data
    with pytest.raises(Unreadable):
        ring.open(sealed, "new", b"ctx")


def test_an_unknown_key_id_is_named(ring):
    with pytest.raises(Unreadable, match="'gone', which ENCRYPTION_KEYS does not hold"):
        ring.open(ring.seal(PHOTO, b"ctx").data, "gone", b"ctx")


def test_new_values_use_the_current_key_and_old_ones_still_open():
    key = new_key()
    sealed = Keyring({"2026-01": key}).seal(PHOTO, b"ctx")
    rotated = Keyring({"2026-01": key, "2026-07": new_key()}, "2026-07")
    assert rotated.open(sealed.data, "2026-01", b"ctx") == PHOTO
    assert rotated.seal(PHOTO, b"ctx").key_id == "2026-07"
    assert rotated.key_ids == ["2026-01", "2026-07"]


def test_the_check_value_tells_the_right_key_from_another():
    key = new_key()
    check = Keyring({"k1": key}).check_value("k1")
    assert Keyring({"k1": key}).matches("k1", check)
    assert not Keyring({"k1": new_key()}).matches("k1", check)


@pytest.mark.parametrize(("keys", "current", "message"), [
    ({}, None, "ENCRYPTION_KEYS must map at least one key id"),
    ("a-key", None, "ENCRYPTION_KEYS must map at least one key id"),
    ({"k1": "not base64!"}, None, r"ENCRYPTION_KEYS\['k1'\] is not valid base64"),
    ({"k1": base64.b64encode(b"short").decode()}, None, r"is 5 bytes; a key is 32"),
    ({"k1": 12345}, None, r"ENCRYPTION_KEYS\['k1'\] must be base64 text"),
    ({"has space": new_key()}, None, "key id 'has space' that is not 1-32 letters"),
    ({"k1": new_key(), "k2": new_key()}, None, "ENCRYPTION_KEY_ID must name the key"),
    ({"k1": new_key()}, "k9", "ENCRYPTION_KEY_ID is 'k9', which ENCRYPTION_KEYS does not hold"),
])
def test_bad_keys_are_refused_with_a_sentence(keys, current, message):
    with pytest.raises(BadKeys, match=message):
        Keyring(keys, current)


def test_a_numeric_key_id_from_the_environment_is_taken_as_text():
    # RECOVERY_ENCRYPTION_KEY_ID=2026 is parsed as JSON, i.e. the number 2026.
    assert Keyring({"2026": new_key(), "2025": new_key()}, 2026).current == "2026"


def test_new_keys_are_32_random_bytes():
    first, second = base64.b64decode(new_key()), base64.b64decode(new_key())
    assert len(first) == len(second) == 32 and first != second
