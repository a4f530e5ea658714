"""Command-line interface: `flask --app app <command>`."""

import json
import logging
import math
import sys
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from PIL import Image

from extensions import db
from jobs import tasks, worker
from notify import outbox
from reports import queries as reports
from reports.queries import CSV_TABLES
from verification import calibration
from verification.documents import PersonFacts, check_document, find_portrait
from verification.faces import (
    STEADY_MARGIN,
    FaceEngineUnavailable,
    FoundFace,
    encode_face,
    face_distance,
    face_engine,
    find_faces,
    steady_distance,
)
from verification.faces import (
    engine_version as face_engine_version,
)
from verification.images import ImageRejected, normalize_upload
from workflow import models, service
from workflow.models import Account, Agent, RecoveryCase
from workflow.states import ROLES, Actor

from . import demo, privacy
from .keys import rotate_key_command


def _read_password() -> str:
    """The password from a hidden prompt, or the first line of standard input when piped."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.UsageError("No password on standard input.")
    return line


@click.command("create-agent")
@with_appcontext
@click.option("--email", required=True, help="Sign-in email address.")
@click.option("--name", required=True, help="Name shown to colleagues.")
@click.option("--role", type=click.Choice(ROLES), default="agent", show_default=True)
def create_agent_command(email: str, name: str, role: str) -> None:
    """Create a staff account; prints its API token alone on the last line."""
    password = _read_password()
    try:
        agent, token = service.create_agent(email, name, role, password)
    except (ValueError, service.AgentExists) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"Created {agent.role} {agent.email} (id {agent.id}). API token:")
    click.echo(token)


@click.command("set-password")
@with_appcontext
@click.option("--email", required=True, help="The agent's sign-in email address.")
def set_password_command(email: str) -> None:
    """Give an agent a new password (read like create-agent's); ends their console sessions."""
    password = _read_password()
    try:
        agent = service.set_password(email, password)
    except (ValueError, service.AgentNotFound) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"New password set for {agent.email}; their console sessions have ended.")


@click.command("deactivate-agent")
@with_appcontext
@click.option("--email", required=True, help="The agent's sign-in email address.")
def deactivate_agent_command(email: str) -> None:
    """Deactivate an agent: sign-in, sessions and API token stop; their open cases are freed."""
    try:
        agent, released = service.deactivate_agent(email)
    except service.AgentNotFound as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"Deactivated {agent.email}: console sessions ended, API tokens revoked, "
               f"{released} open case(s) released.")


@click.command("reset-second-factor")
@with_appcontext
@click.option("--email", required=True, help="The agent's sign-in email address.")
def reset_second_factor_command(email: str) -> None:
    """Take an agent's second factor away (a lost phone): they set up an app at next sign-in."""
    agent = service.agent_by_email(email)
    if agent is None:
        raise click.ClickException(f"There is no agent with the email {email.strip()}.")
    service.reset_second_factor(agent.id)
    click.echo(f"Second factor reset for {agent.email}: their sessions and recovery codes are "
               "gone; they set up an authenticator app again at their next sign-in.")


@click.command("set-role")
@with_appcontext
@click.option("--email", required=True, help="The agent's sign-in email address.")
@click.option("--role", type=click.Choice(ROLES), required=True)
def set_role_command(email: str, role: str) -> None:
    """Give an agent another role (recorded on the audit trail); it applies at once."""
    try:
        agent, before = service.set_role(email, role)
    except service.AgentNotFound as err:
        raise click.ClickException(str(err)) from err
    if before == role:
        click.echo(f"{agent.email} already has the role {role}; nothing changed.")
    else:
        click.echo(f"{agent.email}: role {before} -> {role}.")


def _anchor(value: str) -> tuple[int, str]:
    record_id, _, digest = value.partition(":")
    digest = digest.strip().lower()
    if not (record_id.isascii() and record_id.isdigit() and int(record_id) >= 1
            and len(digest) == 64 and all(ch in "0123456789abcdef" for ch in digest)):
        raise click.BadParameter(f"'{value[:80]}' is not ID:HASH (a record id and its "
                                 "64-digit hex hash, from an 'audit anchor' log line).",
                                 param_hint="'--anchor'")
    return int(record_id), digest


