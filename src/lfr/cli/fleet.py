"""`lfr fleet keygen | enrol | revoke | list | nats-config`: recognition nodes and their
identities, and the NATS server's users for them.

`keygen` runs on the node and writes its private keys (readable by its user only), printing
the public key an administrator enrols at the server's console (`enrol`, also on the Fleet
page and through the API). A revoked node receives no watchlist and what it publishes is
refused (DEP-2, WL-1). `nats-config` prints the nats-server authorization block that admits
the service and each enrolled node, each node only to its own subjects (docs/bus.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lfr.bus.identity import NodeIdentity, service_public_key, service_signer
from lfr.bus.nats_auth import ServerTls, authorization_block, user_public
from lfr.cli._database import console_transaction, database_transaction
from lfr.cli._settings import load_settings
from lfr.services import fleet, people

fleet_app = typer.Typer(
    help="Recognition nodes: keys, enrolment, revocation.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(fleet_app, name="fleet")


@fleet_app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option(help="Where to write this node's private keys.")],
) -> None:
    """Make a node's keys (on the node); print the public key to enrol."""
    identity = NodeIdentity.generate()
    try:
        identity.save(out)
    except FileExistsError:
        raise typer.BadParameter(f"{out} exists: a node's keys are never overwritten") from None
    typer.echo(identity.public().text())


@fleet_app.command("service-key")
def service_key() -> None:
    """Print the key nodes check the service's releases with (lfr node --service-key)."""
    settings = load_settings()
    typer.echo(service_public_key(service_signer(settings.audit_signing_key_bytes())))


@fleet_app.command("nats-config")
def nats_config(
    tls_cert: Annotated[
        Path | None, typer.Option(help="The NATS server's certificate (PEM), for TLS.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="The NATS server's private key (PEM), for TLS.")
    ] = None,
) -> None:
    """Print the nats-server authorization (and TLS) block: the service and each enrolled
    node as NKey users, each node allowed only its own subjects (docs/bus.md)."""
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both --tls-cert and --tls-key, or neither")
    settings = load_settings()
    tls = ServerTls(tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None
    with database_transaction() as session:
        nodes, keyless = fleet.bus_access(session)
    service = user_public(service_signer(settings.audit_signing_key_bytes()).bus_public())
    typer.echo(authorization_block(settings.nats_prefix, service, nodes, tls), nl=False)
    for name in keyless:
        typer.echo(
            f"warning: node {name} was enrolled without a bus key and is left out: enrol its "
            "key again (as printed by lfr fleet keygen) under a new name",
            err=True,
        )


@fleet_app.command("enrol")
def enrol(
    name: Annotated[str, typer.Argument(help="The node's name (lfr node --name).")],
    public_key: Annotated[str, typer.Argument(help="What `lfr fleet keygen` printed.")],
) -> None:
    """Enrol a node (as the administrator at the server's console); audited."""
    with console_transaction() as session:
        fleet.enrol_node(session, people.console_actor(), name, public_key)
    typer.echo(f"node {name} enrolled")


@fleet_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The node's name.")],
    reason: Annotated[str, typer.Option(help="Why, for the audit.")],
) -> None:
    """Revoke a node: no watchlist for it, its messages refused; audited."""
    with console_transaction() as session:
        fleet.revoke_node(session, people.console_actor(), name, reason)
    typer.echo(f"node {name} revoked")


@fleet_app.command("list")
def list_nodes() -> None:
    """Every enrolled node: name, enrolled, and active, awaiting approval or revoked."""
    with database_transaction() as session:
        for row in fleet.enrolled_nodes(session):
            state = (
                f"revoked {row.revoked_at:%Y-%m-%d %H:%M}"
                if row.revoked_at
                else "active"
                if row.approved_at
                else "awaits a second administrator (the Fleet page)"
            )
            typer.echo(f"{row.name:<20} enrolled {row.enrolled_at:%Y-%m-%d %H:%M}  {state}")
