"""The agent console: sign-in, the queue, the case page and its one-click actions."""

from urllib.parse import parse_qsl, urlencode, urlsplit

import segno
import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from wtforms import SelectChoice

from extensions import db, limiter
from verification.checks import REASONS, stage_results

from . import case_view, credentials, rules, service
from .auth import (
    backoff_policies,
    begin_sign_in,
    end_session,
    pending_agent,
    remember_device,
    signin_keys,
    staff_required,
    start_session,
)
from .forms import (
    TRIED_FIX_LABELS,
    ActionForm,
    AssignForm,
    BulkForm,
    EventForm,
    Form,
    LoginForm,
    MessageForm,
    NotMeForm,
    ProposalForm,
    SaveViewForm,
    SecondFactorForm,
    TakeOverForm,
    TokenForm,
    VersionForm,
)
from .models import Agent, Evidence, RecoveryCase, utcnow
from .states import ACTIVE_STATES, ISSUE_TYPES, LEAD_ROLES, RECOVERY_STEP_LABELS, Actor, State

bp = Blueprint("agent", __name__, url_prefix="/agent")


@bp.context_processor
def _support_labels():
    """The labels of the fixes a person may say they tried (agent/_support_details.html)."""
    return {"tried_fix_labels": TRIED_FIX_LABELS}

# Far beyond any real queue; keeps OFFSET within what the database accepts.
MAX_PAGE = 100_000
QUEUE_VIEWS = {"active": ACTIVE_STATES, "all": None, **{s.value: (s,) for s in State}}


# The session's note of a token just created: its id and the pad that unmasks it, once.
NEW_TOKEN = "new_api_token"
ADMIN = Actor.ADMIN.value


@bp.record_once
def _check_token_settings(state) -> None:
    """Refuse to start with API token lifetimes that are not day counts."""
    try:
        service.token_lifetimes(state.app.config)
    except service.TokenSettingsInvalid as err:
        raise RuntimeError(str(err)) from None


@bp.errorhandler(service.CaseClaimed)
def _claimed(err: service.CaseClaimed):
    """Another agent holds the case: say who, change nothing, show the case again."""
    db.session.rollback()
    flash(str(err), "error")
    return redirect(url_for("agent.case", case_id=request.view_args["case_id"]))


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("agent.queue")


def _too_soon(keys: list[str]):
    """Count this attempt against ``keys`` (taken back if it turns out right), or, while the
    back-off of any of them lasts, the refusal to give instead of trying it."""
    wait = service.start_signin_attempt(keys, backoff_policies())
    if wait is None:
        return None
    service.audit.record_now("signin.failure", actor="anonymous",
                             detail={"reason": "backing_off"})
    return f"Too many failed sign-ins: please try again in {credentials.wait_words(wait)}.", wait


