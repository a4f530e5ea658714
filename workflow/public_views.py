"""Pages for the person recovering their account: the request form and the status page."""

import re
import secrets
from datetime import UTC, datetime, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous.encoding import base64_decode, bytes_to_int

from extensions import limiter
from i18n import texts
from rate_limits import (
    submission_email_limit,
    submission_limit,
    submission_rate,
    tracking_link_email_limit,
    tracking_link_limit,
    tracking_token_limit,
)
from verification import challenge as challenges

from . import service
from .forms import (
    UPLOAD_TOKEN_PATTERN,
    OwnerStopForm,
    PhotoCheckForm,
    RecoveryForm,
    ReplyForm,
    ResetPasswordForm,
    ResubmitForm,
    SelfHelpForm,
    TrackingLinkForm,
    WithdrawForm,
    submission_from,
    uploaded_files,
)
from .guides import GUIDES
from .states import EVIDENCE_KINDS, ISSUE_TYPES, RECOVERY_STEP_LABELS, status_text

bp = Blueprint("public", __name__)

# The session key of the request just filed: the confirmation page (a GET) shows its tracking
# link from the signed session, so the link never travels in a URL or a log line, and
# reloading the confirmation shows it again without filing anything.
FILED = "filed_request"

@bp.after_request
def _private(response):
    """Status pages carry a secret in their URL: never cache them, never send it as Referer."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def index():
    """The desk's front door: what happened? Then that issue's self-help guide."""
    return render_template("public/help.html", guides=GUIDES)


def _kept_challenge(token: str | None) -> challenges.IssuedChallenge | None:
    """The challenge a re-rendered form carried, while it is still valid; else None.

    A person who already wrote the code down and took the selfie keeps it when the form
    comes back for another reason (a typo in a date, a blurry ID photo).
    """
    if not token:
        return None
    config = current_app.config
    ttl = config["CHALLENGE_TTL_SECONDS"]
    try:
        found = challenges.verify(token, config["SECRET_KEY"], ttl)
    except (challenges.ChallengeExpired, challenges.ChallengeInvalid):
        return None
    # The token is verified: its middle part is the signing time, in itsdangerous' format.
    issued = datetime.fromtimestamp(bytes_to_int(base64_decode(token.rsplit(".", 2)[1])), UTC)
    return challenges.IssuedChallenge(found.code, token, issued + timedelta(seconds=ttl))


# The session key of this browser's random id: photos kept for a form are bound to it, so a
# form token replayed from another browser finds nothing (service.kept_uploads).
UPLOAD_SESSION = "upload_session"

# What the pre-send check answers when a photo passed, per field (plain words).
PHOTO_PASSED = {
    "id_document": _l("Your ID photo looks clear enough to read. It is kept with this form."),
    "id_document_back": _l("The back of your ID looks clear enough to read. It is kept with "
                           "this form."),
    "selfie": _l("Your selfie looks fine. It is kept with this form."),
}


def _holder(form) -> str:
    """The holder of this form's kept photos: its token (made now if it has none) and this
    browser session's id."""
    if not re.fullmatch(UPLOAD_TOKEN_PATTERN, form.upload_token.data or ""):
        form.upload_token.data = secrets.token_urlsafe(32)
    return service.holder_of(form.upload_token.data, _session_key())


def _sent_photos(form) -> dict[str, tuple[str | None, bytes]]:
    """The photos sent with this post, by field: (file name, bytes)."""
    sent = {}
    for kind in EVIDENCE_KINDS:
        storage = getattr(form, kind).data
        if storage and getattr(storage, "filename", None):
            sent[kind] = (storage.filename, storage.read())
    return sent


def _keep_sent(form, holder: str, sent: dict, skip: str | None = None) -> None:
    """Keep the photos of a form that comes back, each through the intake; a photo refused
    gets its reason beside its field."""
    photos = {kind: value for kind, value in sent.items() if kind != skip}
    refused = service.keep_photos(holder, photos, challenge=_challenge_type(form))
    for kind, err in refused.items():
        getattr(form, kind).errors = [*getattr(form, kind).errors, texts.evidence_refusal(err)]


