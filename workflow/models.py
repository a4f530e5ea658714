"""Database models: the account directory, cases, their evidence, events and messages, agents."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app
from flask_login import UserMixin

from extensions import db
from sealing import Keyring
from verification.activity import KINDS as ACTIVITY_KINDS
from verification.checks import Result

from .states import AUDIT_ACTORS, ROLES, ActionStatus, Actor, State

# Primary keys are 32-bit integers: larger ids from clients are refused before any query.
MAX_ID = 2**31 - 1


def _one_of(column: str, values) -> str:
    """The SQL condition that ``column`` holds one of ``values``, for a check constraint.

    The database keeps the constraint it was created with: a new value needs a migration
    (autogenerate does not compare check constraints).
    """
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


# Where a case is finished; open cases are the others.
_RESOLVED_SQL = f"state = '{State.RESOLVED.value}'"
_OPEN_SQL = f"state <> '{State.RESOLVED.value}'"


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored in UTC that always comes back timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given for a UTC column")
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


KEYRING_EXTENSION = "recovery_keyring"


def use_keyring(app: Flask, keyring: Keyring) -> None:
    """Seal and open this app's encrypted columns with ``keyring`` (registered at start-up)."""
    app.extensions[KEYRING_EXTENSION] = keyring


def keyring() -> Keyring:
    """The keyring of the current app."""
    found = current_app.extensions.get(KEYRING_EXTENSION)
    if found is None:
        raise RuntimeError("no encryption keys are registered: build the app with create_app()")
    return found


def seal_context(table: str, column: str, binding) -> bytes:
    """What a sealed value is bound to: its table, column and row key (see sealing)."""
    return f"{table}.{column}#{'/'.join(str(part) for part in binding)}".encode()


class SealedColumn:
    """The plaintext of a column kept encrypted (evidence photos, face encodings).

    The model maps the stored bytes to ``sealed_<column>`` and the id of the key that sealed
    them to ``<column>_key_id`` (NULL: stored in the clear, written before encryption);
    ``<column>`` itself reads and writes plaintext through this descriptor.

    A value is bound to its row by ``binds_to``, columns that never change once the row is
    written: the natural key of a row written once (a photo's case, attempt and kind), else
    its id. A new row's plaintext waits on the object until its INSERT, where those are
    known: sealed in the INSERT itself (``_seal_before_insert``), or right after it for a row
    bound to the id that the INSERT gives it (``_seal_after_insert``).
    """

    def __init__(self, column: str, binds_to: tuple[str, ...] = ("id",)):
        self.column = column
        self.binds_to = binds_to
        self.stored = f"sealed_{column}"
        self.key_id = f"{column}_key_id"
        self.pending = f"_plaintext_{column}"

    def __set_name__(self, owner, name):
        SEALED_COLUMNS.append((owner, self))

    def binding(self, row) -> tuple:
        """The values ``row`` (an object or a result row) binds its value to."""
        return tuple(getattr(row, name) for name in self.binds_to)

    def __get__(self, row, owner=None):
        if row is None:
            return self
        if self.pending in row.__dict__:
            return row.__dict__[self.pending]
        return self.open(row.__table__.name, self.binding(row), getattr(row, self.stored),
                         getattr(row, self.key_id))

    def __set__(self, row, value: bytes | None) -> None:
        if sa.inspect(row).has_identity:
            self._store(row, *self.seal(row.__table__.name, self.binding(row), value))
            return
        row.__dict__[self.pending] = value
        # NOT NULL columns take an empty placeholder until the value is sealed.
        self._store(row, None if value is None else b"", None)

    def _store(self, row, stored: bytes | None, key_id: str | None) -> None:
        setattr(row, self.stored, stored)
        setattr(row, self.key_id, key_id)

    def seal(self, table: str, binding: tuple, value: bytes | None) -> tuple[bytes | None,
                                                                           str | None]:
        """The stored bytes and key id of ``value`` in the row bound by ``binding``."""
        if value is None:
            return None, None
        sealed = keyring().seal(value, seal_context(table, self.column, binding))
        return sealed.data, sealed.key_id

    def open(self, table: str, binding: tuple, stored: bytes | None,
             key_id: str | None) -> bytes | None:
        """The plaintext of stored bytes read from the row bound by ``binding``; None for
        None; bytes written before encryption (no key id) as they are."""
        if stored is None or key_id is None:
            return stored
        return keyring().open(stored, key_id, seal_context(table, self.column, binding))


# Every encrypted column as (model, descriptor): what rotate-key and the start-up check visit.
SEALED_COLUMNS: list[tuple[type, SealedColumn]] = []


def name_key(name: str | None) -> str | None:
    """A name as the console's search compares it: case-folded, spaces collapsed."""
    return " ".join(name.casefold().split())[:200] if name is not None else None


