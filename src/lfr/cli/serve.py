"""`lfr serve` and `lfr demo`: the whole system on one machine, in one command."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from lfr.cli._settings import (
    ConfigFile,
    load_settings,
    require_available_hardware,
    require_data_dir,
)

log = logging.getLogger("lfr.serve")

GRACEFUL_STOP_S = 5
"""How long a stopping `lfr serve` lets open requests finish (live streams are cut after
it; browsers reconnect, through a load balancer to another instance) before it stops its
camera workers and gives up its leases."""


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        demo: Annotated[
            bool, typer.Option("--demo", help="Seed a demo force first (see `lfr demo`).")
        ] = False,
        media: Annotated[
            Path | None,
            typer.Option(help="With --demo: a folder with one face image and one video."),
        ] = None,
        config: ConfigFile = None,
    ) -> None:
        """Run lfr: migrations, the web application and the camera workers."""
        _serve(host=host, port=port, demo=demo, media=media, config=config)

    @app.command("demo")
    def demo_command(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        media: Annotated[
            Path | None,
            typer.Option(help="A folder with one face image (watchlist) and one video."),
        ] = None,
        config: ConfigFile = None,
    ) -> None:
        """Seed a demo force (one account per role, an authorised rehearsal deployment with a
        watchlist and a rehearsal clip), then serve it: an alert reaches the operator within
        a minute."""
        _serve(host=host, port=port, demo=True, media=media, config=config)

    @app.command("demo-codes")
    def demo_codes() -> None:
        """Print the demo accounts' current second-factor codes (development only)."""
        from lfr.cli._database import existing_database_or_exit
        from lfr.demo import current_codes
        from lfr.keyring import open_database

        settings = load_settings()
        if not settings.allows_development_secrets:
            raise typer.BadParameter("demo accounts exist only in development")
        url = existing_database_or_exit(settings)
        codes = current_codes(open_database(settings, url))
        for username, code in sorted(codes.items()):
            typer.echo(f"{username:<14} {code}")


def _serve(*, host: str, port: int, demo: bool, media: Path | None, config: Path | None) -> None:
    import uvicorn

    from lfr.runtime.engine import run_camera_engine
    from lfr.runtime.preview import PreviewHub
    from lfr.services.people import ensure_administrator
    from lfr.settings import InsecureSettingsError
    from lfr.system import build
    from lfr.web.middleware import require_allowed_hosts
    from lfr.web.routes.operations import serve_metrics_apart

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(config)
    require_available_hardware(settings.engine)
    try:
        require_allowed_hosts(settings)
    except InsecureSettingsError as error:  # before anything starts
        typer.echo(f"error: invalid settings: {error}", err=True)
        raise typer.Exit(2) from error
    if demo:  # before anything touches the database: no account it would then refuse
        from lfr.demo import check_demo_environment

        check_demo_environment(settings)
    require_data_dir(settings)
    system = build(settings, target=run_camera_engine, preview=PreviewHub())
    bootstrap = ensure_administrator(system.context.db)
    if bootstrap is not None:
        typer.echo(
            f"\nFirst run: administrator account {bootstrap.username!r} created.\n"
            f"One-time password: {bootstrap.one_time_password}\n"
            "It works once: the first sign-in asks for a new password and a second factor.\n"
        )
    if demo:
        from lfr.demo import seed_demo

        seed_demo(system.context, media=media, echo=typer.echo)
    serve_metrics_apart(system.context)
    log.info("lfr listening on http://%s:%d (API docs at /api/docs)", host, port)
    # Forwarded headers are believed only from the proxies the settings name (none by
    # default), so a client cannot choose the address the sign-in throttle counts.
    proxies = settings.forwarded_allow_ips
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        system.app,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        # Open live streams never end by themselves: without a bound, a stop (SIGTERM,
        # Ctrl-C) would wait for every console to close before stopping the workers.
        timeout_graceful_shutdown=GRACEFUL_STOP_S,
    )


def _stopped(number: int, _frame: object) -> None:
    """SIGTERM once uvicorn has shut down (it raises the signal again after its graceful
    stop): a normal exit, status 0 as after Ctrl-C, so that the interpreter's exit handlers
    run (the default action ended the process at once, status 143, and left the preview
    queue's semaphores to the resource tracker's "leaked semaphore" warning)."""
    raise SystemExit(0)
