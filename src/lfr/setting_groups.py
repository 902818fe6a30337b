"""Groups of the settings tree (`lfr.settings`) whose parts live above the settings: how
the supervisor stops and restarts camera worker processes (`SupervisorSettings`, the
``supervisor`` group) and the web application's sign-in, session and upload limits
(`WebSettings`, the ``web`` group).

They are defined here, beside the settings, so that the settings import nothing from the
runtime or the web application; those import their group from here. Each limit says what
raising or lowering it costs: these are trade-offs, not cosmetic choices.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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
    shared_describer: bool = Field(
        default=False,
        description=(
            "Describe the faces of every camera on this machine in one process (the "
            "describer service, lfr.runtime.describer_service) that gathers them into "
            "batches, instead of one describer in each camera's worker. The model loads "
            "once; on a GPU, batches of many faces run several times faster per face. On a "
            "CPU of few cores it saves little and adds up to describer_max_wait_ms a "
            "described frame (docs/evaluation.md), so it is off by default."
        ),
    )
    describer_max_wait_ms: float = Field(
        default=5.0,
        ge=0,
        le=200,
        description=(
            "How long the describer service waits for the other cameras' faces once one "
            "camera has asked, unless every camera has asked already. Longer makes larger "
            "batches (a GPU's gain); shorter delays each described frame less."
        ),
    )
    describer_max_batch: int = Field(
        default=64,
        ge=1,
        le=1024,
        description=(
            "Faces at which the describer service stops waiting and describes: the batch "
            "the hardware is fast at (the describer's own batch_size splits a larger one)."
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


class WebSettings(BaseModel):
    """Sign-in, session and upload limits of the web application."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description=(
            "A session unused this long ends. Longer: fewer sign-ins on a quiet console, but an "
            "unattended screen stays open longer. Shorter: safer, more sign-ins."
        ),
    )
    session_absolute_hours: int = Field(
        default=12,
        ge=1,
        le=72,
        description=(
            "A session ends this long after sign-in whatever its use (one shift). Longer lets a "
            "stolen cookie live longer; shorter interrupts a long deployment."
        ),
    )
    max_failed_sign_ins: int = Field(
        default=5,
        ge=1,
        le=100,
        description=(
            "Consecutive failed sign-ins (password or second factor) before the account or "
            "client address is locked. Higher helps clumsy typists and helps guessing too."
        ),
    )
    lockout_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description=(
            "How long a lock lasts. Longer slows guessing further but lets an attacker lock a "
            "colleague out for longer."
        ),
    )
    max_upload_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description=(
            "Largest request body accepted (watchlist images, bulk imports). Larger allows "
            "bigger imports and costs memory per request."
        ),
    )
    camera_source_kinds: frozenset[str] = Field(
        default=frozenset({"rtsp", "rtsps", "file", "device", "node"}),
        description=(
            "Kinds of camera source an engineer may configure, each checked by reading a frame "
            "as part of their request: rtsp, rtsps, http, https, rtmp, udp, tcp, srt (streams), "
            "file (a video file on the server), device (device:N), node (node:NAME, read by "
            "that node). More kinds let the check reach further (http: any web address the "
            "server can; file: any file it can read); fewer keep it to the force's cameras."
        ),
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+/?$",
        description=(
            "The service's address as the public reaches it (https://lfr.police.example), for "
            "the absolute links of the Atom feed. Unset: the first of allowed_hosts. Never "
            "taken from a request's Host header."
        ),
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token a Prometheus scrape of /metrics presents (Authorization: Bearer ...). "
            "Unset: /metrics on the web port answers 404, and metrics are served only on "
            "metrics_address, if set. Give it to the monitoring system alone."
        ),
    )
    metrics_address: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:\[\]-]+:[0-9]{1,5}$",
        description=(
            "HOST:PORT on which `lfr serve` also serves /metrics, without a token, for a "
            "monitoring network the public cannot reach (e.g. 10.0.0.5:9464). Unset: none."
        ),
    )
    secure_cookies: bool | None = Field(
        default=None,
        description=(
            "Mark cookies Secure. None: when the request arrived over TLS (directly or through "
            "a proxy trusted by uvicorn's --forwarded-allow-ips)."
        ),
    )
