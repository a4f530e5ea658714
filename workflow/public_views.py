"""Pages for the person recovering their account: the request form and the status page."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from extensions import limiter

from . import service
from .forms import RecoveryForm, ReplyForm, ResubmitForm, WithdrawForm
from .states import ISSUE_TYPES, status_text

bp = Blueprint("public", __name__)

EVIDENCE_FIELDS = ("id_document", "id_document_back", "selfie")


def uploaded_files(form) -> dict[str, bytes | None]:
    """The bytes of each photo field of ``form``; None for a field left empty."""
    files = {}
    for name in EVIDENCE_FIELDS:
        field = getattr(form, name, None)
        storage = field.data if field is not None else None
        files[name] = storage.read() if storage and getattr(storage, "filename", None) else None
    return files


def submission_from(form, client_ip: str | None) -> service.Submission:
    """The service's view of a validated RecoveryForm."""
    return service.Submission(
        email=form.email.data, full_name=form.full_name.data,
        date_of_birth=form.date_of_birth.data, issue_type=form.issue_type.data,
        description=form.description.data or "", consent=bool(form.consent.data),
        client_ip=client_ip,
    )


def _submission_limit() -> str:
    return current_app.config["RATELIMIT_SUBMISSION"]


def _status_limit() -> str:
    return current_app.config["RATELIMIT_STATUS"]


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


@bp.route("/recover", methods=["GET", "POST"])
@limiter.limit(_submission_limit, methods=["POST"])
def recover():
    """The recovery request form; on success, the confirmation with the tracking link."""
    form = RecoveryForm()
    status = 200
    if form.validate_on_submit():
        try:
            result = service.submit_request(submission_from(form, request.remote_addr),
                                            uploaded_files(form))
        except service.EvidenceRejected as err:
            getattr(form, err.field).errors.append(err.error.message)
            status = err.error.status
        except service.MissingEvidence as err:
            getattr(form, err.field).errors.append(str(err))
            status = 400
        else:
            status_url = url_for("public.status", token=result.tracking_token, _external=True)
            return render_template("public/submitted.html", case=result.case,
                                   status_url=status_url), 201
    elif request.method == "POST":
        status = 400
    return render_template("public/recover.html", form=form), status


def _render_status(token: str, case, status: int = 200, **forms):
    forms.setdefault("reply_form", ReplyForm())
    forms.setdefault("resubmit_form", ResubmitForm())
    forms.setdefault("withdraw_form", WithdrawForm())
    return render_template(
        "public/status.html", token=token, case=case,
        status_text=status_text(case.state, case.resolution),
        messages=[m for m in case.messages if not m.internal],
        actions=service.user_actions(case), issue_label=ISSUE_TYPES[case.issue_type], **forms,
    ), status


@bp.get("/status/<token>")
@limiter.limit(_status_limit)
def status(token: str):
    """The status page reached by the tracking link."""
    return _render_status(token, service.case_for_token(token))


@bp.post("/status/<token>/reply")
@limiter.limit(_status_limit)
def reply(token: str):
    """The user answers the agent."""
    form = ReplyForm()
    if not form.validate_on_submit():
        return _render_status(token, service.case_for_token(token), 400, reply_form=form)
    try:
        service.user_reply(token, form.body.data)
    except service.ActionRefused as err:
        flash(str(err), "error")
    else:
        flash("Thank you, your message was sent.", "success")
    return redirect(url_for("public.status", token=token))


@bp.post("/status/<token>/resubmit")
@limiter.limit(_submission_limit)
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
@limiter.limit(_status_limit)
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
