"""Pages for the person recovering their account: the request form and the status page."""

from datetime import UTC, datetime, timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous.encoding import base64_decode, bytes_to_int

from extensions import limiter
from rate_limits import (
    submission_email_limit,
    submission_limit,
    submission_rate,
    tracking_token_limit,
)
from verification import challenge as challenges

from . import service
from .forms import (
    OwnerStopForm,
    RecoveryForm,
    ReplyForm,
    ResetPasswordForm,
    ResubmitForm,
    WithdrawForm,
    submission_from,
    uploaded_files,
)
from .states import ISSUE_TYPES, RECOVERY_STEP_LABELS, status_text

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
    """The desk's front door is the request form."""
    return redirect(url_for("public.recover"))


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


def _render_form(form, status: int = 200, *, fresh_challenge: bool = False):
    """The form, with the challenge code it carries (or a new one) when any type needs one."""
    types = current_app.config["CHALLENGE_ISSUE_TYPES"]
    challenge = None
    if types:
        challenge = (None if fresh_challenge else _kept_challenge(form.challenge_token.data)) \
            or service.issue_challenge()
        form.challenge_token.data = challenge.token
    minutes_left = None
    if challenge is not None:
        minutes_left = max(1, int((challenge.expires_at - datetime.now(UTC)).total_seconds()
                                  // 60))
    return render_template(
        "public/recover.html", form=form, challenge=challenge, challenge_types=types,
        challenge_labels=[ISSUE_TYPES[t] for t in types if t in ISSUE_TYPES],
        minutes_left=minutes_left,
        retention_days=round(service.retention_settings()["default"] / timedelta(days=1)),
    ), status


@bp.route("/recover", methods=["GET", "POST"])
@submission_limit
@submission_email_limit
def recover():
    """The recovery request form; on success, a redirect to the confirmation (post/redirect/get)."""
    form = RecoveryForm()
    if not form.is_submitted():
        return _render_form(form)
    if not form.validate():
        return _render_form(form, 400)
    try:
        result = service.submit_request(submission_from(form, request.remote_addr),
                                        uploaded_files(form))
    except service.EvidenceRejected as err:
        getattr(form, err.field).errors.append(err.error.message)
        return _render_form(form, err.error.status)
    except service.MissingEvidence as err:
        getattr(form, err.field).errors.append(str(err))
        return _render_form(form, 400)
    except service.ChallengeRefused as err:
        form.selfie.errors.append(str(err))
        return _render_form(form, err.status, fresh_challenge=True)
    session[FILED] = {"case_id": result.case.id, "token": result.tracking_token}
    return redirect(url_for("public.submitted"), 303)


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
        actions=service.user_actions(case), issue_label=ISSUE_TYPES[case.issue_type],
        hold_until=service.hold_until(case) if case.is_resolved else None,
        step_labels=RECOVERY_STEP_LABELS, **forms,
    ), status


@bp.get("/status/<token>")
@tracking_token_limit
def status(token: str):
    """The status page reached by the tracking link."""
    return _render_status(token, service.case_for_token(token))


@bp.post("/status/<token>/reply")
@tracking_token_limit
def reply(token: str):
    """The user answers the agent."""
    form = ReplyForm()
    if not form.validate_on_submit():
        return _render_status(token, service.case_for_token(token), 400, reply_form=form)
    try:
        service.user_reply(token, form.body.data, form.screenshot_files())
    except service.EvidenceRejected as err:
        form.screenshots.errors.append(err.error.message)
        return _render_status(token, service.case_for_token(token), err.error.status,
                              reply_form=form)
    except service.ActionRefused as err:
        flash(str(err), "error")
    else:
        flash("Thank you, your message was sent.", "success")
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
        getattr(form, err.field).errors.append(err.error.message)
        return _render_status(token, case, err.error.status, resubmit_form=form)
    except service.MissingEvidence as err:
        getattr(form, err.field).errors.append(str(err))
        return _render_status(token, case, 400, resubmit_form=form)
    except (service.ActionRefused, service.TransitionNotAllowed) as err:
        flash(str(err), "error")
    else:
        flash("Thank you, we received your new photos and will check them.", "success")
    return redirect(url_for("public.status", token=token))


@bp.post("/status/<token>/withdraw")
@tracking_token_limit
def withdraw(token: str):
    """The user withdraws the request."""
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            service.user_withdraw(token)
        except service.TransitionNotAllowed:
            flash("This request is already closed.", "error")
        else:
            flash("Your request was withdrawn.", "success")
    return redirect(url_for("public.status", token=token))


def reset_link_rate() -> str:
    """RATELIMIT_RESET_LINK: the reset page per client address."""
    return current_app.config["RATELIMIT_RESET_LINK"]


def _invalid_link():
    # One answer for unknown, expired and used links: the page tells nothing more.
    return render_template("public/link_invalid.html", element_id="reset-invalid",
                           message=str(service.ResetLinkInvalid()), offer_new_request=True), 404


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
        except service.PasswordRefused as err:
            form.password.errors.append(str(err))
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
                           message=str(service.OwnerLinkInvalid())), 404


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
