"""The agent console: sign-in, the queue, the case page and its one-click actions."""

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from wtforms import SelectChoice

from extensions import db, limiter
from verification.checks import REASONS, stage_results

from . import service
from .auth import staff_required
from .forms import AssignForm, EventForm, LoginForm, MessageForm
from .models import Agent, Evidence
from .states import ACTIVE_STATES, ISSUE_TYPES, State

bp = Blueprint("agent", __name__, url_prefix="/agent")

# Far beyond any real queue; keeps OFFSET within what the database accepts.
MAX_PAGE = 100_000
QUEUE_VIEWS = {"active": ACTIVE_STATES, "all": None, **{s.value: (s,) for s in State}}


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("agent.queue")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Agent sign-in."""
    if current_user.is_authenticated:
        return redirect(url_for("agent.queue"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        agent = service.authenticate(form.email.data, form.password.data)
        if agent is not None:
            login_user(agent)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("Wrong email or password.")
        status = 401
    return render_template("agent/login.html", form=form), status


@bp.post("/logout")
@staff_required()
def logout():
    """Sign out."""
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("agent.login"))


@bp.get("/")
@staff_required()
def queue():
    """The queue: filter by state, issue type and assignment; oldest first; paginated."""
    view = request.args.get("state", "active")
    if view not in QUEUE_VIEWS:
        view = "active"
    issue_type = request.args.get("issue_type") or None
    if issue_type not in ISSUE_TYPES:
        issue_type = None
    assigned = request.args.get("assigned", "")
    query = service.queue_query(
        states=QUEUE_VIEWS[view], issue_type=issue_type,
        assignee_id=current_user.id if assigned == "mine" else None,
        unassigned=assigned == "unassigned",
    )
    raw_page = request.args.get("page", "1")
    number = int(raw_page) if raw_page.isascii() and raw_page.isdigit() else 1
    page = db.paginate(query, page=min(max(number, 1), MAX_PAGE), error_out=False,
                       per_page=current_app.config["QUEUE_PAGE_SIZE"])
    return render_template("agent/queue.html", page=page, view=view, issue_type=issue_type,
                           assigned=assigned, views=QUEUE_VIEWS, issue_types=ISSUE_TYPES)


def _render_case(case, status: int = 200, error: str | None = None, **forms):
    agents = db.session.scalars(sa.select(Agent).where(Agent.active).order_by(Agent.name)).all()
    assign_form = forms.pop("assign_form", None) or AssignForm(version=case.version)
    assign_form.assignee_id.choices = [SelectChoice(value="", label="Nobody")] + [
        SelectChoice(value=a.id, label=a.name) for a in agents]
    account = case.account
    return render_template(
        "agent/case.html", case=case, account=account, error=error,
        actions=service.allowed_events(case, current_user.actors),
        event_form=forms.pop("event_form", None) or EventForm(version=case.version),
        message_form=forms.pop("message_form", None) or MessageForm(),
        assign_form=assign_form, issue_types=ISSUE_TYPES,
        stages=stage_results(case.checks, case.evidence_attempt), reasons=REASONS,
        reading=case.current_reading(),
        latest={c.check: c for c in case.checks if c.attempt == case.evidence_attempt},
        is_lead=current_user.role in ("security_lead", "admin"),
    ), status


@bp.get("/cases/<id:case_id>")
@staff_required()
def case(case_id: int):
    """Everything about one case, and exactly the actions allowed now."""
    return _render_case(service.get_case(case_id))


@bp.post("/cases/<id:case_id>/events")
@staff_required()
def fire(case_id: int):
    """One click: fire an event with the version the agent saw."""
    form = EventForm()
    if not form.validate_on_submit():
        return _render_case(service.get_case(case_id), 400, "The action was incomplete; "
                            "reload the case and try again.")
    try:
        service.fire_event(case_id, form.event.data, agent=current_user,
                           expected_version=form.version.data, reason=form.reason.data)
    except service.StaleCase as err:
        db.session.expire_all()
        return _render_case(service.get_case(case_id), 409, str(err))
    except (service.TransitionNotAllowed, service.ReasonRequired) as err:
        db.session.expire_all()
        message = str(err)
        if isinstance(err, service.ReasonRequired):
            message = "Please write a reason for this action."
        return _render_case(service.get_case(case_id), 422, message)
    flash("Done.", "success")
    return redirect(url_for("agent.case", case_id=case_id))


@bp.post("/cases/<id:case_id>/assign")
@staff_required()
def assign(case_id: int):
    """Claim (assign to yourself), assign to someone else, or release."""
    form = AssignForm()
    form.assignee_id.choices = []
    if not form.validate_on_submit():
        return _render_case(service.get_case(case_id), 400, "Reload the case and try again.")
    action = request.form.get("action", "assign")
    try:
        if action == "claim":
            service.claim_case(case_id, current_user, form.version.data)
        else:
            assignee = None if action == "release" else form.assignee_id.data
            service.assign_case(case_id, current_user, assignee, form.version.data)
    except service.StaleCase as err:
        db.session.expire_all()
        return _render_case(service.get_case(case_id), 409, str(err))
    except service.ActionRefused as err:
        db.session.expire_all()
        return _render_case(service.get_case(case_id), 422, str(err))
    return redirect(url_for("agent.case", case_id=case_id))


@bp.post("/cases/<id:case_id>/messages")
@staff_required()
def message(case_id: int):
    """Write to the user or add an internal note."""
    form = MessageForm()
    if not form.validate_on_submit():
        return _render_case(service.get_case(case_id), 400, None, message_form=form)
    try:
        service.add_staff_message(case_id, current_user, form.body.data,
                                  internal=form.internal.data)
    except service.ActionRefused as err:
        return _render_case(service.get_case(case_id), 422, str(err), message_form=form)
    flash("Note added." if form.internal.data else "Message sent to the user.", "success")
    return redirect(url_for("agent.case", case_id=case_id))


@bp.get("/cases/<id:case_id>/evidence/<id:evidence_id>")
@staff_required()
def evidence(case_id: int, evidence_id: int):
    """A photo of a case, only for signed-in staff, never cached by shared caches."""
    item = db.session.get(Evidence, evidence_id)
    if item is None or item.case_id != case_id:
        abort(404)
    response = make_response(item.data)
    response.headers["Content-Type"] = item.mime_type
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="case-{case_id}-{item.kind}"'
    return response
