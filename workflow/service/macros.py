"""Canned replies (macros): admins keep them, staff insert one into a message to the requester.

A macro's body may name placeholders from a fixed list, ``{first_name}``, ``{case_number}``,
``{agent_name}``, ``{issue_type}`` and ``{sla_due}``, and ``{{``/``}}`` for a brace itself.
The body is read by a small scanner, never by ``str.format``: no attribute access, no index,
no format spec, nothing but the listed names. A body that names anything else, or holds a lone
brace, is refused when it is saved, with what is wrong.

Every placeholder is something the agent inserting the reply can see on the case page anyway,
and none is a secret: the tracking link (which lets its holder act on the case) and the
requester's contact details are left out on purpose, since a reply is sent as it is edited,
and a macro must never put into a message what the agent did not see.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from extensions import db

from ..models import MAX_ID, Agent, Macro, RecoveryCase, utcnow
from ..states import ISSUE_TYPES, Actor
from . import audit
from .subjects import ERASED_NAME
from .unit import transaction

NAME_MAX_LENGTH = 80
BODY_MAX_LENGTH = 4000  # a message's own limit (forms.MessageForm)

# Issue types as a reply to the requester speaks of them ("your request about ...").
ISSUE_PHRASES: dict[str, str] = {
    "forgot_password": "a forgotten password",
    "lost_2fa": "a lost two-factor device",
    "account_locked": "a locked account",
    "new_device": "a new phone or device",
    "suspicious_activity": "an account frozen for suspicious activity",
    "other": "your account",
}


@dataclass(frozen=True)
class ReplyContext:
    """What a reply's placeholders may say: read from a case and the agent writing."""

    case: RecoveryCase
    agent: Agent


def _first_name(ctx: ReplyContext) -> str:
    name = (ctx.case.full_name or "").strip()
    if not name or name == ERASED_NAME:
        return "there"  # "Hello there," still reads
    return name.split()[0]


def _sla_due(ctx: ReplyContext) -> str:
    due = ctx.case.sla.resolution_due_at if ctx.case.sla is not None else None
    if due is None or ctx.case.is_resolved:
        return "as soon as we can"
    return f"by {due:%A} {due.day} {due:%B %Y}, {due:%H:%M} UTC"


# The only placeholders a macro may use, each with what it becomes and what the admin page says.
PLACEHOLDERS: dict[str, tuple[Callable[[ReplyContext], str], str]] = {
    "first_name": (_first_name, "the requester's first name, as they typed it"),
    "case_number": (lambda ctx: str(ctx.case.id), "the case number"),
    "agent_name": (lambda ctx: ctx.agent.name, "your name (the agent sending it)"),
    "issue_type": (lambda ctx: ISSUE_PHRASES.get(ctx.case.issue_type)
                   or ISSUE_TYPES.get(ctx.case.issue_type, "your account"),
                   "what the request is about, e.g. “a lost two-factor device”"),
    "sla_due": (_sla_due, "when the case is due to be resolved, in words"),
}

