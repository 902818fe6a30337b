"""`lfr audit verify | checkpoint | public-key | export` (AUD-1).

Other areas add audit commands (e.g. compliance checks) to ``audit_app``.
"""

from __future__ import annotations

import contextlib
import urllib.request
from pathlib import Path
from typing import Annotated, TextIO

import typer

from lfr import audit
from lfr.audit.chain import VerificationReport
from lfr.audit.checkpoint import (
    CheckpointError,
    SignedCheckpoint,
    check_public_key,
    load_signing_key,
    public_key_text,
    read_published,
)
from lfr.audit.export import export_lines, verify_export
from lfr.cli._database import database_transaction
from lfr.cli._settings import load_settings

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def _signing_key_public() -> str:
    return public_key_text(load_signing_key(load_settings().audit_signing_key_bytes()))


def _read_checkpoints(paths: list[Path]) -> tuple[SignedCheckpoint, ...]:
    checkpoints = []
    for path in paths:
        try:
            checkpoints.append(SignedCheckpoint.from_json(path.read_text(encoding="utf-8")))
        except (OSError, CheckpointError) as error:
            raise typer.BadParameter(f"{path}: {error}", param_hint="--checkpoint") from error
    return tuple(checkpoints)


FETCH_TIMEOUT_S = 15.0
MAX_FEED_BYTES = 64 * 1024 * 1024


def _fetch(source: str) -> str:
    """A published feed or head: from a URL (http/https) or a file kept earlier."""
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=FETCH_TIMEOUT_S) as response:
                body: bytes = response.read(MAX_FEED_BYTES + 1)
        except (OSError, ValueError) as error:
            raise typer.BadParameter(f"{source}: {error}", param_hint="--against") from error
        if len(body) > MAX_FEED_BYTES:
            raise typer.BadParameter(f"{source}: larger than {MAX_FEED_BYTES} bytes")
        return body.decode("utf-8", errors="replace")
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise typer.BadParameter(f"{source}: {error}", param_hint="--against") from error


def _read_against(
    sources: list[str],
) -> tuple[tuple[SignedCheckpoint, ...], tuple[SignedCheckpoint, ...]]:
    """(single checkpoints and heads, feed checkpoints) from every --against source."""
    single: list[SignedCheckpoint] = []
    feed: list[SignedCheckpoint] = []
    for source in sources:
        try:
            checkpoints, from_feed = read_published(_fetch(source))
        except CheckpointError as error:
            raise typer.BadParameter(f"{source}: {error}", param_hint="--against") from error
        (feed if from_feed else single).extend(checkpoints)
    return tuple(single), tuple(feed)


def _report(report: VerificationReport) -> None:
    if report.ok:
        typer.echo(
            f"ok: {report.entries_checked} entries verified, last {report.last_sequence}, "
            f"head {report.head_hash}"
        )
        return
    typer.echo(f"TAMPERED: {len(report.problems)} problem(s) in {report.entries_checked} entries")
    for problem in report.problems:
        typer.echo(f"  {problem}")
    raise typer.Exit(1)


@audit_app.command()
def verify(
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", help="Checkpoint JSON file(s) published earlier."),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(help="Trusted public key (base64). Default: this installation's own key."),
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option(
            help="Verify an exported log file instead of the database (outside verification)."
        ),
    ] = None,
    against: Annotated[
        list[str] | None,
        typer.Option(
            "--against",
            help=(
                "A copy of the public checkpoint feed or a signed head, as a URL "
                "(…/api/public/audit/checkpoints) or a file kept earlier; repeatable. "
                "Truncation, recomputation and withdrawn checkpoints are reported."
            ),
        ),
    ] = None,
) -> None:
    """Verify the audit log; exit 1 and say where when anything was altered."""
    if public_key is not None:
        try:
            check_public_key(public_key)
        except CheckpointError as error:
            raise typer.BadParameter(str(error), param_hint="--public-key") from error
    single, published = _read_against(against or [])
    checkpoints = _read_checkpoints(checkpoint or []) + single
    given = bool(checkpoints or published)
    trusted = public_key or (_signing_key_public() if log is None or given else None)
    try:
        if log is not None:
            with log.open(encoding="utf-8") as lines:
                report = verify_export(lines, checkpoints + published, trusted)
        else:
            with database_transaction() as session:
                report = audit.verify(
                    session,
                    checkpoints=checkpoints,
                    trusted_public_key=trusted,
                    published=published,
                    chain_key=load_settings().audit_chain_key_bytes(),
                )
    except (ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    _report(report)


@audit_app.command("checkpoint")
def make_checkpoint(
    output: Annotated[
        Path | None, typer.Option(help="Also write the checkpoint JSON here.")
    ] = None,
) -> None:
    """Sign the log's current head and store the checkpoint; print it as JSON to publish."""
    key = load_signing_key(load_settings().audit_signing_key_bytes())
    with contextlib.ExitStack() as stack:
        file = stack.enter_context(_written(output)) if output is not None else None
        with database_transaction() as session:
            signed = audit.create_checkpoint(session, key)
        if file is not None:
            file.write(signed.to_json())
    typer.echo(signed.to_json(), nl=False)


def _written(output: Path) -> TextIO:
    """`output` opened for writing, before anything is read or stored; a path that cannot be
    written ends the command with its reason (exit 2), not a traceback."""
    try:
        return output.open("w", encoding="utf-8")
    except OSError as error:
        typer.echo(f"error: cannot write {output}: {error.strerror or error}", err=True)
        raise typer.Exit(2) from error


@audit_app.command("public-key")
def public_key_command() -> None:
    """Print the public key that verifies this installation's checkpoints (publish it)."""
    typer.echo(_signing_key_public())


@audit_app.command()
def export(output: Annotated[Path, typer.Argument(help="File to write (JSON Lines).")]) -> None:
    """Export the log for verification elsewhere (`lfr audit verify --log FILE`)."""
    count = 0
    with _written(output) as file, database_transaction() as session:
        for line in export_lines(session):
            file.write(line + "\n")
            count += 1
    typer.echo(f"exported {count} entries to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
