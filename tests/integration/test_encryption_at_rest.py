"""Evidence photos and face encodings are encrypted in the database; keys are checked at
start-up; rotate-key moves everything to a new key while the desk reads on.

The photos go through the real intake (the API, the quality gate) and the real checks
(inline after the commit), and the stored bytes are read back with plain SQL, as someone
holding a dump of the database would.
"""

import io
import threading
from datetime import date

import numpy as np
import pytest
import sqlalchemy as sa

from app import create_app
from extensions import db
from sealing import Keyring, Unreadable, new_key
from tests.conftest import (
    PG_URL,
    STRONG_PASSWORD,
    document_photo,
    make_config,
    selfie_photo,
    sign_in,
)
from verification.specimen import SpecimenPerson
from workflow import models, service
from workflow.models import Account, DocumentReading, Evidence, SelfieReading

ANNA = SpecimenPerson(expiry_date=date(date.today().year + 4, 4, 15))
JPEG, PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
WINDOW = 32
# Every encrypted column and its key id, as plain SQL sees them.
COLUMNS = [("evidence", "data"), ("document_reading", "portrait_encoding"),
           ("selfie_reading", "encoding"), ("account", "reference_portrait")]


@pytest.fixture
def app_config():
    return {"QUALITY_GATE": True, "VERIFICATION_EXECUTOR": "inline"}


