"""Encryption keys: the start-up check of the configured keys against the data, and the
batches of ``flask rotate-key``.

Evidence photos and face encodings are sealed with the keyring of ``sealing`` (models'
``SealedColumn``). A key configured under an id that the data was sealed with another key,
or data under a key id that is no longer configured, stops the app at start-up with a
sentence, never on the first photo an agent opens. Every key id the data was sealed with has
a row in ``encryption_key`` holding a check value that only that key opens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import IntegrityError, OperationalError

from extensions import db
from sealing import BadKeys, Keyring, Unreadable

from ..models import SEALED_COLUMNS, EncryptionKey, SealedColumn, keyring, use_keyring
from .unit import transaction

log = logging.getLogger(__name__)


class KeysRefused(Exception):
    """The configured keys do not fit the data; the message says what to do."""


def init_app(app: Flask) -> None:
    """Build the keyring from ENCRYPTION_KEYS and ENCRYPTION_KEY_ID, register it, and check
    it against the database; a RuntimeError with one sentence when anything is wrong."""
    try:
        ring = Keyring(app.config.get("ENCRYPTION_KEYS") or {},
                       app.config.get("ENCRYPTION_KEY_ID"))
    except BadKeys as err:
        raise RuntimeError(str(err)) from None
    use_keyring(app, ring)
    with app.app_context():
        try:
            check_keys()
        except KeysRefused as err:
            raise RuntimeError(str(err)) from None
        except OperationalError:
            # The desk starts while its database is down (and answers 503 until it is back);
            # the next start checks the keys.
            log.warning("The encryption keys were not checked: the database is unreachable.")
        finally:
            # The check's connection is not kept: an app that refuses to start leaves none
            # open, and a server that forks its workers after building the app shares none.
            db.session.remove()
            db.engine.dispose()


def _table(model: type) -> sa.Table:
    return model.__table__


def _key_ids_in_use(model: type, column: SealedColumn) -> list[str]:
    """The distinct key ids of one column, read from its index (a skip scan: one probe per
    key id, however many rows)."""
    table = _table(model).name
    key = column.key_id
    query = sa.text(
        f"WITH RECURSIVE k(v) AS (SELECT min({key}) FROM {table} "  # noqa: S608 (model names)
        f"UNION ALL SELECT (SELECT min({key}) FROM {table} WHERE {key} > k.v) FROM k "
        "WHERE k.v IS NOT NULL) SELECT v FROM k WHERE v IS NOT NULL")
    return list(db.session.scalars(query))


def _sample_opens(ring: Keyring, key_id: str) -> bool:
    """Whether one value sealed under ``key_id`` (the smallest kind first) opens."""
    for model, column in sorted(SEALED_COLUMNS, key=lambda pair: pair[1].column != "encoding"):
        table = _table(model)
        row = db.session.execute(
            sa.select(table.c[column.column].label("value"),
                      *(table.c[name] for name in column.binds_to))
            .where(table.c[column.key_id] == key_id, table.c[column.column].is_not(None))
            .limit(1)).first()
        if row is not None:
            try:
                column.open(table.name, column.binding(row), row.value, key_id)
            except Unreadable:
                return False
            return True
    return True


def check_keys() -> None:
    """Refuse keys that do not fit the data; record a check value for each key id in use.

    Before the first migration (no ``encryption_key`` table) there is nothing to check.
    """
    if not sa.inspect(db.engine).has_table(EncryptionKey.__tablename__):
        return
    try:
        _check_keys()
    except IntegrityError:
        _check_keys()  # another process recorded the same check value at the same moment


def _check_keys() -> None:
    ring = keyring()
    with transaction():
        known = {row.key_id: row.check_value
                 for row in db.session.scalars(sa.select(EncryptionKey))}
        in_use = {key_id for model, column in SEALED_COLUMNS
                  for key_id in _key_ids_in_use(model, column)}
        missing = sorted(in_use - set(ring.key_ids))
        if missing:
            raise KeysRefused(
                f"Evidence is encrypted with key id {missing[0]!r}, which ENCRYPTION_KEYS does "
                "not hold: configure that key again (every old key stays configured until "
                "`flask rotate-key` has finished).")
        for key_id in ring.key_ids:
            if key_id in known:
                right = ring.matches(key_id, known[key_id])
            elif key_id in in_use or key_id == ring.current:
                right = _sample_opens(ring, key_id)
                db.session.add(EncryptionKey(key_id=key_id, check_value=ring.check_value(key_id)))
            else:
                continue
            if not right:
                raise KeysRefused(
                    f"ENCRYPTION_KEYS[{key_id!r}] is not the key that the data under that id "
                    "was encrypted with: configure the original key for that id.")


@dataclass
class RotationBatch:
    """What one batch of rotate-key did."""

    rotated: int = 0
    # The last row id looked at: the next batch starts after it.
    last_id: int | None = None
    unreadable: list[int] = field(default_factory=list)


def _not_current(table: sa.Table, column: SealedColumn, current: str):
    """Rows of a column holding a value not sealed with the current key (or in the clear).

    ``<`` and ``>`` rather than ``<>``: both are ranges of the key id index.
    """
    key = table.c[column.key_id]
    return sa.and_(table.c[column.column].is_not(None),
                   sa.or_(key.is_(None), key < current, key > current))


def values_to_rotate() -> dict[str, int]:
    """Per ``table.column``, how many values are not on the current key."""
    current, counts = keyring().current, {}
    for model, column in SEALED_COLUMNS:
        table = _table(model)
        counts[f"{table.name}.{column.column}"] = db.session.scalar(
            sa.select(sa.func.count()).select_from(table)
            .where(_not_current(table, column, current)))
    db.session.rollback()
    return counts


def rotate_batch(name: str, batch_size: int, after: int | None = None) -> RotationBatch:
    """Re-encrypt up to ``batch_size`` values of ``name`` (``table.column``) with the current
    key, in one short transaction: rows after ``after`` not on the current key, by id.

    On PostgreSQL rows that the desk holds locked are skipped (a later run takes them); a
    row changed meanwhile (a new photo, a purge) is left as the desk wrote it.
    """
    model, column = next((m, c) for m, c in SEALED_COLUMNS
                         if f"{_table(m).name}.{c.column}" == name)
    table, ring, done = _table(model), keyring(), RotationBatch()
    stored, key = table.c[column.column], table.c[column.key_id]
    query = (sa.select(table.c.id, stored.label("value"), key.label("key_id"),
                       *(table.c[name] for name in column.binds_to if name != "id"))
             .where(_not_current(table, column, ring.current))
             .order_by(table.c.id).limit(batch_size))
    if after is not None:
        query = query.where(table.c.id > after)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    with transaction():
        for row in db.session.execute(query).all():
            row_id, key_id, binding = row.id, row.key_id, column.binding(row)
            done.last_id = row_id
            try:
                plaintext = column.open(table.name, binding, row.value, key_id)
            except Unreadable:
                done.unreadable.append(row_id)
                continue
            sealed, new_key = column.seal(table.name, binding, plaintext)
            unchanged = key.is_(None) if key_id is None else key == key_id
            result = db.session.execute(
                table.update().where(table.c.id == row_id, unchanged, stored.is_not(None))
                .values({column.column: sealed, column.key_id: new_key}))
            done.rotated += result.rowcount
    return done


def sealed_column_names() -> list[str]:
    """Every encrypted column as ``table.column``."""
    return [f"{_table(model).name}.{column.column}" for model, column in SEALED_COLUMNS]