@click.command("audit-verify")
@with_appcontext
@click.option("--anchor", "anchors", multiple=True, metavar="ID:HASH",
              help="A record id and hash from an 'audit anchor' log line; repeatable.")
def audit_verify_command(anchors: tuple[str, ...]) -> None:
    """Walk the audit trail's hash chain; exit 1 naming the first record edited, inserted or
    deleted (and, with --anchor, a tail cut off or rewritten)."""
    known = dict(_anchor(value) for value in anchors)
    result = service.audit.verify(known)
    if result.broken is not None:
        click.echo(f"Audit trail broken at record {result.broken.record_id} "
                   f"({result.broken.kind}): {result.broken.message}. "
                   f"{result.records} records before it are intact.")
        sys.exit(1)
    anchored = f"; {len(known)} anchor(s) match" if known else ""
    click.echo(f"{result.records} records, chain intact, last id {result.last_id} hash "
               f"{result.last_hash}{anchored}")


@click.command("audit-export")
@with_appcontext
@click.option("--since", required=True, help="First day, YYYY-MM-DD (UTC).")
@click.option("--until", required=True, help="Last day, YYYY-MM-DD (UTC), included.")
def audit_export_command(since: str, until: str) -> None:
    """Print the audit records of a period as JSON lines (the export is recorded too)."""
    try:
        first, last = service.audit.parse_period(since, until, ("--since", "--until"))
    except service.audit.BadPeriod as err:
        raise click.BadParameter(str(err), param_hint=f"'{err.field}'") from err
    for line in service.audit.export_period(first, last, actor=Actor.SYSTEM, via="cli"):
        click.echo(line, nl=False)


@click.command("create-token")
@with_appcontext
@click.argument("email")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--days", type=int, default=None,
              help="Days until it expires (default API_TOKEN_TTL_DAYS, at most "
                   "API_TOKEN_MAX_TTL_DAYS).")
def create_token_command(email: str, name: str, days: int | None) -> None:
    """Issue an API token for a staff member; prints it alone on the last line (only now)."""
    lifetimes = service.token_lifetimes(current_app.config)
    try:
        new = service.create_token_for(email, name, days or lifetimes.default_days, lifetimes)
    except (ValueError, service.AgentNotFound) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"API token “{new.token.name}” for {email.strip().lower()}, expires "
               f"{new.token.expires_at:%Y-%m-%d %H:%M} UTC:")
    click.echo(new.secret)


