"""API v1 routes. Views parse, call the service, and let errors/ shape failures."""

from flask import Blueprint, current_app, g, jsonify, request, url_for

from errors import ApiError
from extensions import limiter
from rate_limits import (
    submission_email_limit,
    submission_limit,
    submission_rate,
    tracking_token_limit,
)
from reports import queries as reports
from workflow import models, service
from workflow.auth import token_required
from workflow.forms import CONTROL_CHARACTERS, RecoveryForm, submission_from, uploaded_files
from workflow.states import (
    ISSUE_TYPES,
    LEAD_ROLES,
    REQUIRED_EVIDENCE,
    ROLES,
    TRIGGERS,
    Actor,
    State,
)

from .contract import ROUTES, operation_key
from .openapi import openapi_document
from .schemas import case_detail, case_summary, issued_challenge_json, public_status

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _check_query() -> None:
    """Refuse a query parameter the operation does not take, an empty one or a repeated one."""
    if request.method == "OPTIONS" or request.url_rule is None:
        return
    method = "GET" if request.method == "HEAD" else request.method
    route = ROUTES.get(operation_key(method, request.url_rule.rule))
    taken = route.query if route else ()
    for name, values in request.args.lists():
        shown = name[:100]
        if name not in taken:
            accepted = f"Use only: {', '.join(taken)}." if taken else "It takes none."
            raise ApiError(400, "unknown_parameter",
                           f"This address takes no query parameter '{shown}'. {accepted}", name)
        if len(values) > 1:
            raise ApiError(400, "repeated_parameter", f"Give '{shown}' once.", name)
        if not values[0]:
            raise ApiError(400, "empty_parameter",
                           f"'{shown}' is empty: give it a value or leave it out.", name)


def _unknown_fields(names, known) -> None:
    """A 400 naming the first field of ``names`` that is not one of ``known``."""
    for name in names:
        if name not in known:
            raise ApiError(400, "unknown_field", f"There is no field '{name[:100]}' here. "
                           f"Send only: {', '.join(known)}.", name)


def _form_error(form) -> ApiError:
    """The first validation error of ``form`` as a 400, naming its field."""
    for name, errors in form.errors.items():
        code = {"consent": "consent_required",
                **dict.fromkeys(REQUIRED_EVIDENCE, "missing_file")}.get(name, "invalid_field")
        return ApiError(400, code, errors[0], name)
    return ApiError(400, "bad_request", "The request could not be understood.")


@bp.post("/challenges")
@limiter.limit(submission_rate)
def create_challenge():
    """Issue a one-time code for a challenge selfie, with the token to send with the request."""
    response = jsonify(issued_challenge_json(service.issue_challenge()))
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/recovery-requests")
@submission_limit
@submission_email_limit
def create_recovery_request():
    """File a recovery request (multipart form)."""
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type",
                       "Send the request as multipart/form-data with the photos as files.")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
        raise ApiError(400, "invalid_idempotency_key",
                       "The Idempotency-Key must be 1 to 255 printable ASCII characters.")
    form = RecoveryForm(meta={"csrf": False})
    _unknown_fields([*request.form, *request.files], [field.name for field in form])
    if not form.validate():
        raise _form_error(form)
    result = service.submit_request(
        submission_from(form, request.remote_addr, current_app.config["BABEL_DEFAULT_LOCALE"]),
        uploaded_files(form), idempotency_key=key)
    body = {
        "case_id": result.case.id,
        "tracking_token": result.tracking_token,
        "state": result.case.state,
        "status_url": url_for("public.status", token=result.tracking_token, _external=True),
    }
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = url_for("api.recovery_request_status",
                                           tracking_token=result.tracking_token)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/recovery-requests/<tracking_token>")
@tracking_token_limit
def recovery_request_status(tracking_token: str):
    """The status of a request, for the holder of its tracking token."""
    case = service.case_for_token(tracking_token)
    response = jsonify(public_status(case, tracking_token))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _choice(name: str, allowed) -> str | None:
    value = request.args.get(name)  # never empty: _check_query refused that
    if value is not None and value not in allowed:
        raise ApiError(400, f"invalid_{name}",
                       f"Unknown {name} '{value}'. Use one of: {', '.join(allowed)}.", name)
    return value


def _limit() -> int:
    maximum = current_app.config["API_MAX_PAGE_SIZE"]
    raw = request.args.get("limit", "25")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "invalid_limit", f"limit must be a whole number from 1 to {maximum}.",
                       "limit")
    return int(raw)


@bp.get("/cases")
@token_required(*ROLES)
def list_cases():
    """The queue, oldest first, with cursor pagination (escalated cases for leads only)."""
    state = _choice("state", [s.value for s in State])
    issue_type = _choice("issue_type", list(ISSUE_TYPES))
    items, next_cursor = service.list_cases(
        limit=_limit(), cursor=request.args.get("cursor"),
        states=[state] if state else None, issue_type=issue_type, actors=g.agent.actors,
    )
    return jsonify({"items": [case_summary(c) for c in items], "next_cursor": next_cursor})


