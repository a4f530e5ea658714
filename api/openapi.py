"""The OpenAPI 3.1 document of API v1: successes described here, errors from contract.py."""

from reports.queries import DEFAULT_DAYS, GROUP_BY, MAX_DAYS
from workflow.models import MAX_ID
from workflow.states import ISSUE_TYPES, State

from .contract import ROUTES, STATUS_MEANING
from .openapi_schemas import component_schemas, sla_report_schema

DESCRIPTION = (
    "Submit account-recovery requests, follow them, and act on cases.\n\n"
    "Every error has the body `{\"error\": {\"code\", \"message\", \"field\"}}`: `code` is "
    "snake_case for programs, `message` a sentence for a person, `field` the parameter or "
    "form field at fault (or null). Each operation lists the statuses it may answer and the "
    "codes that come with them.\n\n"
    "Query parameters are strict on every operation: one it does not take, an empty value or "
    "a parameter given twice is a 400 (`unknown_parameter`, `empty_parameter`, "
    "`repeated_parameter`) naming it, checked before the API token. JSON bodies and the "
    "submission form are as strict: a field not described is a 400 `unknown_field`.\n\n"
    "A method a path does not take is a 405 `method_not_allowed` with an `Allow` header "
    "listing the methods it takes (components/responses/MethodNotAllowed)."
)

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                               "required": True, "schema": {"type": "string"}}}
# Headers that come with an error status, described on every response of that status.
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "required": True,
                               "schema": {"type": "string"}}},
    405: {"Allow": {"description": "The methods this path takes", "required": True,
                    "schema": {"type": "string"}}},
    429: RETRY_AFTER,
    503: RETRY_AFTER,
}