def token_hash(token: str) -> str:
    """The stored form of a bearer or tracking token (tokens themselves are never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


class Account(db.Model):
    """An account of record in the directory of the service being recovered."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True, index=True)
    full_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    date_of_birth: so.Mapped[date]
    two_factor_enabled: so.Mapped[bool] = so.mapped_column(default=False)
    locked: so.Mapped[bool] = so.mapped_column(default=False)
    # Frozen for suspicious activity: nobody signs in until the freeze is lifted.
    frozen: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # The local directory's password (argon2 hash); None: never set through the desk.
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    password_changed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # The account's KYC portrait, encrypted (SealedColumn); read it as reference_portrait.
    sealed_reference_portrait: so.Mapped[bytes | None] = so.mapped_column(
        "reference_portrait", sa.LargeBinary, deferred=True)
    reference_portrait_key_id: so.Mapped[str | None] = so.mapped_column(sa.String(32),
                                                                         index=True)
    reference_portrait = SealedColumn("reference_portrait")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    cases: so.WriteOnlyMapped[RecoveryCase] = so.relationship(back_populates="account")
    changes: so.WriteOnlyMapped[AccountChange] = so.relationship(back_populates="account")
    activity: so.WriteOnlyMapped[AccountActivity] = so.relationship(back_populates="account")


class AccountChange(db.Model):
    """A security-relevant change to an account of record (email, phone, password, 2FA, ...).

    Filled in by the service's directory sync; a recovery request soon after such a change
    is a classic takeover pattern, so the risk assessment counts recent ones.
    """

    __tablename__ = "account_change"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    account_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("account.id"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)

    account: so.Mapped[Account] = so.relationship(back_populates="changes")


class AccountActivity(db.Model):
    """Recent activity of an account of record (a deposit, a purchase), from the directory.

    What only the owner knows: a recovery request may describe the last deposit and the last
    asset bought, and the answers are compared with these rows (verification/activity.py).
    """

    __tablename__ = "account_activity"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    account_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("account.id"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    # Exact decimals: crypto amounts carry up to 18 decimals, fiat two.
    amount: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(38, 18))
    asset: so.Mapped[str] = so.mapped_column(sa.String(20))
    occurred_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)

    account: so.Mapped[Account] = so.relationship(back_populates="activity")

    __table_args__ = (
        sa.CheckConstraint(_one_of("kind", ACTIVITY_KINDS), name="account_activity_kind"),
    )


class Agent(UserMixin, db.Model):
    """A member of the support staff."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True, index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(200))
    active: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # Every console session carries the generation it was signed in under (get_id); raising
    # it (sign-out, a new password, deactivation) ends all of them, replayed cookies included.
    session_generation: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # The second factor: a TOTP secret, pending until the first code from it is entered
    # (totp_enabled_at), and the time step of the last code used (no code counts twice).
    # (The secret is encrypted like the evidence: SealedColumn, read through totp_secret.)
    sealed_totp_secret: so.Mapped[bytes | None] = so.mapped_column(
        "totp_secret", sa.LargeBinary, deferred=True)
    totp_secret_key_id: so.Mapped[str | None] = so.mapped_column(sa.String(32), index=True)
    totp_seed = SealedColumn("totp_secret")
    totp_enabled_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    totp_last_step: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)

    __table_args__ = (
        sa.CheckConstraint(_one_of("role", ROLES), name="agent_role"),
    )

    @property
    def totp_secret(self) -> str | None:
        """The agent's TOTP secret (base32), decrypted; None without one."""
        seed = self.totp_seed
        return None if seed is None else seed.decode("ascii")

    @totp_secret.setter
    def totp_secret(self, value: str | None) -> None:
        self.totp_seed = None if value is None else value.encode("ascii")

    def get_id(self) -> str:
        """The identity a console session stores: the agent and its session generation."""
        return f"{self.id}:{self.session_generation}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sign-in for inactive agents
        return self.active

    @property
    def actors(self) -> set[Actor]:
        """The actor roles this agent acts as: admins and leads can do what agents do."""
        return {Actor(self.role), Actor.AGENT}


class RecoveryCode(db.Model):
    """One of an agent's single-use recovery codes for the second factor, argon2-hashed."""

    __tablename__ = "recovery_code"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    agent_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("agent.id", ondelete="CASCADE"), index=True)
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(200))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)


class SigninFailures(db.Model):
    """Failed staff sign-ins in a row for one key (an account, a trusted browser, an address),
    and until when the next attempt waits."""

    __tablename__ = "signin_failures"

    key: so.Mapped[str] = so.mapped_column(sa.String(320), primary_key=True)
    failures: so.Mapped[int] = so.mapped_column(default=0)
    last_failure_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    blocked_until: so.Mapped[datetime] = so.mapped_column(UTCDateTime)


