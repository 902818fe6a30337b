"""Typed, versioned messages that cross the bus.

Only five kinds of message exist (REC-4: nothing else about a face ever leaves a worker):

* ``MatchEvent``     a confirmed alert, from a camera worker to the services (REC-2);
* ``HealthFigures``  counts and status of a camera worker (REC-5);
* ``HaltDeployment`` a control message, from the services to every node running a
  deployment: stop all processing at once (DEP-2);
* ``WatchlistRelease`` the sealed watchlist of a running deployment, encrypted for its
  nodes (WL-1, DP-2), or its withdrawal when the deployment stops (WL-6);
* ``NodeReport``     a node's state (names and counts only) and the halts it obeyed, from
  each `lfr node` to the services (DEP-2, REC-5).

Each travels inside an envelope: ``{"version": 1, "kind": ..., "message_id": ...,
"sent_at": ..., "payload": {...}}`` as JSON. ``decode`` refuses anything that is not one
of these exactly (unknown kind, unknown field, wrong type, newer envelope version) with a
``MalformedMessageError`` naming the field; the refusal never quotes the message's content,
because a malformed alert may still hold a face.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, Protocol
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from lfr.vision.types import HealthFigures, MatchEvent

ENVELOPE_VERSION = 1
"""Bumped only for a change an older reader cannot understand; see docs/bus.md."""


class HaltDeployment(BaseModel):
    """Silver's halt (DEP-2): every worker of the deployment stops at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    deployment_id: str = Field(min_length=1, max_length=64, description="The deployment to halt.")
    reason: str = Field(min_length=1, max_length=500, description="Why, as recorded in the audit.")
    issued_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC), description="When the halt was decided."
    )
    halt_id: str | None = Field(
        default=None,
        max_length=64,
        description="The recorded halt a node acknowledges (its `NodeReport.acknowledged`).",
    )


NodeState = Literal["running", "halted", "stopped"]


class NodeReport(BaseModel):
    """A node's own state, every few seconds and at once after obeying a halt (DEP-2)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    node: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The node's name.")
    deployment_id: str = Field(min_length=1, max_length=64)
    state: NodeState
    version: str = Field(max_length=40, description="The node's lfr version.")
    cameras: tuple[str, ...] = Field(default=(), max_length=64)
    acknowledged: tuple[str, ...] = Field(
        default=(), max_length=64, description="Ids of the halts this node has obeyed."
    )
    outbox_depth: int | None = Field(
        default=None, ge=0, description="Alerts kept on the node's disk, not yet sent."
    )
    destroyed_after_halt: int = Field(
        default=0,
        ge=0,
        description=(
            "Alerts captured after a halt, destroyed on the node unsent since its last "
            "report (the service audits the count)."
        ),
    )
    expired: int = Field(
        default=0,
        ge=0,
        description=(
            "Alerts past the outbox retention, destroyed on the node unsent since its last "
            "report (the service audits the count)."
        ),
    )
    reported_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class WatchlistRelease(BaseModel):
    """A running deployment's sealed watchlist for its nodes (`lfr.runtime.release`).

    `sealed` is the templates, encrypted to one enrolled node's key with the deployment,
    the node and the terms bound to it, so a release opens only for its own deployment and
    only on its own node. A withdrawal (`withdrawn`, nothing sealed) replaces the node's
    release on the bus when the deployment stops (or the node is revoked), which deletes
    the templates from the stream."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    schema_version: Literal[1] = 1
    deployment_id: str = Field(min_length=1, max_length=64)
    released_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    withdrawn: bool = Field(default=False, description="The deployment stopped: match nothing.")
    alert_threshold: float | None = Field(
        default=None, description="The authorised threshold (REC-2); None when withdrawn."
    )
    valid_until: datetime | None = Field(
        default=None, description="End of the authorised window: no matching after it."
    )
    model_id: str | None = Field(default=None, description="The model that made the templates.")
    node: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The enrolled node this copy is encrypted to (one release per node).",
    )
    ephemeral_key: bytes = Field(
        default=b"", repr=False, description="The sender's one-time X25519 public key."
    )
    sealed: bytes = Field(default=b"", repr=False, description="The encrypted templates.")


Message = MatchEvent | HealthFigures | HaltDeployment | WatchlistRelease | NodeReport
"""Everything that may be published."""