CASE_ID = {"name": "case_id", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
TRACKING_TOKEN = {"name": "tracking_token", "in": "path", "required": True,
                  "schema": {"type": "string", "minLength": 1}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "description": "Retrying with the same key and content returns the same case; a "
                   "different content gets 409.",
}


def _query_parameters(max_page_size: int) -> dict[str, dict]:
    """Every query parameter of the API by name; contract.ROUTES says which operation takes it."""
    day = {"type": "string", "format": "date"}
    return {
        "state": {"schema": {"type": "string", "enum": [s.value for s in State]}},
        "issue_type": {"schema": {"type": "string", "enum": list(ISSUE_TYPES)}},
        "limit": {"schema": {"type": "integer", "minimum": 1, "maximum": max_page_size,
                             "default": 25}},
        "cursor": {"schema": {"type": "string", "minLength": 1},
                   "description": "next_cursor of the previous page, as given: a cursor this "
                                  "server did not issue is a 400 bad_cursor."},
        "from": {"schema": day, "description": f"First day (UTC); default {DEFAULT_DAYS - 1} "
                                               "days before `to`."},
        "to": {"schema": day, "description": "Last day (UTC), on or after `from`; default "
                                             "today."},
        "group_by": {"schema": {"type": "string", "enum": list(GROUP_BY),
                                "default": "issue_type"}},
    }


def _json(ref: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _agent(operation_id: str, summary: str, description: str | None = None, *,
           body: str | None = None, status: str = "200",
           answer: str = "The changed case") -> dict:
    """An operation on one case, for agents: the case is its answer."""
    operation = {"operationId": operation_id, "summary": summary,
                 "security": [{"bearerAuth": []}], "parameters": [CASE_ID],
                 "responses": {status: {"description": answer, **_json("CaseDetail")}}}
    if description:
        operation["description"] = description
    if body:
        operation["requestBody"] = {"required": True, **_json(body)}
    return operation


def _operations() -> dict[str, dict]:
    """Each operation's summary, inputs and success answer, by its contract.ROUTES key."""
    return {
        "POST /challenges": {
            "operationId": "createChallenge",
            "summary": "Get a one-time code for a challenge selfie",
            "description": "Requests of some issue types need a selfie in which the person "
                           "holds their ID and this code written on paper. Send the returned "
                           "challenge_token with the request before expires_at; one code "
                           "backs one request only.",
            "responses": {"201": {"description": "A fresh code", **_json("IssuedChallenge")}},
        },
        "POST /recovery-requests": {
            "operationId": "createRecoveryRequest",
            "summary": "File a recovery request with an ID photo and a selfie",
            "description": "Issue types that need a challenge selfie also need challenge_token "
                           "(from POST /challenges): without it or with a forged one the "
                           "answer is 400 (challenge_required, challenge_invalid); an expired "
                           "or already used one is 422 (challenge_expired, challenge_used). "
                           "Photos are JPEG, PNG or WebP; one the desk cannot read or judge "
                           "is refused with what to fix, and nothing is stored.\n\n"
                           "The optional last_deposit_amount, last_deposit_date and "
                           "last_asset_bought describe recent activity only the account's "
                           "owner knows; they are compared with the account's record and the "
                           "result is a check of the case (account.activity.*) that the risk "
                           "assessment counts. The answer never says whether they matched. "
                           "The tracking link is also emailed to the account's address of "
                           "record (or, when the email matches no account, to the address "
                           "given).\n\n"
                           "The optional device, app_version, began_on, began_time, "
                           "tried_fixes and tried_other tell support what the person "
                           "already knows; screenshots (up to 3 images of the error) go "
                           "through the photos' intake and are stored with the case, never "
                           "checked as photos.",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {"multipart/form-data": {
                "schema": {"$ref": "#/components/schemas/RecoveryRequestForm"}}}},
            "responses": {"201": {
                "description": "Case created (or, with a reused Idempotency-Key and the same "
                               "content, the case created first)",
                "headers": {
                    "Location": {"description": "The request's status in this API",
                                 "required": True, "schema": {"type": "string"}},
                    "Idempotent-Replayed": {"description": "`true` on a replayed answer",
                                            "schema": {"type": "string", "enum": ["true"]}},
                },
                **_json("RecoveryRequestCreated")}},
        },
        "GET /recovery-requests/{tracking_token}": {
            "operationId": "getRecoveryRequestStatus",
            "summary": "Status of a request, for the holder of its tracking token",
            "parameters": [TRACKING_TOKEN],
            "responses": {"200": {"description": "Status", **_json("RequestStatus")}},
        },
        "GET /cases": {
            "operationId": "listCases",
            "summary": "Cases in queue order",
            "security": [{"bearerAuth": []}],
            "responses": {"200": {"description": "A page of cases", **_json("CaseList")}},
        },
        "GET /cases/{case_id}": _agent("getCase", "One case with checks, events and messages",
                                       answer="The case"),
        "POST /cases/{case_id}/events": _agent(
            "fireCaseEvent", "Move a case; carries the version the caller saw",
            "Approving is refused (422) without an account of record (nothing_to_recover), "
            "before the automated checks of the current photos have had their say (their "
            "risk is assessed: checks_not_done), while a stage the approval does not review "
            "is not clear nor overridden "
            "(stage_not_cleared), without a standing proposal and a different security lead "
            "or admin where four eyes are needed (four_eyes_required), and, when it would "
            "override rejected results, until the request says so with \"override\": true "
            "(override_not_confirmed, naming them; approval.overrides lists them too).",
            body="EventRequest"),
        "POST /cases/{case_id}/proposal": _agent(
            "proposeApproval", "Propose approving a case that needs four eyes",
            "High-risk cases and issue types whose recovery removes a second factor or "
            "unfreezes the account are approved by two people: one proposes (any staff at the "
            "selfie check, a security lead while the case is escalated), a different security "
            "lead or admin approves. New photos or another risk level withdraw the proposal.",
            body="ProposalRequest", status="201", answer="The case, with the proposal"),
        "POST /cases/{case_id}/challenge-confirmation": _agent(
            "confirmChallenge", "Confirm that the selfie shows the expected challenge code",
            "The caller compared the code on the current selfie with the case's code by eye. "
            "Allowed at the selfie check, once per photo attempt; approving needs it when the "
            "case has a code.", body="VersionRequest"),
        "POST /cases/{case_id}/not-me": _agent(
            "reportNotMe", "Record that the account holder says the request is not theirs",
            "Reassesses the risk (a report makes it high) and escalates the case to the "
            "security leads.", body="NotMeRequest"),
        "POST /cases/{case_id}/verification-retry": _agent(
            "retryVerification", "Run the automated checks of the current photos again",
            "For a case whose automated checks failed (verification_failure is set); the "
            "checks run in the background.", status="202",
            answer="The case; the checks are queued"),
        "POST /cases/{case_id}/claim": _agent(
            "claimCase", "Claim a case nobody holds (or one already yours)",
            "A claimed case is acted on by its holder only; anyone else gets 409 case_claimed "
            "naming the holder.", body="VersionRequest", answer="The case, now yours"),
        "POST /cases/{case_id}/take-over": _agent(
            "takeOverCase", "Take a case from the agent holding it (security leads, admins)",
            "Recorded as a taken_over event naming the previous holder.",
            body="VersionRequest", answer="The case, now yours"),
        "GET /reports/sla": {
            "operationId": "getSlaReport",
            "summary": "SLA figures of the cases filed in a date range",
            "description": "Cases created from `from` to `to` (whole UTC days, at most "
                           f"{MAX_DAYS} days: a longer range is a 400 range_too_long), grouped "
                           "by issue type, agent (the case's current assignee; 'unassigned' "
                           "for none), stage or priority. Durations are business hours of "
                           "each case's SLA calendar; p50/p90 interpolate between the nearest "
                           "ranks (percentile_cont) over the clocks already met. A case is "
                           "breached when any clock was met late or is past due now. Open "
                           "cases by age and cases created and resolved per day (resolved "
                           "whenever filed) come with it.",
            "security": [{"bearerAuth": []}],
            "responses": {"200": {"description": "The report", **_json("SlaReport")}},
        },
        "GET /openapi.json": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1 document",
                                  "content": {"application/json": {}}}},
        },
    }