@bp.get("/cases/<id:case_id>")
@token_required(*ROLES)
def get_case(case_id: int):
    """One case with its allowed events, checks, events and messages (on the audit trail: it
    shows the requester's personal data)."""
    service.audit.record_now("case.view", actor=Actor.AGENT, agent=g.agent, case_id=case_id,
                             detail={"via": "api"})
    return jsonify(case_detail(service.get_case(case_id), g.agent))


def _json_body(*fields: str) -> dict:
    """The request's JSON object, which may hold only ``fields``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", f"Send a JSON object with {', '.join(fields)}.")
    _unknown_fields(body, fields)
    return body


def _version(body: dict) -> int:
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ApiError(400, "invalid_field",
                       "version is required: the case version you last saw.", "version")
    return version


def _text(body: dict, name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "invalid_field", f"{name} is required.", name)
        return None
    if not isinstance(value, str) or len(value) > 4000 or CONTROL_CHARACTERS.search(value):
        raise ApiError(400, "invalid_field", f"{name} must be text of at most 4000 characters "
                       "without control characters.", name)
    return value


@bp.post("/cases/<id:case_id>/events")
@token_required(*ROLES)
def fire_event(case_id: int):
    """Fire an event on a case, carrying the version the caller saw."""
    body = _json_body("event", "version", "reason", "override")
    event = body.get("event")
    if not isinstance(event, str) or not event:
        raise ApiError(400, "invalid_field", "event is required.", "event")
    if event not in TRIGGERS:
        raise ApiError(400, "unknown_event",
                       f"Unknown event '{event}'. Use one of: {', '.join(TRIGGERS)}.", "event")
    version = _version(body)
    reason = _text(body, "reason")
    override = body.get("override", False)
    if not isinstance(override, bool):
        raise ApiError(400, "invalid_field", "override must be true or false: true confirms "
                       "that you override the rejected results the approval would override.",
                       "override")
    case = service.fire_event(case_id, event, agent=g.agent, expected_version=version,
                              reason=reason, override=override)
    return jsonify(case_detail(case, g.agent))


@bp.post("/cases/<id:case_id>/proposal")
@token_required(*ROLES)
def propose_approval(case_id: int):
    """Propose approving a case that needs four eyes; a different lead approves it."""
    body = _json_body("version", "reason")
    version = _version(body)
    reason = _text(body, "reason", required=True)
    case = service.propose_approval(case_id, g.agent, version, reason)
    response = jsonify(case_detail(case, g.agent))
    response.status_code = 201
    return response


@bp.post("/cases/<id:case_id>/challenge-confirmation")
@token_required(*ROLES)
def confirm_challenge(case_id: int):
    """The caller read the expected code on the selfie by eye."""
    version = _version(_json_body("version"))
    case = service.confirm_challenge(case_id, g.agent, version)
    return jsonify(case_detail(case, g.agent))


@bp.post("/cases/<id:case_id>/claim")
@token_required(*ROLES)
def claim_case(case_id: int):
    """Claim a case nobody holds (or one already yours), carrying the version seen."""
    version = _version(_json_body("version"))
    return jsonify(case_detail(service.claim_case(case_id, g.agent, version), g.agent))


@bp.post("/cases/<id:case_id>/take-over")
@token_required(*LEAD_ROLES)
def take_over_case(case_id: int):
    """A security lead or admin takes the case from the agent holding it (recorded)."""
    version = _version(_json_body("version"))
    return jsonify(case_detail(service.take_over_case(case_id, g.agent, version), g.agent))


@bp.post("/cases/<id:case_id>/not-me")
@token_required(*ROLES)
def report_not_me(case_id: int):
    """The account holder says the request is not theirs: recorded, reassessed, escalated."""
    note = _text(_json_body("note"), "note", required=True)
    case = service.report_not_me(case_id, g.agent, note)
    return jsonify(case_detail(case, g.agent))


@bp.post("/cases/<id:case_id>/verification-retry")
@token_required(*ROLES)
def retry_verification(case_id: int):
    """Run the automated checks of the current photos again after a failure."""
    case = service.retry_verification(case_id, g.agent)
    response = jsonify(case_detail(case, g.agent))
    response.status_code = 202
    return response


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(current_app.config["API_MAX_PAGE_SIZE"],
                                    tuple(current_app.config["LANGUAGES"])))


@bp.get("/reports/sla")
@token_required(*ROLES)
def sla_report():
    """The SLA report of the cases filed in a date range (reports/queries.py), as JSON."""
    # Looked up per call, like the report page does, so a test's clock reaches the report.
    args = request.args
    try:
        report = reports.report_for(args.get("from"), args.get("to"), args.get("group_by"),
                                    models.utcnow())
    except reports.BadReportRequest as err:
        raise ApiError(400, err.code, str(err), err.field) from None
    service.audit.record_now("export.sla_report", actor=Actor.AGENT, agent=g.agent,
                             detail=reports.export_facts(report, "json", via="api"))
    return jsonify(reports.report_json(report))
