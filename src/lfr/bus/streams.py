"""What each topic's stream keeps, and for how long; both bus implementations obey it.

* match: a work queue. An alert is kept until the services acknowledge it, then deleted
  at once, so a probe image sits on the bus's disk no longer than it must (REC-4, DP-2).
* health: a work queue too, keeping only the latest figures per camera while the
  services are away: old counts are worthless, a backlog of them is noise.
* control: kept (not deleted on acknowledgement) because every node running the
  deployment must see the halt, each through its own durable consumer.
* watchlist: kept, one message per deployment: the latest release, which every node
  reads; the withdrawal that replaces it when the deployment stops deletes the
  (encrypted) templates from the stream (WL-6).
* node: a work queue of node reports, the latest few per node: the services keep only the
  newest state, and an acknowledged halt is recorded from whichever report carries it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lfr.bus.subjects import Topic
from lfr.partial_tables import complete_partial_tables


class StreamPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    work_queue: bool = Field(
        description="Delete a message once one consumer acknowledged it (else keep it)."
    )
    max_age_s: float = Field(
        gt=0,
        description=(
            "Oldest message kept. Longer lets a node stay cut off longer without losing "
            "what it published, at the cost of data lingering on the bus's disk."
        ),
    )
    max_per_subject: int = Field(
        ge=-1,
        description=(
            "Messages kept per subject (per camera or deployment), oldest dropped first; "
            "-1 is no limit. A limit bounds a backlog but drops its oldest entries."
        ),
    )


class StreamLimits(BaseModel):
    """The policy of each topic's stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _complete_partial_tables(cls, data: Any) -> Any:
        """``LFR_NATS__STREAMS__MATCH__MAX_AGE_S`` changes that one value of the match
        stream's policy and keeps the rest (`lfr.partial_tables`)."""
        return complete_partial_tables(cls, data)

    match: StreamPolicy = Field(
        default=StreamPolicy(work_queue=True, max_age_s=24 * 3600, max_per_subject=-1),
        description=(
            "Alerts: never dropped for count; an alert not collected within a day is "
            "dropped (a deployment is over by then and its watchlist deleted, WL-6)."
        ),
    )
    health: StreamPolicy = Field(
        default=StreamPolicy(work_queue=True, max_age_s=3600, max_per_subject=60),
        description="Health figures: the last 60 per camera, at most an hour old.",
    )
    control: StreamPolicy = Field(
        default=StreamPolicy(work_queue=False, max_age_s=24 * 3600, max_per_subject=16),
        description="Halts: kept a day, so a node that reconnects late still stops.",
    )
    watchlist: StreamPolicy = Field(
        default=StreamPolicy(work_queue=False, max_age_s=24 * 3600, max_per_subject=1),
        description=(
            "Watchlist releases: the latest per deployment only (a new release or the "
            "withdrawal replaces it), at most a day old (WL-6)."
        ),
    )

    node: StreamPolicy = Field(
        default=StreamPolicy(work_queue=True, max_age_s=3600, max_per_subject=10),
        description="Node reports: the last 10 per node, at most an hour old.",
    )

    def of(self, topic: Topic) -> StreamPolicy:
        policy: StreamPolicy = getattr(self, topic.value)
        return policy


def stream_name(prefix: str, topic: Topic) -> str:
    """JetStream stream name for a topic: ``LFR_MATCH`` for the default prefix."""
    return f"{prefix}_{topic.value}".upper().replace("-", "_")