def _waiting(template: str, form, field, refusal, **context):
    message, wait = refusal
    field.errors.append(message)
    response = make_response(render_template(template, form=form, **context), 429)
    response.headers["Retry-After"] = str(max(1, int(-(-wait.total_seconds() // 1))))
    return response


def _next_step(agent: Agent):
    step = "agent.second_factor" if agent.totp_enabled_at else "agent.enrol"
    return redirect(url_for(step, next=_safe_next(request.args.get("next"))))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Agent sign-in, step one: the password. The second factor comes next."""
    if current_user.is_authenticated:
        return redirect(url_for("agent.queue"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        keys = signin_keys(form.email.data)
        refusal = _too_soon(keys)
        if refusal is not None:
            return _waiting("agent/login.html", form, form.password, refusal)
        agent = service.authenticate(form.email.data, form.password.data)
        if agent is not None:
            service.signin_attempt_passed(keys)
            if agent.totp_enabled_at is None:
                service.restart_enrolment(agent.id)
            begin_sign_in(agent)
            return _next_step(agent)
        form.password.errors.append("Wrong email or password.")
        status = 401
    return render_template("agent/login.html", form=form), status


def _pending_or_restart():
    agent = pending_agent()
    if agent is None:
        flash("Please sign in again: the second step must follow the password within "
              "a few minutes.", "info")
    return agent


def _signed_in(agent: Agent, keys: list[str], response):
    """Step two passed: the session starts on an emptied cookie, this browser is trusted."""
    service.signin_attempt_passed(keys, signed_in=True)
    start_session(agent)
    return remember_device(response, agent)


def _code_step(agent: Agent, template: str, attempt, wrong: str, **context):
    """The form of a second sign-in step: the back-off first, then ``attempt(code, keys)``,
    which answers on success or gives None; a wrong code counts as a failure."""
    form = SecondFactorForm()
    status = 200
    if form.validate_on_submit():
        keys = signin_keys(agent.email)
        refusal = _too_soon(keys)
        if refusal is not None:
            return _waiting(template, form, form.code, refusal, **context)
        done = attempt(form.code.data, keys)
        if done is not None:
            return done
        form.code.errors.append(wrong)  # counted already
        status = 401
    return make_response(render_template(template, form=form, **context), status)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def second_factor():
    """Agent sign-in, step two: a code from the authenticator app, or a recovery code."""
    agent = _pending_or_restart()
    if agent is None:
        return redirect(url_for("agent.login"))
    if agent.totp_enabled_at is None:
        return _next_step(agent)

    def attempt(code: str, keys: list[str]):
        verdict = service.check_second_factor(agent.id, code)
        if not verdict.accepted:
            return None
        response = _signed_in(agent, keys, redirect(_safe_next(request.args.get("next"))))
        if verdict.recovery_code:  # after the session started: it starts empty
            flash(f"You signed in with a recovery code; {verdict.codes_left} of them left. "
                  "Each works once"
                  + (": make new ones under Security." if verdict.codes_left <= 3 else "."),
                  "info")
        return response

    return _code_step(agent, "agent/second_factor.html", attempt,
                      "That code is wrong, expired or was used already.")


def _no_store(response):
    """A page with a secret on it (a TOTP secret, recovery codes): never cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _recovery_codes_page(codes: list[str], next_url: str):
    return _no_store(make_response(render_template("agent/recovery_codes.html", codes=codes,
                                                   next_url=next_url)))


@bp.route("/login/enrol", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def enrol():
    """First sign-in: set up an authenticator app from a QR code drawn here, confirm it with
    its first code, and receive ten recovery codes, shown this once."""
    agent = _pending_or_restart()
    if agent is None:
        return redirect(url_for("agent.login"))
    secret = service.enrolment_secret(agent.id)
    if secret is None:
        return _next_step(agent)

    def attempt(code: str, keys: list[str]):
        codes = service.enable_second_factor(agent.id, code)
        if codes is None:
            return None
        return _signed_in(agent, keys, _recovery_codes_page(
            codes, _safe_next(request.args.get("next"))))

    return _no_store(_code_step(
        agent, "agent/enrol.html", attempt, "That code is not the one the app shows now: "
        "check that the phone's clock is set automatically, and try again.",
        **_enrolment(agent, secret)))


def _enrolment(agent: Agent, secret: str) -> dict:
    uri = credentials.provisioning_uri(secret, agent.email, current_app.config["TOTP_ISSUER"])
    # A border of 4 modules: the quiet zone the QR standard asks for, which readers rely on.
    return {"qr_code": segno.make(uri, error="m").png_data_uri(scale=5, border=4),
            "secret_groups": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))}


@bp.route("/security", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@staff_required()
def security():
    """The agent's own second factor: recovery codes left, and new ones for a current code
    (guessed codes back off as at sign-in)."""
    form = SecondFactorForm()
    status = 200
    context = {"codes_left": service.recovery_codes_left(current_user.id)}
    if form.validate_on_submit():
        keys = signin_keys(current_user.email)
        refusal = _too_soon(keys)
        if refusal is not None:
            return _waiting("agent/security.html", form, form.code, refusal, **context)
        codes = service.renew_recovery_codes(current_user.id, form.code.data)
        if codes is not None:
            service.signin_attempt_passed(keys)
            return _recovery_codes_page(codes, url_for("agent.security"))
        form.code.errors.append("That code is wrong, expired or was used already.")
        status = 422
    return render_template("agent/security.html", form=form, **context), status


@bp.post("/staff/<id:agent_id>/second-factor/reset")
@staff_required("admin")
def reset_second_factor(agent_id: int):
    """An admin takes away another agent's second factor (a lost phone): they enrol again."""
    if not Form().validate_on_submit():
        abort(400)
    if agent_id == current_user.id:
        flash("You cannot reset your own second factor: use a recovery code, or ask another "
              "admin.", "error")
        return redirect(url_for("agent.staff_member", agent_id=agent_id))
    try:
        agent = service.reset_second_factor(agent_id, by=current_user)
    except service.AgentNotFound:
        abort(404)
    flash(f"{agent.name}'s second factor was reset: their sessions ended, and they set up "
          "an authenticator app again at their next sign-in.", "success")
    return redirect(url_for("agent.staff_member", agent_id=agent_id))


@bp.post("/logout")
@staff_required()
def logout():
    """Sign out: every session of this agent ends, in every browser."""
    service.end_sessions(current_user.id)
    end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("agent.login"))


# The queue's filters as its query string; a saved view stores these (and nothing else).
QUEUE_ARGS = ("q", "state", "issue_type", "risk", "assigned", "sla")


def parse_qs_args(text: str) -> dict[str, str]:
    """A query string as a dict (the last value of each key)."""
    try:
        return dict(parse_qsl(text[:2000], max_num_fields=20))
    except ValueError:  # more fields than any queue has: nothing of it is kept
        return {}


def _queue_args(args) -> dict[str, str]:
    """The queue's filters from a query string, text only and cut to a sane length."""
    return {key: args.get(key, "")[:service.console.MAX_QUERY] for key in QUEUE_ARGS
            if args.get(key)}


def countdown(due, now) -> str:
    """ "due in 1 h 20 min" or "overdue by 35 min": the SLA countdown of the queue."""
    seconds = int((due - now).total_seconds())
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if not days and (minutes or not hours):
        parts.append(f"{minutes} min")
    return ("due in " if seconds >= 0 else "overdue by ") + " ".join(parts)


def _render_queue(status: int = 200, *, error: str | None = None, outcomes=(),
                  save_form=None, bulk_form=None):
    """The queue: search, filters, saved views; what is due first; paginated."""
    # Escalated cases are the security leads' alone: no tab for them otherwise.
    views = {name: states for name, states in QUEUE_VIEWS.items()
             if name != State.ESCALATED.value or current_user.role in LEAD_ROLES}
    args = _queue_args(request.args)
    view = args.get("state", "active")
    if view not in views:
        view = "active"
    issue_type = args.get("issue_type") if args.get("issue_type") in ISSUE_TYPES else None
    search = service.console.QueueSearch(
        q=args.get("q", ""), states=views[view], issue_type=issue_type,
        risk=args.get("risk"), assigned=args.get("assigned", ""), sla=args.get("sla"))
    now = utcnow()
    query = service.console.search_query(search, current_user, now)
    raw_page = request.args.get("page", "1")
    number = int(raw_page) if raw_page.isascii() and raw_page.isdigit() else 1
    page = db.paginate(query, page=min(max(number, 1), MAX_PAGE), error_out=False,
                       per_page=current_app.config["QUEUE_PAGE_SIZE"])
    badges = {c.id: service.sla_badge(c.sla, now) for c in page.items}
    agents = db.session.scalars(sa.select(Agent).where(Agent.active).order_by(Agent.name)).all()
    return render_template(
        "agent/queue.html", page=page, view=view, issue_type=issue_type, search=search,
        searched=service.console.read_query(search.q), args=args, here=urlencode(args),
        views=views,
        issue_types=ISSUE_TYPES, badges=badges, now=now, countdown=countdown,
        risks=service.console.risk_levels([c.id for c in page.items]),
        risk_levels=service.console.RISK_LEVELS, sla_badges=service.console.SLA_BADGES,
        agents=agents, saved=service.console.views_for(current_user),
        save_form=save_form or SaveViewForm(query=urlencode(args)),
        bulk_form=bulk_form or BulkForm(), action_form=ActionForm(), error=error,
        outcomes=outcomes, is_lead=current_user.role in LEAD_ROLES,
    ), status


@bp.get("/")
@staff_required()
def queue():
    """The queue: search and filter (state, issue type, risk, assignee, SLA badge); what is
    due first; paginated."""
    return _render_queue()


def _back_to_queue(query: str):
    """Back to the queue with the filters the form was sent from."""
    return redirect(url_for("agent.queue") + (f"?{query}" if query else ""))


@bp.post("/views")
@staff_required()
def save_view():
    """Save the current search and filters as a named view (the same name replaces it)."""
    form = SaveViewForm()
    query = urlencode(_queue_args(parse_qs_args(form.query.data or "")))
    if not form.validate_on_submit():
        return _render_queue(400, error=" ".join(sum(form.errors.values(), []))
                             or "Reload the queue and try again.", save_form=form)
    try:
        saved = service.console.save_view(current_user, form.name.data, query,
                                          shared=form.shared.data)
    except service.console.BadView as err:
        return _render_queue(422, error=str(err), save_form=form)
    flash(f"View “{saved.name}” saved.", "success")
    return _back_to_queue(query)


@bp.post("/views/<id:view_id>/delete")
@staff_required()
def delete_view(view_id: int):
    """Delete one of your own saved views."""
    if not ActionForm().validate_on_submit():
        return _render_queue(400, error="Reload the queue and try again.")
    try:
        name = service.console.delete_view(current_user, view_id)
    except service.console.BadView as err:
        return _render_queue(404, error=str(err))
    flash(f"View “{name}” deleted.", "success")
    return redirect(url_for("agent.queue"))


def _selected_cases(values: list[str]) -> dict[int, int | None] | None:
    """The ticked rows, each "case id:version seen"; None when one is not of that form."""
    selected: dict[int, int | None] = {}
    for value in values:
        case_id, _, version = value.partition(":")
        if not (case_id.isascii() and case_id.isdigit() and version.isascii()
                and version.isdigit() and len(case_id) <= 10 and len(version) <= 10):
            return None
        selected[int(case_id)] = int(version)
    return selected


@bp.post("/bulk")
@staff_required()
def bulk():
    """Assign, or close as duplicates, the cases ticked on the queue: each case on its own,
    and what happened to each said in plain words."""
    form = BulkForm()
    selected = _selected_cases(request.form.getlist("case"))
    if not form.validate_on_submit() or selected is None:
        return _render_queue(400, error="The selection was incomplete; reload the queue and "
                             "try again.", bulk_form=form)
    try:
        if form.action.data == "assign":
            outcomes = service.console.bulk_assign(current_user, selected,
                                                   (form.assignee.data or "").strip())
        else:
            outcomes = service.console.bulk_close_duplicates(current_user, selected,
                                                             form.original.data or "",
                                                             form.note.data or "")
    except service.ActionRefused as err:
        return _render_queue(422, error=str(err), bulk_form=form)
    failed = [o for o in outcomes if not o.done]
    return _render_queue(200 if not failed else 422, outcomes=outcomes)


def _render_case(case, status: int = 200, error: str | None = None, **forms):
    agents = db.session.scalars(sa.select(Agent).where(Agent.active).order_by(Agent.name)).all()
    assign_form = forms.pop("assign_form", None) or AssignForm(version=case.version)
    assign_form.assignee_id.choices = [SelectChoice(value="", label="Nobody")] + [
        SelectChoice(value=a.id, label=a.name) for a in agents]
    account = case.account
    # One row per action: a trigger may have several rows, of which one applies now.
    actions = list({row.trigger: row for row in
                    service.allowed_events(case, current_user.actors, current_user.id)}.values())
    is_lead = current_user.role in LEAD_ROLES
    photos = {e.kind: e for e in case.current_evidence()}
    now = utcnow()
    outlook = service.approval_outlook(case, current_user)
    limits = current_app.config
    return render_template(
        "agent/case.html", case=case, account=account, error=error, actions=actions,
        needs_reason={row.trigger: service.reason_needed(case, row) for row in actions},
        event_form=forms.pop("event_form", None) or EventForm(version=case.version),
        message_form=forms.pop("message_form", None) or MessageForm(),
        not_me_form=forms.pop("not_me_form", None) or NotMeForm(),
        proposal_form=forms.pop("proposal_form", None) or ProposalForm(version=case.version),
        outlook=outlook, approval_source=case.state in rules.approval_sources(),
        nothing_to_recover=None if outlook.has_account else rules.nothing_to_recover(case),
        action_form=ActionForm(), assign_form=assign_form, issue_types=ISSUE_TYPES,
        stages=stage_results(case.checks, case.evidence_attempt), reasons=REASONS,
        check_tree=case_view.check_tree(case.checks, case.evidence_attempt),
        timeline=case_view.timeline(case), ago=case_view.ago,
        workload=service.agent_workload(current_user, now,
                                        shown=limits["CASE_PAGE_WORKLOAD_SHOWN"]),
        earlier_cases=service.earlier_cases(case, current_user.actors,
                                            limit=limits["CASE_PAGE_EARLIER_CASES"]),
        reading=case.current_reading(), selfie=case.current_selfie_reading(),
        selfie_photo=photos.get("selfie"), document_photo=photos.get("id_document"),
        document_back=photos.get("id_document_back"),
        risk=service.current_risk(case), failure=service.verification_failure(case),
        challenge_confirmed=service.challenge_confirmed(case),
        may_confirm_code=rules.may_confirm_challenge(case, current_user.actors),
        latest={c.check: c for c in case.checks if c.attempt == case.evidence_attempt},
        is_lead=is_lead, may_act=service.may_act(case, current_user),
        take_over_form=TakeOverForm(version=case.version),
        sla=service.sla_clocks(case, now), now=now, step_labels=RECOVERY_STEP_LABELS,
        sla_policy=service.sla_settings().policy_for(case.issue_type, case.priority),
        consent_text=service.consent_text(case),
    ), status


def _act(case_id: int, action, done=None, **forms):
    """Run the service call ``action``; back to the case (flashing ``done``, a text or a
    function of what ``action`` returned) when it worked.

    When the case changed meanwhile (409) or the action is refused now (422), the case page
    comes again, fresh from the database, with why (and the ``forms`` as they were sent).
    """
    try:
        result = action()
    except service.StaleCase as err:
        status, message = 409, str(err)
    except service.ReasonRequired:
        status, message = 422, "Please write a reason for this action."
    except (service.ActionRefused, service.TransitionNotAllowed) as err:
        status, message = 422, str(err)
    else:
        if done:
            flash(done(result) if callable(done) else done, "success")
        try:
            service.check_case_access(case_id, current_user)
        except service.LeadsOnly as err:  # the action sent it to the security leads
            flash(str(err), "info")
            return redirect(url_for("agent.queue"))
        return redirect(url_for("agent.case", case_id=case_id))
    db.session.expire_all()
    return _render_case(service.get_case(case_id), status, message, **forms)


@bp.get("/cases/<id:case_id>")
@staff_required()
def case(case_id: int):
    """Everything about one case, and exactly the actions allowed now (a view of the
    requester's personal data, so on the audit trail)."""
    service.audit.record_now("case.view", actor=Actor.AGENT, agent=current_user,
                             case_id=case_id, detail={"via": "console"})
    service.presence.seen(case_id, current_user)  # others' pages say this agent is here
    return _render_case(service.get_case(case_id))


@bp.get("/cases/<id:case_id>/audit")
@staff_required(*LEAD_ROLES)
def audit_trail(case_id: int):
    """The audit trail of one case, for security leads and admins (reading it is recorded)."""
    service.audit.record_now("audit.case_view", actor=Actor.AGENT, agent=current_user,
                             case_id=case_id)
    return render_template("agent/audit.html", case=service.get_case(case_id),
                           records=service.audit.case_trail(case_id))


@bp.get("/audit/export")
@staff_required(Actor.ADMIN.value)
def audit_export():
    """Admins: the audit records of a period as JSON lines; without a period, the form."""
    if "from" not in request.args and "to" not in request.args:
        return render_template("agent/audit_export.html", error=None, values={})
    try:
        first, last = service.audit.parse_period(request.args.get("from"),
                                                 request.args.get("to"))
    except service.audit.BadPeriod as err:
        return render_template("agent/audit_export.html", error=str(err),
                               values=request.args), 400
    lines = service.audit.export_period(first, last, actor=Actor.AGENT, agent=current_user,
                                        via="console")
    response = Response(stream_with_context(lines), mimetype="application/x-ndjson")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="audit-{first.isoformat()}-{last.isoformat()}.jsonl"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/cases/<id:case_id>/events")
@staff_required()
def fire(case_id: int):
    """One click: fire an event with the version the agent saw."""
    form = EventForm()
    if not form.validate_on_submit():
        return _render_case(service.get_case(case_id), 400, "The action was incomplete; "
                            "reload the case and try again.")
    trigger = form.event.data
    return _act(case_id, lambda: service.fire_event(
        case_id, trigger, agent=current_user, expected_version=form.version.data,
        reason=form.reason.data, override=form.override.data),
        lambda case: case_view.event_done(case, trigger, service.hold_until(case)),
        event_form=form)


@bp.post("/cases/<id:case_id>/proposal")
@staff_required()
def propose(case_id: int):
    """Propose approving a case that needs four eyes, with a reason."""
    form = ProposalForm()
    if not form.validate_on_submit():
        return _render_case(service.get_case(case_id), 400, None, proposal_form=form)
    return _act(case_id, lambda: service.propose_approval(case_id, current_user,
                                                          form.version.data, form.reason.data),
                "Approval proposed: a different security lead or admin approves it.",
                proposal_form=form)


@bp.post("/cases/<id:case_id>/assign")
@staff_required()
def assign(case_id: int):
    """Claim (assign to yourself), assign to someone else, or release."""
    form = AssignForm()
    form.assignee_id.choices = []
    if not form.validate_on_submit():
        return _render_case(service.get_case(case_id), 400, "Reload the case and try again.")
    action = request.form.get("action", "assign")
    if action == "claim":
        return _act(case_id, lambda: service.claim_case(case_id, current_user, form.version.data),
                    lambda case: f"You hold case #{case.id} now.")
    assignee = None if action == "release" else form.assignee_id.data
    return _act(case_id, lambda: service.assign_case(case_id, current_user, assignee,
                                                     form.version.data),
                lambda case: f"Assigned to {case.assignee.name}." if case.assignee
                else f"Case #{case.id} released: nobody holds it now.")


@bp.post("/cases/<id:case_id>/take-over")
@staff_required(*LEAD_ROLES)
def take_over(case_id: int):
    """A lead takes the case from the agent holding it, once the box is ticked."""
    form = TakeOverForm()
    if not form.validate_on_submit():
        flash("Tick the box to confirm the take-over; nothing was changed.", "error")
        return redirect(url_for("agent.case", case_id=case_id))
    return _act(case_id, lambda: service.take_over_case(case_id, current_user, form.version.data),
                "You hold this case now.")


@bp.post("/cases/<id:case_id>/messages")
@staff_required()
def message(case_id: int):
    """Write to the user or add an internal note."""
    form = MessageForm()
    if not form.validate_on_submit():
        return _render_case(service.get_case(case_id), 400, None, message_form=form)
    return _act(case_id, lambda: service.add_staff_message(
        case_id, current_user, form.body.data, internal=form.internal.data),
        "Internal note added." if form.internal.data else "Reply sent to the requester.",
        message_form=form)


@bp.post("/cases/<id:case_id>/challenge-confirmation")
@staff_required()
def confirm_challenge(case_id: int):
    """The agent read the expected code on the selfie: one click, with the version seen."""
    form = VersionForm()
    if not form.validate_on_submit():
        return _render_case(service.get_case(case_id), 400, "Reload the case and try again.")
    return _act(case_id, lambda: service.confirm_challenge(case_id, current_user,
                                                           form.version.data),
                "The code on the selfie is confirmed.")


@bp.post("/cases/<id:case_id>/not-me")
@staff_required()
def not_me(case_id: int):
    """Record that the account holder says this request is not theirs (escalates it)."""
    form = NotMeForm()
    if not form.validate_on_submit():
        return _render_case(service.get_case(case_id), 400, None, not_me_form=form)
    return _act(case_id, lambda: service.report_not_me(case_id, current_user, form.note.data),
                "Recorded: the account holder says this request is not theirs.",
                not_me_form=form)


@bp.post("/cases/<id:case_id>/verification-retry")
@staff_required()
def retry_verification(case_id: int):
    """Run the automated checks of the current photos again after they failed."""
    if not ActionForm().validate_on_submit():
        return _render_case(service.get_case(case_id), 400, "Reload the case and try again.")
    return _act(case_id, lambda: service.retry_verification(case_id, current_user),
                "The automated checks will run again.")


@bp.post("/cases/<id:case_id>/recovery-actions/<id:action_id>/retry")
@staff_required()
def retry_recovery_action(case_id: int, action_id: int):
    """Try a failed recovery action again now."""
    if not ActionForm().validate_on_submit():
        return _render_case(service.get_case(case_id), 400, "Reload the case and try again.")
    return _act(case_id, lambda: service.retry_recovery_action(case_id, action_id, current_user),
                "The recovery action will be tried again.")


@bp.get("/cases/<id:case_id>/evidence/<id:evidence_id>")
@staff_required()
def evidence(case_id: int, evidence_id: int):
    """A photo of a case, only for signed-in staff, never cached by shared caches."""
    item = db.session.get(Evidence, evidence_id)
    if item is None or item.case_id != case_id:
        case = db.session.get(RecoveryCase, case_id)
        if case is not None and case.purged_at is not None:
            # Gone for good, and said so: not a photo that never was.
            abort(410, f"The photos of case #{case_id} were purged on "
                       f"{case.purged_at:%d %b %Y} under the retention policy.")
        abort(404)
    data, mime_type, kind = item.data, item.mime_type, item.kind
    service.audit.record_now("evidence.view", actor=Actor.AGENT, agent=current_user,
                             case_id=case_id, detail={"evidence_id": evidence_id, "kind": kind,
                                                      "attempt": item.attempt})
    response = make_response(data)
    response.headers["Content-Type"] = mime_type
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = f'inline; filename="case-{case_id}-{kind}"'
    return response


def _token_lifetimes() -> service.TokenLifetimes:
    return service.token_lifetimes(current_app.config)


def _new_token_to_show() -> str | None:
    """The token this browser just created, unmasked once; None after that or otherwise."""
    note = session.pop(NEW_TOKEN, None)
    if not isinstance(note, dict) or not isinstance(note.get("id"), int):
        return None
    try:
        key = bytes.fromhex(note.get("key", ""))
    except (TypeError, ValueError):
        return None
    return service.reveal_token(current_user.id, note["id"], key)


def _render_tokens(form: TokenForm, status: int = 200, new_token: str | None = None):
    response = make_response(render_template(
        "agent/tokens.html", form=form, tokens=service.tokens_of(current_user.id),
        action_form=ActionForm(), new_token=new_token, now=utcnow(),
        max_days=_token_lifetimes().max_days), status)
    # The page may hold a new token: no cache (nor the back button) keeps a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/tokens")
@staff_required()
def tokens():
    """Your API tokens, a form to create one; a token just created is shown here, once."""
    return _render_tokens(TokenForm(days=_token_lifetimes().default_days),
                          new_token=_new_token_to_show())


@bp.post("/tokens")
@staff_required()
def create_token():
    """Create an API token, then show it once on the tokens page (post/redirect/get)."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _render_tokens(form, 400)
    try:
        new = service.create_token(current_user.id, form.name.data, form.days.data,
                                   _token_lifetimes())
    except ValueError as err:
        form.name.errors = [str(err)]
        return _render_tokens(form, 400)
    session[NEW_TOKEN] = {"id": new.token.id, "key": new.reveal_key.hex()}
    flash(f"Token “{new.token.name}” created. Copy it now: it is shown only this once.",
          "success")
    return redirect(url_for("agent.tokens"), 303)


@bp.post("/tokens/<id:token_id>/revoke")
@staff_required()
def revoke_token(token_id: int):
    """Revoke one API token: your own, or anyone's for an admin. It stops at once."""
    if not ActionForm().validate_on_submit():
        flash("Reload the page and try again; nothing was revoked.", "error")
        return redirect(url_for("agent.tokens"))
    token = service.revoke_token(token_id, current_user)
    flash(f"Token “{token.name}” is revoked: it no longer works.", "success")
    if token.agent_id == current_user.id:
        return redirect(url_for("agent.tokens"))
    return redirect(url_for("agent.staff_member", agent_id=token.agent_id))


def _staff_member(agent_id: int) -> Agent:
    member = db.session.get(Agent, agent_id)
    if member is None:
        abort(404)
    return member


@bp.get("/staff")
@staff_required(ADMIN)
def staff():
    """Admins: every staff account with its working API tokens."""
    return render_template("agent/staff.html", staff=service.staff_overview())


@bp.get("/staff/<id:agent_id>")
@staff_required(ADMIN)
def staff_member(agent_id: int):
    """Admins: one staff account and its API tokens, each revocable."""
    member = _staff_member(agent_id)
    return render_template("agent/staff_member.html", member=member,
                           tokens=service.tokens_of(agent_id), action_form=ActionForm(),
                           now=utcnow())


@bp.post("/staff/<id:agent_id>/revoke-tokens")
@staff_required(ADMIN)
def revoke_staff_tokens(agent_id: int):
    """Admins: revoke every API token of a staff member at once (an incident)."""
    member = _staff_member(agent_id)
    if not ActionForm().validate_on_submit():
        flash("Reload the page and try again; nothing was revoked.", "error")
        return redirect(url_for("agent.staff_member", agent_id=agent_id))
    _, revoked = service.revoke_tokens_of(member.email, by=current_user)
    flash(f"{revoked} API token(s) of {member.name} revoked.", "success")
    return redirect(url_for("agent.staff_member", agent_id=agent_id))