@click.command("revoke-tokens")
@with_appcontext
@click.argument("email")
def revoke_tokens_command(email: str) -> None:
    """Revoke every API token of a staff member at once (an incident); the next request fails."""
    try:
        agent, revoked = service.revoke_tokens_of(email, reason="revoked from the command line")
    except service.AgentNotFound as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"Revoked {revoked} API token(s) of {agent.email}.")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load demo accounts, agents and cases with generated documents."""
    credentials = demo.seed()
    _write_credentials(credentials)
    click.echo(f"Demo data loaded: {len(credentials)} agents.")
    click.echo(_credentials_path().read_text())


@click.command("bootstrap")
@with_appcontext
def bootstrap_command() -> None:
    """Create or upgrade the schema; load demo data the first time unless RECOVERY_DEMO=0."""
    upgrade(directory=str(Path(current_app.root_path) / "migrations"))
    # Cases filed before the SLA figures existed get theirs from their log.
    if db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase)
                         .where(~RecoveryCase.sla.has())):
        click.echo(f"SLA figures derived for {service.recompute_sla()} cases.")
    has_agents = db.session.scalar(sa.select(sa.func.count()).select_from(Agent)) > 0
    credentials_file = _credentials_path()
    if not has_agents and current_app.config["DEMO"]:
        credentials = demo.seed()
        _write_credentials(credentials)
        click.echo("First start: demo accounts, agents and cases loaded.")
    if credentials_file.exists() and current_app.config["DEMO"]:
        click.echo(credentials_file.read_text())
    elif not has_agents:
        click.echo("No agents yet. Create the first admin with:\n"
                   "  .venv/bin/flask --app app create-agent --email you@example.com "
                   "--name 'Your Name' --role admin")
    click.echo("Recovery Desk: request form at http://127.0.0.1:5000/recover, "
               "agent console at http://127.0.0.1:5000/agent/")


# The MRZ fields printed by read-document, in the order of the data page.
MRZ_FIELDS = ("document_type", "issuing_country", "surname", "given_names", "document_number",
              "nationality", "date_of_birth", "sex", "expiry_date", "valid_check_digits")


class BadInput(click.ClickException):
    """A file or option the command cannot use (exit status 2, as for usage errors)."""

    exit_code = 2


def _load_photo(path: str) -> tuple[Image.Image, str | None]:
    """A photo from disk through the same intake as uploads (format, limits, orientation)."""
    try:
        clean = normalize_upload(Path(path).read_bytes(), **service.intake_limits())
    except ImageRejected as err:
        raise BadInput(f"{path}: {err.message}") from err
    except OSError as err:
        raise BadInput(f"{path}: {err.strerror or err}") from err
    return service.open_image(clean.data), clean.exif_software


@click.command("read-document")
@with_appcontext
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--back", type=click.Path(dir_okay=False),
              help="A photo of the back of the card (a TD1 card has its MRZ there).")
@click.option("--email", help="Compare the document with this account of record.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def read_document_command(image: str, back: str | None, email: str | None,
                          as_json: bool) -> None:
    """Run the document checks on one ID photo and print the check tree and MRZ fields.

    Exits with 0 when an MRZ was read, 1 when none was found, 2 on a usage error.
    """
    front, software = _load_photo(image)
    back_image = _load_photo(back)[0] if back else None
    account = None
    if email:
        found = db.session.scalar(sa.select(Account).where(Account.email == email.lower()))
        if found is None:
            raise BadInput(f"There is no account with the email {email}.")
        account = PersonFacts(found.full_name, found.date_of_birth)
    report = check_document(front, back_image, account=account, exif_software=software,
                            policy=service.document_policy())
    mrz = report.mrz
    if as_json:
        out = report.as_dict()
        out["image"] = image
        out["fields"] = {name: out["mrz"][name] for name in MRZ_FIELDS} if mrz else None
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(_describe(image, report))
    sys.exit(0 if mrz is not None else 1)


def _describe(image: str, report) -> str:
    """The human-readable form of a document report."""
    mrz = report.mrz
    lines = [f"{image}"]
    if mrz is None:
        why = report.reading.error if report.reading is not None else None
        lines.append(f"No machine-readable zone was found{': ' + why if why else '.'}")
        read = report.reading.lines if report.reading is not None else ()
        if read:
            lines.append("Lines read (not a valid MRZ):")
            lines.extend(f"  | {line}" for line in read)
    else:
        lines.append(f"MRZ ({mrz.format}, read from the {report.mrz_side}):")
        values = mrz.as_dict()
        for name in MRZ_FIELDS:
            value = values[name]
            if isinstance(value, bool):
                value = "yes" if value else "no"
            lines.append(f"  {name:<19} {value if value not in (None, '') else '-'}")
        for line in report.reading.lines:
            lines.append(f"  | {line}")
        for correction in mrz.corrections:
            lines.append(f"  repaired: {correction}")
    lines.append(f"Portrait faces found: {report.portrait.faces}")
    lines.append("Checks:")
    for found in report.checks:
        reason = f" {found.reason_code}" if found.reason_code else ""
        score = ""
        if found.score is not None:
            score = f"  score {found.score:.3f}"
            if found.threshold is not None:
                score += f" / threshold {found.threshold:.3f}"
        lines.append(f"  {found.result.value:<9} {found.check:<40}{reason}{score}")
    timings = ", ".join(f"{k} {v:.0f} ms" for k, v in report.timings_ms.items())
    lines.append(f"Time: {timings}")
    return "\n".join(lines)


@click.command("run-document-checks")
@with_appcontext
def run_document_checks_command() -> None:
    """Run the automated checks of every open case whose current photos have not been read.

    For cases whose job was lost (a process stopped mid-job) or failed for good: the checks
    (document, selfie, risk) run here, one case after the other, and each prints its outcome.
    A second run finds nothing to do.
    """
    pending = service.cases_needing_verification(include_failed=True)
    if not pending:
        click.echo("Every open case's current photos have been checked.")
        return
    failed = 0
    for case_id, attempt in pending:
        try:
            outcome = tasks.run_verification(case_id, attempt)
            outcome = ", ".join(f"{step} {result}" for step, result in outcome.items())
        except Exception as err:  # reported per case; the command goes on with the others
            failed += 1
            outcome = f"failed ({type(err).__name__}: {err})"
        click.echo(f"case {case_id} attempt {attempt}: {outcome}")
    if failed:
        raise click.ClickException(f"{failed} of {len(pending)} cases failed their checks.")


@click.command("sla-recompute")
@with_appcontext
def sla_recompute_command() -> None:
    """Rebuild every case's stored SLA figures from its log (after changing policies)."""
    changed = service.recompute_sla()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase))
    click.echo(f"SLA figures rebuilt for {total} cases; {changed} had changed.")


