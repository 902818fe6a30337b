"""`lfr node`: a recognition node on another machine (a van, a camera site).

Runs one camera worker process per ``--camera`` for one deployment; the workers publish
their MatchEvents and HealthFigures to NATS JetStream, where the central service collects
them (durably: a node on a flaky link loses nothing the stream can hold). The node obeys
the deployment's halt (DEP-2): a `HaltDeployment` on ``<prefix>.control.<deployment>``
stops every worker at once and the node exits.

Identity: ``--key`` is the node's key file (``lfr fleet keygen``), whose public half an
administrator has enrolled under the node's ``--name``; the node signs everything it
publishes with it, and the service refuses a node camera's messages without it.

The watchlist: without ``--watchlist`` the node receives the deployment's sealed watchlist
from the service, encrypted to this node's key (`lfr.runtime.release`), matches with the
authorised threshold, and stops when the authorised window ends. With
``--watchlist DIR`` it enrols a local folder instead (a rehearsal, or a service without a
node key); the service accepts its alerts only where the folder's subject names are the
sealed watchlist's entry ids. docs/bus.md describes the whole.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from lfr.bus.cameras import Camera
from lfr.bus.identity import IdentityError, NodeIdentity, parse_service_key
from lfr.bus.nats_auth import inbox_of, user_seed
from lfr.bus.nats_bus import BusUnavailableError, NatsSettings
from lfr.bus.subjects import TOKEN_PATTERN, check_token
from lfr.cli._settings import ConfigFile, load_standalone_settings, require_available_hardware
from lfr.runtime.engine import EngineJob, prepare_job
from lfr.runtime.node import Node, ReleasedSource
from lfr.runtime.release import ReleaseError
from lfr.vision.engine_config import EngineConfig

log = logging.getLogger("lfr.node")


def parse_cameras(values: list[str]) -> list[Camera]:
    """``NAME=SOURCE`` pairs; a bad or repeated name is refused naming it."""
    cameras: list[Camera] = []
    for value in values:
        name, equals, source = value.partition("=")
        if not equals or not source:
            raise typer.BadParameter(f"{value!r}: expected NAME=SOURCE", param_hint="--camera")
        try:
            cameras.append(Camera(name, source))
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--camera") from None
    names = [camera.name for camera in cameras]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise typer.BadParameter(
            f"camera named twice: {', '.join(repeated)}", param_hint="--camera"
        )
    return cameras


def default_node_name() -> str:
    """The host name, reduced to what a durable consumer name may hold."""
    name = "".join(c if TOKEN_PATTERN.match(c) else "-" for c in socket.gethostname())
    return name[:32] or "node"


def register(app: typer.Typer) -> None:
    @app.command()
    def node(
        nats: Annotated[str, typer.Option(help="NATS server URL (nats:// or tls://).")],
        key: Annotated[
            Path,
            typer.Option(
                help=(
                    "This node's key file (`lfr fleet keygen`); its public key must be "
                    "enrolled under --name by an administrator."
                )
            ),
        ],
        deployment: Annotated[str, typer.Option(help="The deployment these cameras serve.")],
        camera: Annotated[
            list[str], typer.Option(help="NAME=SOURCE (file, rtsp/http URL, device:N); repeat.")
        ],
        watchlist: Annotated[
            Path | None,
            typer.Option(
                help=(
                    "Watchlist folder (DIR/<subject>/*.jpg or DIR/<subject>.jpg); omit it to "
                    "receive the deployment's sealed watchlist from the service."
                )
            ),
        ] = None,
        threshold: Annotated[
            float | None,
            typer.Option(
                help=(
                    "Alert threshold (cosine similarity) the authority set, with --watchlist "
                    "(default: the settings' engine.alert_threshold); a released watchlist "
                    "carries its own."
                )
            ),
        ] = None,
        service_key: Annotated[
            str | None,
            typer.Option(
                envvar="LFR_SERVICE_KEY",
                help=(
                    "The service's release key (`lfr fleet service-key`): a released "
                    "watchlist not signed with it is refused. Needed without --watchlist."
                ),
            ),
        ] = None,
        release_wait: Annotated[
            float,
            typer.Option(help="Seconds to wait for the released watchlist.", min=0),
        ] = 60.0,
        name: Annotated[
            str | None, typer.Option(help="This node's name (default: the host name).")
        ] = None,
        prefix: Annotated[
            str | None,
            typer.Option(
                help=(
                    "Subject prefix shared with the services (default: the settings' "
                    "nats_prefix, LFR_NATS_PREFIX)."
                )
            ),
        ] = None,
        creds: Annotated[
            Path | None, typer.Option(help="NATS user credentials file for this node.")
        ] = None,
        connect_wait: Annotated[
            float | None,
            typer.Option(
                help=(
                    "Seconds to keep trying the first connection to NATS (default: the "
                    "settings' nats.first_connect_s)."
                ),
                min=0.1,
            ),
        ] = None,
        outbox: Annotated[
            Path | None,
            typer.Option(
                help=(
                    "Folder where alerts not yet sent are kept, encrypted with a key derived "
                    "from --key, across restarts and power cuts (default: memory only)."
                )
            ),
        ] = None,
        loop: Annotated[
            bool, typer.Option("--loop", help="Play file sources again at their end.")
        ] = False,
        metrics_port: Annotated[
            int | None,
            typer.Option(help="Serve Prometheus metrics on this port (default: none).", min=1),
        ] = None,
        config: ConfigFile = None,
    ) -> None:
        """Run a recognition node: camera workers that publish alerts and health to NATS."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        settings = load_standalone_settings(config)
        require_available_hardware(settings.engine)
        cameras = parse_cameras(camera)
        node_name = name or default_node_name()
        try:
            identity = NodeIdentity.load(key)
        except IdentityError as error:
            raise typer.BadParameter(str(error), param_hint="--key") from None
        try:
            check_token(deployment, "deployment id")
            check_token(node_name, "node name")
            waits = {"first_connect_s": connect_wait} if connect_wait is not None else {}
            bus = NatsSettings.at(
                nats,
                settings.nats,
                prefix=prefix or settings.nats_prefix,
                credentials_file=creds,
                **node_access(identity, node_name),
                **waits,
            )
            engine = _engine_with_threshold(settings.engine, threshold)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
        source = (
            _enrol(watchlist, engine)
            if watchlist is not None
            else _released(identity, engine, threshold, release_wait, service_key)
        )
        if loop:
            source = replace(source, loop=True)
        node = Node(
            deployment,
            node_name,
            cameras,
            source,
            bus,
            settings.supervisor,
            identity,
            outbox,
            metrics_port,
        )
        try:
            outcome = asyncio.run(node.run())
        except (BusUnavailableError, ReleaseError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"node {node_name} stopped: {outcome}")


