"""Command-line interface: `flask --app app <command>`."""

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from extensions import db
from workflow import demo, service
from workflow.models import Agent


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
    for command in (create_agent_command, seed_demo_command, bootstrap_command):
        app.cli.add_command(command)


