"""The tamper-evident audit trail: who did what, to which case, from which address, when.

``record`` adds an entry to the caller's transaction; the entries are written when that
transaction commits, as its last statements. The chain is extended by one transaction at a
time: on PostgreSQL under a transaction-scoped advisory lock (``unit.serialise_on``), on
SQLite as its one writer (a write that changes nothing takes the write lock first); then the
chain's head is read, and each entry gets the next id (no gaps) and its hash. The lock is
taken after everything else the transaction did, so it is held only until the commit and a
transaction holding it never waits for another lock. A transaction that rolls back writes
none of its entries.

The hash of a record is the SHA-256 (hex) of its canonical serialisation: the JSON object of
its fields ``action``, ``actor_type``, ``address``, ``agent_id``, ``case_id``,
``created_at``, ``detail``, ``id`` and ``prev_hash`` (``prev_hash`` being the hash of the
record before it, 64 zeros for the first), keys sorted at every level, no whitespace,
non-ASCII characters escaped (``json.dumps(fields, sort_keys=True, separators=(",", ":"),
ensure_ascii=True)``), encoded as UTF-8; ``created_at`` in UTC as
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (microseconds, which SQLite and PostgreSQL both keep exactly),
``null`` for what is absent. A line of the JSON-lines export is that object with ``hash``
added, so anyone can check an exported period without the desk.

Details hold ids, codes and flags only: text (at most DETAIL_TEXT_CHARS), whole numbers,
true/false, null, or lists of those (floats are refused: their text is not the same
everywhere). Never a data subject's personal data (no email, name, document number or message
text): erasing a person's data must leave the chain verifiable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app

from extensions import db

from ..models import Agent, AuditRecord, CaseEvent, Message, RecoveryCase, utcnow
from ..states import AUDIT_ACTORS, STAFF_ROLES, Actor
from . import hooks
from .unit import serialise_on, transaction

GENESIS = "0" * 64
# The advisory lock that orders the chain on PostgreSQL.
LOCK_KEY = "audit_record chain"
DETAIL_TEXT_CHARS = 200
ANCHOR_LOG = logging.getLogger("recovery_desk.audit")
ANCHOR_LOG.setLevel(logging.INFO)

_PENDING = "audit_pending"
_ANCHORS = "audit_anchors"
_ACTION = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")
_FIELDS = ("action", "actor_type", "address", "agent_id", "case_id", "created_at", "detail",
           "id", "prev_hash")

# Case events with a name of their own in the trail; every other event is case.<event>.
EVENT_ACTIONS = {
    "recovery_action_done": "recovery.performed",
    "recovery_action_failed": "recovery.failed",
    "recovery_action_cancelled": "recovery.cancelled",
    "recovery_action_retried": "recovery.retried",
}


class BadPeriod(ValueError):
    """An export period that cannot be read; ``field`` names the bad end."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class _Entry:
    action: str
    actor_type: str
    agent_id: int | None
    case: RecoveryCase | None
    case_id: int | None
    address: str | None
    detail: dict


def _actor_type(actor: Actor | str) -> str:
    if actor in STAFF_ROLES:
        return "agent"
    value = str(actor.value if isinstance(actor, Actor) else actor)
    if value not in AUDIT_ACTORS:
        raise ValueError(f"unknown audit actor {actor!r}: one of {', '.join(AUDIT_ACTORS)}")
    return value


def _detail(detail: Mapping | None) -> dict:
    clean = {}
    for key, value in (detail or {}).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, float) or not isinstance(item, str | int | bool | type(None)):
                raise ValueError(f"audit detail {key!r}: ids, codes and flags only, not "
                                 f"{type(item).__name__}")
            if isinstance(item, str) and len(item) > DETAIL_TEXT_CHARS:
                raise ValueError(f"audit detail {key!r}: at most {DETAIL_TEXT_CHARS} characters")
        clean[str(key)] = list(value) if isinstance(value, list) else value
    return clean


