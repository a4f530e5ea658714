"""How cases, events and messages look in JSON."""

from flask import url_for

from verification.checks import REASONS, stage_results
from workflow import service
from workflow.states import ISSUE_TYPES, RECOVERY_STEP_LABELS, Actor, status_text


def _time(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def case_summary(case) -> dict:
    """A case in a list."""
    return {
        "id": case.id,
        "state": case.state,
        "resolution": case.resolution,
        "issue_type": case.issue_type,
        "created_at": _time(case.created_at),
        "updated_at": _time(case.updated_at),
        "assignee_id": case.assignee_id,
        "has_account": case.account_id is not None,
        "version": case.version,
    }


def event_json(event) -> dict:
    """One audit event."""
    return {
        "id": event.id,
        "event": event.event,
        "actor_type": event.actor_type,
        "actor_agent_id": event.actor_agent_id,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "reason": event.reason,
        "created_at": _time(event.created_at),
    }


def message_json(message, *, staff: bool) -> dict:
    """One message; staff also see internal notes and who wrote what."""
    by_user = message.author_type == Actor.USER
    data = {
        "id": message.id,
        "author": "you" if by_user and not staff else ("user" if by_user else "support"),
        "body": message.body,
        "created_at": _time(message.created_at),
    }
    if staff:
        data["internal"] = message.internal
        data["agent_id"] = message.agent_id
    return data


def evidence_json(item) -> dict:
    """Metadata of one photo; the image itself is served by the console only."""
    return {
        "id": item.id, "kind": item.kind, "attempt": item.attempt, "mime_type": item.mime_type,
        "width": item.width, "height": item.height, "sha256": item.sha256,
    }


def check_json(row) -> dict:
    """One stored check result."""
    reason = REASONS.get(row.reason_code) if row.reason_code else None
    return {
        "id": row.id, "check": row.check, "result": row.result, "attempt": row.attempt,
        "reason_code": row.reason_code,
        "reason_text": reason.internal_text if reason else None,
        "score": row.score, "threshold": row.threshold, "engine": row.engine,
        "engine_version": row.engine_version, "actor_agent_id": row.actor_agent_id,
        "details": row.details, "created_at": _time(row.created_at),
    }


READING_FIELDS = ("document_type", "issuing_country", "surname", "given_names",
                  "document_number", "nationality", "sex", "valid_check_digits")


def reading_json(reading) -> dict | None:
    """What the automated document check read from the current attempt (None before it ran)."""
    if reading is None:
        return None
    return {
        "attempt": reading.attempt, "outcome": reading.outcome,
        "mrz_found": reading.mrz_found, "mrz_side": reading.mrz_side,
        "mrz_format": reading.mrz_format,
        **{name: getattr(reading, name) for name in READING_FIELDS},
        "date_of_birth": _day(reading.date_of_birth),
        "expiry_date": _day(reading.expiry_date),
        "corrections": reading.mrz.get("corrections", []),
        "portrait_faces": reading.portrait_faces,
        "created_at": _time(reading.created_at),
    }


def _day(value) -> str | None:
    return value.isoformat() if value else None


def _match(distance: float | None, threshold: float | None) -> bool | None:
    if distance is None or threshold is None:
        return None
    return distance <= threshold


def selfie_json(reading) -> dict | None:
    """What the automated selfie check found on the current attempt (None before it ran)."""
    if reading is None:
        return None
    return {
        "attempt": reading.attempt, "faces": reading.faces,
        "document_distance": reading.document_distance,
        "reference_distance": reading.reference_distance,
        "threshold": reading.threshold,
        "match": _match(reading.document_distance, reading.threshold),
        "reference_match": _match(reading.reference_distance, reading.threshold),
        "challenge_code_read": reading.challenge_code_read,
        "outcome": reading.outcome, "created_at": _time(reading.created_at),
    }


def risk_json(row) -> dict | None:
    """The latest risk assessment of the current photos: its level and every reason."""
    if row is None:
        return None
    return {"level": row.details.get("level"), "reasons": row.details.get("reasons", [])}


def challenge_json(case) -> dict | None:
    """The code the user was to hold up in the selfie, and whether an agent confirmed it."""
    if not case.challenge_code:
        return None
    return {"code": case.challenge_code, "confirmed": service.challenge_confirmed(case)}


def failure_json(event) -> dict | None:
    """A permanent failure of the automated checks of the current photos."""
    if event is None:
        return None
    return {"reason": event.reason, "at": _time(event.created_at)}


def recovery_action_json(action) -> dict:
    """One step of an approved recovery and how it went."""
    return {
        "id": action.id, "kind": action.kind, "label": RECOVERY_STEP_LABELS[action.kind],
        "adapter": action.adapter, "status": action.status, "attempts": action.attempts,
        "due_at": _time(action.due_at), "next_attempt_at": _time(action.next_attempt_at),
        "last_error": action.last_error, "result": action.result or {},
        "created_at": _time(action.created_at), "done_at": _time(action.done_at),
    }


def issued_challenge_json(issued) -> dict:
    """A fresh challenge code and the token that proves this desk issued it."""
    return {"code": issued.code, "challenge_token": issued.token,
            "expires_at": _time(issued.expires_at)}


def approval_json(case, agent) -> dict:
    """What approving the case needs now, for the caller: four eyes, the proposal, what an
    approval would override, and why the caller may not approve or propose."""
    outlook = service.approval_outlook(case, agent)
    proposal = outlook.proposal
    return {
        "account_of_record": outlook.has_account,
        "four_eyes": list(outlook.four_eyes),
        "proposal": None if proposal is None else {
            "agent_id": proposal.agent_id, "agent_name": proposal.agent_name,
            "at": _time(proposal.at), "reason": proposal.reason, "attempt": proposal.attempt,
            "risk": proposal.risk, "withdrawn": proposal.withdrawn,
        },
        "overrides": [{"check": f.check, "result": f.result.value,
                       "reason_code": f.reason_code} for f in outlook.overrides],
        "may_approve": outlook.may_not_approve is None,
        "refusal": outlook.may_not_approve,
        "may_propose": bool(outlook.four_eyes) and outlook.may_not_propose is None,
    }


def case_detail(case, agent) -> dict:
    """A case with everything an agent needs to decide."""
    account = case.account
    return {
        **case_summary(case),
        "submitted": {
            "email": case.email, "full_name": case.full_name,
            "date_of_birth": case.date_of_birth.isoformat(), "description": case.description,
            "issue_label": ISSUE_TYPES[case.issue_type],
        },
        "account": None if account is None else {
            "id": account.id, "email": account.email, "full_name": account.full_name,
            "date_of_birth": account.date_of_birth.isoformat(),
            "two_factor_enabled": account.two_factor_enabled, "locked": account.locked,
        },
        "allowed_events": [
            {"event": row.trigger, "label": row.label,
             "needs_reason": service.reason_needed(case, row)}
            for row in service.allowed_events(case, agent.actors, agent.id)
        ],
        "resubmissions": case.resubmissions,
        "consent": {"at": _time(case.consent_at), "version": case.consent_version,
                    "sha256": case.consent_sha256},
        # The retention purge deleted the photos and readings (evidence is then empty), and
        # an erasure the requester's personal data.
        "evidence_purged_at": _time(case.purged_at),
        "erased_at": _time(case.erased_at),
        "evidence": [evidence_json(e) for e in case.evidence],
        "checks": [check_json(c) for c in case.checks],
        "document": reading_json(case.current_reading()),
        "selfie": selfie_json(case.current_selfie_reading()),
        "risk": risk_json(service.current_risk(case)),
        "challenge": challenge_json(case),
        "approval": approval_json(case, agent),
        "verification_failure": failure_json(service.verification_failure(case)),
        "recovery_actions": [recovery_action_json(a) for a in case.recovery_actions],
        "stage_results": {
            stage: result.value
            for stage, result in stage_results(case.checks, case.evidence_attempt).items()
        },
        "events": [event_json(e) for e in case.events],
        "messages": [message_json(m, staff=True) for m in case.messages],
    }


def public_status(case, token: str) -> dict:
    """What the holder of the tracking token may see."""
    return {
        "case_id": case.id,
        "state": case.state,
        "resolution": case.resolution,
        "status_text": status_text(case.state, case.resolution,
                                   has_account=case.account_id is not None),
        "messages": [message_json(m, staff=False) for m in case.messages if not m.internal],
        "actions": service.user_actions(case),
        "status_url": url_for("public.status", token=token, _external=True),
        "recovery_steps": [
            {"kind": a.kind, "label": RECOVERY_STEP_LABELS[a.kind], "status": a.status,
             "due_at": _time(a.due_at), "done_at": _time(a.done_at)}
            for a in case.recovery_actions],
    }
