"""Retention and data-subject commands: purge, export-subject, erase-subject."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from flask.cli import with_appcontext

from workflow import models, service


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Purge the photos, face encodings and document readings of cases resolved longer ago
    than their retention period (RETENTION); the scheduled check does the same."""
    report = service.purge_expired()
    if report.purged:
        click.echo(f"Evidence purged from {len(report.purged)} case(s): "
                   f"{_ids(report.purged)}.")
    else:
        click.echo("No case is due for a purge.")
    kept = service.purge_kept_uploads()
    if kept:
        click.echo(f"{kept} photo(s) kept for unfinished request forms purged.")
    if report.waiting:
        click.echo(f"{len(report.waiting)} case(s) past their retention period wait for "
                   f"recovery steps still to run: {_ids(report.waiting)}.")


def _ids(case_ids: list[int]) -> str:
    return ", ".join(f"#{case_id}" for case_id in case_ids)


def _default_output() -> Path:
    return Path(f"subject-export-{models.utcnow().strftime('%Y%m%dT%H%M%SZ')}")


@click.command("export-subject")
@with_appcontext
@click.argument("email")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="A new or empty directory for subject.json and the photos "
                   "(default: subject-export-<time> here).")
def export_subject_command(email: str, output: Path | None) -> None:
    """Write everything the desk holds about the person filing with EMAIL: subject.json
    (cases, messages, timeline, check results, readings, emails, the account of record) and
    their photos as files."""
    output = output or _default_output()
    if output.exists() and any(output.iterdir()):
        raise click.ClickException(f"{output} is not empty: give a new or empty directory.")
    export = service.export_subject(email)
    # Only the operator may read it: it holds identity documents and faces.
    output.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, data in export.files:
        path = output / name
        path.parent.mkdir(mode=0o700, exist_ok=True)
        _write_private(path, data)
    _write_private(output / "subject.json",
                   json.dumps(export.document, indent=2, ensure_ascii=False).encode("utf-8"))
    cases = export.document["cases"]
    click.echo(f"Exported {len(cases)} case(s), {len(export.files)} photo(s), "
               f"{len(export.document['emails'])} email(s) and "
               f"{'the' if export.document['account_of_record'] else 'no'} account of record "
               f"for {export.email} to {output}/ (subject.json).")


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


@click.command("erase-subject")
@with_appcontext
@click.argument("email")
@click.option("--force", is_flag=True,
              help="Erase even while the person has an open case (it is withdrawn first) or "
                   "an approved recovery with steps still to run.")
def erase_subject_command(email: str, force: bool) -> None:
    """Erase the personal data of the person filing with EMAIL; their cases keep their state,
    timeline and SLA figures under a pseudonym. Exit 1, changing nothing, while they have an
    open case, unless --force."""
    try:
        report = service.erase_subject(email, force=force)
    except service.SubjectBusy as err:
        raise click.ClickException(str(err)) from err
    if not report.cases and not report.emails:
        click.echo(f"The desk holds no case and no email of {report.email}: nothing erased.")
        return
    if report.withdrawn:
        click.echo(f"Withdrawn first: {_ids(report.withdrawn)}.")
    click.echo(f"Erased {report.email} from {len(report.cases)} case(s) "
               f"({_ids(report.cases) or 'none'}): {report.photos} photo(s), "
               f"{report.readings} reading(s), {report.messages} message text(s); "
               f"{report.emails} email(s) deleted. The cases are now filed under "
               f"{', '.join(service.erased_email(case_id) for case_id in report.cases)}.")


COMMANDS = (purge_command, export_subject_command, erase_subject_command)