def record(action: str, *, actor: Actor | str, agent: Agent | int | None = None,
           case_id: int | None = None, case: RecoveryCase | None = None,
           address: str | None = None, detail: Mapping | None = None,
           session: so.Session | None = None) -> None:
    """Add an audit record to the current transaction; it is written when that commits.

    ``action`` is a dotted name (``case.approve``, ``signin.failure``); ``actor`` an
    ``Actor`` (staff roles are all ``agent``) or one of ``AUDIT_ACTORS``; ``agent`` the staff
    member acting; ``case`` (a case not flushed yet is fine) or ``case_id``; ``address``
    defaults to the client address of the request being served; ``detail`` ids, codes and
    flags only; ``session`` the session whose transaction it joins (``db.session``).
    """
    if len(action) > 60 or not _ACTION.fullmatch(action):
        raise ValueError(f"audit action {action!r}: a dotted lower-case name")
    if address is None:
        address = hooks.client_address()
    entry = _Entry(action=action, actor_type=_actor_type(actor),
                   agent_id=agent.id if isinstance(agent, Agent) else agent,
                   case=case, case_id=case_id,
                   address=address[:64] if address else None, detail=_detail(detail))
    _add(session if session is not None else db.session(), entry)


def _add(session: so.Session, entry: _Entry) -> None:
    current = session.get_transaction() or session.begin()
    pending = session.info.get(_PENDING)
    if pending is None or pending[0] is not current:
        pending = session.info[_PENDING] = (current, [])
    pending[1].append(entry)


def record_now(action: str, **what) -> None:
    """Write one audit record in a transaction of its own: for views that only read (a case
    page, a photo, an export), whose reading must be on the record all the same."""
    with transaction():
        record(action, **what)


def _message_action(message: Message) -> str:
    if message.internal:
        return "message.note"
    return "message.from_user" if message.author_type == Actor.USER else "message.to_user"


@sa.event.listens_for(so.Session, "before_flush")
def _record_case_log(session: so.Session, flush_context, instances) -> None:
    """Every case event and message gets its audit record, however it was written
    (``unit.record_event`` for transitions, decisions, overrides, claims, recovery steps...)."""
    for item in session.new:
        if isinstance(item, CaseEvent):
            moves = {"from": item.from_state, "to": item.to_state}
            record(EVENT_ACTIONS.get(item.event, f"case.{item.event}"),
                   actor=item.actor_type, agent=item.actor_agent_id, case=item.case,
                   case_id=item.case_id,
                   detail={**{k: v for k, v in moves.items() if v is not None},
                           **(item.audit_detail or {})}, session=session)
        elif isinstance(item, Message):
            record(_message_action(item), actor=item.author_type, agent=item.agent_id,
                   case=item.case, case_id=item.case_id, session=session)