@click.command("reassess-risk")
@with_appcontext
@click.argument("case_id", type=click.IntRange(1))
def reassess_risk_command(case_id: int) -> None:
    """Assess an open case's risk again on its stored facts (after a directory sync brought
    account changes, or when its checks were run by hand); a high risk escalates it."""
    try:
        case = service.reassess_risk(case_id)
    except (service.CaseNotFound, service.ActionRefused) as err:
        raise click.ClickException(str(err)) from err
    risk = service.current_risk(case)
    click.echo(f"case {case.id}: risk {risk.details.get('level', risk.result)}, "
               f"state {case.state}")


@click.command("send-mail")
@with_appcontext
def send_mail_command() -> None:
    """Send the emails waiting in the outbox now (the scheduled check also does)."""
    if not outbox.mail_configured():
        click.echo(f"MAIL_SERVER is not set: nothing sent; {outbox.pending_count()} email(s) "
                   "wait in the outbox.")
        return
    sent = failed = 0
    while True:
        report = outbox.send_outbox()
        sent, failed = sent + report.sent, failed + report.failed
        if report.failed or not report.left or not report.sent:
            break
    click.echo(f"{sent} sent, {failed} failed; {outbox.pending_count()} email(s) wait in the "
               "outbox.")
    if failed:
        raise click.ClickException(f"{failed} email(s) could not be sent: they stay in the "
                                   "outbox and are tried again later (see the log).")


class EngineMissing(click.ClickException):
    """The face engine cannot be loaded (exit status 3, apart from match and usage results)."""

    exit_code = 3


def _engine() -> tuple[str, str]:
    """The face engine's name and version; EngineMissing when it cannot be loaded."""
    try:
        face_engine()
    except FaceEngineUnavailable as err:
        raise EngineMissing(str(err)) from err
    return "face_recognition", face_engine_version()


def _face_photo(path: str, side: str) -> Image.Image:
    """A photo through upload intake; BadInput saying which side could not be read and why."""
    try:
        return _load_photo(path)[0]
    except BadInput as err:
        raise BadInput(f"The {side} photo cannot be read: {err.message}") from err