def _stale_selfie(form, holder: str) -> str | None:
    """A new code makes a challenge selfie (which shows the old one) useless: the kept one is
    dropped and a selfie sent with this post is not kept; "selfie", the field to skip."""
    if not _challenge_type(form):
        return None
    service.forget_kept(holder, ("selfie",))
    return "selfie"


def _challenge_type(form) -> bool:
    return form.issue_type.data in current_app.config["CHALLENGE_ISSUE_TYPES"]


def _render_form(form, status: int = 200, *, fresh_challenge: bool = False,
                 holder: str | None = None):
    """The form, with the challenge code it carries (or a new one) when any type needs one,
    and the photos kept for it."""
    holder = holder or _holder(form)
    types = current_app.config["CHALLENGE_ISSUE_TYPES"]
    challenge = None
    if types:
        challenge = (None if fresh_challenge else _kept_challenge(form.challenge_token.data)) \
            or service.issue_challenge()
        form.challenge_token.data = challenge.token
    return render_template(
        "public/recover.html", form=form, challenge=challenge, challenge_types=types,
        challenge_labels=[texts.issue_label(t) for t in types if t in ISSUE_TYPES],
        minutes_left=_minutes_left(challenge), kept=service.kept_photos(holder),
        retention_days=round(service.retention_settings()["default"] / timedelta(days=1)),
    ), status


