"""The check tree: immutable results of automated and human checks, and how stages derive theirs.

Check names are dotted paths (``document.mrz.check_digits``); the first segment is the stage.
A stage's result is the worst of its children's: one rejection rejects the stage, one
"consider" sends it to a person.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Result(StrEnum):
    """The outcome of one check, in increasing severity."""

    CLEAR = "clear"
    CONSIDER = "consider"
    REJECTED = "rejected"


SEVERITY = {Result.CLEAR: 0, Result.CONSIDER: 1, Result.REJECTED: 2}


@dataclass(frozen=True)
class Reason:
    """A reason code's texts: what the person should do, and what the agent should know."""

    user_text: str
    internal_text: str


# The one registry of reason codes. Adding a reason is one entry.
REASONS: dict[str, Reason] = {
    "agent_confirmed": Reason(
        "We have checked this part of your request.",
        "An agent looked at the evidence and confirmed it."),
    "agent_declined": Reason(
        "We could not confirm your identity from what you sent.",
        "An agent declined the case at this stage; the reason is in the case events."),
    "resubmission_requested": Reason(
        "Please send new photos: see the message from our team.",
        "An agent asked the user for new photos."),
    "security_approved": Reason(
        "Our security team has confirmed your request.",
        "A security lead approved the escalated case."),
    "security_declined": Reason(
        "Our security team could not confirm your request.",
        "A security lead declined the escalated case."),
}


@dataclass(frozen=True)
class CheckResult:
    """One finding, as the engines and the console produce it (before it is stored)."""

    check: str
    result: Result
    reason_code: str | None = None
    score: float | None = None
    threshold: float | None = None
    engine: str = "agent"
    engine_version: str = "console"
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if "." not in self.check:
            raise ValueError(f"check names are dotted paths: {self.check!r}")
        if self.reason_code is not None and self.reason_code not in REASONS:
            raise ValueError(f"unknown reason code {self.reason_code!r}")

    @property
    def stage(self) -> str:
        """The stage a check belongs to: the first segment of its name."""
        return self.check.split(".", 1)[0]


def worst(results: Iterable[str]) -> Result | None:
    """The most severe of ``results``; None when there are none."""
    found = [Result(r) for r in results]
    return max(found, key=SEVERITY.__getitem__) if found else None


def stage_results(checks: Iterable, attempt: int) -> dict[str, Result]:
    """Each stage's result from the checks of evidence ``attempt`` (rows oldest first).

    ``checks`` are objects with ``check``, ``result`` and ``attempt``. A later result of the
    same check supersedes an earlier one (a person revising a decision); stages with no
    result for this attempt are absent: new photos start unjudged.
    """
    newest: dict[str, str] = {}
    for row in checks:
        if row.attempt == attempt:
            newest[row.check] = row.result
    by_stage: dict[str, list[str]] = {}
    for check, result in newest.items():
        by_stage.setdefault(check.split(".", 1)[0], []).append(result)
    return {stage: worst(results) for stage, results in by_stage.items()}