@click.command("verify-pair")
@with_appcontext
@click.argument("id_image", type=click.Path(dir_okay=False))
@click.argument("selfie", type=click.Path(dir_okay=False))
@click.option("--threshold", type=click.FloatRange(min=0, min_open=True),
              help="Match at or below this distance (default: FACE_MATCH_THRESHOLD).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify_pair_command(id_image: str, selfie: str, threshold: float | None,
                        as_json: bool) -> None:
    """Compare the portrait on an ID photo with the face on a selfie.

    Exits with 0 on a match, 1 on no match, 2 when a photo is unreadable or shows no face,
    3 when the face engine cannot be loaded.
    """
    if threshold is None:
        threshold = current_app.config["FACE_MATCH_THRESHOLD"]
    engine, engine_version = _engine()
    document, person = _face_photo(id_image, "ID document"), _face_photo(selfie, "selfie")
    started = time.perf_counter()
    portrait = find_portrait(document)
    if portrait.faces == 0:
        raise BadInput(f"No face was found on the ID document photo {id_image}: the portrait "
                       "must be visible and face the camera.")
    # A document with several faces fails the document check; the largest is still compared
    # here so the distance can be looked at.
    id_encoding = portrait.encoding if portrait.encoding is not None else \
        encode_face(document, FoundFace(portrait.box))
    selfie_faces = find_faces(person)
    if not selfie_faces:
        raise BadInput(f"No face was found on the selfie {selfie}: the face must be visible "
                       "and face the camera.")
    first = face_distance(id_encoding, encode_face(person, selfie_faces[0]))
    # As the selfie check decides: a distance near the threshold is measured again.
    distance, again = steady_distance(first, threshold, lambda: (
        encode_face(document, FoundFace(portrait.box), steady=True),
        encode_face(person, selfie_faces[0], steady=True)))
    elapsed_ms = (time.perf_counter() - started) * 1000
    match = distance <= threshold
    out = {"id_image": id_image, "selfie": selfie, "distance": round(distance, 4),
           "first_distance": round(first, 4), "measured": "steady" if again else "single",
           "threshold": threshold, "match": match, "id_faces": portrait.faces,
           "selfie_faces": len(selfie_faces), "engine": engine,
           "engine_version": engine_version, "time_ms": round(elapsed_ms, 1)}
    if as_json:
        click.echo(json.dumps(out, indent=2))
    else:
        several = " (the largest compared; the document check wants one)"
        click.echo(f"ID document  {id_image}: {portrait.faces} face(s)"
                   f"{several if portrait.faces > 1 else ''}")
        click.echo(f"Selfie       {selfie}: {len(selfie_faces)} face(s)"
                   f"{' (the largest compared)' if len(selfie_faces) > 1 else ''}")
        click.echo(f"Distance     {distance:.3f} (match at or below {threshold:.3f}): "
                   f"{'MATCH' if match else 'NO MATCH'}")
        if again:
            click.echo(f"             measured again on steady encodings (first {first:.3f}, "
                       f"within {STEADY_MARGIN} of the threshold)")
        click.echo(f"Engine       {engine} {engine_version}; {elapsed_ms:.0f} ms")
    sys.exit(0 if match else 1)


@click.command("calibrate-faces")
@with_appcontext
@click.argument("pairs_file", type=click.Path(dir_okay=False))
@click.option("--images", "images_dir", required=True,
              type=click.Path(exists=True, file_okay=False),
              help="The LFW-format directory: DIR/name/name_0001.jpg.")
@click.option("--target-far", type=click.FloatRange(min=0, max=1, min_open=True),
              default=0.001, show_default=True,
              help="The false-accept rate the recommended threshold must not exceed.")