def file_request(client, email="anna@example.test", selfie="obama_2.jpg") -> int:
    """A request filed through the API with a generated passport and a real selfie."""
    response = client.post("/api/v1/recovery-requests", data={
        "email": email, "full_name": "Anna Maria Eriksson", "date_of_birth": "1974-08-12",
        "issue_type": "forgot_password", "description": "Locked out.", "consent": "true",
        "id_document": (io.BytesIO(document_photo(ANNA)), "passport.jpg"),
        "selfie": (io.BytesIO(selfie_photo(selfie)), "selfie.jpg"),
    }, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["case_id"]


def raw(table: str, column: str) -> list[tuple]:
    """(id, stored bytes, key id) of every row, with plain SQL."""
    rows = db.session.execute(sa.text(
        f"SELECT id, {column}, {column}_key_id FROM {table} ORDER BY id")).all()
    db.session.rollback()
    return [(row[0], bytes(row[1]) if row[1] is not None else None, row[2]) for row in rows]


def shares_a_window(stored: bytes, original: bytes) -> bool:
    """Whether any WINDOW consecutive bytes of ``original`` appear in ``stored``."""
    windows = {stored[i:i + WINDOW] for i in range(len(stored) - WINDOW + 1)}
    return any(original[i:i + WINDOW] in windows for i in range(len(original) - WINDOW + 1))


def assert_unreadable(stored: bytes, *originals: bytes) -> None:
    # A file's signature at the start is what a dump's file sniffer finds. Three bytes
    # anywhere would be no test: random ciphertext of 100 KB holds b"\xff\xd8\xff" once
    # in about 170 tries. The windows below look everywhere, at 32 bytes.
    assert not stored.startswith(JPEG) and not stored.startswith(PNG)
    for original in originals:
        assert not shares_a_window(stored, original)


@pytest.fixture
def filed(app, client, make_account):
    """A case filed and checked, with an account holding a reference portrait."""
    portrait = selfie_photo("obama_3.jpg")
    make_account(reference_portrait=portrait)
    case_id = file_request(client)
    case = service.get_case(case_id)
    assert case.current_reading() is not None and case.current_selfie_reading() is not None
    return case_id, portrait


def test_no_id_image_bytes_are_readable_in_the_database_without_the_key(app, filed):
    case_id, portrait = filed
    evidence = {e.kind: e.data for e in service.get_case(case_id).evidence}
    reading = service.get_case(case_id).current_reading()
    selfie_reading = service.get_case(case_id).current_selfie_reading()
    uploaded = {"id_document": document_photo(ANNA), "selfie": selfie_photo("obama_2.jpg")}
    stored = raw("evidence", "data")
    assert {key_id for _, _, key_id in stored} == {"test"} and len(stored) == 2
    for (_, data, _), kind in zip(stored, ("id_document", "selfie"), strict=True):
        # The desk reads the photo it stored (normalised: upright, no metadata) ...
        assert evidence[kind][:3] == JPEG
        # ... which the database holds neither as it was uploaded nor as it was stored.
        assert_unreadable(data, evidence[kind], uploaded[kind])
    encodings = [(raw("document_reading", "portrait_encoding"), reading.portrait_encoding),
                 (raw("selfie_reading", "encoding"), selfie_reading.encoding)]
    for [(_, data, key_id)], plaintext in encodings:
        assert key_id == "test" and len(plaintext) == 128 * 8
        assert_unreadable(data, plaintext)
        # Not even one of the 128 numbers is in the clear.
        numbers = np.frombuffer(plaintext, dtype="<f8")
        assert not any(number.tobytes() in data for number in numbers)
    [(_, data, key_id)] = raw("account", "reference_portrait")
    assert key_id == "test"
    assert_unreadable(data, portrait)
    assert db.session.scalar(sa.select(Account)).reference_portrait == portrait


def test_the_console_shows_the_photo_decrypted(app, client, filed, make_agent):
    case_id, _ = filed
    make_agent("security_lead", email="lead@example.test")
    assert sign_in(client, "lead@example.test", STRONG_PASSWORD).status_code == 302
    for item in service.get_case(case_id).evidence:
        response = client.get(f"/agent/cases/{case_id}/evidence/{item.id}")
        assert response.status_code == 200 and response.data == item.data
        assert response.data[:3] == JPEG


def test_a_value_copied_into_another_row_does_not_open(app, client, filed):
    case_id, _ = filed
    other = file_request(client, email="bruno@example.test", selfie="biden_2.jpg")
    db.session.execute(sa.text(
        "UPDATE evidence SET data = (SELECT data FROM evidence WHERE case_id = :a AND "
        "kind = 'selfie') WHERE case_id = :b AND kind = 'selfie'"), {"a": case_id, "b": other})
    db.session.commit()
    selfie = next(e for e in service.get_case(other).evidence if e.kind == "selfie")
    with pytest.raises(Unreadable):
        selfie.data  # noqa: B018


def test_the_same_face_is_found_across_encrypted_encodings(app, client, filed):
    """The duplicate-face search decrypts every other case's encodings."""
    other = file_request(client, email="someone.else@example.test")
    found = {c.check: c for c in service.get_case(other).checks}
    assert found["selfie.known_faces"].reason_code == "face_seen_on_other_account"


def _clear_rows(case_id: int) -> None:
    """Write a case's values back in the clear, as a desk filed them before encryption."""
    for model, column in models.SEALED_COLUMNS:
        if model in (Account, models.Agent, models.KeptUpload):  # rows of no case
            continue
        table = model.__table__
        for row in db.session.scalars(sa.select(model).where(model.case_id == case_id)):
            plaintext = getattr(row, column.column)
            db.session.execute(table.update().where(table.c.id == row.id).values(
                {column.column: plaintext, column.key_id: None}))
    db.session.commit()


def test_values_written_before_encryption_are_read_and_then_encrypted(app, filed, runner):
    case_id, _ = filed
    before = {e.kind: e.data for e in service.get_case(case_id).evidence}
    _clear_rows(case_id)
    assert {key_id for _, _, key_id in raw("evidence", "data")} == {None}
    db.session.expire_all()
    assert {e.kind: e.data for e in service.get_case(case_id).evidence} == before
    result = runner.invoke(args=["rotate-key"])
    assert result.exit_code == 0, result.output
    assert "Done: 4 values re-encrypted with key 'test'; 0 left on other keys." in result.output
    for _, data, key_id in raw("evidence", "data"):
        assert key_id == "test"
        assert_unreadable(data, *before.values())
    db.session.expire_all()
    assert {e.kind: e.data for e in service.get_case(case_id).evidence} == before


NEXT_KEY = new_key()


def _rotate_to_a_new_key(app) -> Keyring:
    """The desk restarted with a second key that new values are sealed with."""
    ring = Keyring({**app.config["ENCRYPTION_KEYS"], "next": NEXT_KEY}, "next")
    models.use_keyring(app, ring)
    return ring


def _plaintexts() -> dict:
    """Every case's and account's encrypted values, decrypted (staff TOTP secrets aside: the
    tests below create staff after taking this)."""
    db.session.expire_all()
    found = {}
    for model, column in models.SEALED_COLUMNS:
        if model is models.Agent:
            continue
        for row in db.session.scalars(sa.select(model)):
            found[(model.__name__, row.id)] = getattr(row, column.column)
    db.session.rollback()
    return found


@pytest.fixture
def three_cases(app, client, filed):
    """Three filed cases: 6 photos, 3 + 3 encodings and 1 portrait under key 'test'."""
    file_request(client, email="second@example.test", selfie="biden_2.jpg")
    file_request(client, email="third@example.test", selfie="obama_3.jpg")
    return _plaintexts()


def key_ids() -> set:
    return {key_id for table, column in COLUMNS for _, _, key_id in raw(table, column)}


def test_rotation_runs_in_batches_while_the_desk_reads(app, client, three_cases, make_agent):
    make_agent("security_lead", email="lead@example.test")
    assert sign_in(client, "lead@example.test", STRONG_PASSWORD).status_code == 302
    _rotate_to_a_new_key(app)
    assert service.values_to_rotate() == {"account.reference_portrait": 1, "agent.totp_secret": 1,
                                          "evidence.data": 6, "kept_upload.data": 0,
                                          "document_reading.portrait_encoding": 3,
                                          "selfie_reading.encoding": 3}
    photos = {key: value for key, value in three_cases.items() if key[0] == "Evidence"}
    after, batches = None, 0
    while True:
        batch = service.rotate_batch("evidence.data", 2, after)
        if batch.last_id is None:
            break
        after, batches = batch.last_id, batches + 1
        assert batch.rotated == 2
        # Between batches the console serves every photo, old key or new.
        for (_, evidence_id), data in photos.items():
            case_id = db.session.get(Evidence, evidence_id).case_id
            db.session.rollback()
            response = client.get(f"/agent/cases/{case_id}/evidence/{evidence_id}")
            assert response.status_code == 200 and response.data == data
    assert batches == 3
    assert {key_id for _, _, key_id in raw("evidence", "data")} == {"next"}
    assert _plaintexts() == three_cases


def test_rotate_key_stopped_halfway_finishes_when_run_again(app, runner, three_cases,
                                                            monkeypatch):
    _rotate_to_a_new_key(app)
    real_seal, calls = models.SealedColumn.seal, []

    def seal_then_die(self, *args):
        calls.append(1)
        if len(calls) == 4:  # in the second batch of two
            raise KeyboardInterrupt
        return real_seal(self, *args)

    monkeypatch.setattr(models.SealedColumn, "seal", seal_then_die)
    # Ctrl-C: the portrait (one batch) and the first two photos are done.
    stopped = runner.invoke(args=["rotate-key", "--batch-size", "2"])
    assert stopped.exit_code == 1 and "Aborted" in stopped.output
    assert "13 values to do" in stopped.output
    monkeypatch.setattr(models.SealedColumn, "seal", real_seal)
    # The batches before committed; the interrupted one left its rows as they were.
    left = service.values_to_rotate()
    assert left["account.reference_portrait"] == 0 and left["evidence.data"] == 4
    assert _plaintexts() == three_cases
    result = runner.invoke(args=["rotate-key", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "10 values to do" in result.output
    assert "evidence.data: 4 of 4 re-encrypted" in result.output
    assert "Done: 10 values re-encrypted with key 'next'; 0 left on other keys." in result.output
    assert key_ids() == {"next"}
    assert _plaintexts() == three_cases
    again = runner.invoke(args=["rotate-key"])
    assert again.exit_code == 0 and "0 values to do" in again.output


def test_a_new_value_written_during_rotation_is_left_as_the_desk_wrote_it(app, three_cases):
    _rotate_to_a_new_key(app)
    portrait = selfie_photo("biden_2.jpg")
    account = db.session.scalar(sa.select(Account))
    account.reference_portrait = portrait  # the desk writes with the new key
    db.session.commit()
    assert service.rotate_batch("account.reference_portrait", 10).rotated == 0
    db.session.expire_all()
    assert db.session.scalar(sa.select(Account)).reference_portrait == portrait


@pytest.mark.skipif(PG_URL is None, reason="FOR UPDATE SKIP LOCKED is PostgreSQL's")
def test_rows_the_desk_holds_are_skipped_and_taken_by_the_next_run(app, runner, three_cases):
    _rotate_to_a_new_key(app)
    held, release = threading.Event(), threading.Event()
    first_photo = min(evidence_id for name, evidence_id in three_cases if name == "Evidence")
    engine = db.engine

    def hold_a_row():
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.text("SELECT id FROM evidence WHERE id = :id FOR UPDATE"),
                         {"id": first_photo})
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold_a_row)
    holder.start()
    try:
        assert held.wait(10)
        result = runner.invoke(args=["rotate-key", "--batch-size", "2"])
    finally:
        release.set()
        holder.join()
    assert result.exit_code == 1
    assert "1 values are still on other keys" in result.output
    again = runner.invoke(args=["rotate-key"])
    assert again.exit_code == 0, again.output
    assert key_ids() == {"next"}
    assert _plaintexts() == three_cases


def _started(url: str, **settings):
    """An app started on ``url`` (the start-up check runs as it is built)."""
    app = create_app(make_config(url, **settings))
    with app.app_context():
        db.engine.dispose()
    return app


WRONG_KEY = r"ENCRYPTION_KEYS\['test'\] is not the key that the data under that id was encrypted"


def test_the_wrong_key_under_an_id_in_use_stops_the_start(app, filed):
    """Data under a key id no start has recorded yet: one value is tried."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with pytest.raises(RuntimeError, match=WRONG_KEY):
        _started(url, ENCRYPTION_KEYS={"test": new_key()})


def test_a_start_records_a_check_value_that_later_starts_compare(app):
    """Without any data: the check value recorded by the first start tells a wrong key."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    _started(url)
    assert db.session.scalars(sa.text("SELECT key_id FROM encryption_key")).all() == ["test"]
    db.session.rollback()
    _started(url)
    with pytest.raises(RuntimeError, match=WRONG_KEY):
        _started(url, ENCRYPTION_KEYS={"test": new_key()})


def test_a_key_id_still_in_use_cannot_be_dropped(app, filed):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with pytest.raises(RuntimeError, match="Evidence is encrypted with key id 'test', which "
                                           "ENCRYPTION_KEYS does not hold"):
        _started(url, ENCRYPTION_KEYS={"next": new_key()})


def test_an_old_key_can_go_once_rotation_has_finished(app, filed, runner):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    _rotate_to_a_new_key(app)
    assert runner.invoke(args=["rotate-key"]).exit_code == 0
    next_key = {"next": new_key()}  # the same id with another key: refused
    with pytest.raises(RuntimeError, match=r"ENCRYPTION_KEYS\['next'\] is not the key"):
        _started(url, ENCRYPTION_KEYS=next_key)
    started = _started(url, ENCRYPTION_KEYS={"next": NEXT_KEY})
    assert models.KEYRING_EXTENSION in started.extensions


def test_a_malformed_key_stops_the_start(tmp_path):
    with pytest.raises(RuntimeError, match=r"ENCRYPTION_KEYS\['k1'\] is not valid base64"):
        create_app(make_config(f"sqlite:///{tmp_path / 'x.sqlite'}",
                               ENCRYPTION_KEYS={"k1": "not a key"}))


def test_production_refuses_to_start_without_keys(tmp_path):
    with pytest.raises(RuntimeError, match="ENCRYPTION_KEYS is not set"):
        create_app(make_config(f"sqlite:///{tmp_path / 'x.sqlite'}", ENV_NAME="production",
                               ENCRYPTION_KEYS={}))


def test_a_desk_without_tables_starts(tmp_path):
    """Before `flask db upgrade` there is nothing to check."""
    app = _started(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert models.KEYRING_EXTENSION in app.extensions


def test_outside_production_a_key_is_made_in_the_instance_folder(tmp_path, monkeypatch):
    settings = make_config(f"sqlite:///{tmp_path / 'x.sqlite'}", ENCRYPTION_KEYS={})
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(tmp_path))
    first = create_app(settings)
    again = create_app(settings)
    key = (tmp_path / "encryption_key").read_text()
    assert first.config["ENCRYPTION_KEYS"] == again.config["ENCRYPTION_KEYS"] == {"instance": key}
    assert (tmp_path / "encryption_key").stat().st_mode & 0o077 == 0


def test_purged_values_read_as_none(app, filed):
    """A value set to NULL (a purge) reads as None whatever key id the row still names."""
    case_id, _ = filed
    db.session.execute(sa.update(DocumentReading.__table__).values(portrait_encoding=None))
    db.session.execute(sa.update(SelfieReading.__table__).values(encoding=None))
    db.session.commit()
    case = service.get_case(case_id)
    assert case.current_reading().portrait_encoding is None
    assert case.current_selfie_reading().encoding is None