class ApiToken(db.Model):
    """A staff member's API bearer token: only its SHA-256 hash is kept, with its lifetime.

    Tokens are 256 random bits, so a fast hash is right (there is nothing to guess from it).
    A token works until ``expires_at`` unless it was revoked, and only for an active agent.
    """

    __tablename__ = "api_token"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    agent_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agent.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(80))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    # The token's first characters, shown in lists to tell tokens apart (far too few to use
    # it); None for a token carried over from before tokens had names.
    prefix: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    last_used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Who revoked it; None with a reason when it was not someone in the console (the
    # command line, a deactivation).
    revoked_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("agent.id"))
    revoke_reason: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    # A new token masked with a one-time pad that only the creating browser's session holds,
    # until the page after its creation shows it once and clears this.
    reveal: so.Mapped[bytes | None] = so.mapped_column(sa.LargeBinary)

    agent: so.Mapped[Agent] = so.relationship(foreign_keys=[agent_id])
    revoked_by: so.Mapped[Agent | None] = so.relationship(foreign_keys=[revoked_by_id])

    def status(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


class RecoveryCase(db.Model):
    """One recovery request and where it stands."""

    __tablename__ = "recovery_case"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    account_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("account.id"), index=True)
    # What the user typed; compared with the account of record, never trusted.
    email: so.Mapped[str] = so.mapped_column(sa.String(254), index=True)
    full_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    # The name as the console's search compares it (name_key()), kept with full_name: a
    # prefix of it is found through an index, whatever the case or spacing typed.
    name_key: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    date_of_birth: so.Mapped[date]
    issue_type: so.Mapped[str] = so.mapped_column(sa.String(32), index=True)
    # Chooses the SLA policy with the issue type (config PRIORITY_BY_ISSUE_TYPE at intake).
    priority: so.Mapped[str] = so.mapped_column(sa.String(10), default="normal")
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    consent_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    # The consent agreed to at filing: its version (states.CONSENT_TEXTS) and the SHA-256 of
    # the exact text shown. Cases filed before versions were kept hold version "1", the
    # only text there was.
    consent_version: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    consent_sha256: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    client_ip: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # The language the request was filed in (one of LANGUAGES): its emails are written in it.
    language: so.Mapped[str] = so.mapped_column(sa.String(8), server_default="en")
    # What the person told support (all optional, all as typed; erased and purged with the
    # photos): their device and app version, when the problem began (a day, perhaps a time
    # of day as they read it on their clock) and what they already tried (keys of
    # states.TRIED_FIXES, and text).
    device: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    app_version: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    began_on: so.Mapped[date | None]
    began_time: so.Mapped[time | None]
    tried_fixes: so.Mapped[list | None] = so.mapped_column(sa.JSON)
    tried_other: so.Mapped[str | None] = so.mapped_column(sa.Text)

    state: so.Mapped[str] = so.mapped_column(sa.String(20), default=State.SUBMITTED, index=True)
    resolution: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    # The stage to go back to after the user answers / after a security review.
    awaiting_from: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    escalated_from: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    # True while the user has been asked for new photos.
    resubmission_requested: so.Mapped[bool] = so.mapped_column(default=False)
    resubmissions: so.Mapped[int] = so.mapped_column(default=0)
    evidence_attempt: so.Mapped[int] = so.mapped_column(default=1)
    # The one-time code the user holds up in a challenge selfie, and the nonce of the signed
    # challenge it came from: unique, so one issued code can back one case only.
    challenge_code: so.Mapped[str | None] = so.mapped_column(sa.String(12))
    challenge_nonce: so.Mapped[str | None] = so.mapped_column(sa.String(32))

    tracking_token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    assignee_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("agent.id"), index=True)

    # The standing proposal to approve a case that needs four eyes: who proposed it, when,
    # why, and the photo attempt and risk level it was made on (new photos or another risk
    # level withdraw it). Cleared when it is withdrawn; the timeline keeps every proposal.
    proposal_agent_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("agent.id"))
    proposal_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    proposal_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    proposal_attempt: so.Mapped[int | None]
    proposal_risk: so.Mapped[str | None] = so.mapped_column(sa.String(10))

    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow,
                                                       onupdate=utcnow)
    resolved_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime, index=True)
    # When the retention purge deleted the case's photos, face encodings and document
    # readings (service/retention.py); its state, timeline, check results and SLA stay.
    purged_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # When the requester's personal data was erased at their request (erase-subject).
    erased_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    version: so.Mapped[int] = so.mapped_column(default=1)
    # The request this one repeats, when it was closed as a duplicate of it (no foreign key:
    # SQLite cannot add one to an existing table without rebuilding it, and an erased or
    # purged case keeps its row, so the id stays meaningful).
    duplicate_of_id: so.Mapped[int | None]

    account: so.Mapped[Account | None] = so.relationship(back_populates="cases")
    assignee: so.Mapped[Agent | None] = so.relationship(foreign_keys=[assignee_id])
    proposer: so.Mapped[Agent | None] = so.relationship(foreign_keys=[proposal_agent_id])
    evidence: so.Mapped[list[Evidence]] = so.relationship(
        back_populates="case", order_by="Evidence.id", cascade="all, delete-orphan"
    )
    events: so.Mapped[list[CaseEvent]] = so.relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    messages: so.Mapped[list[Message]] = so.relationship(
        back_populates="case", order_by="Message.id", cascade="all, delete-orphan"
    )
    checks: so.Mapped[list[VerificationCheck]] = so.relationship(
        back_populates="case", order_by="VerificationCheck.id", cascade="all, delete-orphan"
    )
    readings: so.Mapped[list[DocumentReading]] = so.relationship(
        back_populates="case", order_by="DocumentReading.attempt", cascade="all, delete-orphan"
    )
    sla: so.Mapped[CaseSla | None] = so.relationship(back_populates="case",
                                                     cascade="all, delete-orphan")
    selfie_readings: so.Mapped[list[SelfieReading]] = so.relationship(
        back_populates="case", order_by="SelfieReading.attempt", cascade="all, delete-orphan"
    )
    recovery_actions: so.Mapped[list[RecoveryAction]] = so.relationship(
        back_populates="case", order_by="RecoveryAction.position", cascade="all, delete-orphan"
    )

    duplicate_of: so.Mapped[RecoveryCase | None] = so.relationship(
        primaryjoin="foreign(RecoveryCase.duplicate_of_id) == remote(RecoveryCase.id)")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.Index("ix_recovery_case_queue", "state", "created_at", "id"),
        # A prefix of the name (LIKE 'ann%') walks this index whatever the collation.
        sa.Index("ix_recovery_case_name_key", "name_key",
                 postgresql_ops={"name_key": "varchar_pattern_ops"}),
        sa.UniqueConstraint("challenge_nonce", name="uq_recovery_case_challenge_nonce"),
        sa.CheckConstraint(
            f"({_RESOLVED_SQL}) = (resolution IS NOT NULL)", name="resolved_has_resolution"
        ),
    )

    @so.validates("full_name")
    def _keep_name_key(self, _key, value: str) -> str:
        self.name_key = name_key(value)
        return value

    @property
    def is_resolved(self) -> bool:
        return self.state == State.RESOLVED

    def current_evidence(self) -> list[Evidence]:
        """Evidence of the latest attempt."""
        return [e for e in self.evidence if e.attempt == self.evidence_attempt]

    def current_reading(self) -> DocumentReading | None:
        """The automated document reading of the latest attempt, once the job has run."""
        return next((r for r in self.readings if r.attempt == self.evidence_attempt), None)

    def current_selfie_reading(self) -> SelfieReading | None:
        """The automated selfie reading of the latest attempt, once the job has run."""
        return next((r for r in self.selfie_readings if r.attempt == self.evidence_attempt),
                    None)