# ``{{`` and ``}}`` are braces; ``{name}`` a placeholder; any other brace is an error.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class MacroInvalid(ValueError):
    """A macro that cannot be saved; ``field`` names the form field that is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class MacroNotFound(Exception):
    """No macro with that id (or none offered any more)."""


def _parse(body: str) -> list[str | tuple[str]]:
    """The body as literal text pieces and ``(placeholder,)`` tuples; MacroInvalid otherwise."""
    pieces: list[str | tuple[str]] = []
    at = 0
    for match in _TOKEN.finditer(body):
        pieces.append(body[at:match.start()])
        at = match.end()
        token, name = match.group(0), match.group(1)
        if token in ("{{", "}}"):
            pieces.append(token[0])
        elif name is None:
            raise MacroInvalid("body", f"A lone “{token}” at character {match.start() + 1}: "
                                       "write {{ or }} for a brace itself.")
        elif name not in PLACEHOLDERS:
            shown = name if len(name) <= 40 else name[:40] + "…"
            raise MacroInvalid("body", f"Unknown placeholder {{{shown}}}: use one of "
                                       f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}.")
        else:
            pieces.append((name,))
    pieces.append(body[at:])
    return pieces


def check_body(body: str) -> None:
    """Refuse (MacroInvalid) a body with an unknown placeholder or a lone brace."""
    _parse(body)


def render_body(body: str, values: dict[str, str]) -> str:
    """The body with each placeholder replaced by ``values[name]`` (every placeholder of
    PLACEHOLDERS must be given); MacroInvalid for a body check_body refuses."""
    return "".join(piece if isinstance(piece, str) else values[piece[0]]
                   for piece in _parse(body))


def placeholder_values(case: RecoveryCase, agent: Agent) -> dict[str, str]:
    """What each placeholder says in a reply on ``case`` written by ``agent``."""
    ctx = ReplyContext(case=case, agent=agent)
    return {name: make(ctx) for name, (make, _) in PLACEHOLDERS.items()}


def _clean(name: str, body: str) -> tuple[str, str]:
    name, body = (name or "").strip(), (body or "").strip()
    if not name:
        raise MacroInvalid("name", "Give the macro a name.")
    if len(name) > NAME_MAX_LENGTH:
        raise MacroInvalid("name", f"A name has at most {NAME_MAX_LENGTH} characters.")
    if not body:
        raise MacroInvalid("body", "The reply is empty.")
    if len(body) > BODY_MAX_LENGTH:
        raise MacroInvalid("body", f"A reply has at most {BODY_MAX_LENGTH} characters.")
    check_body(body)
    return name, body


def _name_taken(name: str, other_than: int | None) -> bool:
    query = sa.select(Macro.id).where(sa.func.lower(Macro.name) == name.lower())
    if other_than is not None:
        query = query.where(Macro.id != other_than)
    return db.session.scalar(query) is not None


def all_macros() -> list[Macro]:
    """Every macro, offered ones first, by name (the admin page)."""
    return list(db.session.scalars(
        sa.select(Macro).order_by(Macro.active.desc(), Macro.name)))


def active_macros() -> list[Macro]:
    """The macros offered to staff, by name."""
    return list(db.session.scalars(
        sa.select(Macro).where(Macro.active).order_by(Macro.name)))


def get_macro(macro_id: int, *, active_only: bool = False) -> Macro:
    """One macro; MacroNotFound when there is none (or it is not offered, ``active_only``)."""
    macro = db.session.get(Macro, macro_id) if 0 < macro_id <= MAX_ID else None
    if macro is None or (active_only and not macro.active):
        raise MacroNotFound(f"There is no macro {macro_id}.")
    return macro


def create_macro(name: str, body: str, *, by: Agent) -> Macro:
    """Save a new macro (offered at once), audited as ``macro.created``."""
    name, body = _clean(name, body)
    with transaction():
        if _name_taken(name, None):
            raise MacroInvalid("name", f"A macro named “{name}” exists already.")
        now = utcnow()
        macro = Macro(name=name, body=body, active=True, created_at=now, created_by_id=by.id,
                      updated_at=now, updated_by_id=by.id)
        db.session.add(macro)
        db.session.flush()
        audit.record("macro.created", actor=Actor(by.role), agent=by,
                     detail={"macro_id": macro.id})
    return macro


def update_macro(macro_id: int, name: str, body: str, active: bool, *, by: Agent) -> Macro:
    """Change a macro's name, body or whether it is offered, audited as ``macro.changed``
    with the fields that changed; saving it unchanged records nothing."""
    name, body = _clean(name, body)
    with transaction():
        macro = get_macro(macro_id)
        if _name_taken(name, macro.id):
            raise MacroInvalid("name", f"A macro named “{name}” exists already.")
        changed = [field for field, value in (("name", name), ("body", body),
                                              ("active", bool(active)))
                   if getattr(macro, field) != value]
        if changed:
            macro.name, macro.body, macro.active = name, body, bool(active)
            macro.updated_at, macro.updated_by_id = utcnow(), by.id
            audit.record("macro.changed", actor=Actor(by.role), agent=by,
                         detail={"macro_id": macro.id, "fields": changed,
                                 "active": bool(active)})
    return macro


def rendered_reply(macro_id: int, case: RecoveryCase, agent: Agent) -> tuple[Macro, str]:
    """An offered macro and its text for a reply on ``case`` by ``agent``."""
    macro = get_macro(macro_id, active_only=True)
    return macro, render_body(macro.body, placeholder_values(case, agent))