@click.option("--thresholds", "threshold_spec", default="0.30:0.80:0.05", show_default=True,
              help="Thresholds to measure, start:stop:step.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def calibrate_faces_command(pairs_file: str, images_dir: str, target_far: float,
                            threshold_spec: str, as_json: bool) -> None:
    """Measure true- and false-accept rates of the face match on an LFW-format pairs file.

    Every pair goes through the production pipeline; prints the rates at each threshold and
    the largest threshold whose false-accept rate meets --target-far. Exits with 2 on a
    malformed pairs file or option, 3 when the face engine cannot be loaded.
    """
    try:
        thresholds = calibration.threshold_range(threshold_spec)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--thresholds") from err
    try:
        pairs = calibration.parse_pairs(Path(pairs_file).read_text(encoding="utf-8"))
    except calibration.PairsFileError as err:
        raise BadInput(f"{pairs_file}: {err}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{pairs_file}: {getattr(err, 'strerror', None) or err}") from err
    engine, engine_version = _engine()
    config = current_app.config
    root = Path(images_dir)

    def encode(ref: calibration.ImageRef, steady: bool = False):
        return calibration.encode_photo_file(ref.path(root), max_bytes=config["MAX_UPLOAD_BYTES"],
                                             max_pixels=config["MAX_IMAGE_PIXELS"],
                                             steady=steady)

    configured = config["FACE_MATCH_THRESHOLD"]
    # As the selfie check decides: distances near the configured threshold are measured again.
    result = calibration.calibrate(pairs, encode, thresholds, target_far,
                                   steady=lambda ref: encode(ref, steady=True),
                                   threshold=configured)
    scores = result.scores
    at_configured = calibration.rates_at(scores.genuine, scores.impostor, configured)
    if as_json:
        out = result.as_dict()
        out.update(configured_threshold=configured, at_configured=at_configured.as_dict(),
                   errors_at_configured=[e.as_dict() for e in
                                         calibration.errors_at(scores, configured)],
                   engine=engine, engine_version=engine_version)
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(_describe_calibration(pairs_file, result, at_configured, engine,
                                     engine_version))


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _describe_calibration(pairs_file: str, result, at_configured, engine: str,
                          engine_version: str) -> str:
    """The human-readable form of a calibration."""
    scores = result.scores
    summary = result.as_dict()
    lines = [f"{pairs_file}: {summary['pairs']} pairs, {summary['scored']} scored "
             f"({summary['genuine']} genuine, {summary['impostor']} impostor) with "
             f"{engine} {engine_version}"]
    if scores.unscored:
        reasons = ", ".join(f"{why} {n}" for why, n in sorted(scores.unscored.items()))
        lines.append(f"Not scored: {sum(scores.unscored.values())} of {summary['pairs']} pairs "
                     f"({reasons}); the images:")
        shown = list(scores.unscored_images.items())[:10]
        lines += [f"  {ref.path(Path())}: {why}" for ref, why in shown]
    lines.append(f"Measured again on steady encodings, as the selfie check does: "
                 f"{scores.remeasured} pairs within {STEADY_MARGIN} of the configured threshold "
                 f"(every row below uses those distances)")
    lines.append("")
    lines.append("threshold  TAR     FAR     accuracy  genuine accepted  impostors accepted")
    for row in result.table:
        marker = "  <- configured" if math.isclose(row.threshold, at_configured.threshold) \
            else ""
        lines.append(f"{row.threshold:<9.3f}  {_rate(row.tar)}  {_rate(row.far)}  "
                     f"{_rate(row.accuracy):<8}  {row.genuine_accepted:>7} of {row.genuine:<7}"
                     f"  {row.impostor_accepted:>7} of {row.impostor}{marker}")
    lines.append("")
    lines.append(f"At the configured FACE_MATCH_THRESHOLD {at_configured.threshold:.3f}: "
                 f"TAR {_rate(at_configured.tar)}, FAR {_rate(at_configured.far)} "
                 f"({at_configured.impostor_accepted} of {at_configured.impostor} "
                 "impostor pairs accepted)")
    target, best = result.target_far, result.recommended
    if not scores.impostor:
        lines.append(f"Target FAR {target:g}: no impostor pairs were scored, so no false-accept "
                     "rate was measured and no threshold is recommended.")
    elif best is None:
        lines.append(f"Target FAR {target:g}: no threshold in the range meets it (the lowest, "
                     f"{result.table[0].threshold:.3f}, accepts {result.table[0].impostor_accepted}"
                     f" of {result.table[0].impostor} impostor pairs).")
    else:
        lines.append(f"Target FAR {target:g}: threshold {best.threshold:.3f} (FAR "
                     f"{best.impostor_accepted} of {best.impostor} impostor pairs, TAR "
                     f"{best.genuine_accepted} of {best.genuine} genuine pairs).")
    needed = calibration.impostor_pairs_needed(target)
    impostors = len(scores.impostor)
    if 0 < impostors < needed:
        bound = calibration.RULE_OF_THREE / impostors
        lines.append(f"  {impostors} impostor pairs cannot show a FAR of {target:g}: even "
                     f"with none accepted the true rate may be up to about 3/{impostors} = "
                     f"{bound:.4f} (95% confidence); it takes {needed} or more impostor pairs.")
    errors = calibration.errors_at(scores, at_configured.threshold)
    lines.append("")
    lines.append(f"Errors at {at_configured.threshold:.3f}: {len(errors)} (nearest the threshold "
                 "first)" if errors else f"Errors at {at_configured.threshold:.3f}: none")
    lines += [f"  {e.kind:<12}  line {e.pair.line:>5}  {e.pair.first.path(Path())}  "
              f"{e.pair.second.path(Path())}  distance {e.distance:.4f}" for e in errors]
    return "\n".join(lines)


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--name", help="Worker name shown by RQ (default: host and process id).")
def worker_command(burst: bool, name: str | None) -> None:
    """Run verification jobs from Redis (REDIS_URL); start as many as you like, anywhere."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        worker.run_worker(current_app._get_current_object(), burst=burst, name=name)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from err


def _credentials_path() -> Path:
    return Path(current_app.instance_path) / "demo-credentials.txt"


def _write_credentials(credentials: list[tuple[str, str, str]]) -> None:
    lines = ["Demo sign-in (agent console, http://127.0.0.1:5000/agent/login):"]
    lines += [f"  {role:<14} {email:<28} password: {password}"
              for role, email, password in credentials]
    lines += ["Each first sign-in sets up an authenticator app (any TOTP app) from a QR code, "
              "and shows ten recovery codes once."]
    path = _credentials_path()
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def init_app(app) -> None:
    """Register the commands."""
    for command in (create_agent_command, set_password_command, deactivate_agent_command,
                    reset_second_factor_command,
                    set_role_command, audit_verify_command, audit_export_command,
                    create_token_command, revoke_tokens_command, seed_demo_command,
                    bootstrap_command,
                    read_document_command, run_document_checks_command, verify_pair_command,
                    calibrate_faces_command, worker_command,
                    sla_recompute_command, sla_report_command, send_mail_command,
                    reassess_risk_command, rotate_key_command, *privacy.COMMANDS):
        app.cli.add_command(command)


@click.command("sla-report")
@with_appcontext
@click.option("--from", "start", required=True, help="First day of filing, YYYY-MM-DD (UTC).")
@click.option("--to", "end", required=True, help="Last day of filing, YYYY-MM-DD (UTC).")
@click.option("--group-by", default="issue_type", show_default=True,
              help="issue_type, agent (the current assignee), stage or priority.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--table", type=click.Choice(list(CSV_TABLES)),
              default="groups", show_default=True,
              help="With --format csv: the groups and totals, the backlog, the throughput or "
                   "the self-help deflection per issue type.")
def sla_report_command(start: str, end: str, group_by: str, fmt: str, table: str) -> None:
    """Print the SLA report of the cases filed from --from to --to; exit 2 on bad input."""
    # Looked up per call, like the report page does, so a test's clock reaches the report.
    try:
        report = reports.report_for(start, end, group_by, models.utcnow())
    except reports.BadReportRequest as err:
        hint = f"'--{err.field.replace('_', '-')}'"
        raise click.BadParameter(str(err), param_hint=hint) from err
    service.audit.record_now("export.sla_report", actor=Actor.SYSTEM,
                             detail=reports.export_facts(report, fmt, via="cli",
                                                         table=table if fmt == "csv" else None))
    if fmt == "json":
        click.echo(json.dumps(reports.report_json(report), indent=2))
    else:
        click.echo(reports.report_csv(report, table), nl=False)
