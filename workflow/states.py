"""Case states, resolutions and the transition table: the lifecycle's single source of truth."""

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from verification.checks import Result


class State(StrEnum):
    """Where a case is in its lifecycle."""

    SUBMITTED = "submitted"
    ID_CHECK = "id_check"
    SELFIE_CHECK = "selfie_check"
    ESCALATED = "escalated"
    AWAITING_USER = "awaiting_user"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    """Why a resolved case ended."""

    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    DUPLICATE = "duplicate"


class Actor(StrEnum):
    """Who may fire an event: staff by role, the requesting user, or the system itself."""

    AGENT = "agent"
    SECURITY_LEAD = "security_lead"
    ADMIN = "admin"
    USER = "user"
    SYSTEM = "system"
    # The holder of the account of record, through a link emailed to its address (who may
    # not be whoever filed the request): reports only, it fires no event itself.
    OWNER = "owner"


STAFF_ROLES = (Actor.AGENT, Actor.SECURITY_LEAD, Actor.ADMIN)
ACTIVE_STATES = tuple(s for s in State if s is not State.RESOLVED)
# The stages a case works through; awaiting_user and escalated return to one of these.
WORK_STAGES = (State.SUBMITTED, State.ID_CHECK, State.SELFIE_CHECK)

ALL_STAFF = frozenset(STAFF_ROLES)
LEADS = frozenset({Actor.SECURITY_LEAD, Actor.ADMIN})
# The same roles as the strings stored on an agent (and checked by the database).
ROLES: tuple[str, ...] = tuple(role.value for role in STAFF_ROLES)
LEAD_ROLES: tuple[str, ...] = tuple(role.value for role in STAFF_ROLES if role in LEADS)
# Who an audit record names as acting: a staff member (its agent id beside it, whatever the
# role), the desk itself (jobs, the scheduled check, commands), the requester (the holder of
# a tracking link), the owner of record, or someone not signed in (a failed sign-in).
AUDIT_ACTORS: tuple[str, ...] = ("agent", "system", "user", "owner", "anonymous")

# The photos a request carries, by form field and evidence kind; the back of a card is optional.
EVIDENCE_KINDS: tuple[str, ...] = ("id_document", "id_document_back", "selfie")
REQUIRED_EVIDENCE: tuple[str, ...] = ("id_document", "selfie")
DOCUMENT_SIDES: tuple[str, ...] = ("id_document", "id_document_back")
# Error screenshots the person attaches to the request or to a reply: evidence of their own
# kind ("screenshot-1", "screenshot-2", ... numbered per case), stored as attempt 0, so no
# attempt's checks ever read them. The form field that carries them on both forms.
SCREENSHOT_FIELD = "screenshots"
SCREENSHOT_PREFIX = "screenshot-"
SCREENSHOT_ATTEMPT = 0


def is_screenshot(kind: str) -> bool:
    """Whether an evidence kind is an error screenshot (never a photo for the checks)."""
    return kind.startswith(SCREENSHOT_PREFIX)


# Common fixes the form offers to tick under "what did you already try", by key, with the
# issue types each is offered for (the seeds' troubleshooting guides). The labels shown are
# in forms.py (translated); an agent sees them in English.
ANY_ISSUE: tuple[str, ...] = ("forgot_password", "lost_2fa", "account_locked", "new_device",
                              "suspicious_activity", "other")
TRIED_FIXES: dict[str, tuple[str, ...]] = {
    "password_reset_email": ("forgot_password",),
    "checked_spam": ("forgot_password", "other"),
    "clock_automatic": ("lost_2fa", "new_device"),
    "backup_codes": ("lost_2fa", "new_device"),
    "waited_for_lock": ("account_locked", "suspicious_activity"),
    "updated_app": ANY_ISSUE,
    "cleared_cache": ANY_ISSUE,
    "vpn_off": ANY_ISSUE,
    "other_device": ANY_ISSUE,
}