class Evidence(db.Model):
    """One uploaded photo, normalised (upright, metadata stripped), stored with its case.

    The image bytes live in the database so that the case and its files are written in one
    transaction and every web process and worker can read them.
    """

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("recovery_case.id"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(32))
    attempt: so.Mapped[int] = so.mapped_column(default=1)
    mime_type: so.Mapped[str] = so.mapped_column(sa.String(32))
    width: so.Mapped[int]
    height: so.Mapped[int]
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    original_sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    original_bytes: so.Mapped[int]
    exif_software: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    # The image, encrypted (SealedColumn); read and write it as data.
    sealed_data: so.Mapped[bytes] = so.mapped_column("data", sa.LargeBinary, deferred=True)
    data_key_id: so.Mapped[str | None] = so.mapped_column(sa.String(32), index=True)
    data = SealedColumn("data", binds_to=("case_id", "attempt", "kind"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # The user's message a screenshot came with (None: with the request, or not a
    # screenshot). No foreign key: messages are never deleted apart from their case.
    message_id: so.Mapped[int | None] = so.mapped_column(index=True)

    case: so.Mapped[RecoveryCase] = so.relationship(back_populates="evidence")

    __table_args__ = (sa.UniqueConstraint("case_id", "attempt", "kind"),)


class KeptUpload(db.Model):
    """A photo of the request form that passed the intake gate, kept for a short while.

    The form comes back after a validation error (or the pre-send check of a photo) without
    asking for the photo again: it is kept against the form's random token and the browser
    session that sent it (``holder``, a digest of both), never against a person, and purged
    once ``expires_at`` has passed (or the request is filed).
    """

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    holder: so.Mapped[str] = so.mapped_column(sa.String(64))
    kind: so.Mapped[str] = so.mapped_column(sa.String(32))
    filename: so.Mapped[str] = so.mapped_column(sa.String(200))
    mime_type: so.Mapped[str] = so.mapped_column(sa.String(32))
    # The normalised image, encrypted like the evidence (SealedColumn); read it as data.
    sealed_data: so.Mapped[bytes] = so.mapped_column("data", sa.LargeBinary, deferred=True)
    data_key_id: so.Mapped[str | None] = so.mapped_column(sa.String(32), index=True)
    data = SealedColumn("data", binds_to=("holder", "kind"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)

    __table_args__ = (sa.UniqueConstraint("holder", "kind"),)


class CaseEvent(db.Model):
    """An append-only audit record of something that happened to a case."""

    __tablename__ = "case_event"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("recovery_case.id"), index=True)
    actor_type: so.Mapped[str] = so.mapped_column(sa.String(20))
    actor_agent_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("agent.id"))
    event: so.Mapped[str] = so.mapped_column(sa.String(40))
    from_state: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    to_state: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    case: so.Mapped[RecoveryCase] = so.relationship(back_populates="events")
    actor_agent: so.Mapped[Agent | None] = so.relationship()

    # Ids and codes for this event's audit record (workflow/service/audit.py), beside what
    # the row holds; not a column.
    audit_detail = None


class Message(db.Model):
    """A message on a case: user-visible (from the user or an agent) or an internal note."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("recovery_case.id"), index=True)
    author_type: so.Mapped[str] = so.mapped_column(sa.String(20))
    agent_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("agent.id"))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    internal: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    case: so.Mapped[RecoveryCase] = so.relationship(back_populates="messages")
    agent: so.Mapped[Agent | None] = so.relationship()


class VerificationCheck(db.Model):
    """An immutable check result of the case's check tree (automated or by a person)."""

    __tablename__ = "verification_check"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("recovery_case.id"), index=True)
    attempt: so.Mapped[int]
    check: so.Mapped[str] = so.mapped_column(sa.String(80))
    result: so.Mapped[str] = so.mapped_column(sa.String(10))
    reason_code: so.Mapped[str | None] = so.mapped_column(sa.String(60))
    score: so.Mapped[float | None]
    threshold: so.Mapped[float | None]
    engine: so.Mapped[str] = so.mapped_column(sa.String(60))
    engine_version: so.Mapped[str] = so.mapped_column(sa.String(60))
    actor_agent_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("agent.id"))
    details: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    case: so.Mapped[RecoveryCase] = so.relationship(back_populates="checks")
    actor_agent: so.Mapped[Agent | None] = so.relationship()

    __table_args__ = (
        sa.CheckConstraint(_one_of("result", (r.value for r in Result)), name="check_result"),
    )


