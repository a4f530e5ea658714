"""The OpenAPI 3.1 document of API v1, kept next to the routes it describes."""

from workflow.states import ISSUE_TYPES, TRIGGERS, Resolution, State


def _error_response(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


ERRORS = {
    "400": _error_response("Malformed input"),
    "401": _error_response("Missing or invalid API token"),
    "403": _error_response("Role not allowed"),
    "404": _error_response("Not found"),
    "409": _error_response("Conflict: stale version, reused Idempotency-Key, or a case "
                           "another agent has claimed (case_claimed)"),
    "413": _error_response("Upload too large (bytes or pixels)"),
    "415": _error_response("Not a supported image or not multipart/form-data"),
    "422": _error_response("Understood but refused"),
    "429": _error_response("Rate limited"),
}


def _errors(*codes: str) -> dict:
    return {code: ERRORS[code] for code in codes}


def _nullable(ref: str) -> dict:
    return {"oneOf": [{"type": "null"}, {"$ref": f"#/components/schemas/{ref}"}]}


def _json(ref: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _claim_operation(operation_id: str, summary: str, description: str, done: str) -> dict:
    """A POST that changes who holds a case, carrying the version the caller saw."""
    return {"post": {
        "operationId": operation_id, "summary": summary, "description": description,
        "security": [{"bearerAuth": []}],
        "parameters": [{"name": "case_id", "in": "path", "required": True,
                        "schema": {"type": "integer"}}],
        "requestBody": {"required": True, **_json("VersionRequest")},
        "responses": {"200": {"description": done, **_json("CaseDetail")},
                      **_errors("400", "401", "403", "404", "409")},
    }}


def openapi_document() -> dict:
    """The document served at /api/v1/openapi.json."""
    bearer = [{"bearerAuth": []}]
    case_id = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    token = {"name": "tracking_token", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Recovery Desk API",
            "version": "1.0.0",
            "description": "Submit account-recovery requests, follow them, and act on cases.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/challenges": {
                "post": {
                    "operationId": "createChallenge",
                    "summary": "Get a one-time code for a challenge selfie",
                    "description": "Requests of some issue types need a selfie in which the "
                                   "person holds their ID and this code written on paper. "
                                   "Send the returned challenge_token with the request "
                                   "before expires_at; one code backs one request only.",
                    "responses": {
                        "201": {"description": "A fresh code", **_json("IssuedChallenge")},
                        **_errors("429"),
                    },
                },
            },
            "/recovery-requests": {
                "post": {
                    "operationId": "createRecoveryRequest",
                    "summary": "File a recovery request with an ID photo and a selfie",
                    "description": "Issue types that need a challenge selfie also need "
                                   "challenge_token (from POST /challenges): without it or "
                                   "with a forged one the answer is 400 (challenge_required, "
                                   "challenge_invalid); an expired or already used one is "
                                   "422 (challenge_expired, challenge_used).",
                    "parameters": [{
                        "name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                        "description": "Retrying with the same key and content returns the "
                                       "same case; a different content gets 409.",
                    }],
                    "requestBody": {"required": True, "content": {"multipart/form-data": {
                        "schema": {"$ref": "#/components/schemas/RecoveryRequestForm"}}}},
                    "responses": {
                        "201": {"description": "Case created", **_json("RecoveryRequestCreated")},
                        **_errors("400", "409", "413", "415", "422", "429"),
                    },
                },
            },
            "/recovery-requests/{tracking_token}": {
                "get": {
                    "operationId": "getRecoveryRequestStatus",
                    "summary": "Status of a request, for the holder of its tracking token",
                    "parameters": [token],
                    "responses": {"200": {"description": "Status", **_json("RequestStatus")},
                                  **_errors("404", "429")},
                },
            },
            "/cases": {
                "get": {
                    "operationId": "listCases",
                    "summary": "Cases in queue order",
                    "security": bearer,
                    "parameters": [
                        {"name": "state", "in": "query",
                         "schema": {"type": "string", "enum": [s.value for s in State]}},
                        {"name": "issue_type", "in": "query",
                         "schema": {"type": "string", "enum": list(ISSUE_TYPES)}},
                        {"name": "limit", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": 100,
                                    "default": 25}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": {"description": "A page of cases", **_json("CaseList")},
                                  **_errors("400", "401", "403")},
                },
            },
            "/cases/{case_id}": {
                "get": {
                    "operationId": "getCase",
                    "summary": "One case with checks, events and messages",
                    "security": bearer,
                    "parameters": [case_id],
                    "responses": {"200": {"description": "The case", **_json("CaseDetail")},
                                  **_errors("401", "403", "404")},
                },
            },
            "/cases/{case_id}/events": {
                "post": {
                    "operationId": "fireCaseEvent",
                    "summary": "Move a case; carries the version the caller saw",
                    "security": bearer,
                    "parameters": [case_id],
                    "requestBody": {"required": True, **_json("EventRequest")},
                    "responses": {"200": {"description": "The changed case",
                                          **_json("CaseDetail")},
                                  **_errors("400", "401", "403", "404", "409", "422")},
                },
            },
            "/cases/{case_id}/challenge-confirmation": {
                "post": {
                    "operationId": "confirmChallenge",
                    "summary": "Confirm that the selfie shows the expected challenge code",
                    "description": "The caller compared the code on the current selfie with "
                                   "the case's code by eye. Allowed at the selfie check, once "
                                   "per photo attempt; approving needs it when the case has "
                                   "a code.",
                    "security": bearer,
                    "parameters": [case_id],
                    "requestBody": {"required": True, **_json("VersionRequest")},
                    "responses": {"200": {"description": "The changed case",
                                          **_json("CaseDetail")},
                                  **_errors("400", "401", "403", "404", "409", "422")},
                },
            },
            "/cases/{case_id}/claim": _claim_operation(
                "claimCase", "Claim a case: from then on only you act on it",
                "Events, challenge confirmation, retries of the checks and messages to the "
                "user on a claimed case are refused to everyone but its assignee (409 "
                "case_claimed, naming them) until it is released or taken over.",
                "The claimed case"),
            "/cases/{case_id}/take-over": _claim_operation(
                "takeOverCase", "Take a case from the agent holding it (security leads, admins)",
                "Recorded as a taken_over event naming the previous assignee; a case nobody "
                "holds is claimed.", "The case, now yours"),
            "/cases/{case_id}/not-me": {
                "post": {
                    "operationId": "reportNotMe",
                    "summary": "Record that the account holder says the request is not theirs",
                    "description": "Reassesses the risk (a report makes it high) and escalates "
                                   "the case to the security leads.",
                    "security": bearer,
                    "parameters": [case_id],
                    "requestBody": {"required": True, **_json("NotMeRequest")},
                    "responses": {"200": {"description": "The changed case",
                                          **_json("CaseDetail")},
                                  **_errors("400", "401", "403", "404", "422")},
                },
            },
            "/cases/{case_id}/verification-retry": {
                "post": {
                    "operationId": "retryVerification",
                    "summary": "Run the automated checks of the current photos again",
                    "description": "For a case whose automated checks failed "
                                   "(verification_failure is set); the checks run in the "
                                   "background.",
                    "security": bearer,
                    "parameters": [case_id],
                    "responses": {"202": {"description": "The case; the checks are queued",
                                          **_json("CaseDetail")},
                                  **_errors("401", "403", "404", "409", "422")},
                },
            },
            "/reports/sla": _sla_report_path(),
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1 document",
                                          "content": {"application/json": {}}}},
                },
            },
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict:
    state = {"type": "string", "enum": [s.value for s in State]}
    resolution = {"type": ["string", "null"], "enum": [r.value for r in Resolution] + [None]}
    stamp = {"type": "string", "format": "date-time"}
    result = {"type": "string", "enum": ["clear", "consider", "rejected"]}
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
            "type": "object",
            "required": ["email", "full_name", "date_of_birth", "issue_type", "consent",
                         "id_document", "selfie"],
            "properties": {
                "email": {"type": "string", "format": "email"},
                "full_name": {"type": "string", "maxLength": 200},
                "date_of_birth": {"type": "string", "format": "date"},
                "issue_type": {"type": "string", "enum": list(ISSUE_TYPES)},
                "description": {"type": "string", "maxLength": 4000},
                "consent": {"type": "string", "enum": ["true"]},
                "id_document": {"type": "string", "format": "binary",
                                "description": "JPEG, PNG or WebP"},
                "id_document_back": {"type": "string", "format": "binary"},
                "selfie": {"type": "string", "format": "binary"},
                "challenge_token": {
                    "type": "string", "maxLength": 1000,
                    "description": "From POST /challenges; required for the issue types "
                                   "that need a challenge selfie (the selfie shows the "
                                   "person holding their ID and the code)."},
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
                    "type": "string", "enum": ["reply", "resubmit", "withdraw"]}},
                "status_url": {"type": "string", "format": "uri"},
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
                "level": {"type": "string", "enum": ["low", "medium", "high"]},
                "reasons": {"type": "array", "items": {
                    "type": "object", "required": ["code", "level", "text"],
                    "properties": {"code": {"type": "string"},
                                   "level": {"type": "string",
                                             "enum": ["low", "medium", "high"]},
                                   "text": {"type": "string"}}}},
            },
        },
        "CaseChallenge": {
            "type": "object", "required": ["code", "confirmed"],
            "properties": {"code": {"type": "string"}, "confirmed": {"type": "boolean"}},
        },
        "VerificationFailure": {
            "type": "object", "required": ["reason", "at"],
            "properties": {"reason": {"type": ["string", "null"]}, "at": stamp},
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
                             "selfie", "risk", "challenge", "verification_failure"],
                "properties": {
                    "submitted": {"type": "object"},
                    "account": {"type": ["object", "null"]},
                    "allowed_events": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"event": {"type": "string"}, "label": {"type": "string"},
                                       "needs_reason": {"type": "boolean"}}}},
                    "resubmissions": {"type": "integer"},
                    "evidence": {"type": "array", "items": {"type": "object"}},
                    "checks": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Check"}},
                    "document": {"oneOf": [{"type": "null"},
                                           {"$ref": "#/components/schemas/DocumentReading"}]},
                    "selfie": _nullable("SelfieReading"),
                    "risk": _nullable("RiskAssessment"),
                    "challenge": _nullable("CaseChallenge"),
                    "verification_failure": _nullable("VerificationFailure"),
                    "stage_results": {"type": "object", "additionalProperties": result},
                    "events": {"type": "array", "items": {"type": "object"}},
                    "messages": {"type": "array", "items": message},
                },
            }],
        },
        "VersionRequest": {
            "type": "object", "required": ["version"],
            "properties": {"version": {"type": "integer",
                                       "description": "The case version you last saw."}},
        },
        "NotMeRequest": {
            "type": "object", "required": ["note"],
            "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 4000,
                                    "description": "Who reported it and how."}},
        },
        "EventRequest": {
            "type": "object", "required": ["event", "version"],
            "properties": {"event": {"type": "string", "enum": list(TRIGGERS)},
                           "version": {"type": "integer"},
                           "reason": {"type": "string", "maxLength": 4000}},
        },
    }


