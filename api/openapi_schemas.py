"""The component schemas of the OpenAPI document: how requests and answers look."""

from reports.queries import BACKLOG_BUCKETS, GROUP_BY, STAGE_COLUMNS, STANDARD_COLUMNS
from verification.checks import Result
from verification.risk import Level
from workflow.sla import STAGES
from workflow.states import (
    CONSENT_TEXTS,
    CONSENT_VERSION,
    EVIDENCE_KINDS,
    ISSUE_TYPES,
    REQUIRED_EVIDENCE,
    SCREENSHOT_FIELD,
    TRIED_FIXES,
    TRIGGERS,
    USER_ACTIONS,
    ActionStatus,
    RecoveryStep,
    Resolution,
    State,
)

# Text the forms accept has no C0 control characters but tab, newline and carriage return
# (workflow/forms.py, CONTROL_CHARACTERS); "filled" text also has something besides spaces.
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
TEXT = {"type": "string", "pattern": f"^[^{_CONTROLS}]*$"}
FILLED = {"type": "string", "pattern": rf"^[^{_CONTROLS}]*[^\s{_CONTROLS}][^{_CONTROLS}]*$"}
# workflow/forms.py's EMAIL_PATTERN, without control characters.
EMAIL = {"type": "string", "maxLength": 254,
         "pattern": rf"^[^@\s{_CONTROLS}]+@[^@\s{_CONTROLS}]+\.[^@\s{_CONTROLS}]+$"}


# workflow/forms.py's AmountField: digits, optionally a decimal point (or comma) and decimals;
# empty (or only spaces) when not answered.
AMOUNT = {"type": "string", "maxLength": 40,
          "allOf": [{"pattern": TEXT["pattern"]},
                    {"pattern": r"^(\s*|\s*[0-9]{1,15}([.,][0-9]{1,18})?\s*)$"}]}
# An optional date: YYYY-MM-DD, or empty when not answered.
OPTIONAL_DATE = {"type": "string", "anyOf": [{"format": "date"}, {"pattern": r"^\s*$"}]}


def support_details() -> dict:
    """The request's optional details for support (workflow/forms.py, SupportDetailsFields)."""
    return {
        "device": {**TEXT, "maxLength": 200,
                   "description": "Optional: the person's device, e.g. iPhone 13, iOS 17.4."},
        "app_version": {**TEXT, "maxLength": 100,
                        "description": "Optional: the app or browser version, e.g. 5.2.1 or "
                                       "Chrome 120 on Android 14."},
        "began_on": {**OPTIONAL_DATE, "description": "Optional: the day the problem began; "
                                                     "not in the future, not before 2000."},
        "began_time": {"type": "string",
                       "anyOf": [{"pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"},
                                 {"pattern": r"^\s*$"}],
                       "description": "Optional: the time of day it began, HH:MM on the "
                                      "person's clock; needs began_on."},
        "tried_fixes": {"type": "array", "items": {"type": "string",
                                                   "enum": list(TRIED_FIXES)},
                        "description": "Optional: the common fixes already tried (repeat the "
                                       "field for each)."},
        "tried_other": {**TEXT, "maxLength": 2000,
                        "description": "Optional: anything else already tried."},
        SCREENSHOT_FIELD: {"type": "array", "maxItems": 3,
                           "items": {"type": "string", "format": "binary"},
                           "description": "Optional: up to MAX_SCREENSHOTS (3) images of the "
                                          "error, JPEG, PNG or WebP; the photos' bounds apply."},
    }


def _nullable(ref: str) -> dict:
    return {"oneOf": [{"type": "null"}, {"$ref": f"#/components/schemas/{ref}"}]}