class DocumentReading(db.Model):
    """What the automated document check read from one evidence attempt (one row per attempt).

    The unique (case, attempt) pair is what makes the verification job idempotent: a second
    run for the same attempt cannot store anything. The document number and issuing country
    are indexed to find the same document filed for other accounts.
    """

    __tablename__ = "document_reading"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("recovery_case.id"), index=True)
    attempt: so.Mapped[int]
    mrz_found: so.Mapped[bool] = so.mapped_column(default=False)
    mrz_side: so.Mapped[str | None] = so.mapped_column(sa.String(10))
    mrz_format: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    document_type: so.Mapped[str | None] = so.mapped_column(sa.String(4))
    issuing_country: so.Mapped[str | None] = so.mapped_column(sa.String(3))
    document_number: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    surname: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    given_names: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    nationality: so.Mapped[str | None] = so.mapped_column(sa.String(3))
    date_of_birth: so.Mapped[date | None]
    sex: so.Mapped[str | None] = so.mapped_column(sa.String(1))
    expiry_date: so.Mapped[date | None]
    valid_check_digits: so.Mapped[bool | None]
    mrz: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    portrait_faces: so.Mapped[int] = so.mapped_column(default=0)
    # The document portrait's 128 float64 face_recognition numbers, for the selfie stage;
    # encrypted (SealedColumn), read and written as portrait_encoding.
    sealed_portrait_encoding: so.Mapped[bytes | None] = so.mapped_column(
        "portrait_encoding", sa.LargeBinary, deferred=True)
    portrait_encoding_key_id: so.Mapped[str | None] = so.mapped_column(sa.String(32),
                                                                        index=True)
    portrait_encoding = SealedColumn("portrait_encoding", binds_to=("case_id", "attempt"))
    outcome: so.Mapped[str] = so.mapped_column(sa.String(10))
    timings_ms: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    case: so.Mapped[RecoveryCase] = so.relationship(back_populates="readings")

    __table_args__ = (
        sa.UniqueConstraint("case_id", "attempt"),
        sa.Index("ix_document_reading_document", "issuing_country", "document_number"),
        # The console's search by document number, whatever the issuing country.
        sa.Index("ix_document_reading_number", "document_number"),
    )


class SelfieReading(db.Model):
    """What the automated selfie check found for one evidence attempt (one row per attempt).

    As for document readings, the unique (case, attempt) pair makes the job idempotent. The
    encoding is kept to find the same face filed for other accounts.
    """

    __tablename__ = "selfie_reading"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("recovery_case.id"), index=True)
    attempt: so.Mapped[int]
    faces: so.Mapped[int] = so.mapped_column(default=0)
    face_box: so.Mapped[list | None] = so.mapped_column(sa.JSON)
    # The selfie face's 128 float64 face_recognition numbers (little-endian); encrypted
    # (SealedColumn), read and written as encoding.
    sealed_encoding: so.Mapped[bytes | None] = so.mapped_column("encoding", sa.LargeBinary,
                                                                deferred=True)
    encoding_key_id: so.Mapped[str | None] = so.mapped_column(sa.String(32), index=True)
    encoding = SealedColumn("encoding", binds_to=("case_id", "attempt"))
    document_distance: so.Mapped[float | None]
    reference_distance: so.Mapped[float | None]
    threshold: so.Mapped[float | None]
    challenge_code_read: so.Mapped[bool | None]
    outcome: so.Mapped[str] = so.mapped_column(sa.String(10))
    timings_ms: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    case: so.Mapped[RecoveryCase] = so.relationship(back_populates="selfie_readings")

    __table_args__ = (sa.UniqueConstraint("case_id", "attempt"),)


