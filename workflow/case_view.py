"""The console's case page in words: the check tree in plain language, one timeline of
messages, events and checks, relative times, and success texts that say what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from verification.checks import REASONS, SEVERITY, Result

# How each stage of checks is named on the page (the first part of a check's name).
STAGE_NAMES: dict[str, str] = {
    "document": "ID document",
    "selfie": "Selfie",
    "risk": "Risk",
    "activity": "Account activity",
}

# What a result says when its check has no reason code of its own.
RESULT_WORDS: dict[str, str] = {
    Result.CLEAR: "Passed.",
    Result.CONSIDER: "Needs a person to look.",
    Result.REJECTED: "Failed.",
}


@dataclass(frozen=True)
class CheckLine:
    """One check of the current photos: its verdict in words, and the raw row behind it."""

    row: object
    verdict: str


@dataclass
class Stage:
    """A stage of checks, its worst result, and its checks, failed and flagged first."""

    key: str
    name: str
    result: str
    lines: list[CheckLine] = field(default_factory=list)


def verdict(row) -> str:
    """A check's verdict in the words of the reason registry (the agent's text)."""
    reason = REASONS.get(row.reason_code or "")
    return reason.internal_text if reason else RESULT_WORDS.get(row.result, row.result)


def _severity(result: str) -> int:
    return SEVERITY.get(result, 0)


def check_tree(checks, attempt: int) -> list[Stage]:
    """The newest result of each check of evidence ``attempt``, grouped by stage; stages and
    checks ordered rejected, then needing a look, then clear."""
    newest: dict[str, object] = {}
    for row in checks:
        if row.attempt == attempt:
            newest[row.check] = row
    stages: dict[str, Stage] = {}
    for name, row in newest.items():
        key = name.split(".", 1)[0]
        stage = stages.setdefault(key, Stage(key, STAGE_NAMES.get(key, key.capitalize()),
                                             Result.CLEAR))
        stage.lines.append(CheckLine(row, verdict(row)))
        if _severity(row.result) > _severity(stage.result):
            stage.result = row.result
    for stage in stages.values():
        stage.lines.sort(key=lambda line: -_severity(line.row.result))
    return sorted(stages.values(), key=lambda s: -_severity(s.result))


@dataclass(frozen=True)
class Entry:
    """One line of the case's timeline."""

    kind: str  # "message", "note", "event" or "check"
    at: datetime
    actor: str
    title: str
    body: str = ""
    result: str | None = None
    order: int = 0  # keeps rows of the same instant in the order they were written
    message_id: int | None = None  # a message's id: the screenshots sent with it


def _agent_or(agent, fallback: str) -> str:
    return agent.name if agent is not None else fallback


def timeline(case) -> list[Entry]:
    """Messages (both ways, internal notes marked), events and check results, newest first."""
    entries = []
    for m in case.messages:
        author = "Requester" if m.author_type == "user" else _agent_or(m.agent, "System")
        entries.append(Entry("note" if m.internal else "message", m.created_at, author,
                             "Internal note" if m.internal else (
                                 "Message from the requester" if m.author_type == "user"
                                 else "Message to the requester"), m.body, order=m.id,
                             message_id=m.id))
    for ev in case.events:
        moved = ""
        if ev.to_state:
            moved = f" ({(ev.from_state + ' → ') if ev.from_state else 'to '}{ev.to_state})"
        entries.append(Entry("event", ev.created_at,
                             _agent_or(ev.actor_agent, ev.actor_type.capitalize()),
                             ev.event.replace("_", " ") + moved.replace("_", " "), ev.reason or "",
                             order=ev.id))
    for c in case.checks:
        actor = _agent_or(c.actor_agent, f"{c.engine} {c.engine_version}")
        entries.append(Entry("check", c.created_at, actor, f"Check: {verdict(c)}",
                             result=c.result, order=c.id))
    kinds = {"event": 0, "check": 1, "message": 2, "note": 2}
    return sorted(entries, key=lambda e: (e.at, kinds[e.kind], e.order), reverse=True)


def ago(at: datetime, now: datetime) -> str:
    """``at`` relative to ``now`` in rough words ("5 minutes ago", "in 2 hours")."""
    seconds = int((now - at).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now" if not future else "in under a minute"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            words = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {words}" if future else f"{words} ago"
    return "just now"  # pragma: no cover - every case returns above


def masked(address: str) -> str:
    """An email address with its local part hidden but the first letter (a•••@example.com)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


# What the page says once an event went through, by trigger ({id}: the case number,
# {state}: its state now, {email}: where the requester is written to, masked).
EVENT_DONE: dict[str, str] = {
    "start_review": "Case #{id}: the document check has started.",
    "confirm_document": "Case #{id}: document verified; the case is at the selfie check.",
    "approve": "Case #{id} approved: the requester is told by email at {email}.",
    "decline": "Case #{id} declined: the requester is told why at {email}.",
    "request_info": "Question sent to the requester ({email}): case #{id} waits for the answer.",
    "request_resubmission": "Case #{id}: new photos asked for ({email}); it waits for the "
                            "requester.",
    "escalate": "Case #{id} escalated to the security leads.",
    "return_to_stage": "Case #{id} returned to the {state} stage.",
    "mark_duplicate": "Case #{id} closed as a duplicate: the requester is told at {email}.",
}


def event_done(case, trigger: str, hold_until: datetime | None = None) -> str:
    """The success text of ``trigger`` fired on ``case`` (as it is now)."""
    address = case.account.email if case.account is not None else case.email
    text = EVENT_DONE.get(trigger, "Case #{id}: done; it is now {state}.").format(
        id=case.id, state=case.state.replace("_", " "), email=masked(address))
    if trigger == "approve" and hold_until is not None:
        text += (f" The recovery waits out its cooling-off period until "
                 f"{hold_until:%Y-%m-%d %H:%M} UTC.")
    return text
