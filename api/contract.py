"""What each API operation takes in its query string and what it may answer besides success.

The single source of the error lists in the OpenAPI document (api/openapi.py) and of the query
parameters the blueprint lets through (any other is refused with a 400 naming it). A new
operation is one entry in ROUTES; a new error is one line: a status with its codes in the
entry, or a code added to a shared group below (for every operation that uses the group).
"""

import re
from dataclasses import dataclass

# What a status means on this API: the start of its description in the document.
STATUS_MEANING = {
    400: "Malformed input",
    401: "Missing or invalid API token",
    403: "Your role does not allow this",
    404: "Not found",
    409: "Conflict with the current state of the resource",
    413: "Too large",
    415: "Unsupported media type",
    422: "Understood but refused",
    429: "Rate limited: Retry-After says how many seconds to wait",
    405: "This path does not take that method",
    500: "Something failed on the server's side (never caused by what a client sent)",
    503: "The database cannot be reached for a moment (a restart): nothing was changed; "
         "Retry-After says how many seconds to wait",
}

# Every operation may answer these: a query string it does not take, a failure of ours, and
# a database that cannot be reached for a moment.
QUERY_ERRORS = ("unknown_parameter", "empty_parameter", "repeated_parameter")
ALWAYS = {400: QUERY_ERRORS, 500: ("internal_error",), 503: ("service_unavailable",)}

AGENT = {401: ("unauthorized",), 403: ("forbidden",)}
# An agent reading a case: an escalated one is the security leads' alone.
ON_A_CASE = {**AGENT, 403: ("forbidden", "leads_only")}
# An agent acting on a case (the body is JSON, read up to MAX_CONTENT_LENGTH).
CASE_ACTION = {
    **ON_A_CASE,
    400: ("invalid_json", "invalid_field", "unknown_field"),
    404: ("not_found",),
    409: ("stale_version", "case_claimed"),
    413: ("too_large",),
    422: ("action_refused",),
}


@dataclass(frozen=True)
class Route:
    """The errors one operation may answer (status -> codes) and the query parameters it takes."""

    errors: dict[int, tuple[str, ...]]
    query: tuple[str, ...] = ()

    def all_errors(self) -> dict[int, tuple[str, ...]]:
        """``errors`` with those every operation may answer, in status order."""
        merged = {status: tuple(dict.fromkeys(self.errors.get(status, ()) + ALWAYS.get(status, ())))
                  for status in {*self.errors, *ALWAYS}}
        return dict(sorted(merged.items()))


# "METHOD /path" as in the document (paths relative to /api/v1) -> the operation's contract.
ROUTES: dict[str, Route] = {
    "POST /challenges": Route({429: ("rate_limited",)}),
    "POST /recovery-requests": Route({
        400: ("invalid_field", "unknown_field", "consent_required", "missing_file", "empty_file",
              "image_damaged", "image_rejected", "invalid_idempotency_key",
              "challenge_required", "challenge_invalid"),
        409: ("idempotency_conflict",),
        413: ("too_large", "image_too_large"),
        415: ("unsupported_media_type", "unsupported_image", "animated_image"),
        422: ("challenge_expired", "challenge_used", "selfie_blank", "selfie_no_face",
              "selfie_several_faces", "selfie_face_too_small",
              "a reason code of the intake quality gate (what to fix on the photo)"),
        429: ("rate_limited",),
    }),
    "GET /recovery-requests/{tracking_token}": Route({404: ("not_found",),
                                                      429: ("rate_limited",)}),
    "GET /cases": Route({**AGENT, 400: ("invalid_state", "invalid_issue_type", "invalid_limit",
                                        "bad_cursor")},
                        query=("state", "issue_type", "limit", "cursor")),
    "GET /cases/{case_id}": Route({**ON_A_CASE, 404: ("not_found",)}),
    "POST /cases/{case_id}/events": Route({
        **CASE_ACTION, 400: (*CASE_ACTION[400], "unknown_event"),
        422: ("transition_not_allowed", "reason_required", "action_refused",
              "nothing_to_recover", "checks_not_done", "four_eyes_required",
              "stage_not_cleared", "override_not_confirmed")}),
    "POST /cases/{case_id}/proposal": Route({**CASE_ACTION, 422: ("action_refused",
                                                                 "reason_required")}),
    "POST /cases/{case_id}/challenge-confirmation": Route(CASE_ACTION),
    "POST /cases/{case_id}/not-me": Route(CASE_ACTION),
    "POST /cases/{case_id}/verification-retry": Route(CASE_ACTION),
    "POST /cases/{case_id}/claim": Route(CASE_ACTION),
    "POST /cases/{case_id}/take-over": Route(CASE_ACTION),
    "GET /reports/sla": Route({**AGENT, 400: ("invalid_date", "invalid_range", "range_too_long",
                                              "invalid_group_by")},
                              query=("from", "to", "group_by")),
    "GET /openapi.json": Route({}),
}

_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def operation_key(method: str, rule: str, prefix: str = "/api/v1") -> str:
    """The ROUTES key of a Flask URL rule: ``POST /api/v1/cases/<id:case_id>/events`` style."""
    path = _VARIABLE.sub(r"{\1}", rule.removeprefix(prefix))
    return f"{method} {path}"