class CaseSla(db.Model):
    """The SLA figures of one case, derived from its log (workflow/sla.py) for fast queries.

    Only what the log fixes is stored: due and warning times of running clocks, when each
    clock was met and the business time it took, and the business time of every finished
    stretch per stage. Breaches are due times compared with the present, in the query;
    `flask sla-recompute` rebuilds every row from the log.
    """

    __tablename__ = "case_sla"

    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("recovery_case.id"),
                                               primary_key=True)
    policy: so.Mapped[str] = so.mapped_column(sa.String(60))
    calendar: so.Mapped[str] = so.mapped_column(sa.String(60))
    first_response_target: so.Mapped[float]
    first_response_due_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    first_response_warn_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    first_response_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    first_response_seconds: so.Mapped[float | None]
    next_update_target: so.Mapped[float]
    next_update_started_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    next_update_due_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    next_update_warn_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    next_update_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    next_update_seconds: so.Mapped[float | None]
    # Earlier next-update cycles (before the one running now) answered late: the
    # columns above describe the latest cycle only, so its predecessors' breaches live here.
    next_update_breaches: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    resolution_target: so.Mapped[float]
    resolution_due_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    resolution_warn_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    resolution_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    resolution_seconds: so.Mapped[float | None]
    id_check_seconds: so.Mapped[float] = so.mapped_column(default=0.0)
    selfie_check_seconds: so.Mapped[float] = so.mapped_column(default=0.0)
    escalated_seconds: so.Mapped[float] = so.mapped_column(default=0.0)
    awaiting_user_seconds: so.Mapped[float] = so.mapped_column(default=0.0)
    state: so.Mapped[str] = so.mapped_column(sa.String(20))
    state_since: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    paused: so.Mapped[bool] = so.mapped_column(default=False)
    # The earliest due time among the running clocks: the queue's order.
    next_due_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime, index=True)
    # Copies of the case's own columns that the SLA report selects and groups by, kept in
    # step in the same flush (service._keep_sla_in_step): a year's report then reads this
    # table alone, without joining a million cases (docs/benchmarks.md).
    filed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)
    issue_type: so.Mapped[str] = so.mapped_column(sa.String(32))
    priority: so.Mapped[str] = so.mapped_column(sa.String(10))
    assignee_id: so.Mapped[int | None]  # a copy: recovery_case.assignee_id is the reference

    case: so.Mapped[RecoveryCase] = so.relationship(back_populates="sla")

    __table_args__ = (
        # Due times of open cases only (a twentieth of the rows): the queue's order.
        sa.Index("ix_case_sla_open_due", "next_due_at",
                 postgresql_where=sa.text(_OPEN_SQL), sqlite_where=sa.text(_OPEN_SQL)),
    )


class SavedView(db.Model):
    """A queue search an agent saved under a name: the filters as the queue's query string;
    ``shared`` shows it to the whole team (only its owner deletes it)."""

    __tablename__ = "saved_view"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    agent_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agent.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(60))
    query: so.Mapped[str] = so.mapped_column(sa.String(600))
    shared: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    agent: so.Mapped[Agent] = so.relationship()

    __table_args__ = (sa.UniqueConstraint("agent_id", "name", name="uq_saved_view_agent_name"),)


class IdempotencyKey(db.Model):
    """A submission remembered under its Idempotency-Key, so a retry creates nothing new."""

    __tablename__ = "idempotency_key"

    key: so.Mapped[str] = so.mapped_column(sa.String(255), primary_key=True)
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(64))
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("recovery_case.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


def append_only_ddl(table: str, dialect: str, columns: tuple[str, ...] | None = None, *,
                    deletes_too: bool = False) -> list[str]:
    """Statements that make the database refuse any UPDATE of ``table`` (with ``columns``:
    any UPDATE that sets one of them), and any DELETE with ``deletes_too``."""
    message = f"{table.replace('_', ' ')} rows are append-only"
    quoted = ", ".join('"' + column + '"' for column in columns or ())
    of = f"OF {quoted} " if columns else ""
    if dialect == "sqlite":
        statements = [f"CREATE TRIGGER {table}_append_only BEFORE UPDATE {of}ON {table} "
                      f"BEGIN SELECT RAISE(ABORT, '{message}'); END"]
        if deletes_too:
            statements.append(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                              f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
        return statements
    if dialect == "postgresql":
        operations = f"UPDATE {of}OR DELETE " if deletes_too else f"UPDATE {of}"
        return [f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger "
                f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$",
                f"CREATE TRIGGER {table}_append_only BEFORE {operations}ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"]
    return []


class AuditRecord(db.Model):
    """One entry of the tamper-evident audit trail (workflow/service/audit.py).

    Each record carries the hash of the one before it: ``hash`` is SHA-256 over the canonical
    serialisation of every other column and ``prev_hash``, so an edited, inserted or deleted
    row breaks the chain where it happened (``flask audit-verify``). Ids are given in order
    under a lock, without gaps. Nothing here names a data subject (no email, name, document
    number or message text; ids, actions, staff ids, addresses and reason codes only), so
    erasing a person's data never touches the trail; and no foreign keys, so the trail
    outlives the cases and agents it speaks of.
    """

    __tablename__ = "audit_record"

    id: so.Mapped[int] = so.mapped_column(primary_key=True, autoincrement=False)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)
    actor_type: so.Mapped[str] = so.mapped_column(sa.String(20))
    agent_id: so.Mapped[int | None]
    action: so.Mapped[str] = so.mapped_column(sa.String(60))
    case_id: so.Mapped[int | None] = so.mapped_column(index=True)
    address: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    detail: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    prev_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    hash: so.Mapped[str] = so.mapped_column(sa.String(64))

    __table_args__ = (
        sa.CheckConstraint(_one_of("actor_type", AUDIT_ACTORS), name="audit_record_actor_type"),
    )


def rewritable_columns(model: type) -> set[str]:
    """The columns of an append-only table that may be rewritten: its encrypted values and
    their key ids (rotate-key re-encrypts them; the value itself stays the same)."""
    return {name for owner, column in SEALED_COLUMNS if owner is model
            for name in (column.column, column.key_id)}


def protected_columns(model: type) -> list[str] | None:
    """The columns the append-only trigger of ``model`` guards; None: the whole row."""
    rewritable = rewritable_columns(model)
    if not rewritable:
        return None
    return [c.name for c in model.__table__.columns if c.name not in rewritable]


# A check result's columns the database never lets change. Its details are the exception:
# the retention purge and an erasure replace them with their impersonal part
# (verification.checks.impersonal), which is the only rewrite a check row ever sees.
CHECK_FIXED_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in VerificationCheck.__table__.columns if c.name != "details")