def _sla_report_path() -> dict:
    """GET /reports/sla: the SLA report, described inline (its shapes are its own)."""
    from reports.queries import BACKLOG_BUCKETS, GROUP_BY, MAX_DAYS, STAGE_COLUMNS, STANDARD_COLUMNS

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
    report = {
        "type": "object",
        "required": ["from", "to", "group_by", "generated_at", "groups", "totals",
                     "backlog_age", "throughput"],
        "properties": {
            "from": day, "to": day, "group_by": {"type": "string", "enum": list(GROUP_BY)},
            "generated_at": {"type": "string", "format": "date-time"},
            "groups": {"type": "array", "items": {"oneOf": [standard, stage]},
                       "description": "One row per group; with group_by=stage one row per "
                                      "stage (id_check, selfie_check, escalated, "
                                      "awaiting_user)."},
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
        },
    }
    return {"get": {
        "operationId": "getSlaReport",
        "summary": "SLA figures of the cases filed in a date range",
        "description": "Cases created from `from` to `to` (whole UTC days, at most "
                       f"{MAX_DAYS} days; default the last 30 days), grouped by issue type, "
                       "agent (the case's current assignee; 'unassigned' for none), stage or "
                       "priority. Durations are business hours of each case's SLA calendar; "
                       "p50/p90 interpolate between the nearest ranks (percentile_cont) over "
                       "the clocks already met. A case is breached when any clock was met "
                       "late or is past due now. Open cases by age and cases created and "
                       "resolved per day (resolved whenever filed) come with it.",
        "security": [{"bearerAuth": []}],
        "parameters": [
            {"name": "from", "in": "query", "schema": day},
            {"name": "to", "in": "query", "schema": day},
            {"name": "group_by", "in": "query",
             "schema": {"type": "string", "enum": list(GROUP_BY), "default": "issue_type"}},
        ],
        "responses": {"200": {"description": "The report",
                              "content": {"application/json": {"schema": report}}},
                      **_errors("400", "401", "403")},
    }}
