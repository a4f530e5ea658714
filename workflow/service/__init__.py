"""The service layer: the only code that commits. Each public function is one transaction.

Views parse input, call one function here and translate the named errors into responses. A
function either commits everything it changed (the case, its evidence, its audit event) or
rolls back and re-raises. The rooms:

- ``unit``: the transaction, loading and locking a case, recording events and check results;
- ``intake`` and ``gate``: filing a request (evidence, challenge code, idempotent retries) and
  refusing photos that cannot be checked;
- ``moves``: firing the state machine for a loaded case, with what goes with a move;
- ``staff_actions`` and ``user``: what staff and the holder of a tracking link do;
- ``approvals``: four eyes (proposing an approval, withdrawing one that no longer stands);
- ``findings`` and ``risk``: recording the automated checks and assessing the risk;
- ``job_records``: failures, retries and cases whose checks are due;
- ``sla_upkeep``: stored SLA figures and the marks of warnings and breaches;
- ``agents``, ``queries``, ``policies``: staff accounts, queue queries, settings;
- ``case_page``: what the case page shows beside a case (the agent's workload, the
  requester's earlier cases);
- ``second_factor``: staff sign-in's TOTP second factor, recovery codes and back-off;
- ``tokens``: staff API tokens (issued with an expiry, shown once, revoked);
- ``recovery`` and ``reset_links``: the recovery actions an approval plans and their runs
  through an account service, each waiting out its cooling-off period; the local
  directory's one-time reset links;
- ``owner``: the owner of record's "this wasn't me" (the emailed link, or through staff),
  which stops a recovery;
- ``support``: what a person tells support with a request (device, when it began, what
  was tried) and their error screenshots;
- ``retention`` and ``subjects``: purging closed cases' evidence when their retention period
  has passed; a person's data exported or erased at their request;
- ``hooks``: what the layers above register at start-up (the job queues, case event
  listeners, the account services, the client address of a request);
- ``console``: the console queue's search, saved views and bulk actions;
- ``audit``: the tamper-evident audit trail (records chained by their hashes, written with
  the transaction that did what they say; verifying and exporting it).
  listeners, the account services);
- ``macros``: canned replies with a fixed list of placeholders, kept by admins;
- ``presence``: who else has a case open and its last change (the console's notice);
- ``kept_uploads``: the request form's photos kept across a validation error (and its
  pre-send photo check);
- ``keys``: the encryption keys checked against the data at start-up, and rotate-key's
  batches.

The names below are the service's public interface.
"""

from . import audit, console, macros, presence
from .agents import (
    authenticate,
    create_agent,
    create_token_for,
    deactivate_agent,
    end_sessions,
    revoke_tokens_of,
    session_agent,
    set_password,
    set_role,
)
from .approvals import ApprovalOutlook, Proposal, approval_outlook, propose_approval
from .case_page import Workload, agent_workload, earlier_cases
from .errors import (
    ActionRefused,
    AgentExists,
    AgentNotFound,
    CaseClaimed,
    CaseNotFound,
    ChallengeRefused,
    ChecksNotDone,
    EvidenceRejected,
    FourEyesRequired,
    IdempotencyConflict,
    LeadsOnly,
    MissingEvidence,
    NothingToRecover,
    OverrideNotConfirmed,
    ReasonRequired,
    StageNotCleared,
    StaleCase,
    TransitionNotAllowed,
)
from .findings import (
    DocumentJob,
    SelfieJob,
    record_document_check,
    record_selfie_check,
    start_document_check,
    start_selfie_check,
)
from .gate import open_image
from .hooks import HookMissing, register
from .intake import Submission, SubmitResult, consent_text, issue_challenge, submit_request
from .job_records import (
    cases_needing_verification,
    record_verification_failure,
    retry_verification,
    schema_ready,
    verification_complete,
    verification_failure,
)
from .kept_uploads import (
    KeptPhoto,
    check_and_keep,
    forget_kept,
    holder_of,
    keep_photos,
    kept_files,
    kept_photos,
    purge_kept_uploads,
)
from .keys import KeysRefused, RotationBatch, rotate_batch, sealed_column_names, values_to_rotate
from .keys import init_app as init_encryption
from .moves import allowed_events, challenge_confirmed, reason_needed
from .owner import (
    OwnerLinkInvalid,
    OwnerView,
    StopOutcome,
    owner_link_token,
    owner_view,
    report_not_me,
    stop_by_owner,
)
from .policies import (
    BadHold,
    challenge_required,
    document_policy,
    intake_limits,
    recovery_holds,
    risk_policy,
    selfie_policy,
    sla_settings,
)
from .progress import STEPS, Expectation, Progress, case_progress, expected_time
from .queries import (
    BadCursor,
    check_case_access,
    encode_cursor,
    get_case,
    list_cases,
    queue_query,
)
from .recovery import (
    AccountService,
    ActionDone,
    ActionFailed,
    ActionOrder,
    cases_with_due_actions,
    hold_until,
    retry_recovery_action,
    run_case_actions,
    run_recovery_action,
)
from .reset_links import (
    PASSWORD_MIN_LENGTH,
    PasswordRefused,
    ResetLinkInfo,
    ResetLinkInvalid,
    check_new_password,
    redeem_reset_link,
    reset_link_info,
)
from .retention import (
    BadRetention,
    PurgeReport,
    purge_expired,
    retention_periods,
    retention_settings,
)
from .risk import current_risk, reassess_risk
from .second_factor import (
    SecondFactorCheck,
    agent_by_email,
    check_second_factor,
    enable_second_factor,
    enrolment_secret,
    recovery_codes_left,
    renew_recovery_codes,
    reset_second_factor,
    restart_enrolment,
    signin_attempt_passed,
    start_signin_attempt,
)
from .self_help import OUTCOMES, UnknownAnswer, record_self_help
from .sla_upkeep import (
    SlaBadge,
    check_sla,
    recompute_sla,
    refresh_sla,
    sla_badge,
    sla_clocks,
    sla_entries,
)
from .staff_actions import (
    add_staff_message,
    assign_case,
    claim_case,
    confirm_challenge,
    fire_event,
    may_act,
    take_over_case,
)
from .subjects import (
    ErasureReport,
    SubjectBusy,
    SubjectExport,
    erase_subject,
    erased_email,
    export_subject,
)
from .support import SupportDetails
from .tokens import (
    NAME_MAX_LENGTH,
    ApiTokenRefused,
    NewToken,
    StaffMember,
    TokenExpired,
    TokenLifetimes,
    TokenNotFound,
    TokenRevoked,
    TokenSettingsInvalid,
    agent_for_token,
    create_token,
    reveal_token,
    revoke_token,
    staff_overview,
    token_lifetimes,
    tokens_of,
)
from .tracking_links import request_tracking_links, send_tracking_links
from .user import case_for_token, user_actions, user_reply, user_resubmit, user_withdraw

