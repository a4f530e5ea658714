"""Working a case together: canned replies (macros) kept by admins, and who else has a case
open (the case page's notice of another agent's visit or change)."""

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from wtforms import BooleanField, StringField, TextAreaField

from . import service
from .auth import SEEN_AT, staff_required
from .forms import Form, MessageForm
from .models import MAX_ID, utcnow
from .states import Actor

bp = Blueprint("collab", __name__, url_prefix="/agent")

ADMIN = Actor.ADMIN.value
macros = service.macros


class MacroForm(Form):
    """A canned reply: its name, its text with placeholders, whether it is offered."""

    # Lengths, placeholders and the unique name are the service's to check (MacroInvalid).
    name = StringField("Name")
    body = TextAreaField("Reply")
    active = BooleanField("Offered to staff", default=True)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _macros_page(form: MacroForm, status: int = 200, macro=None):
    template = "agent/macro.html" if macro is not None else "agent/macros.html"
    return _no_store(make_response(render_template(
        template, form=form, macro=macro, macros=macros.all_macros(),
        placeholders={name: hint for name, (_, hint) in macros.PLACEHOLDERS.items()}), status))


def _refused(form: MacroForm, err: macros.MacroInvalid) -> None:
    getattr(form, err.field).errors = [*getattr(form, err.field).errors, str(err)]


@bp.get("/macros")
@staff_required(ADMIN)
def macro_list():
    """Admins: every canned reply, and a form for a new one."""
    return _macros_page(MacroForm())


@bp.post("/macros")
@staff_required(ADMIN)
def create_macro():
    """Admins: save a new canned reply (refused with why, nothing saved, when it is wrong)."""
    form = MacroForm()
    if not form.validate_on_submit():
        return _macros_page(form, 400)
    try:
        macro = macros.create_macro(form.name.data, form.body.data, by=current_user)
    except macros.MacroInvalid as err:
        _refused(form, err)
        return _macros_page(form, 422)
    flash(f"Macro “{macro.name}” saved: staff can insert it into a reply now.", "success")
    return redirect(url_for("collab.macro_list"), 303)


def _macro_or_404(macro_id: int):
    try:
        return macros.get_macro(macro_id)
    except macros.MacroNotFound:
        abort(404)


@bp.get("/macros/<id:macro_id>")
@staff_required(ADMIN)
def macro_page(macro_id: int):
    """Admins: one canned reply, to edit, stop offering or offer again."""
    macro = _macro_or_404(macro_id)
    return _macros_page(MacroForm(obj=macro), macro=macro)


@bp.post("/macros/<id:macro_id>")
@staff_required(ADMIN)
def update_macro(macro_id: int):
    """Admins: save changes to a canned reply (unticking *Offered* deactivates it)."""
    macro = _macro_or_404(macro_id)
    form = MacroForm()
    if not form.validate_on_submit():
        return _macros_page(form, 400, macro)
    try:
        macro = macros.update_macro(macro_id, form.name.data, form.body.data,
                                    form.active.data, by=current_user)
    except macros.MacroInvalid as err:
        _refused(form, err)
        return _macros_page(form, 422, macro)
    flash(f"Macro “{macro.name}” saved" + ("." if macro.active else ": no longer offered."),
          "success")
    return redirect(url_for("collab.macro_list"), 303)


def _macro_id(raw: str | None) -> int | None:
    if raw and len(raw) <= 10 and raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID:
        return int(raw)
    return None


@bp.get("/cases/<id:case_id>/reply")
@staff_required()
def reply(case_id: int):
    """A reply filled from a canned one (``?macro=ID``): as JSON for the case page's script,
    or, without JavaScript, a page with the reply box filled in to edit and send."""
    case = service.get_case(case_id)
    macro_id, macro, text, error, status = _macro_id(request.args.get("macro")), None, "", None, 200
    if macro_id is None:
        error, status = "Choose a canned reply from the list.", 400
    else:
        try:
            macro, text = macros.rendered_reply(macro_id, case, current_user)
        except (macros.MacroNotFound, macros.MacroInvalid):
            error, status = "That canned reply is not offered any more: choose another.", 404
    wants_json = (request.accept_mimetypes.best_match(["text/html", "application/json"])
                  == "application/json")
    if wants_json:
        body = {"error": error} if error else {"macro": macro.id, "name": macro.name,
                                                "body": text}
        response = make_response(jsonify(body), status)
    else:
        form = MessageForm(formdata=None, body=text)
        response = make_response(render_template(
            "agent/macros_reply.html", case=case, form=form, chosen=macro_id, error=error),
            status)
    response.headers["Vary"] = "Accept"
    return _no_store(response)


def ago(then: datetime, now: datetime) -> str:
    """How long ago ``then`` was, in words: just now, 20 seconds ago, 3 minutes ago."""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds} seconds ago"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} minute{'' if minutes == 1 else 's'} ago"
    hours = minutes // 60
    return f"{hours} hour{'' if hours == 1 else 's'} ago"


def _viewer_notes(viewers, now: datetime) -> list[dict]:
    return [{"agent_id": v.agent_id, "name": v.name, "opened_at": v.opened_at.isoformat(),
             "seconds_ago": max(0, int((now - v.opened_at).total_seconds())),
             "notice": f"{v.name} opened this case {ago(v.opened_at, now)}."}
            for v in viewers]


@bp.app_template_global()
def case_presence_notes(case) -> list[dict]:
    """The other staff on ``case`` for the case page as it is drawn (a page without
    JavaScript still says who was there when it loaded)."""
    if not current_user.is_authenticated:
        return []
    return _viewer_notes(service.presence.viewers(case.id, current_user), utcnow())


@bp.app_template_global()
def reply_macros() -> list:
    """The canned replies offered on the case page's picker."""
    return macros.active_macros() if current_user.is_authenticated else []


@bp.before_request
def _keep_idle_time() -> None:
    """Note when the agent last did something, before their session is loaded: a page left
    open polls on its own, and that must not keep an idle session alive."""
    if request.endpoint == "collab.presence":
        g.presence_seen_at = session.get(SEEN_AT)


@bp.get("/cases/<id:case_id>/presence")
@staff_required()
def presence(case_id: int):
    """The case page's heartbeat: note this agent as there; answer who else is, the case's
    version and its last change. Never cached; the session's idle clock is left as it was
    (SESSION_IDLE_SECONDS still ends a session only this page's polls keep asking)."""
    if g.get("presence_seen_at") is not None:
        session[SEEN_AT] = g.presence_seen_at
    found = service.presence.heartbeat(case_id, current_user)
    now = utcnow()
    change = found.change
    by = None
    if change is not None:
        by = "You" if change.by_agent_id == current_user.id else change.by
    return _no_store(make_response(jsonify({
        "viewers": _viewer_notes(found.viewers, now),
        "version": found.version,
        "changed_by": by,
        "changed_at": change.at.isoformat() if change else None,
        "change": change.what if change else None,
        "change_notice": (f"{by} changed this case ({change.what}) {ago(change.at, now)}."
                          if change else None),
        "poll_seconds": current_app.config["PRESENCE_POLL_SECONDS"],
    })))
