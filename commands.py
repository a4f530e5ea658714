"""Command-line interface: `flask --app app <command>`."""

import json
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from PIL import Image

from extensions import db
from verification.documents import PersonFacts, check_document
from verification.images import ImageRejected, normalize_upload
from workflow import demo, service
from workflow.models import Account, Agent


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
@click.option("--role", type=click.Choice(service.ROLES), default="agent", show_default=True)
def create_agent_command(email: str, name: str, role: str) -> None:
    """Create a staff account; prints its API token alone on the last line."""
    password = _read_password()
    try:
        agent, token = service.create_agent(email, name, role, password)
    except (ValueError, service.AgentExists) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"Created {agent.role} {agent.email} (id {agent.id}). API token:")
    click.echo(token)


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
    config = current_app.config
    try:
        clean = normalize_upload(Path(path).read_bytes(), max_bytes=config["MAX_UPLOAD_BYTES"],
                                 max_pixels=config["MAX_IMAGE_PIXELS"])
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
    """Run the document check of every open case whose current photos have not been read.

    For cases whose job was lost (a process stopped mid-job) or failed: the checks run here,
    one after the other, and each prints its outcome. A second run finds nothing to do.
    """
    from verification import jobs

    pending = service.cases_without_document_reading()
    if not pending:
        click.echo("Every open case's current photos have been checked.")
        return
    failed = 0
    for case_id, attempt in pending:
        try:
            outcome = jobs.run_document_job(case_id, attempt)
        except Exception as err:  # reported per case; the command goes on with the others
            failed += 1
            outcome = f"failed ({type(err).__name__}: {err})"
        click.echo(f"case {case_id} attempt {attempt}: {outcome}")
    if failed:
        raise click.ClickException(f"{failed} of {len(pending)} document checks failed.")


def _credentials_path() -> Path:
    return Path(current_app.instance_path) / "demo-credentials.txt"


def _write_credentials(credentials: list[tuple[str, str, str]]) -> None:
    lines = ["Demo sign-in (agent console, http://127.0.0.1:5000/agent/login):"]
    lines += [f"  {role:<14} {email:<28} password: {password}"
              for role, email, password in credentials]
    path = _credentials_path()
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def init_app(app) -> None:
    """Register the commands."""
    for command in (create_agent_command, seed_demo_command, bootstrap_command,
                    read_document_command, run_document_checks_command):
        app.cli.add_command(command)