__all__ = [
    "Workload", "agent_workload", "earlier_cases",
    "NAME_MAX_LENGTH", "ApiTokenRefused", "NewToken", "StaffMember", "TokenExpired",
    "TokenLifetimes", "TokenNotFound", "TokenRevoked", "TokenSettingsInvalid", "create_token",
    "create_token_for", "reveal_token", "revoke_token", "revoke_tokens_of", "staff_overview",
    "token_lifetimes", "tokens_of",
    "AccountService", "ActionDone", "ActionFailed", "ActionOrder", "ActionRefused", "AgentExists",
    "AgentNotFound", "ApprovalOutlook", "BadCursor", "BadHold", "BadRetention", "CaseClaimed",
    "CaseNotFound", "ChallengeRefused", "ChecksNotDone", "DocumentJob", "ErasureReport",
    "EvidenceRejected", "FourEyesRequired", "HookMissing", "IdempotencyConflict", "LeadsOnly",
    "MissingEvidence", "NothingToRecover", "OverrideNotConfirmed", "OwnerLinkInvalid", "OwnerView",
    "PASSWORD_MIN_LENGTH", "PasswordRefused", "Proposal", "PurgeReport", "ReasonRequired",
    "ResetLinkInfo", "ResetLinkInvalid", "SelfieJob", "SlaBadge", "StageNotCleared", "StaleCase",
    "StopOutcome", "SubjectBusy", "SubjectExport", "Submission", "SubmitResult",
    "SupportDetails",
    "TransitionNotAllowed", "add_staff_message", "agent_for_token", "allowed_events",
    "approval_outlook", "assign_case", "authenticate", "case_for_token",
    "cases_needing_verification", "cases_with_due_actions", "challenge_confirmed",
    "challenge_required", "check_case_access", "check_new_password", "check_sla", "claim_case",
    "agent_by_email", "audit", "console", "macros", "presence", "check_second_factor",
    "confirm_challenge",
    "consent_text", "create_agent", "current_risk", "deactivate_agent", "document_policy",
    "enable_second_factor", "encode_cursor", "end_sessions", "enrolment_secret", "erase_subject",
    "erased_email", "export_subject", "fire_event", "get_case", "hold_until", "intake_limits",
    "issue_challenge", "list_cases", "may_act", "open_image", "owner_link_token", "owner_view",
    "propose_approval", "purge_expired", "queue_query", "reason_needed", "reassess_risk",
    "recompute_sla", "record_document_check", "record_selfie_check",
    "record_verification_failure", "recovery_codes_left", "recovery_holds", "redeem_reset_link",
    "refresh_sla", "register", "renew_recovery_codes", "report_not_me", "reset_link_info",
    "reset_second_factor", "retention_periods", "retention_settings", "retry_recovery_action",
    "retry_verification", "risk_policy", "run_case_actions", "run_recovery_action", "schema_ready",
    "SecondFactorCheck", "selfie_policy", "session_agent", "set_password", "set_role",
    "restart_enrolment", "signin_attempt_passed", "start_signin_attempt", "sla_badge",
    "sla_clocks", "sla_entries", "sla_settings",
    "start_document_check", "start_selfie_check", "stop_by_owner", "submit_request",
    "take_over_case", "user_actions", "user_reply", "user_resubmit", "user_withdraw",
    "verification_complete", "verification_failure",
    # Encryption at rest (keys.py).
    "KeysRefused", "RotationBatch", "init_encryption", "rotate_batch", "sealed_column_names",
    "values_to_rotate",
    # The request form's kept photos and pre-send check (kept_uploads.py).
    "KeptPhoto", "check_and_keep", "forget_kept", "holder_of", "keep_photos", "kept_files",
    "kept_photos", "purge_kept_uploads",
    # What the person who filed a request sees of its progress (progress.py).
    "STEPS", "Expectation", "Progress", "case_progress", "expected_time",
    # Tracking links emailed again on request (tracking_links.py).
    "request_tracking_links", "send_tracking_links",
    # The self-help guides' answers (self_help.py).
    "OUTCOMES", "UnknownAnswer", "record_self_help",
]