def component_schemas(languages: tuple[str, ...] = ("en",)) -> dict:
    """The schemas under components/schemas (``languages``: the desk's LANGUAGES)."""
    state = {"type": "string", "enum": [s.value for s in State]}
    resolution = {"type": ["string", "null"], "enum": [r.value for r in Resolution] + [None]}
    stamp = {"type": "string", "format": "date-time"}
    result = {"type": "string", "enum": [r.value for r in Result]}
    level = {"type": "string", "enum": [lv.value for lv in Level]}
    # Every photo is a file part; the first (the ID's front) says which formats are taken.
    photos = {kind: {"type": "string", "format": "binary"} for kind in EVIDENCE_KINDS}
    photos[EVIDENCE_KINDS[0]]["description"] = "JPEG, PNG or WebP"
    message = {
        "type": "object",
        "required": ["id", "author", "body", "created_at"],
        "properties": {"id": {"type": "integer"}, "author": {"type": "string"},
                       "body": {"type": "string"}, "created_at": stamp,
                       "internal": {"type": "boolean"},
                       "agent_id": {"type": ["integer", "null"]}},
    }
    summary = {
        "type": "object",
        "required": ["id", "state", "issue_type", "created_at", "version"],
        "properties": {
            "id": {"type": "integer"}, "state": state, "resolution": resolution,
            "issue_type": {"type": "string", "enum": list(ISSUE_TYPES)},
            "created_at": stamp, "updated_at": stamp,
            "assignee_id": {"type": ["integer", "null"]}, "has_account": {"type": "boolean"},
            "version": {"type": "integer"},
        },
    }
    return {
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {
                "type": "object", "required": ["code", "message", "field"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "field": {"type": ["string", "null"]}},
            }},
        },
        "RecoveryRequestForm": {
            "type": "object", "additionalProperties": False,
            "required": ["email", "full_name", "date_of_birth", "issue_type", "consent",
                         *REQUIRED_EVIDENCE],
            "properties": {
                "email": EMAIL,
                "full_name": {**FILLED, "maxLength": 200},
                "date_of_birth": {"type": "string", "format": "date",
                                  "description": "From 1900 to today."},
                "issue_type": {"type": "string", "enum": list(ISSUE_TYPES)},
                "description": {**TEXT, "maxLength": 4000},
                "consent": {"type": "string", "enum": ["true"], "description": (
                    "The person agrees to the consent text of version "
                    f"{CONSENT_VERSION}: \"{CONSENT_TEXTS[CONSENT_VERSION]}\" The case "
                    "stores that version, the SHA-256 of the text and the time.")},
                **photos,
                "challenge_token": {
                    **TEXT, "maxLength": 1000,
                    "description": "From POST /challenges; required for the issue types "
                                   "that need a challenge selfie (the selfie shows the "
                                   "person holding their ID and the code)."},
                "last_deposit_amount": {
                    **AMOUNT, "description": "Optional: the amount of the account's last "
                                             "deposit, as the person remembers it (compared "
                                             "within a few percent)."},
                "last_deposit_date": {
                    **OPTIONAL_DATE, "description": "Optional: the day of the last deposit "
                                                    "(compared within a day or two); not in "
                                                    "the future, not before 2009-01-03."},
                "language": {
                    "type": "string", "enum": list(languages),
                    "description": "Optional: the language of the emails to the requester "
                                   "and of their status page links; the desk's default "
                                   "when left out."},
                "last_asset_bought": {
                    **TEXT, "maxLength": 40,
                    "description": "Optional: the last asset bought, as a symbol or a name "
                                   "(BTC, Bitcoin)."},
                **support_details(),
            },
        },
        "IssuedChallenge": {
            "type": "object", "required": ["code", "challenge_token", "expires_at"],
            "properties": {
                "code": {"type": "string", "pattern": "^[0-9]{6}$",
                         "description": "Shown to the person, who writes it on paper."},
                "challenge_token": {"type": "string",
                                    "description": "Send with the recovery request."},
                "expires_at": stamp,
            },
        },
        "RecoveryRequestCreated": {
            "type": "object", "required": ["case_id", "tracking_token", "state", "status_url"],
            "properties": {"case_id": {"type": "integer"}, "tracking_token": {"type": "string"},
                           "state": state, "status_url": {"type": "string", "format": "uri"}},
        },
        "RequestStatus": {
            "type": "object",
            "required": ["case_id", "state", "status_text", "messages", "actions"],
            "properties": {
                "case_id": {"type": "integer"}, "state": state, "resolution": resolution,
                "status_text": {"type": "string"},
                "messages": {"type": "array", "items": message},
                "actions": {"type": "array", "items": {
                    "type": "string", "enum": list(USER_ACTIONS)}},
                "status_url": {"type": "string", "format": "uri"},
                "recovery_steps": {
                    "type": "array",
                    "description": "What the approved recovery does to the account, and when "
                                   "(steps that wait out a cooling-off period are due later).",
                    "items": {
                        "type": "object", "required": ["kind", "label", "status", "due_at"],
                        "properties": {
                            "kind": {"type": "string"}, "label": {"type": "string"},
                            "status": {"type": "string",
                                       "enum": [a.value for a in ActionStatus]},
                            "due_at": stamp, "done_at": {**stamp, "type": ["string", "null"]},
                        },
                    },
                },
            },
        },
        "CaseSummary": summary,
        "Check": {
            "type": "object",
            "required": ["id", "check", "result", "attempt", "engine", "engine_version",
                         "created_at"],
            "properties": {
                "id": {"type": "integer"}, "check": {"type": "string"}, "result": result,
                "attempt": {"type": "integer"}, "reason_code": {"type": ["string", "null"]},
                "reason_text": {"type": ["string", "null"]},
                "score": {"type": ["number", "null"]}, "threshold": {"type": ["number", "null"]},
                "engine": {"type": "string"}, "engine_version": {"type": "string"},
                "actor_agent_id": {"type": ["integer", "null"]}, "details": {"type": "object"},
                "created_at": stamp,
            },
        },
        "DocumentReading": {
            "type": "object",
            "description": "What the automated document check read from the current attempt.",
            "required": ["attempt", "outcome", "mrz_found", "portrait_faces"],
            "properties": {
                "attempt": {"type": "integer"}, "outcome": result,
                "mrz_found": {"type": "boolean"},
                "mrz_side": {"type": ["string", "null"], "enum": ["front", "back", None]},
                "mrz_format": {"type": ["string", "null"]},
                **{name: {"type": ["string", "null"]} for name in (
                    "document_type", "issuing_country", "surname", "given_names",
                    "document_number", "nationality", "sex")},
                "date_of_birth": {"type": ["string", "null"], "format": "date"},
                "expiry_date": {"type": ["string", "null"], "format": "date"},
                "valid_check_digits": {"type": ["boolean", "null"]},
                "corrections": {"type": "array", "items": {"type": "string"}},
                "portrait_faces": {"type": "integer"},
                "created_at": stamp,
            },
        },
        "SelfieReading": {
            "type": "object",
            "description": "What the automated selfie check found on the current attempt. "
                           "Distances are between face encodings: the smaller, the more "
                           "alike; at or below the threshold counts as the same person.",
            "required": ["attempt", "faces", "document_distance", "reference_distance",
                         "threshold", "match", "challenge_code_read", "outcome",
                         "created_at"],
            "properties": {
                "attempt": {"type": "integer"}, "faces": {"type": "integer"},
                "document_distance": {"type": ["number", "null"]},
                "reference_distance": {"type": ["number", "null"],
                                       "description": "To the account's reference portrait, "
                                                      "when it has one."},
                "threshold": {"type": ["number", "null"]},
                "match": {"type": ["boolean", "null"],
                          "description": "document_distance <= threshold."},
                "reference_match": {"type": ["boolean", "null"]},
                "challenge_code_read": {"type": ["boolean", "null"],
                                        "description": "Whether the code was read "
                                                       "automatically; null without a code."},
                "outcome": result, "created_at": stamp,
            },
        },
        "RiskAssessment": {
            "type": "object", "required": ["level", "reasons"],
            "properties": {
                "level": level,
                "reasons": {"type": "array", "items": {
                    "type": "object", "required": ["code", "level", "text"],
                    "properties": {"code": {"type": "string"}, "level": level,
                                   "text": {"type": "string"}}}},
            },
        },
        "CaseChallenge": {
            "type": "object", "required": ["code", "confirmed"],
            "properties": {"code": {"type": "string"}, "confirmed": {"type": "boolean"}},
        },
        "CaseApproval": {
            "type": "object",
            "required": ["account_of_record", "four_eyes", "proposal", "overrides",
                         "may_approve", "refusal", "may_propose"],
            "properties": {
                "account_of_record": {"type": "boolean",
                                      "description": "false: nothing to recover, no approval"},
                "four_eyes": {"type": "array", "items": {"type": "string"},
                              "description": "Why approving needs two people (empty: it "
                                             "does not)"},
                "proposal": {"oneOf": [{"type": "null"}, {
                    "type": "object",
                    "required": ["agent_id", "agent_name", "at", "reason", "attempt", "risk",
                                 "withdrawn"],
                    "properties": {
                        "agent_id": {"type": "integer"}, "agent_name": {"type": "string"},
                        "at": stamp, "reason": {"type": "string"},
                        "attempt": {"type": "integer"},
                        "risk": {"type": ["string", "null"]},
                        "withdrawn": {"type": ["string", "null"],
                                      "description": "Why it no longer stands"}}}]},
                "overrides": {"type": "array", "items": {
                    "type": "object", "required": ["check", "result", "reason_code"],
                    "properties": {"check": {"type": "string"}, "result": result,
                                   "reason_code": {"type": ["string", "null"]}}},
                    "description": "Rejected results approving would override: send "
                                   "\"override\": true to confirm"},
                "may_approve": {"type": "boolean"},
                "refusal": {"type": ["string", "null"],
                            "description": "Why the caller may not approve now"},
                "may_propose": {"type": "boolean"},
            },
        },
        "VerificationFailure": {
            "type": "object", "required": ["reason", "at"],
            "properties": {"reason": {"type": ["string", "null"]}, "at": stamp},
        },
        "RecoveryAction": {
            "type": "object",
            "description": "One step of an approved recovery, performed through an account "
                           "service (the local directory or the identity service), exactly "
                           "once. A failed step shows its error; it is tried again by itself "
                           "at next_attempt_at, or waits for an agent's retry when that is "
                           "null.",
            "required": ["id", "kind", "adapter", "status", "attempts", "due_at",
                         "next_attempt_at", "last_error", "result", "created_at", "done_at"],
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string", "enum": [k.value for k in RecoveryStep]},
                "label": {"type": "string"},
                "adapter": {"type": "string"},
                "status": {"type": "string", "enum": [a.value for a in ActionStatus]},
                "attempts": {"type": "integer"},
                "due_at": stamp,
                "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
                "last_error": {"type": ["string", "null"]},
                "result": {"type": "object"},
                "created_at": stamp,
                "done_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "CaseList": {
            "type": "object", "required": ["items", "next_cursor"],
            "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/"
                                                                        "CaseSummary"}},
                           "next_cursor": {"type": ["string", "null"]}},
        },
        "CaseDetail": {
            "allOf": [{"$ref": "#/components/schemas/CaseSummary"}, {
                "type": "object",
                "required": ["resolution", "allowed_events", "checks", "events", "messages",
                             "selfie", "risk", "challenge", "approval",
                             "verification_failure", "recovery_actions"],
                "properties": {
                    "submitted": {"type": "object"},
                    "account": {"type": ["object", "null"]},
                    "allowed_events": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"event": {"type": "string"}, "label": {"type": "string"},
                                       "needs_reason": {"type": "boolean"}}}},
                    "resubmissions": {"type": "integer"},
                    "consent": {"type": "object", "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "version": {"type": ["string", "null"]},
                        "sha256": {"type": ["string", "null"]}}},
                    "evidence_purged_at": {"type": ["string", "null"], "format": "date-time",
                                           "description": "When the retention purge deleted "
                                                          "the photos and readings."},
                    "erased_at": {"type": ["string", "null"], "format": "date-time",
                                  "description": "When the requester's personal data was "
                                                 "erased at their request."},
                    "evidence": {"type": "array", "items": {"type": "object"}},
                    "checks": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Check"}},
                    "document": {"oneOf": [{"type": "null"},
                                           {"$ref": "#/components/schemas/DocumentReading"}]},
                    "selfie": _nullable("SelfieReading"),
                    "risk": _nullable("RiskAssessment"),
                    "challenge": _nullable("CaseChallenge"),
                    "approval": {"$ref": "#/components/schemas/CaseApproval"},
                    "verification_failure": _nullable("VerificationFailure"),
                    "recovery_actions": {"type": "array", "items": {
                        "$ref": "#/components/schemas/RecoveryAction"}},
                    "stage_results": {"type": "object", "additionalProperties": result},
                    "events": {"type": "array", "items": {"type": "object"}},
                    "messages": {"type": "array", "items": message},
                },
            }],
        },
        "VersionRequest": {
            "type": "object", "required": ["version"], "additionalProperties": False,
            "properties": {"version": {"type": "integer",
                                       "description": "The case version you last saw."}},
        },
        "NotMeRequest": {
            "type": "object", "required": ["note"], "additionalProperties": False,
            "properties": {"note": {**FILLED, "maxLength": 4000,
                                    "description": "Who reported it and how."}},
        },
        "EventRequest": {
            "type": "object", "required": ["event", "version"], "additionalProperties": False,
            "properties": {"event": {"type": "string", "enum": list(TRIGGERS)},
                           "version": {"type": "integer"},
                           "reason": {**TEXT, "type": ["string", "null"], "maxLength": 4000,
                                      "description": "Required by the events that say so "
                                                     "(needs_reason)."},
                           "override": {"type": "boolean", "default": False,
                                        "description": "true: you override the rejected "
                                                       "results the approval would override "
                                                       "(approval.overrides)."}},
        },
        "ProposalRequest": {
            "type": "object", "required": ["version", "reason"], "additionalProperties": False,
            "properties": {"version": {"type": "integer",
                                       "description": "The case version you last saw."},
                           "reason": {**FILLED, "maxLength": 4000,
                                      "description": "Why the case should be approved."}},
        },
    }


