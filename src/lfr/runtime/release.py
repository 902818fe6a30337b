"""A running deployment's sealed watchlist, released to its nodes over the bus (WL-1, DP-2,
WL-6, REC-2).

While a deployment runs, the service publishes a `WatchlistRelease` to each enrolled,
unrevoked node that runs one of its cameras: the sealed watchlist's templates with their
entry ids and list kinds, encrypted to that node's own key (`lfr.bus.identity`: an
ephemeral X25519 exchange, AES-256-GCM), with the deployment, the node and the terms bound
as associated data; beside it, in clear, the authorised threshold, the end of the
authorised window and the model that made the templates, bound to the ciphertext so that
they cannot be altered. Each copy lives on its node's own subject. A node (`lfr node`
without ``--watchlist``) reads its newest release, opens it in memory, refuses one that is
withdrawn, expired, for another model, or not for it, and matches with the authorised
threshold until the window ends. When the deployment stops (or the node is revoked) the
service publishes a withdrawal, which replaces the node's release on the bus (one kept per
subject), so the encrypted templates leave the bus.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from lfr.bus.base import Bus
from lfr.bus.identity import (
    SERVICE_NAME,
    IdentityError,
    NodeIdentity,
    NodePublicKey,
    verify_service,
)
from lfr.bus.messages import WatchlistRelease, signed_content
from lfr.bus.subjects import Topic
from lfr.vision.matcher import TemplateSet
from lfr.vision.types import ListKind

POLL_S = 0.5
"""How often a node waiting for its release asks the bus again."""


class ReleaseError(RuntimeError):
    """No usable watchlist for a node; the message says why and what to check."""


@dataclass(frozen=True)
class ReleasedWatchlist:
    """What a node matches with: the sealed templates and the authority's terms."""

    templates: TemplateSet
    alert_threshold: float
    valid_until: datetime


def purpose(
    deployment_id: str,
    node: str,
    alert_threshold: float,
    valid_until: datetime,
    model_id: str | None,
) -> bytes:
    """Associated data of a release's ciphertext: the deployment, the node and the terms
    that travel in clear beside it, so that it opens for its own deployment and node only
    and a changed threshold, window end or model makes it fail to open."""
    terms = [deployment_id, node, alert_threshold, valid_until.isoformat(), model_id]
    return ("watchlist_release." + json.dumps(terms)).encode()


def seal_release(
    deployment_id: str,
    templates: TemplateSet,
    alert_threshold: float,
    valid_until: datetime,
    node: str,
    recipient: NodePublicKey,
) -> WatchlistRelease:
    """The deployment's templates and terms, encrypted to one node."""
    plaintext = json.dumps(
        {
            "subject_ids": list(templates.subject_ids),
            "list_kinds": [kind.value for kind in templates.list_kinds],
            "dimension": int(templates.matrix.shape[1]),
            "templates": base64.b64encode(
                np.ascontiguousarray(templates.matrix, dtype="<f4").tobytes()
            ).decode(),
        }
    ).encode()
    bound = purpose(deployment_id, node, alert_threshold, valid_until, templates.model_id)
    ephemeral, sealed = recipient.seal(plaintext, bound)
    return WatchlistRelease(
        deployment_id=deployment_id,
        node=node,
        alert_threshold=alert_threshold,
        valid_until=valid_until,
        model_id=templates.model_id,
        ephemeral_key=ephemeral,
        sealed=sealed,
    )


def withdrawal(deployment_id: str, node: str | None = None) -> WatchlistRelease:
    """Replaces a node's release on the bus: nothing to match any more."""
    return WatchlistRelease(deployment_id=deployment_id, node=node, withdrawn=True)


def open_release(
    release: WatchlistRelease,
    identity: NodeIdentity,
    node: str,
    *,
    model_id: str,
    now: datetime | None = None,
) -> ReleasedWatchlist:
    """The release's templates and terms, or `ReleaseError` saying why it cannot be used."""
    deployment = release.deployment_id
    if release.withdrawn or release.alert_threshold is None or release.valid_until is None:
        raise ReleaseError(f"deployment {deployment}: its watchlist was withdrawn (it stopped)")
    at = now or datetime.now(UTC)
    if release.valid_until <= at:
        raise ReleaseError(
            f"deployment {deployment}: its authorised window ended at "
            f"{release.valid_until.isoformat()}"
        )
    if release.model_id != model_id:
        raise ReleaseError(
            f"deployment {deployment}: its templates were made by model {release.model_id}, "
            f"this node describes faces with {model_id}"
        )
    bound = purpose(
        deployment, node, release.alert_threshold, release.valid_until, release.model_id
    )
    try:
        plaintext = identity.open(release.ephemeral_key, release.sealed, bound)
    except IdentityError:
        raise ReleaseError(
            f"deployment {deployment}: the released watchlist is not for node {node} "
            "(is this node enrolled under that name with this key?) or its terms were altered"
        ) from None
    return ReleasedWatchlist(
        _templates(plaintext, release.model_id), release.alert_threshold, release.valid_until
    )


def _templates(plaintext: bytes, model_id: str | None) -> TemplateSet:
    content = json.loads(plaintext)
    matrix = np.frombuffer(base64.b64decode(content["templates"]), dtype="<f4")
    return TemplateSet(
        tuple(content["subject_ids"]),
        tuple(ListKind(kind) for kind in content["list_kinds"]),
        matrix.reshape(-1, content["dimension"]).astype(np.float32),
        model_id,
    )


async def await_release(
    bus: Bus, deployment_id: str, node: str, timeout_s: float, service_key: bytes
) -> WatchlistRelease:
    """The node's newest release of the deployment on the bus, waiting up to `timeout_s`;
    one not signed by the service (`service_key`) is refused: a release is a watchlist, and
    only the service compiles one."""
    deadline = time.monotonic() + timeout_s
    while True:
        envelope = await bus.latest(Topic.WATCHLIST, deployment_id, node)
        if envelope is not None and isinstance(envelope.payload, WatchlistRelease):
            if not (
                envelope.node == SERVICE_NAME
                and verify_service(service_key, signed_content(envelope), envelope.signature)
            ):
                raise ReleaseError(
                    f"deployment {deployment_id}: the release on the bus is not signed by the "
                    "service (check --service-key against `lfr fleet service-key`)"
                )
            return envelope.payload
        if time.monotonic() >= deadline:
            raise ReleaseError(
                f"deployment {deployment_id}: no watchlist released to node {node} within "
                f"{timeout_s:g} s (is it running, on a service with LFR_NATS_URL, with this "
                "node enrolled and one of its cameras' source node:<this node>?)"
            )
        await asyncio.sleep(POLL_S)