def timestamp(value: datetime) -> str:
    """A record's time as it is hashed and exported."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: Mapping) -> dict:
    """The hashed fields of a record (a row or a mapping of its columns), as plain JSON."""
    out = {name: fields[name] for name in _FIELDS}
    out["created_at"] = timestamp(fields["created_at"])
    return out


def record_hash(fields: Mapping) -> str:
    """The SHA-256 hex digest of a record's canonical serialisation."""
    text = json.dumps(canonical(fields), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _take_chain_lock(session: so.Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        # SQLite takes its write lock at a transaction's first write, not its first read: a
        # write that changes nothing takes it before the head is read.
        session.execute(sa.text("DELETE FROM audit_record WHERE 0"))
    else:
        serialise_on(LOCK_KEY)


def _head(session: so.Session) -> tuple[int, str] | None:
    row = session.execute(sa.select(AuditRecord.id, AuditRecord.hash)
                          .order_by(AuditRecord.id.desc()).limit(1)).first()
    return (row.id, row.hash) if row is not None else None


@sa.event.listens_for(so.Session, "before_commit")
def _write_pending(session: so.Session) -> None:
    """Chain the transaction's entries on, last thing before its commit."""
    # First the rest of the transaction: its case events add entries, new cases get ids.
    session.flush()
    pending = session.info.pop(_PENDING, None)
    if not pending or not pending[1] or pending[0] is not session.get_transaction():
        return
    _take_chain_lock(session)
    last_id, last_hash = _head(session) or (0, GENESIS)
    now = utcnow()
    every = current_app.config["AUDIT_ANCHOR_EVERY"]
    anchors = []
    for entry in pending[1]:
        row = AuditRecord(id=last_id + 1, created_at=now, actor_type=entry.actor_type,
                          agent_id=entry.agent_id, action=entry.action,
                          case_id=entry.case.id if entry.case is not None else entry.case_id,
                          address=entry.address, detail=entry.detail, prev_hash=last_hash)
        row.hash = record_hash({name: getattr(row, name) for name in _FIELDS})
        session.add(row)
        last_id, last_hash = row.id, row.hash
        if every and row.id % every == 0:
            anchors.append((row.id, row.hash))
    if anchors:
        session.info[_ANCHORS] = anchors


@sa.event.listens_for(so.Session, "after_commit")
def _log_committed_anchors(session: so.Session) -> None:
    for record_id, digest in session.info.pop(_ANCHORS, []):
        _log_anchor(record_id, digest)


@sa.event.listens_for(so.Session, "after_soft_rollback")
def _forget_pending(session: so.Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_ANCHORS, None)


def _log_anchor(record_id: int, digest: str) -> None:
    if not ANCHOR_LOG.hasHandlers():
        # Anchors are worth nothing unless they reach the log: without any logging set up,
        # they go to standard error.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        ANCHOR_LOG.addHandler(handler)
    ANCHOR_LOG.info("audit anchor id=%s hash=%s", record_id, digest)


def log_anchor() -> tuple[int, str] | None:
    """Write the chain's head to the log as an anchor (the scheduled check does, each run)."""
    try:
        head = _head(db.session())
    finally:
        db.session.rollback()
    if head is not None:
        _log_anchor(*head)
    return head


@dataclass(frozen=True)
class ChainBreak:
    """The first problem found in the chain: the record it names, what it is, a sentence."""

    record_id: int
    kind: str  # edited, inserted, deleted, truncated, rewritten
    message: str


@dataclass(frozen=True)
class Verification:
    """What walking the chain found: the intact records up to the first break, if any."""

    records: int
    last_id: int
    last_hash: str
    broken: ChainBreak | None


def _check(row: Mapping, expected_id: int, expected_prev: str) -> ChainBreak | None:
    """The problem with ``row``, which should be record ``expected_id`` following a record
    whose hash is ``expected_prev``; None when it is."""
    rid, before = row["id"], expected_id - 1
    if rid < expected_id:
        return ChainBreak(rid, "inserted", f"record {rid}: its id is out of place (the trail "
                          "starts at 1): inserted")
    if record_hash(row) != row["hash"]:
        return ChainBreak(rid, "edited", f"record {rid}: the stored hash does not match its "
                          "content: edited")
    if rid > expected_id:
        if row["prev_hash"] == expected_prev:
            return ChainBreak(rid, "inserted", f"record {rid}: its id is out of place (it "
                              f"follows record {before}, whose successor is {expected_id}): "
                              "inserted")
        missing = (f"record {expected_id} is" if rid == expected_id + 1
                   else f"records {expected_id} to {rid - 1} are")
        return ChainBreak(expected_id, "deleted", f"{missing} missing: deleted (record {rid} "
                          f"comes after record {before})")
    if row["prev_hash"] != expected_prev:
        what = f"the hash of record {before}" if before else "the start of the trail"
        return ChainBreak(rid, "inserted", f"record {rid}: its prev_hash is not {what}: "
                          f"inserted (or record {before} was replaced)")
    return None


def verify(anchors: Mapping[int, str] | None = None) -> Verification:
    """Walk the chain in id order, AUDIT_BATCH_SIZE records at a time, up to the first break.

    ``anchors`` (record id -> hash, from the log) must each name a record of the chain with
    that hash: a trail cut short or rewritten from some record on is caught there.
    """
    anchors = dict(anchors or {})
    size = current_app.config["AUDIT_BATCH_SIZE"]
    table = AuditRecord.__table__
    count, expected_id, expected_prev = 0, 1, GENESIS

    def result(broken: ChainBreak | None) -> Verification:
        return Verification(count, expected_id - 1, expected_prev, broken)

    try:
        while True:
            query = sa.select(table).order_by(table.c.id).limit(size)
            if count:
                query = query.where(table.c.id >= expected_id)
            rows = db.session.execute(query).mappings().all()
            if not rows:
                break
            for row in rows:
                broken = _check(row, expected_id, expected_prev)
                if broken is None and row["id"] in anchors and anchors[row["id"]] != row["hash"]:
                    broken = ChainBreak(row["id"], "rewritten", f"record {row['id']}: its hash "
                                        "is not the anchor's: the trail was rewritten")
                if broken is not None:
                    return result(broken)
                count, expected_id, expected_prev = count + 1, row["id"] + 1, row["hash"]
        beyond = sorted(anchor for anchor in anchors if anchor >= expected_id)
        if beyond:
            return result(ChainBreak(beyond[0], "truncated", f"record {beyond[0]}, named by an "
                                     f"anchor, is missing: the trail ends at record "
                                     f"{expected_id - 1}: records were deleted from its end"))
        return result(None)
    finally:
        db.session.rollback()


def parse_period(start: str | None, end: str | None,
                 names: tuple[str, str] = ("from", "to")) -> tuple[date, date]:
    """The export period from two days, YYYY-MM-DD (UTC), both included; ``names`` are what
    the asker calls the two ends (query parameters, command options)."""
    days = []
    for name, value in zip(names, (start, end), strict=True):
        if not value:
            raise BadPeriod(name, f"'{name}' is required: a day, YYYY-MM-DD (UTC).")
        try:
            days.append(date.fromisoformat(value))
        except ValueError:
            raise BadPeriod(name, f"'{name}' must be a day, YYYY-MM-DD (UTC); "
                            f"'{value[:40]}' is not one.") from None
    if days[1] < days[0]:
        raise BadPeriod(names[1], f"'{names[1]}' is before '{names[0]}'.")
    return days[0], days[1]


def export_record(row: Mapping) -> str:
    """One record as a line of JSON: its canonical fields and its hash."""
    return json.dumps({**canonical(row), "hash": row["hash"]}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True)


def export_period(first: date, last: date, *, actor: Actor | str,
                  agent: Agent | None = None, via: str) -> Iterator[str]:
    """Record the export (committed first), then the lines of the records written from
    ``first`` to ``last`` (UTC days, both included), in id order, read in batches."""
    record_now("export.audit_jsonl", actor=actor, agent=agent,
               detail={"from": first.isoformat(), "to": last.isoformat(), "via": via})
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    return _lines(start, end, current_app.config["AUDIT_BATCH_SIZE"])


def _lines(start: datetime, end: datetime, size: int) -> Iterator[str]:
    table = AuditRecord.__table__
    after = None
    try:
        while True:
            query = (sa.select(table).where(table.c.created_at >= start,
                                            table.c.created_at < end)
                     .order_by(table.c.id).limit(size))
            if after is not None:
                query = query.where(table.c.id > after)
            rows = db.session.execute(query).mappings().all()
            for row in rows:
                yield export_record(row) + "\n"
            if len(rows) < size:
                return
            after = rows[-1]["id"]
    finally:
        db.session.rollback()


def case_trail(case_id: int) -> list[AuditRecord]:
    """The audit records about one case, oldest first."""
    return list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.case_id == case_id)
                                   .order_by(AuditRecord.id)))