def sla_report_schema() -> dict:
    """The SLA report of GET /reports/sla (its shapes are its own)."""
    hours = {"type": ["number", "null"], "description": "Business hours"}
    share = {"type": ["number", "null"], "minimum": 0, "maximum": 1,
             "description": "Met within target / met; null when none was met"}
    count = {"type": "integer", "minimum": 0}
    text = {"type": "string"}

    def figure(name: str) -> dict:
        if name in ("key", "label"):
            return text
        if name.endswith("_share"):
            return share
        return hours if name.endswith("_hours") else count

    standard = {"type": "object", "required": list(STANDARD_COLUMNS),
                "properties": {name: figure(name) for name in STANDARD_COLUMNS}}
    stage = {"type": "object", "required": list(STAGE_COLUMNS),
             "properties": {name: figure(name) for name in STAGE_COLUMNS}}
    day = {"type": "string", "format": "date"}
    return {
        "type": "object",
        "required": ["from", "to", "group_by", "generated_at", "groups", "totals",
                     "backlog_age", "throughput", "deflection"],
        "properties": {
            "from": day, "to": day, "group_by": {"type": "string", "enum": list(GROUP_BY)},
            "generated_at": {"type": "string", "format": "date-time"},
            "groups": {"type": "array", "items": {"oneOf": [standard, stage]},
                       "description": "One row per group; with group_by=stage one row per "
                                      f"stage ({', '.join(STAGES)})."},
            "totals": standard,
            "unattributed_breaches": {**count, "description": "group_by=stage only: "
                                                              "breached cases with no time "
                                                              "in any stage."},
            "backlog_age": {"type": "array", "items": {
                "type": "object", "required": ["bucket", "cases"],
                "properties": {"bucket": {"type": "string",
                                          "enum": [label for label, _ in BACKLOG_BUCKETS]},
                               "cases": count}}},
            "throughput": {"type": "array", "items": {
                "type": "object", "required": ["day", "created", "resolved"],
                "properties": {"day": day, "created": count, "resolved": count}}},
            "deflection": {"type": "array", "description": (
                "Per issue type, the answers to its self-help guide on the report's days: "
                "solved, still needing help, and solved / (solved + need_help), null without "
                "answers."), "items": {
                "type": "object",
                "required": ["issue_type", "label", "solved", "need_help", "deflection_rate"],
                "properties": {"issue_type": {"type": "string"}, "label": {"type": "string"},
                               "solved": count, "need_help": count,
                               "deflection_rate": {"type": ["number", "null"]}}}},
        },
    }
