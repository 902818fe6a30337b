"""NATS's own security for the bus: one NKey user per node and one for the service, each
node allowed to publish only on its own subjects, and the server's authorization block
that says so (`lfr fleet nats-config`; docs/bus.md).

An NKey is an Ed25519 key in NATS's text form (``U…`` for a user's public key, ``SU…`` for
its seed). A node's comes from its key file (`lfr.bus.identity.bus_seed`), the
service's from its audit signing key, so neither has a secret of its own to distribute;
the service learns a node's public NKey when the node is enrolled (the fourth part of the
key `lfr fleet keygen` prints).

What a node may do on the broker:

* publish its cameras' alerts and health (``<prefix>.match.*.<camera>``,
  ``<prefix>.health.*.<camera>``) and its own reports (``<prefix>.node.*.<node>``);
* read the latest halt and watchlist release (``$JS.API.STREAM.MSG.GET`` on the control
  and watchlist streams only: the alert stream is never readable by a node);
* follow halts through a durable consumer on the control stream, and acknowledge them;
* receive replies only on its own inbox prefix (``_INBOX_<node>``), so it never sees what
  the service fetches (alerts with their probe images) or another node's replies.

Nothing else: no stream is created, changed or deleted by a node (the service does that),
and an anonymous client, or an unknown NKey, is not let in at all.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nkeys

from lfr.bus.streams import stream_name
from lfr.bus.subjects import Topic, check_token

SERVICE_INBOX = "_INBOX"
"""The service's reply prefix (NATS's default); nodes each have their own."""


def inbox_of(node: str) -> str:
    """The reply prefix a node uses, and the only one it may subscribe to."""
    return f"_INBOX_{check_token(node, 'node name')}"


def user_seed(seed: bytes) -> str:
    """A 32-byte Ed25519 seed in NATS's text form (``SU…``), as nats-py takes it."""
    encoded: bytes = nkeys.encode_seed(seed, nkeys.PREFIX_BYTE_USER)
    return encoded.decode()


def user_public(raw: bytes) -> str:
    """A 32-byte Ed25519 public key as a NATS user's NKey (``U…``)."""
    body = bytes([nkeys.PREFIX_BYTE_USER]) + raw
    return base64.b32encode(body + nkeys.crc16_checksum(body)).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class NodeAccess:
    """An enrolled, unrevoked node as the broker sees it."""

    name: str
    nkey: str
    cameras: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The server's certificate and key files (PEM), for the ``tls`` block."""

    cert_file: Path
    key_file: Path


def node_permissions(prefix: str, node: NodeAccess) -> dict[str, object]:
    """What `node` may publish and subscribe to (the module's docstring says why)."""
    control = stream_name(prefix, Topic.CONTROL)
    watchlist = stream_name(prefix, Topic.WATCHLIST)
    own = [
        subject
        for camera in node.cameras
        for subject in (f"{prefix}.{Topic.MATCH}.*.{camera}", f"{prefix}.{Topic.HEALTH}.*.{camera}")
    ]
    publish = [
        *own,
        f"{prefix}.{Topic.NODE}.*.{node.name}",
        f"$JS.API.STREAM.MSG.GET.{control}",
        f"$JS.API.STREAM.MSG.GET.{watchlist}",
        f"$JS.API.CONSUMER.INFO.{control}.*",
        f"$JS.API.CONSUMER.CREATE.{control}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{control}.*",
        f"$JS.API.CONSUMER.MSG.NEXT.{control}.*",
        f"$JS.ACK.{control}.>",
    ]
    return {"publish": {"allow": publish}, "subscribe": {"allow": [f"{inbox_of(node.name)}.>"]}}


def authorization_block(
    prefix: str, service_nkey: str, nodes: Sequence[NodeAccess], tls: ServerTls | None = None
) -> str:
    """The nats-server configuration that admits the service and these nodes only (to be
    included in the server's own file, beside its ``listen`` and ``jetstream`` blocks)."""
    lines = [
        f"# lfr bus authorization for subject prefix '{prefix}' (lfr fleet nats-config).",
        "# Regenerate and reload the server (nats-server --signal reload) after enrolling",
        "# or revoking a node, or moving a camera to another node.",
    ]
    if tls is not None:
        lines += [
            "tls {",
            f"  cert_file: {json.dumps(str(tls.cert_file))}",
            f"  key_file: {json.dumps(str(tls.key_file))}",
            "}",
        ]
    lines += ["authorization {", "  users = ["]
    everything = {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    lines.append("    # the service: creates the streams, reads every topic, publishes halts")
    lines.append(f"    {_user(service_nkey, everything)}")
    for node in nodes:
        cameras = ", ".join(node.cameras) or "none yet"
        lines.append(f"    # node {node.name} (cameras: {cameras})")
        lines.append(f"    {_user(node.nkey, node_permissions(prefix, node))}")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def _user(nkey: str, permissions: Mapping[str, object]) -> str:
    # JSON is valid nats-server configuration syntax (its format is a JSON superset).
    return json.dumps({"nkey": nkey, "permissions": permissions})