# The audit trails and the check tree are protected below the ORM too: the database refuses
# to rewrite a row of any (of a check row, anything but its details; of a reading, anything
# but its encrypted value and key id), and to delete an audit record.
for _model, _columns in ((CaseEvent, None), (VerificationCheck, CHECK_FIXED_COLUMNS),
                         (DocumentReading, protected_columns(DocumentReading)),
                         (SelfieReading, protected_columns(SelfieReading)), (AuditRecord, None)):
    for _dialect in ("sqlite", "postgresql"):
        for _statement in append_only_ddl(_model.__tablename__, _dialect, _columns,
                                          deletes_too=_model is AuditRecord):
            sa.event.listen(_model.__table__, "after_create",
                            sa.DDL(_statement).execute_if(dialect=_dialect))


# Rows are never changed through the ORM; readings are deleted with their case's evidence
# (retention purge, erasure), the rest only together with their case; audit records never.
@sa.event.listens_for(AuditRecord, "before_update")
@sa.event.listens_for(AuditRecord, "before_delete")
@sa.event.listens_for(CaseEvent, "before_update")
@sa.event.listens_for(VerificationCheck, "before_update")
@sa.event.listens_for(DocumentReading, "before_update")
@sa.event.listens_for(SelfieReading, "before_update")
def _append_only(mapper, connection, target):
    raise ValueError(f"{mapper.local_table.name.replace('_', ' ')} rows are append-only")


class OutboxEmail(db.Model):
    """An email waiting to be sent, or sent: written in the transaction that causes it.

    The sender (notify/outbox.py) delivers it after the commit; a failed attempt is counted,
    its error kept and the next one put off, so a mail server that is down delays an email
    but never loses it.
    """

    __tablename__ = "outbox_email"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # The notification kind (notify.NOTIFICATIONS) that wrote it.
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    to_address: so.Mapped[str] = so.mapped_column(sa.String(254))
    subject: so.Mapped[str] = so.mapped_column(sa.String(200))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    # Kept when the case is purged: the email was sent about it all the same.
    case_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("recovery_case.id", ondelete="SET NULL"), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    attempts: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # Not before this time (the backoff after a failure, or a sender's claim while it sends).
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    __table_args__ = (
        # The sender's query: unsent emails by when they are due (sent ones are most rows).
        sa.Index("ix_outbox_email_unsent", "next_attempt_at",
                 postgresql_where=sa.text("sent_at IS NULL"),
                 sqlite_where=sa.text("sent_at IS NULL")),
    )


_OPEN_ACTIONS_SQL = "status IN ('pending', 'running', 'failed')"


class RecoveryAction(db.Model):
    """One step of an approved recovery, planned with the approval and performed after it.

    Performed through the account-service adapter named on the row, exactly once: a runner
    claims the row (status ``running`` until ``next_attempt_at``), and the adapter carries
    ``idempotency_key`` so that a retry after a lost answer changes nothing more. A failure
    keeps the row ``failed`` with its error, retried at ``next_attempt_at`` or by an agent.
    """

    __tablename__ = "recovery_action"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("recovery_case.id"), index=True)
    # Order within the case: a step runs once the steps before it are done.
    position: so.Mapped[int]
    # A states.RecoveryStep.
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    # The account-service adapter that performs it ("local", "http").
    adapter: so.Mapped[str] = so.mapped_column(sa.String(20))
    idempotency_key: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default=ActionStatus.PENDING)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    # Not before this time: when the action may first run.
    due_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # The next try after a failure, or the end of a runner's claim while it performs it.
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # What the account service reported (never a secret such as a reset token).
    result: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    done_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    case: so.Mapped[RecoveryCase] = so.relationship(back_populates="recovery_actions")

    __table_args__ = (
        sa.UniqueConstraint("case_id", "position", name="uq_recovery_action_case_position"),
        sa.CheckConstraint(_one_of("status", [s.value for s in ActionStatus]),
                           name="recovery_action_status"),
        # The sweep's query: actions that may still run, by when they are due.
        sa.Index("ix_recovery_action_open", "status", "next_attempt_at",
                 postgresql_where=sa.text(_OPEN_ACTIONS_SQL),
                 sqlite_where=sa.text(_OPEN_ACTIONS_SQL)),
    )


