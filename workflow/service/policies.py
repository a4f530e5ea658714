"""The policies of the checks and of the service levels, read from configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from verification.documents import DocumentPolicy
from verification.quality import QualityThresholds
from verification.risk import RiskPolicy
from verification.selfie import SelfiePolicy

from .. import rules, sla
from ..states import ISSUE_TYPES


def workflow_policy() -> rules.Policy:
    """The workflow rules' limits from configuration."""
    return rules.Policy(max_resubmissions=current_app.config["MAX_RESUBMISSIONS"])


def intake_limits() -> dict:
    """The configured bounds of upload intake, as normalize_upload's keyword arguments."""
    config = current_app.config
    return {"max_bytes": config["MAX_UPLOAD_BYTES"], "max_pixels": config["MAX_IMAGE_PIXELS"],
            "max_decoded_bytes": config["MAX_DECODED_BYTES"],
            "working_pixels": config["WORKING_PIXELS"],
            "jpeg_quality": config["STORED_JPEG_QUALITY"]}


def challenge_required(issue_type: str) -> bool:
    """Whether requests of this issue type need a challenge selfie (configuration)."""
    return issue_type in current_app.config["CHALLENGE_ISSUE_TYPES"]


def document_policy() -> DocumentPolicy:
    """The document stage's policy from configuration."""
    config = current_app.config
    return DocumentPolicy(
        accepted_types=config["ACCEPTED_DOCUMENT_TYPES"],
        name_clear=config["NAME_MATCH_CLEAR"], name_consider=config["NAME_MATCH_CONSIDER"],
        quality=QualityThresholds.from_mapping(config["QUALITY_THRESHOLDS"]),
    )


def selfie_policy() -> SelfiePolicy:
    """The selfie stage's policy from configuration."""
    config = current_app.config
    return SelfiePolicy.from_mapping({"match_threshold": config["FACE_MATCH_THRESHOLD"],
                                      **config["SELFIE_THRESHOLDS"]})


def risk_policy() -> RiskPolicy:
    """The risk assessment's limits from configuration."""
    return RiskPolicy.from_mapping(current_app.config["RISK_THRESHOLDS"])


@dataclass(frozen=True)
class SlaSettings:
    """The configured calendars and policies, parsed."""

    calendars: dict[str, sla.BusinessCalendar]
    policies: dict[str, sla.Policy]

    def policy_for(self, issue_type: str, priority: str) -> sla.Policy:
        """The first policy of issue_type/priority, issue_type, */priority, default."""
        for key in (f"{issue_type}/{priority}", issue_type, f"*/{priority}", "default"):
            if key in self.policies:
                return self.policies[key]
        raise sla.BadCalendar("SLA_POLICIES needs a 'default' policy")


def sla_settings() -> SlaSettings:
    """Calendars and policies from configuration, parsed once per app (refused when bad)."""
    app = current_app._get_current_object()
    cached = app.extensions.get("sla_settings")
    if cached is not None:
        return cached
    config = app.config
    calendars = {name: sla.BusinessCalendar.from_mapping(values)
                 for name, values in config["SLA_CALENDARS"].items()}
    policies = {}
    for name, values in config["SLA_POLICIES"].items():
        unknown = set(values) - {"calendar", "warn_share", *sla.CLOCKS}
        if unknown:
            raise sla.BadCalendar(f"policy {name!r}: unknown setting(s) {sorted(unknown)}")
        missing = [clock for clock in sla.CLOCKS if clock not in values]
        if missing:
            raise sla.BadCalendar(f"policy {name!r}: no target for {', '.join(missing)}")
        if values.get("calendar") not in calendars:
            raise sla.BadCalendar(f"policy {name!r}: calendar must be one of {sorted(calendars)}")
        share = float(values.get("warn_share", config["SLA_WARNING_SHARE"]))
        if not 0 < share < 1:
            raise sla.BadCalendar(f"policy {name!r}: warn_share must be between 0 and 1")
        policies[name] = sla.Policy(name, values["calendar"], warn_share=share,
                                    **{c: sla.parse_duration(values[c]) for c in sla.CLOCKS})
    settings = SlaSettings(calendars, policies)
    settings.policy_for("other", "normal")
    app.extensions["sla_settings"] = settings
    return settings


class BadHold(ValueError):
    """RECOVERY_HOLD is not a mapping of known issue types to durations."""


def recovery_holds(config) -> dict[str, timedelta]:
    """RECOVERY_HOLD parsed: issue type -> the cooling-off period of its recovery (refused
    when an issue type is unknown or a duration is not one)."""
    holds = config.get("RECOVERY_HOLD") or {}
    if not isinstance(holds, dict):
        raise BadHold("RECOVERY_HOLD maps issue types to durations, like "
                      "{'lost_2fa': '24h'}")
    parsed = {}
    for issue_type, value in holds.items():
        if issue_type not in ISSUE_TYPES:
            raise BadHold(f"RECOVERY_HOLD: unknown issue type {issue_type!r} (one of "
                          f"{', '.join(ISSUE_TYPES)})")
        if value in (0, "0"):
            parsed[issue_type] = timedelta(0)
            continue
        try:
            parsed[issue_type] = timedelta(seconds=sla.parse_duration(value))
        except sla.BadCalendar:
            raise BadHold(f"RECOVERY_HOLD[{issue_type!r}]: a duration is like 30m, 24h or "
                          f"2d (or 0), not {value!r}") from None
    return parsed


def recovery_hold(issue_type: str) -> timedelta:
    """How long an approved recovery of ``issue_type`` waits before it is performed."""
    return recovery_holds(current_app.config).get(issue_type, timedelta(0))
