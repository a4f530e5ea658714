"""Risk: what the checks found and how the request came in, combined into low, medium or high.

Pure: the service gathers the facts (the findings of the current photos, how many requests
came for the account and from the client address in the last day, recent changes to the
account, "this wasn't me" reports) and stores the assessment. Every reason that raised the
level is listed, so the agent sees why.

The rule is deliberately plain, so an agent can predict it: any high factor makes the case
high; two different medium factors make it high too (independent weak signals together are
how takeovers look); one medium factor makes it medium.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from .checks import CheckResult, Result, settings_from_mapping


class Level(StrEnum):
    """How risky a request is."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Findings of the checks that raise the risk, and how far. A finding not listed (blur, glare,
# an unread MRZ: things an honest person gets wrong) does not.
FINDING_LEVELS: dict[str, Level] = {
    "face_mismatch": Level.HIGH,
    "reference_mismatch": Level.HIGH,
    "face_seen_on_other_account": Level.HIGH,
    "document_used_by_other_account": Level.HIGH,
    "selfie_is_document": Level.MEDIUM,
    "name_mismatch": Level.MEDIUM,
    "date_of_birth_mismatch": Level.MEDIUM,
    "typed_data_mismatch": Level.MEDIUM,
    "no_account_of_record": Level.MEDIUM,
    "edited_with_software": Level.MEDIUM,
    "screenshot_dimensions": Level.MEDIUM,
    "document_expired": Level.MEDIUM,
    "challenge_document_not_seen": Level.MEDIUM,
    # Recent activity only the owner knows (verification/activity.py): the owner may misremember
    # one figure, so a wrong answer alone is medium; answering again and again past the limit
    # is how guessing looks.
    "activity_deposit_mismatch": Level.MEDIUM,
    "activity_purchase_mismatch": Level.MEDIUM,
    "activity_attempts_exceeded": Level.HIGH,
}

FINDING_TEXT: dict[str, str] = {
    "face_mismatch": "The selfie does not match the document portrait.",
    "reference_mismatch": "The selfie does not match the account's reference portrait.",
    "face_seen_on_other_account": "The same face was filed for other accounts.",
    "document_used_by_other_account": "The same document was filed for other accounts.",
    "selfie_is_document": "The selfie was the ID's own photo.",
    "name_mismatch": "The name on the document differs from the account's.",
    "date_of_birth_mismatch": "The date of birth on the document differs from the account's.",
    "typed_data_mismatch": "What the user typed differs from the document.",
    "no_account_of_record": "No account exists for this email address.",
    "edited_with_software": "The ID photo was saved by image-editing software.",
    "screenshot_dimensions": "The ID photo has a screen's exact size (a screenshot?).",
    "document_expired": "The document has expired.",
    "challenge_document_not_seen": "The held ID's portrait was not found on the selfie.",
    "activity_deposit_mismatch": "The last deposit described does not match the account's.",
    "activity_purchase_mismatch": "The last asset bought does not match the account's.",
    "activity_attempts_exceeded": "The activity questions were answered too many times for "
                                  "this account: these answers were not compared.",
}


@dataclass(frozen=True)
class RiskPolicy:
    """Velocity limits and time windows; each value's reasoning is next to it."""

    # A locked-out person retries once or twice in a day; four requests for one account in
    # 24 hours is someone trying photo after photo.
    account_requests_medium: int = 2
    account_requests_high: int = 4
    # Shared addresses (offices, carrier NAT) file a few honest requests a day; many
    # different accounts from one address is a farm.
    ip_requests_medium: int = 3
    ip_requests_high: int = 6
    # A request right after the email, phone, password or 2FA of the account changed is the
    # classic takeover: the attacker changed them, or is about to undo the owner's fix.
    account_change_days: int = 7

    @classmethod
    def from_mapping(cls, values: dict) -> RiskPolicy:
        """The defaults with configuration overrides applied; unknown names are refused."""
        return settings_from_mapping(cls, values, "risk")


@dataclass(frozen=True)
class RiskFacts:
    """What the assessment looks at, gathered by the service."""

    findings: tuple[str, ...] = ()
    account_requests_24h: int = 1
    ip_requests_24h: int = 0
    account_changes: tuple[str, ...] = ()
    not_me_reports: int = 0


@dataclass(frozen=True)
class RiskReason:
    """One reason that raised the risk."""

    code: str
    level: Level
    text: str


@dataclass(frozen=True)
class RiskAssessment:
    """The level and every reason behind it."""

    level: Level
    reasons: tuple[RiskReason, ...] = field(default=())

    def as_check(self) -> CheckResult:
        """The assessment as a check of the case's check tree (``risk.assessment``)."""
        result = Result.CLEAR if self.level is Level.LOW else Result.CONSIDER
        reason = None if self.level is Level.LOW else f"risk_{self.level.value}"
        return CheckResult(
            "risk.assessment", result, reason, score=float(len(self.reasons)),
            engine="recovery-desk-risk", engine_version="1",
            details={"level": self.level.value,
                     "reasons": [{"code": r.code, "level": r.level.value, "text": r.text}
                                 for r in self.reasons]})


def findings_of(checks: Iterable[CheckResult]) -> tuple[str, ...]:
    """The reason codes of the checks that were not clear."""
    return tuple(dict.fromkeys(c.reason_code for c in checks
                               if c.reason_code and c.result is not Result.CLEAR))


def assess(facts: RiskFacts, policy: RiskPolicy | None = None) -> RiskAssessment:
    """Combine the facts into a level with its reasons."""
    policy = policy or RiskPolicy()
    reasons: list[RiskReason] = []
    for code in dict.fromkeys(facts.findings):
        if code in FINDING_LEVELS:
            reasons.append(RiskReason(code, FINDING_LEVELS[code], FINDING_TEXT[code]))
    if facts.not_me_reports:
        reasons.append(RiskReason(
            "not_me_report", Level.HIGH,
            f"The account holder reported this request as not theirs "
            f"({facts.not_me_reports} report{'s' if facts.not_me_reports > 1 else ''})."))
    for name, count, medium, high in (
            ("account", facts.account_requests_24h, policy.account_requests_medium,
             policy.account_requests_high),
            ("ip", facts.ip_requests_24h, policy.ip_requests_medium, policy.ip_requests_high)):
        if count >= medium:
            where = "for this account" if name == "account" else "from this client address"
            reasons.append(RiskReason(
                f"velocity_{name}", Level.HIGH if count >= high else Level.MEDIUM,
                f"{count} recovery requests {where} in the last 24 hours."))
    if facts.account_changes:
        kinds = ", ".join(dict.fromkeys(facts.account_changes))
        reasons.append(RiskReason(
            "recent_account_change", Level.MEDIUM,
            f"The account's {kinds} changed in the last {policy.account_change_days} days."))

    mediums = sum(1 for r in reasons if r.level is Level.MEDIUM)
    if any(r.level is Level.HIGH for r in reasons) or mediums >= 2:
        level = Level.HIGH
    elif mediums == 1:
        level = Level.MEDIUM
    else:
        level = Level.LOW
    order = {Level.HIGH: 0, Level.MEDIUM: 1, Level.LOW: 2}
    return RiskAssessment(level, tuple(sorted(reasons, key=lambda r: order[r.level])))
