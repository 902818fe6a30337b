"""A running deployment's sealed watchlist, released to its nodes over the bus (WL-1, DP-2,
WL-6, REC-2).

When a deployment starts (or the service restarts while it runs), the service publishes a
`WatchlistRelease` for it: the sealed watchlist's templates with their entry ids and list
kinds, encrypted with AES-256-GCM under the *node key* (`LFR_NODE_KEY`, shared by the
service and its nodes only: not the database's biometric key), with the deployment id
bound as associated data; beside it, in clear, the authorised threshold, the end of the
authorised window and the model that made the templates, bound to the ciphertext so
that they cannot be altered. A node (`lfr node` without
``--watchlist``) reads the newest release of its deployment, opens it in memory, refuses
one that is withdrawn, expired, for another model, or does not open with its key, and
matches with the authorised threshold until the window ends. When the deployment stops the
service publishes a withdrawal, which replaces the release on the bus (one kept per
deployment), so the encrypted templates leave the bus with the deployment.
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
from lfr.bus.messages import WatchlistRelease
from lfr.bus.subjects import Topic
from lfr.crypto import BiometricCipher, DecryptionError
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
    deployment_id: str, alert_threshold: float, valid_until: datetime, model_id: str | None
) -> str:
    """Associated data of a release's ciphertext: the deployment and the terms that travel
    in clear beside it, so that it opens for its own deployment only and a changed
    threshold, window end or model makes it fail to open."""
    terms = [deployment_id, alert_threshold, valid_until.isoformat(), model_id]
    return "watchlist_release." + json.dumps(terms)


def seal_release(
    deployment_id: str,
    templates: TemplateSet,
    alert_threshold: float,
    valid_until: datetime,
    cipher: BiometricCipher,
) -> WatchlistRelease:
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
    return WatchlistRelease(
        deployment_id=deployment_id,
        alert_threshold=alert_threshold,
        valid_until=valid_until,
        model_id=templates.model_id,
        sealed=cipher.seal(
            plaintext, purpose(deployment_id, alert_threshold, valid_until, templates.model_id)
        ),
    )


def withdrawal(deployment_id: str) -> WatchlistRelease:
    """Replaces the deployment's release on the bus: nothing to match any more."""
    return WatchlistRelease(deployment_id=deployment_id, withdrawn=True)


def open_release(
    release: WatchlistRelease,
    cipher: BiometricCipher,
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
    bound = purpose(deployment, release.alert_threshold, release.valid_until, release.model_id)
    try:
        plaintext = cipher.open(release.sealed, bound)
    except DecryptionError:
        raise ReleaseError(
            f"deployment {deployment}: the released watchlist does not open with this node's "
            "key (LFR_NODE_KEY must equal the service's) or its terms were altered"
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


async def await_release(bus: Bus, deployment_id: str, timeout_s: float) -> WatchlistRelease:
    """The deployment's newest release on the bus, waiting up to `timeout_s` for one."""
    deadline = time.monotonic() + timeout_s
    while True:
        envelope = await bus.latest(Topic.WATCHLIST, deployment_id)
        if envelope is not None and isinstance(envelope.payload, WatchlistRelease):
            return envelope.payload
        if time.monotonic() >= deadline:
            raise ReleaseError(
                f"deployment {deployment_id}: no watchlist released within {timeout_s:g} s "
                "(is it running, on a service with LFR_NATS_URL and LFR_NODE_KEY set?)"
            )
        await asyncio.sleep(POLL_S)