class ResetLink(db.Model):
    """A one-time password-reset link of the local directory: only its token's hash is kept.

    Used at most once (``used_at`` set by one conditional UPDATE) and not after
    ``expires_at``.
    """

    __tablename__ = "reset_link"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    account_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("account.id"), index=True)
    action_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("recovery_action.id", ondelete="SET NULL"), index=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    # Issued with the removal of the second factor: the page says so.
    second_factor_removed: so.Mapped[bool] = so.mapped_column(default=False)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    account: so.Mapped[Account] = so.relationship()


class EncryptionKey(db.Model):
    """A key id the desk has sealed values with, and a value only that key opens.

    Checked at start-up (service.check_keys): a key configured under an id that the data was
    written with another key is refused there, not on the first photo an agent opens.
    """

    __tablename__ = "encryption_key"

    key_id: so.Mapped[str] = so.mapped_column(sa.String(32), primary_key=True)
    check_value: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class Macro(db.Model):
    """A canned reply staff insert into a message: a name, a body with placeholders from a
    fixed list (service/macros.py), and whether it is offered; managed by admins."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    active: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    created_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agent.id"))
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agent.id"))

    created_by: so.Mapped[Agent] = so.relationship(foreign_keys=[created_by_id])
    updated_by: so.Mapped[Agent] = so.relationship(foreign_keys=[updated_by_id])


class CaseViewer(db.Model):
    """A staff member who has a case's page open: when this visit began and the last sign of
    it (the page's heartbeat). Kept in the database so every process of the desk sees it."""

    __tablename__ = "case_viewer"

    case_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("recovery_case.id", ondelete="CASCADE"), primary_key=True)
    agent_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)
    opened_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    # Old rows are deleted by this column (service/presence.py).
    last_seen: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)

    agent: so.Mapped[Agent] = so.relationship()


def _pending(row) -> list[SealedColumn]:
    """The encrypted columns of ``row`` holding plaintext not sealed yet."""
    return [column for model, column in SEALED_COLUMNS
            if isinstance(row, model) and column.pending in row.__dict__]


def _seal_before_insert(mapper, connection, row) -> None:
    """Seal a new row's plaintext in its INSERT when what it binds to is known by then (the
    flush has filled in the foreign keys)."""
    table = mapper.local_table.name
    for column in _pending(row):
        binding = column.binding(row)
        if None not in binding:
            column._store(row, *column.seal(table, binding, row.__dict__.pop(column.pending)))


def _seal_after_insert(mapper, connection, row) -> None:
    """Seal the plaintext of a new row bound to the id its INSERT gave it."""
    table = mapper.local_table
    for column in _pending(row):
        stored, key_id = column.seal(table.name, column.binding(row),
                                     row.__dict__.pop(column.pending))
        if stored is None:
            continue
        connection.execute(table.update().where(table.c.id == row.id)
                           .values({column.column: stored, column.key_id: key_id}))
        so.attributes.set_committed_value(row, column.stored, stored)
        so.attributes.set_committed_value(row, column.key_id, key_id)


for _model in dict.fromkeys(model for model, _ in SEALED_COLUMNS):
    sa.event.listen(_model, "before_insert", _seal_before_insert)
    sa.event.listen(_model, "after_insert", _seal_after_insert)


class TrackingLinkRequest(db.Model):
    """Someone asked for the tracking links of an email address ("email me my link").

    Queued so that the answer costs the same whether or not any request matches; the
    scheduled tick sends the links and deletes the row (service/tracking_links.py), so the
    address is kept only until then.
    """

    __tablename__ = "tracking_link_request"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    # The language of the page the request came from: the email is written in it.
    locale: so.Mapped[str] = so.mapped_column(sa.String(16))
    requested_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class SelfHelpAnswer(db.Model):
    """How many people a troubleshooting guide helped, or not, per issue type and UTC day.

    Anonymous counts only (nothing about the person or the browser): the reports' deflection
    rate is solved / (solved + still need help).
    """

    __tablename__ = "self_help_answer"

    day: so.Mapped[date] = so.mapped_column(sa.Date, primary_key=True)
    issue_type: so.Mapped[str] = so.mapped_column(sa.String(40), primary_key=True)
    # "solved" or "need_help" (service/self_help.py OUTCOMES).
    outcome: so.Mapped[str] = so.mapped_column(sa.String(20), primary_key=True)
    count: so.Mapped[int] = so.mapped_column(default=0)