def _minutes_left(challenge) -> int | None:
    if challenge is None:
        return None
    return max(1, int((challenge.expires_at - datetime.now(UTC)).total_seconds() // 60))


@bp.route("/recover", methods=["GET", "POST"])
@submission_limit
@submission_email_limit
def recover():
    """The recovery request form; on success, a redirect to the confirmation (post/redirect/get).

    A form that comes back (an error, or a new challenge code asked for without JavaScript)
    keeps what was typed and the photos that passed the intake.
    """
    form = RecoveryForm()
    if not form.is_submitted():
        if request.args.get("issue_type") in ISSUE_TYPES:
            form.issue_type.data = request.args["issue_type"]
        return _render_form(form)
    holder = _holder(form)
    sent = _sent_photos(form)
    if "new_code" in request.form:
        # Nothing is validated: the person asked for a new code, not to send (CSRF was
        # checked for every post by CSRFProtect).
        _keep_sent(form, holder, sent, skip=_stale_selfie(form, holder))
        return _render_form(form, fresh_challenge=True, holder=holder)
    form.kept = set(service.kept_photos(holder))
    if not form.validate():
        _keep_sent(form, holder, sent)
        return _render_form(form, 400, holder=holder)
    files = {**service.kept_files(holder), **{kind: data for kind, (_, data) in sent.items()}}
    try:
        result = service.submit_request(
            submission_from(form, request.remote_addr, str(get_locale())), files)
    except service.EvidenceRejected as err:
        getattr(form, err.field).errors.append(texts.evidence_refusal(err))
        _keep_sent(form, holder, sent, skip=err.field)
        return _render_form(form, err.error.status, holder=holder)
    except service.MissingEvidence as err:
        getattr(form, err.field).errors.append(texts.missing_evidence(err))
        _keep_sent(form, holder, sent)
        return _render_form(form, 400, holder=holder)
    except service.ChallengeRefused as err:
        form.selfie.errors.append(texts.challenge_refusal(
            err, current_app.config["CHALLENGE_TTL_SECONDS"] // 60))
        _keep_sent(form, holder, sent, skip=_stale_selfie(form, holder))
        return _render_form(form, err.status, fresh_challenge=True, holder=holder)
    service.forget_kept(holder)
    session[FILED] = {"case_id": result.case.id, "token": result.tracking_token}
    return redirect(url_for("public.submitted"), 303)


def photo_check_rate() -> str:
    """RATELIMIT_PHOTO_CHECK: pre-send checks of a photo per client address."""
    return current_app.config["RATELIMIT_PHOTO_CHECK"]


@bp.post("/recover/check-photo")
@limiter.limit(photo_check_rate)
def check_photo():
    """The pre-send check of one photo of the form: the intake gate of a submission, answered
    in plain words as JSON; a photo that passes is kept for the form."""
    form = PhotoCheckForm()
    if not form.validate():
        return jsonify(ok=False, message=_("Please choose a photo and try again.")), 400
    kind = form.kind.data
    holder = service.holder_of(form.upload_token.data, _session_key())
    storage = form.photo.data
    try:
        kept = service.check_and_keep(holder, kind, storage.read(), storage.filename,
                                      challenge=form.issue_type.data in
                                      current_app.config["CHALLENGE_ISSUE_TYPES"])
    except service.EvidenceRejected as err:
        return jsonify(ok=False, field=kind, reason=err.error.code,
                       message=texts.evidence_refusal(err)), err.error.status
    return jsonify(ok=True, field=kind, filename=kept.filename,
                   message=str(PHOTO_PASSED[kind]))


def _session_key() -> str:
    """This browser session's random id (made on first use)."""
    if not isinstance(session.get(UPLOAD_SESSION), str):
        session[UPLOAD_SESSION] = secrets.token_urlsafe(32)
    return session[UPLOAD_SESSION]


@bp.post("/recover/new-code")
@limiter.limit(submission_rate)
def new_code():
    """A fresh challenge code for the form, as JSON (the form's "new code" button; CSRF is
    checked by CSRFProtect as for every post)."""
    challenge = service.issue_challenge()
    minutes = _minutes_left(challenge)
    return jsonify(ok=True, code=challenge.code, token=challenge.token,
                   expires_at=challenge.expires_at.isoformat(),
                   label=_("Verification code %(digits)s", digits=" ".join(challenge.code)),
                   expiry=_expiry_text(challenge.expires_at, minutes))


def _expiry_text(expires_at: datetime, minutes: int) -> str:
    """When a challenge code runs out, in the words (and the date format) of the form."""
    return _("The code is valid for %(minutes)s more minutes (until %(time)s UTC on %(day)s).",
             minutes=minutes, time=expires_at.strftime("%H:%M"),
             day=expires_at.strftime("%Y-%m-%d"))


@bp.get("/recover/submitted")
def submitted():
    """The confirmation of the request this browser just filed, with its tracking link."""
    filed = session.get(FILED)
    if not isinstance(filed, dict) or "token" not in filed:
        return redirect(url_for("public.recover"))
    status_url = url_for("public.status", token=filed["token"], _external=True)
    return render_template("public/submitted.html", case_id=filed["case_id"],
                           status_url=status_url)


def _render_status(token: str, case, status: int = 200, **forms):
    forms.setdefault("reply_form", ReplyForm())
    forms.setdefault("resubmit_form", ResubmitForm())
    forms.setdefault("withdraw_form", WithdrawForm())
    return render_template(
        "public/status.html", token=token, case=case,
        status_text=status_text(case.state, case.resolution,
                                has_account=case.account_id is not None),
        messages=[m for m in case.messages if not m.internal],
        actions=service.user_actions(case), issue_label=texts.issue_label(case.issue_type),
        hold_until=service.hold_until(case) if case.is_resolved else None,
        step_labels=RECOVERY_STEP_LABELS, **_progress_context(case), **forms,
    ), status


def _progress_context(case) -> dict:
    """What the status page's steps need: the step, and how long such requests take."""
    progress = service.case_progress(case)
    return {"progress": progress, "steps": service.STEPS,
            "expected": None if progress.step == "done" else service.expected_time(case),
            "refresh_seconds": current_app.config["STATUS_REFRESH_SECONDS"]}


@bp.get("/status/<token>")
@tracking_token_limit
def status(token: str):
    """The status page reached by the tracking link."""
    return _render_status(token, service.case_for_token(token))


def _no_files_sent() -> bool:
    return not any(storage.filename for storage in request.files.values())


@bp.post("/status/<token>/reply")
@tracking_token_limit
# A reply with screenshots is an upload: it counts against the uploads' budget too.
@limiter.limit(submission_rate, exempt_when=_no_files_sent)
def reply(token: str):
    """The user answers the agent."""
    form = ReplyForm()
    if not form.validate_on_submit():
        return _render_status(token, service.case_for_token(token), 400, reply_form=form)
    try:
        service.user_reply(token, form.body.data, form.screenshot_files())
    except service.EvidenceRejected as err:
        form.screenshots.errors.append(texts.evidence_refusal(err))
        return _render_status(token, service.case_for_token(token), err.error.status,
                              reply_form=form)
    except service.ActionRefused as err:
        flash(texts.translated(str(err)), "error")
    else:
        flash(_("Thank you, your message was sent."), "success")
    return redirect(url_for("public.status", token=token))


@bp.post("/status/<token>/resubmit")
@tracking_token_limit
@limiter.limit(submission_rate)
def resubmit(token: str):
    """The user sends new photos."""
    form = ResubmitForm()
    case = service.case_for_token(token)
    if not form.validate_on_submit():
        return _render_status(token, case, 400, resubmit_form=form)
    try:
        service.user_resubmit(token, uploaded_files(form))
    except service.EvidenceRejected as err:
        getattr(form, err.field).errors.append(texts.evidence_refusal(err))
        return _render_status(token, case, err.error.status, resubmit_form=form)
    except service.MissingEvidence as err:
        getattr(form, err.field).errors.append(texts.missing_evidence(err))
        return _render_status(token, case, 400, resubmit_form=form)
    except (service.ActionRefused, service.TransitionNotAllowed) as err:
        flash(texts.translated(str(err)), "error")
    else:
        flash(_("Thank you, we received your new photos and will check them."), "success")
    return redirect(url_for("public.status", token=token))


@bp.route("/status/<token>/withdraw", methods=["GET", "POST"])
@tracking_token_limit
def withdraw(token: str):
    """Withdrawing the request: a confirmation first (GET), then the confirmed POST."""
    case = service.case_for_token(token)
    form = WithdrawForm()
    # Only the confirmation page's button says "yes" (the form's default would say it for
    # any POST).
    confirmed = request.form.get("confirm") == "yes"
    if request.method == "GET" or not (form.validate_on_submit() and confirmed):
        if case.is_resolved:
            return redirect(url_for("public.status", token=token))
        status = 400 if request.method == "POST" else 200
        return render_template("public/withdraw_confirm.html", token=token, case=case,
                               form=form), status
    try:
        service.user_withdraw(token)
    except service.TransitionNotAllowed:
        flash(_("This request is already closed."), "error")
    else:
        flash(_("Your request was withdrawn."), "success")
    return redirect(url_for("public.status", token=token))


def reset_link_rate() -> str:
    """RATELIMIT_RESET_LINK: the reset page per client address."""
    return current_app.config["RATELIMIT_RESET_LINK"]


def _invalid_link():
    # One answer for unknown, expired and used links: the page tells nothing more.
    return render_template("public/link_invalid.html", element_id="reset-invalid",
                           message=texts.translated(str(service.ResetLinkInvalid())),
                           offer_new_request=True), 404


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(reset_link_rate)
def reset(token: str):
    """The local directory's reset page: a new password, set once with the emailed link."""
    try:
        link = service.reset_link_info(token)
    except service.ResetLinkInvalid:
        return _invalid_link()
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            service.redeem_reset_link(token, form.password.data)
        except service.ResetLinkInvalid:
            return _invalid_link()
        except service.PasswordRefused:
            form.password.errors.append(_("Choose a password of at least %(count)s characters.",
                                          count=service.PASSWORD_MIN_LENGTH))
        else:
            return redirect(url_for("public.reset_done"))
    status = 400 if form.is_submitted() else 200
    return render_template("public/reset.html", form=form, link=link,
                           min_length=service.PASSWORD_MIN_LENGTH), status


@bp.get("/reset/done")
def reset_done():
    """After a new password was set (a reload sets nothing twice)."""
    return render_template("public/reset_done.html")


def owner_link_rate() -> str:
    """RATELIMIT_OWNER_LINK: the "this wasn't me" page per client address."""
    return current_app.config["RATELIMIT_OWNER_LINK"]


def _invalid_owner_link():
    return render_template("public/link_invalid.html", element_id="not-me-invalid",
                           message=texts.translated(str(service.OwnerLinkInvalid()))), 404


@bp.route("/not-me/<token>", methods=["GET", "POST"])
@limiter.limit(owner_link_rate)
def not_me(token: str):
    """The owner of record's "this wasn't me": the request and what it would do (GET, so a
    mail scanner opening the link changes nothing), then the stop, confirmed (POST)."""
    try:
        view = service.owner_view(token)
    except service.OwnerLinkInvalid:
        return _invalid_owner_link()
    form = OwnerStopForm()
    if form.validate_on_submit():
        try:
            service.stop_by_owner(token)
        except service.OwnerLinkInvalid:
            return _invalid_owner_link()
        # The page then shows what the report stopped (a reload reports nothing twice).
        return redirect(url_for("public.not_me", token=token), 303)
    status = 400 if form.is_submitted() else 200
    return render_template("public/not_me.html", form=form, view=view), status


@bp.get("/status/<token>/progress")
@tracking_token_limit
def status_progress(token: str):
    """Where the request stands, for the status page's script while the checks run."""
    case = service.case_for_token(token)
    context = _progress_context(case)
    progress = context["progress"]
    return {"step": progress.step, "checks_running": progress.checks_running,
            "waiting_for_you": progress.waiting_for_you,
            "actions": service.user_actions(case),
            "html": render_template("public/_progress.html", case=case, **context)}


@bp.route("/tracking-link", methods=["GET", "POST"])
@tracking_link_limit
@tracking_link_email_limit
def tracking_link():
    """"Email me my tracking link": the same answer whether or not a request matches."""
    form = TrackingLinkForm()
    if form.validate_on_submit():
        service.request_tracking_links(form.email.data, str(get_locale() or "en"))
        return redirect(url_for("public.tracking_link_sent"), 303)
    return render_template("public/tracking_link.html", form=form), (
        400 if form.is_submitted() else 200)


@bp.get("/tracking-link/sent")
def tracking_link_sent():
    """The one answer to every ask, known address or not."""
    return render_template("public/tracking_link_sent.html")


def self_help_rate() -> str:
    """RATELIMIT_SELF_HELP: answers to the self-help guides per client address."""
    return current_app.config["RATELIMIT_SELF_HELP"]


# The signed session remembers the guides this browser answered today (issue types and the
# day, nothing else), so each counts once per browser and day.
HELP_ANSWERED = "help_answered"


def _first_answer_today(issue_type: str) -> bool:
    """Whether this browser has not answered this guide today yet (and now has)."""
    today = datetime.now(UTC).date().isoformat()
    answered = session.get(HELP_ANSWERED)
    if not isinstance(answered, dict) or answered.get("day") != today:
        answered = {"day": today, "types": []}
    if issue_type in answered["types"]:
        return False
    answered["types"] = [*answered["types"], issue_type]
    session[HELP_ANSWERED] = answered
    return True


@bp.route("/help/<issue_type>", methods=["GET", "POST"])
@limiter.limit(self_help_rate, methods=["POST"])
def help_guide(issue_type: str):
    """One issue type's fixes, with "This solved it" and "I still need help"."""
    guide = GUIDES.get(issue_type)
    if guide is None:
        abort(404)
    form = SelfHelpForm()
    if form.is_submitted():
        outcome = request.form.get("outcome")
        if not form.validate() or outcome not in service.OUTCOMES:
            flash(_("Please choose one of the two buttons."), "error")
            return render_template("public/help_guide.html", guide=guide,
                                   issue_type=issue_type, form=form), 400
        if _first_answer_today(issue_type):
            service.record_self_help(issue_type, outcome)
        if outcome == "solved":
            return redirect(url_for("public.help_solved"), 303)
        return redirect(url_for("public.recover", issue_type=issue_type), 303)
    return render_template("public/help_guide.html", guide=guide, issue_type=issue_type,
                           form=form)


@bp.get("/help/solved")
def help_solved():
    """After "This solved it"."""
    return render_template("public/help_solved.html")