def error_response(status: int, codes: tuple[str, ...]) -> dict:
    """The description of one error status: what it means, its codes, its headers, its body."""
    listed = ", ".join(code if " " in code else f"`{code}`" for code in codes)
    response = {"description": f"{STATUS_MEANING[status]}. code: {listed}.",
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}}
    if status in ERROR_HEADERS:
        response["headers"] = ERROR_HEADERS[status]
    return response


def _path_item(key: str, operation: dict, query: dict[str, dict]) -> tuple[str, str, dict]:
    """(path, method, operation) with the route's query parameters and errors added."""
    method, path = key.split(" ", 1)
    route = ROUTES[key]
    parameters = [*operation.get("parameters", []),
                  *({"name": name, "in": "query", **query[name]} for name in route.query)]
    responses = {**operation["responses"],
                 **{str(status): error_response(status, codes)
                    for status, codes in route.all_errors().items()}}
    described = {**operation, "responses": responses}
    if parameters:
        described["parameters"] = parameters
    return path, method.lower(), described


def openapi_document(max_page_size: int = 100, languages: tuple[str, ...] = ("en",)) -> dict:
    """The document served at /api/v1/openapi.json (``languages``: the desk's LANGUAGES)."""
    query = _query_parameters(max_page_size)
    paths: dict[str, dict] = {}
    for key, operation in _operations().items():
        path, method, described = _path_item(key, operation, query)
        paths.setdefault(path, {})[method] = described
    return {
        "openapi": "3.1.0",
        "info": {"title": "Recovery Desk API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "responses": {"MethodNotAllowed": error_response(405, ("method_not_allowed",))},
            "schemas": {**component_schemas(tuple(languages)), "SlaReport": sla_report_schema()},
        },
    }
