"""How a NATS client connects, waits and retries, and what its streams keep (`NatsTuning`).

Kept apart from `lfr.bus.nats_bus` so that the settings (`lfr.settings`) can hold it
without loading the NATS client; where the server is (`NatsSettings`) is the caller's.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from lfr.bus.base import ConsumerSettings
from lfr.bus.streams import StreamLimits


class NatsTuning(BaseModel):
    """Timeouts, redelivery and stream limits of a NATS client (the service's or a node's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="How long one connection attempt may take."
    )
    first_connect_s: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description=(
            "How long the first connection may keep retrying before it is an error. Longer "
            "tolerates a server that starts slowly; shorter reports a wrong URL sooner."
        ),
    )
    request_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description=(
            "How long a publication waits for the stream's acknowledgement. Longer rides out "
            "a slow link; shorter notices a dead one sooner (the caller retries)."
        ),
    )
    tls_ca_file: Path | None = Field(
        default=None,
        description=(
            "The certificate authority (PEM) a tls:// server's certificate must chain to; "
            "unset, the system's authorities (docs/bus.md)."
        ),
    )
    consumer: ConsumerSettings = Field(
        default_factory=ConsumerSettings, description="How subscribers treat failing handlers."
    )
    streams: StreamLimits = Field(
        default_factory=StreamLimits, description="What each topic's stream keeps."
    )