class _Envelope(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    version: Literal[1] = Field(default=1, description="Envelope format version.")
    message_id: UUID = Field(default_factory=uuid4, description="Unique per publication.")
    sent_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    node: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The enrolled node that signed it; None from the service's own workers.",
    )
    signature: bytes | None = Field(
        default=None, repr=False, description="Ed25519 over `signed_content` (the node's key)."
    )


class MatchEnvelope(_Envelope):
    kind: Literal["match_event"] = "match_event"
    payload: MatchEvent


class HealthEnvelope(_Envelope):
    kind: Literal["health_figures"] = "health_figures"
    payload: HealthFigures


class HaltEnvelope(_Envelope):
    kind: Literal["halt_deployment"] = "halt_deployment"
    payload: HaltDeployment


class ReleaseEnvelope(_Envelope):
    kind: Literal["watchlist_release"] = "watchlist_release"
    payload: WatchlistRelease


class NodeEnvelope(_Envelope):
    kind: Literal["node_report"] = "node_report"
    payload: NodeReport


AnyEnvelope = MatchEnvelope | HealthEnvelope | HaltEnvelope | ReleaseEnvelope | NodeEnvelope
Envelope = Annotated[AnyEnvelope, Field(discriminator="kind")]
_ENVELOPE = TypeAdapter[AnyEnvelope](Envelope)


class MalformedMessageError(ValueError):
    """A message that is not one the bus carries; ``field`` says where it went wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"malformed message: {field}: {reason}")
        self.field = field
        self.reason = reason


def wrap(message: Message) -> AnyEnvelope:
    """Put a message in its envelope."""
    if isinstance(message, MatchEvent):
        return MatchEnvelope(payload=message)
    if isinstance(message, HealthFigures):
        return HealthEnvelope(payload=message)
    if isinstance(message, WatchlistRelease):
        return ReleaseEnvelope(payload=message)
    if isinstance(message, NodeReport):
        return NodeEnvelope(payload=message)
    return HaltEnvelope(payload=message)


class Signer(Protocol):
    """A node's signing key (`lfr.bus.identity.NodeSigner`)."""

    @property
    def node(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


def signed_content(envelope: AnyEnvelope) -> bytes:
    """What a node signs: the kind, the message id, the node and the payload, so that a
    signature cannot be moved to another message or another node's name."""
    head = f"lfr-signed-1\n{envelope.kind}\n{envelope.message_id}\n{envelope.node}\n"
    return head.encode() + envelope.payload.model_dump_json().encode()


def signed(envelope: AnyEnvelope, signer: Signer) -> AnyEnvelope:
    named = envelope.model_copy(update={"node": signer.node, "signature": None})
    return named.model_copy(update={"signature": signer.sign(signed_content(named))})


def envelope_for(message: Message, signer: Signer | None = None) -> AnyEnvelope:
    """The message in its envelope, signed when a node's signer is given."""
    envelope = wrap(message)
    return signed(envelope, signer) if signer is not None else envelope


def encode(message: Message, signer: Signer | None = None) -> bytes:
    """The bytes that travel: the envelope as UTF-8 JSON (the probe JPEG as base64)."""
    return envelope_for(message, signer).model_dump_json().encode()


def deduplication_id(data: bytes) -> str | None:
    """The id the bus de-duplicates an encoded message by: an alert's ``event_id`` (so a
    retried alert is stored once however it was re-wrapped), else the envelope's id. None
    for bytes that are not a valid message: a malformed copy must not claim a real alert's
    id and have the stream drop the real one (the consumer refuses it anyway)."""
    try:
        envelope = decode(data)
    except MalformedMessageError:
        return None
    if isinstance(envelope.payload, MatchEvent):
        return str(envelope.payload.event_id)
    return str(envelope.message_id)


def decode(data: bytes) -> AnyEnvelope:
    """Parse and validate a message; ``MalformedMessageError`` names the first bad field."""
    try:
        return _ENVELOPE.validate_json(data)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        raise MalformedMessageError(
            _field_name(first["type"], first["loc"]), first["msg"]
        ) from None


_KINDS = frozenset(
    {"match_event", "health_figures", "halt_deployment", "watchlist_release", "node_report"}
)


def _field_name(error_type: str, loc: tuple[int | str, ...]) -> str:
    """``payload.score`` rather than pydantic's ``match_event.payload.score``."""
    if error_type == "union_tag_invalid":
        return "kind"
    parts = loc[1:] if loc and loc[0] in _KINDS else loc
    return ".".join(str(part) for part in parts) or "(message)"
