"""How the supervisor stops and restarts camera worker processes (`SupervisorSettings`).

Kept apart from `lfr.runtime.supervisor` so that the settings (`lfr.settings`) can hold
them without loading the bus.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SupervisorSettings(BaseModel):
    """How worker processes are stopped and restarted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    halt_grace_s: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description=(
            "After a halt, how long a worker may take to finish the frame in hand and flush "
            "its last messages before it is killed. Longer loses fewer last messages; "
            "shorter bounds how long processing can go on after Silver's halt (DEP-2)."
        ),
    )
    restart_initial_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description=(
            "Wait before restarting a crashed worker; doubled on each consecutive crash. "
            "Shorter recovers sooner; longer spares a machine a crash loop."
        ),
    )
    restart_max_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="The longest wait between restarts of a worker that keeps crashing.",
    )
    stable_after_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description=(
            "A worker that ran this long before crashing starts its backoff afresh. "
            "Shorter forgives a crash loop sooner; longer keeps a flapping camera slow."
        ),
    )
