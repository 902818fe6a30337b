"""How the supervisor stops and restarts camera worker processes (`SupervisorSettings`).

Kept apart from `lfr.runtime.supervisor` so that the settings (`lfr.settings`) can hold
them without loading the bus.
"""

from __future__ import annotations

from typing import Literal

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
    outbox_retention_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        le=30 * 24 * 3600,
        description=(
            "A node's outbox: an alert not delivered within this long is destroyed on the "
            "node's disk, counted and reported (audited by the service). Longer rides out a "
            "longer outage; shorter keeps less biometric data on a van (DP-2). The bus keeps "
            "an uncollected alert a day (nats.streams.match.max_age_s)."
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
    loop_files: bool = Field(
        default=False,
        description=(
            "Play a camera's video file again from its start each time it ends, frames "
            "numbered and stamped on, so that a demo, a training day or a soak run keeps a "
            "camera busy without a stream server. Streams and devices never end; a real "
            "deployment's cameras are streams, so this is off by default."
        ),
    )
    min_camera_fps: float = Field(
        default=10.0,
        ge=0,
        le=120,
        description=(
            "Frames per second each camera must be processed at for recognition to work as "
            "the deployment assumes (REC-5): a walker is in view for two or three seconds and "
            "needs several described frames to be confirmed. A start that would run a camera "
            "here below it is flagged on the start checklist with the expected rate; a "
            "running camera below it is shown on the deployment page and the console. 0 turns "
            "admission control off."
        ),
    )
    over_capacity: Literal["warn", "refuse"] = Field(
        default="warn",
        description=(
            "What a start beyond this machine's capacity meets: `warn` lists it on the start "
            "checklist and lets Silver start anyway (the figures will show it); `refuse` "
            "refuses the start until fewer cameras run here or some run on a node."
        ),
    )
    host_frames_per_s: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Frames per second this machine processes, all its cameras together (measure it "
            "with `python -m benchmarks.cameras`). Unset: measured once per resolution by a "
            "short calibration the first time a start needs it."
        ),
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