def node_access(identity: NodeIdentity, name: str) -> dict[str, Any]:
    """How a node signs in to NATS: the NKey derived from its key file, its own reply
    prefix, and no stream changes (what `lfr fleet nats-config` allows it)."""
    return {
        "nkey_seed": user_seed(identity.signer(name).bus_seed()),
        "inbox_prefix": inbox_of(name),
        "create_streams": False,
    }


def _engine_with_threshold(engine: EngineConfig, threshold: float | None) -> EngineConfig:
    """The configured engine, with the threshold the command names (a rehearsal's)."""
    return engine if threshold is None else engine.updated(alert_threshold=threshold)


def _released(
    identity: NodeIdentity,
    config: EngineConfig,
    threshold: float | None,
    wait_s: float,
    service_key: str | None,
) -> ReleasedSource:
    """The release source: the service's signature on it, the node's own key opens it; no
    threshold of one's own."""
    if threshold is not None:
        raise typer.BadParameter(
            "a released watchlist carries the authorised threshold; give --threshold only "
            "with --watchlist",
            param_hint="--threshold",
        )
    if service_key is None:
        raise typer.BadParameter(
            "a released watchlist is checked against the service's key: give --service-key "
            "(`lfr fleet service-key` prints it), or a --watchlist folder",
            param_hint="--service-key",
        )
    try:
        key = parse_service_key(service_key)
    except IdentityError as error:
        raise typer.BadParameter(str(error), param_hint="--service-key") from None
    return ReleasedSource(identity, config, wait_s, key)


def _enrol(watchlist: Path, config: EngineConfig) -> EngineJob:
    """Enrol the watchlist once; list refusals; refuse to run with no usable image."""
    try:
        job, refusals = prepare_job(watchlist, config)
    except NotADirectoryError as error:
        raise typer.BadParameter(str(error), param_hint="--watchlist") from None
    for refusal in refusals:
        typer.echo(f"watchlist image refused: {refusal}", err=True)
    if len(job.gallery) == 0:
        raise typer.BadParameter(
            f"{watchlist}: no usable watchlist image, nothing to match against",
            param_hint="--watchlist",
        )
    typer.echo(f"watchlist: {len(job.gallery)} subject(s) enrolled, {len(refusals)} refused")
    return job