# The consent a request is filed under, by version: the form shows the current text beside
# its box, and the API's `consent=true` agrees to the same text (the API's terms). A case
# stores the version and the SHA-256 of the exact text agreed to. A new wording is a new
# entry under a new version; earlier entries stay, so every case's consent can be shown.
CONSENT_TEXTS: dict[str, str] = {
    "1": "I agree that my ID and selfie are processed to verify my identity for this request.",
}
CONSENT_VERSION = "1"


def consent_digest(text: str) -> str:
    """The SHA-256 (hex) of a consent text exactly as shown."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# What the holder of a tracking link may do on an open case, in the order the page offers it.
USER_ACTIONS: tuple[str, ...] = ("reply", "resubmit", "withdraw")


@dataclass(frozen=True)
class Transition:
    """One row of the transition table.

    ``resume`` names the case column whose stored value must equal ``dest`` for the
    transition to apply: that is how a case returns to the stage it left. ``unless_resumes``
    names a column whose stored value must *not* equal ``unless_value``.
    """

    trigger: str
    sources: tuple[State, ...]
    dest: State
    actors: frozenset[Actor]
    label: str
    needs_reason: bool = False
    resolution: Resolution | None = None
    resume: str | None = None
    unless_resumes: tuple[str, str] | None = None
    # Text shown to the user in the case's messages when this transition happens
    # (the agent's reason is appended when it is user-facing).
    user_visible_reason: bool = False
    tags: tuple[str, ...] = field(default=())


def _returns(trigger, source, column, actors, label, **kw):
    """Rows that send a case back from ``source`` to the stage stored in ``column``."""
    stages = (*WORK_STAGES, State.ESCALATED, State.AWAITING_USER)
    return [
        Transition(trigger, (source,), stage, actors, label, resume=column, **kw)
        for stage in stages
        if stage is not source
    ]


def _staff_and_leads(trigger, sources, dest, label, *, system=False, **kw):
    """Rows any agent (and, with ``system``, the automated checks) may fire from ordinary
    states, and only leads from an escalated case."""
    rows = []
    ordinary = tuple(s for s in sources if s is not State.ESCALATED)
    if ordinary:
        actors = ALL_STAFF | {Actor.SYSTEM} if system else ALL_STAFF
        rows.append(Transition(trigger, ordinary, dest, actors, label, **kw))
    if State.ESCALATED in sources:
        rows.append(Transition(trigger, (State.ESCALATED,), dest, LEADS, label, **kw))
    return rows


TRANSITIONS: list[Transition] = [
    Transition("start_review", (State.SUBMITTED,), State.ID_CHECK,
               ALL_STAFF | {Actor.SYSTEM}, "Start the document check"),
    Transition("confirm_document", (State.ID_CHECK,), State.SELFIE_CHECK,
               ALL_STAFF | {Actor.SYSTEM}, "Document verified: go to selfie check"),
    Transition("approve", (State.SELFIE_CHECK,), State.RESOLVED,
               ALL_STAFF, "Approve recovery", resolution=Resolution.APPROVED),
    Transition("approve", (State.ESCALATED,), State.RESOLVED,
               LEADS, "Approve recovery", needs_reason=True, resolution=Resolution.APPROVED),
    *_staff_and_leads("decline", ACTIVE_STATES, State.RESOLVED, "Decline", needs_reason=True,
                      resolution=Resolution.DECLINED, user_visible_reason=True),
    *_staff_and_leads("request_info", (*WORK_STAGES, State.ESCALATED), State.AWAITING_USER,
                      "Ask the user a question", needs_reason=True, user_visible_reason=True,
                      tags=("asks_user",)),
    # The automated checks ask for new photos themselves when the user can fix what failed.
    *_staff_and_leads("request_resubmission", (*WORK_STAGES, State.ESCALATED),
                      State.AWAITING_USER, "Ask for new photos", system=True, needs_reason=True,
                      user_visible_reason=True, tags=("asks_user", "resubmission")),
    *_returns("user_replied", State.AWAITING_USER, "awaiting_from",
              frozenset({Actor.USER}), "User replied"),
    # New photos go to the document check, unless a security lead asked for them: then back
    # to the lead, so that new evidence cannot take a case out of security review.
    Transition("user_resubmitted", (State.AWAITING_USER,), State.ID_CHECK,
               frozenset({Actor.USER}), "User sent new photos", tags=("resubmission",),
               unless_resumes=("awaiting_from", State.ESCALATED.value)),
    Transition("user_resubmitted", (State.AWAITING_USER,), State.ESCALATED,
               frozenset({Actor.USER}), "User sent new photos", tags=("resubmission",),
               resume="awaiting_from"),
    Transition("escalate", (*WORK_STAGES, State.AWAITING_USER), State.ESCALATED,
               ALL_STAFF | {Actor.SYSTEM}, "Escalate to security", needs_reason=True,
               tags=("escalates",)),
    *_returns("return_to_stage", State.ESCALATED, "escalated_from",
              LEADS, "Return to the previous stage", needs_reason=True),
    *_staff_and_leads("mark_duplicate", ACTIVE_STATES, State.RESOLVED, "Close as duplicate",
                      needs_reason=True, resolution=Resolution.DUPLICATE,
                      user_visible_reason=True),
    Transition("withdraw", ACTIVE_STATES, State.RESOLVED,
               frozenset({Actor.USER}), "Withdrawn by the user", resolution=Resolution.WITHDRAWN),
    Transition("expire", (State.AWAITING_USER,), State.RESOLVED,
               frozenset({Actor.SYSTEM}), "Expired without an answer",
               resolution=Resolution.EXPIRED),
    # The owner of record says an approved recovery is not theirs (the link in the approval
    # email, or a report staff take): the case goes back to security, its actions not yet
    # performed are cancelled. Only an approval reopens: nothing else acts on the account.
    Transition("stop_recovery", (State.RESOLVED,), State.ESCALATED,
               frozenset({Actor.SYSTEM}), "Recovery stopped: the owner says it is not theirs",
               tags=("escalates", "reopens")),
]

# A person's decision at a stage is a check result too: (event, from state) -> the check it
# records, its result and reason code. Adding one is one entry.
HUMAN_REVIEWS: dict[tuple[str, State], tuple[str, Result, str]] = {
    ("confirm_document", State.ID_CHECK): ("document.review", Result.CLEAR, "agent_confirmed"),
    ("approve", State.SELFIE_CHECK): ("selfie.review", Result.CLEAR, "agent_confirmed"),
    ("approve", State.ESCALATED): ("security.review", Result.CLEAR, "security_approved"),
    ("decline", State.ID_CHECK): ("document.review", Result.REJECTED, "agent_declined"),
    ("decline", State.SELFIE_CHECK): ("selfie.review", Result.REJECTED, "agent_declined"),
    ("decline", State.ESCALATED): ("security.review", Result.REJECTED, "security_declined"),
    ("request_resubmission", State.ID_CHECK): ("document.review", Result.CONSIDER,
                                               "resubmission_requested"),
    ("request_resubmission", State.SELFIE_CHECK): ("selfie.review", Result.CONSIDER,
                                                   "resubmission_requested"),
    ("request_resubmission", State.ESCALATED): ("security.review", Result.CONSIDER,
                                                "resubmission_requested"),
    # Declining a case that is not under review at a stage (submitted, or waiting for the
    # user) records the event only: no stage's evidence was judged.
}

# A person's decision that overrides what the automated checks found at a stage, when they
# did not clear it: (event, from state) -> the stage. It needs a written reason.
OVERRIDES: dict[tuple[str, State], str] = {
    ("confirm_document", State.ID_CHECK): "document",
    ("approve", State.SELFIE_CHECK): "selfie",
}

# The stages whose results an approval reads: each must be clear, or overridden by a person
# with a written reason, for the current photos.
APPROVAL_STAGES: tuple[str, ...] = ("document", "selfie")
# The stages a person reviews by approving from a state (their review is recorded as the
# approval's check, HUMAN_REVIEWS): the approval itself may override those stages' results,
# with a reason, and a rejected one only when the approver says so explicitly. Any other
# stage must already be clear or overridden (a document confirmed at the document check).
APPROVAL_REVIEWS: dict[State, tuple[str, ...]] = {
    State.SELFIE_CHECK: ("selfie",),
    State.ESCALATED: ("document", "selfie"),
}

# The risk level (the latest risk.assessment of the current photos) that needs four eyes.
FOUR_EYES_RISK = "high"


@dataclass(frozen=True)
class Reroute:
    """Firing ``trigger`` from one of ``sources`` while the fact ``when`` (a name in
    ``workflow.rules.FACTS``) holds fires ``to`` instead, by ``actor``, with ``reason``
    (formatted with the policy's settings and the reason given)."""

    trigger: str
    sources: tuple[State, ...]
    when: str
    to: str
    actor: Actor
    reason: str


REROUTES: tuple[Reroute, ...] = (
    # The user has had their tries: a person from security looks at the case instead. (From
    # an escalated case the request is refused: the lead decides with what there is.)
    Reroute("request_resubmission", WORK_STAGES, "resubmissions_used_up", "escalate",
            Actor.SYSTEM, "Resubmission limit ({max_resubmissions}) reached. {reason}"),
)

# Findings that call for a person even when the photos must also be retaken: new photos
# would otherwise start a fresh attempt in which these signals no longer show.
NEEDS_A_PERSON = frozenset({"document_used_by_other_account", "name_mismatch",
                            "date_of_birth_mismatch"})
# Selfie findings the person can fix with a new photo; anything else waits for a person.
SELFIE_RETAKE = frozenset({"selfie_no_face", "selfie_several_faces", "selfie_face_too_small",
                           "selfie_blurry", "selfie_is_document"})


@dataclass(frozen=True)
class FindingsRoute:
    """What the automated checks do with a stage's findings: at ``state``, when the findings
    come out ``outcome``, the system fires ``trigger`` with ``reason`` (empty: the user texts
    of the rejected findings, that is what to fix).

    Not taken when a finding that did not clear has a code in ``unless_flagged``, nor, with
    ``only_rejected``, when a rejected finding has a code outside it.
    """

    stage: str
    state: State
    outcome: Result
    trigger: str
    reason: str = ""
    unless_flagged: frozenset[str] = frozenset()
    only_rejected: frozenset[str] | None = None


FINDINGS_ROUTES: tuple[FindingsRoute, ...] = (
    FindingsRoute("document", State.ID_CHECK, Result.CLEAR, "confirm_document",
                  reason="All document checks are clear."),
    FindingsRoute("document", State.ID_CHECK, Result.REJECTED, "request_resubmission",
                  unless_flagged=NEEDS_A_PERSON),
    FindingsRoute("selfie", State.SELFIE_CHECK, Result.REJECTED, "request_resubmission",
                  only_rejected=SELFIE_RETAKE),
    # Anything else (consider, a finding for a person) waits for an agent.
)

TRIGGERS: tuple[str, ...] = tuple(dict.fromkeys(t.trigger for t in TRANSITIONS))

# Plain-language state texts for the person recovering their account.
STATUS_TEXT: dict[State, str] = {
    State.SUBMITTED: "We have received your request and will start checking it shortly.",
    State.ID_CHECK: "We are checking your identity document.",
    State.SELFIE_CHECK: "We are comparing your selfie with the photo on your document.",
    State.ESCALATED: "Your request is being reviewed by our security team. "
                     "This can take a little longer; there is nothing you need to do.",
    State.AWAITING_USER: "We need something from you before we can continue: "
                         "see the latest message below.",
    State.RESOLVED: "Your request is closed.",
}

RESOLUTION_TEXT: dict[Resolution, str] = {
    Resolution.APPROVED: "Your identity is confirmed. We will email your account's address "
                         "of record with the next steps to get back into your account.",
    Resolution.DECLINED: "We could not confirm your identity, so we cannot restore access "
                         "with this request.",
    Resolution.WITHDRAWN: "You withdrew this request.",
    Resolution.EXPIRED: "This request was closed because we did not hear back from you. "
                        "You can file a new request at any time.",
    Resolution.DUPLICATE: "This request duplicates another one we are already handling.",
}

ISSUE_TYPES: dict[str, str] = {
    "forgot_password": "I forgot my password",
    "lost_2fa": "I lost my two-factor device",
    "account_locked": "My account is locked after failed sign-ins",
    "new_device": "I have a new phone or device",
    "suspicious_activity": "My account was frozen for suspicious activity",
    "other": "Something else",
}


# An approved case without an account of record (approved before approvals needed one) has
# no address of record to write to: its page promises no email.
APPROVED_WITHOUT_ACCOUNT_TEXT = ("Your identity is confirmed. Our team will write to you on this "
                                 "page about the next steps.")


def status_text(state: str, resolution: str | None, *, has_account: bool) -> str:
    """The sentence a user sees for a case in ``state`` (``has_account``: whether the request
    matched an account of record, which is where the next steps are emailed)."""
    if state == State.RESOLVED and resolution:
        if resolution == Resolution.APPROVED and not has_account:
            return APPROVED_WITHOUT_ACCOUNT_TEXT
        return RESOLUTION_TEXT[Resolution(resolution)]
    return STATUS_TEXT[State(state)]


class RecoveryStep(StrEnum):
    """One thing the account service does to an account when a recovery is approved."""

    RESET_LINK = "reset_link"  # a one-time password-reset link to the address of record
    REMOVE_SECOND_FACTOR = "remove_second_factor"  # the owner enrols a new one at next sign-in
    UNLOCK = "unlock"  # the lock after failed sign-in attempts lifted
    UNFREEZE = "unfreeze"  # the freeze for suspicious activity lifted


# Issue type -> the steps approving it performs, in order (a step runs once those before it
# are done: a reset link never goes out for an account that is still frozen). Adding an issue
# type is one entry. A new device is not a lost one: the owner still holds the old phone (or
# the authenticator's backup) and needs only to sign in again, so it gets a reset link; an
# owner whose second factor is gone files lost_2fa, which asks for a challenge selfie. "other"
# performs nothing: staff say in a message what they did.
RECOVERY_ACTIONS: dict[str, tuple[RecoveryStep, ...]] = {
    "forgot_password": (RecoveryStep.RESET_LINK,),
    "lost_2fa": (RecoveryStep.REMOVE_SECOND_FACTOR, RecoveryStep.RESET_LINK),
    "account_locked": (RecoveryStep.UNLOCK,),
    "new_device": (RecoveryStep.RESET_LINK,),
    "suspicious_activity": (RecoveryStep.UNFREEZE, RecoveryStep.RESET_LINK),
    "other": (),
}

# Issue types whose recovery removes a second factor or unfreezes the account: approving them
# needs four eyes (one staff member proposes, a different security lead or admin approves),
# as does every high-risk case. Read from the registry, so a new type with such a step gets
# four eyes without a second list to keep.
FOUR_EYES_STEPS = frozenset({RecoveryStep.REMOVE_SECOND_FACTOR, RecoveryStep.UNFREEZE})
FOUR_EYES_ISSUE_TYPES: frozenset[str] = frozenset(
    issue for issue, steps in RECOVERY_ACTIONS.items() if FOUR_EYES_STEPS & set(steps))

# What the console and the case's record call each step.
RECOVERY_STEP_LABELS: dict[RecoveryStep, str] = {
    RecoveryStep.RESET_LINK: "Password-reset link sent to the address of record",
    RecoveryStep.REMOVE_SECOND_FACTOR: "Second factor removed",
    RecoveryStep.UNLOCK: "Account unlocked",
    RecoveryStep.UNFREEZE: "Account unfrozen",
}


class ActionStatus(StrEnum):
    """Where a planned recovery action is: waiting, being performed, done, failed, or
    cancelled (the owner of record stopped the recovery before it ran)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The statuses of an action that may still run.
OPEN_ACTION_STATUSES: tuple[str, ...] = (ActionStatus.PENDING.value, ActionStatus.RUNNING.value,
                                         ActionStatus.FAILED.value)


def recovery_steps(issue_type: str) -> tuple[RecoveryStep, ...]:
    """The steps approving a case of ``issue_type`` performs (none for an unknown type)."""
    return RECOVERY_ACTIONS.get(issue_type, ())
