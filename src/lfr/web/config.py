"""Typed settings of the web application (sign-in, sessions, uploads).

Each limit says what raising or lowering it costs: these are security trade-offs, not
cosmetic choices.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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
