"""`flask --app app rotate-key`: every encrypted value onto the current key, while the desk runs."""

import click
from flask import current_app
from flask.cli import with_appcontext

from workflow import service
from workflow.models import keyring


@click.command("rotate-key")
@with_appcontext
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=None,
              help="Values re-encrypted per transaction [default: ROTATE_KEY_BATCH_SIZE].")
def rotate_key_command(batch_size: int | None) -> None:
    """Re-encrypt every photo and face encoding not on ENCRYPTION_KEY_ID (or still in the
    clear) with it, in small transactions; stopping it halfway and running it again finishes
    the job. Exit 1 when values were left (held by the desk, or not readable)."""
    batch_size = batch_size or int(current_app.config["ROTATE_KEY_BATCH_SIZE"])
    current = keyring().current
    left = service.values_to_rotate()
    click.echo(f"Re-encrypting with key {current!r}: {sum(left.values())} values to do.")
    rotated, unreadable = 0, []
    for name in service.sealed_column_names():
        done_here, after = 0, None
        while True:
            batch = service.rotate_batch(name, batch_size, after)
            if batch.last_id is None:
                break
            after = batch.last_id
            done_here += batch.rotated
            unreadable.extend(f"{name} row {row_id}" for row_id in batch.unreadable)
            click.echo(f"{name}: {done_here} of {left[name]} re-encrypted")
        rotated += done_here
    remaining = sum(service.values_to_rotate().values())
    click.echo(f"Done: {rotated} values re-encrypted with key {current!r}; {remaining} left on "
               "other keys.")
    if unreadable:
        click.echo("Not readable with the configured keys (left as they are): "
                   + ", ".join(unreadable), err=True)
    if remaining:
        raise click.ClickException(
            f"{remaining} values are still on other keys (in use by the desk, or not "
            "readable): run rotate-key again before removing an old key.")
