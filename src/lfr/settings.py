"""Typed settings, read from the environment with the ``LFR_`` prefix (or a ``.env`` file).

Every field says what it is for; unknown keys are refused so that a typo in a deployment's
configuration is an error, not a silently ignored line.

Secrets (DP-2, AUD-1): the biometric encryption key, the audit signing key and the session
secret have built-in development values so that ``lfr demo`` and the tests run without setup.
Those values are public (they are in this file), so outside ``development`` and ``test`` the
settings refuse to load while any of them is still the built-in value, naming the setting.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


# Built-in development secrets. Public by construction: never acceptable in production.
DEVELOPMENT_BIOMETRIC_KEY = base64.b64encode(b"lfr-development-biometric-key-32").decode()
DEVELOPMENT_AUDIT_SIGNING_KEY = base64.b64encode(b"lfr-development-audit-signing-32").decode()
DEVELOPMENT_SESSION_SECRET = "lfr-development-session-secret-not-for-production"

_DEVELOPMENT_SECRETS = {
    "biometric_key": DEVELOPMENT_BIOMETRIC_KEY,
    "audit_signing_key": DEVELOPMENT_AUDIT_SIGNING_KEY,
    "session_secret": DEVELOPMENT_SESSION_SECRET,
}


class InsecureSettingsError(ValueError):
    """Raised when a production configuration still uses a built-in development secret."""


def decode_key(value: str, *, setting: str, length: int = 32) -> bytes:
    """Decode a base64 key of exactly ``length`` bytes; the error names the setting."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"{setting}: not valid base64 ({error})") from error
    if len(raw) != length:
        raise ValueError(f"{setting}: must decode to {length} bytes, got {len(raw)}")
    return raw


def _default_database_url(data: dict[str, Any]) -> str:
    return f"sqlite:///{Path(data['data_dir']) / 'lfr.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LFR_", env_file=".env", extra="forbid")

    environment: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="development allows built-in keys; production refuses to start with them.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Where the embedded default keeps its SQLite database and keys.",
    )
    database_url: str = Field(
        default_factory=_default_database_url,
        min_length=1,
        description=(
            "SQLAlchemy URL of the database. Default: SQLite file lfr.db under data_dir "
            "(embedded, one machine). Scale-out: postgresql+psycopg://user@host/db."
        ),
    )
    nats_url: str | None = Field(
        default=None,
        description=(
            "NATS JetStream server for scale-out (nats:// or tls://). Unset, the embedded "
            "default: the bus runs in memory inside `lfr serve`. Set: camera workers "
            "publish to JetStream (what they sent survives a restart of the service), the "
            "service also collects what `lfr node`s publish, and its halts reach them."
        ),
    )
    nats_prefix: str = Field(
        default="lfr",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="First token of every bus subject; the same on the service and its nodes.",
    )
    nats_credentials_file: Path | None = Field(
        default=None, description="NATS user credentials (.creds) of the service."
    )
    biometric_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_BIOMETRIC_KEY),
        description=(
            "AES-256-GCM key (base64 of 32 random bytes) that encrypts watchlist images, "
            "templates and probe images at rest (DP-2). Losing it makes them unreadable."
        ),
    )
    biometric_previous_keys: list[SecretStr] = Field(
        default_factory=list,
        description=(
            "Retired biometric keys (base64, as biometric_key), used only to open values "
            "sealed before a key rotation; `lfr db rekey` re-seals them under biometric_key, "
            "after which they can be removed. JSON list in LFR_BIOMETRIC_PREVIOUS_KEYS."
        ),
    )
    audit_signing_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_AUDIT_SIGNING_KEY),
        description=(
            "Ed25519 private key (base64 of the 32-byte seed) that signs audit checkpoints "
            "(AUD-1). Publish its public key (`lfr audit public-key`) so outsiders can verify."
        ),
    )
    audit_chain_key: SecretStr | None = Field(
        default=None,
        description=(
            "HMAC-SHA256 key (base64 of 32 random bytes) that seals each audit entry's hash "
            "(AUD-1), so someone who can write the database but does not hold this key "
            "cannot recompute the chain after editing it. Keep it off the database server. "
            "Unset: derived from audit_signing_key. Never change it on a running log: "
            "entries sealed with the old key would no longer verify."
        ),
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["*"],
        description=(
            "Host names the web application answers to (JSON list in LFR_ALLOWED_HOSTS, "
            'e.g. ["lfr.police.example"]); other Host headers get 400, so no absolute URL is '
            "ever built from a forged Host. ['*'] (default) answers any host: set it in "
            "production."
        ),
    )
    forwarded_allow_ips: str = Field(
        default="",
        max_length=1000,
        description=(
            "Addresses of reverse proxies whose X-Forwarded-For/-Proto headers are believed "
            "(comma-separated, as uvicorn's --forwarded-allow-ips). Empty (default): none, "
            "so a client cannot choose the address the sign-in throttle counts."
        ),
    )
    session_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SESSION_SECRET),
        min_length=32,
        description="Secret that signs web session cookies (at least 32 characters).",
    )

    urgent_authority_hours: float = Field(
        default=72.0,
        gt=0,
        le=168,
        description=(
            "How long an Inspector's urgent authority lasts unless a Superintendent confirms "
            "it (AUTH-3). Longer lets an urgent deployment run unreviewed for longer; "
            "shorter may halt a justified deployment before a Superintendent is reached."
        ),
    )
    watchlist_currency_hours: float = Field(
        default=24.0,
        gt=0,
        le=24,
        description=(
            "Oldest a watchlist entry may be when the deployment starts (WL-2). The "
            "framework's limit is 24 h; shorter keeps lists fresher but means compiling "
            "closer to the start."
        ),
    )
    alert_retention_days: int = Field(
        default=31,
        ge=1,
        le=3650,
        description=(
            "Days an alert (probe image, score, decisions) is kept unless held for an "
            "investigation (DP-1). Longer helps complaints and review; shorter keeps less "
            "personal data."
        ),
    )
    retention_interval_minutes: float = Field(
        default=60.0,
        gt=0,
        le=24 * 60,
        description=(
            "How often `lfr serve` runs retention by itself (DP-1: deleted automatically); "
            "each run is audited. Shorter deletes what is due sooner; every run reads the "
            "alerts and watchlists that may be due."
        ),
    )
    biometric_grace_hours: float = Field(
        default=0.0,
        ge=0,
        le=168,
        description=(
            "Hours after a deployment ends before its watchlist and blue-list images and "
            "templates are destroyed (WL-6). 0 destroys them at the end; more keeps "
            "biometrics without a purpose."
        ),
    )
    hold_max_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Furthest ahead an investigation hold's review date may be set (DP-3).",
    )

    evaluated_model_version: str = Field(
        default="dlib-resnet-v1",
        min_length=1,
        max_length=80,
        description=(
            "The describer model version whose stored equitability evaluation (EQ-1) sets "
            "the floor under authorised alert thresholds and feeds the forecasts shown to "
            "the authorising officer. It must name the model the cameras run."
        ),
    )
    equitability_alpha: float = Field(
        default=0.05,
        gt=0,
        lt=0.5,
        description=(
            "Significance level of the differential tests (EQ-1, EQ-2), Holm-adjusted across "
            "groups. Lower flags fewer differentials by chance but misses more real ones; "
            "higher flags more, including chance ones."
        ),
    )

    @field_validator(
        "biometric_key",
        "audit_signing_key",
        "audit_chain_key",
        "biometric_previous_keys",
    )
    @classmethod
    def _keys_are_32_bytes(
        cls, value: SecretStr | list[SecretStr] | None, info: ValidationInfo
    ) -> SecretStr | list[SecretStr] | None:
        keys = value if isinstance(value, list) else [value] if value is not None else []
        for key in keys:
            decode_key(key.get_secret_value(), setting=str(info.field_name))
        return value

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Settings:
        self.require_production_secrets()
        return self

    @property
    def allows_development_secrets(self) -> bool:
        return self.environment in (Environment.DEVELOPMENT, Environment.TEST)

    def default_secrets_in_use(self) -> list[str]:
        """Names of the secret settings still holding their built-in development value."""
        return [
            name
            for name, builtin in _DEVELOPMENT_SECRETS.items()
            if getattr(self, name).get_secret_value() == builtin
        ]

    def require_production_secrets(self) -> None:
        """Refuse built-in secrets outside development/test (DP-2, AUD-1).

        Raises:
            InsecureSettingsError: naming every setting (LFR_... variable) still at its default.
        """
        if self.allows_development_secrets:
            return
        defaults = self.default_secrets_in_use()
        if defaults:
            names = ", ".join(f"{name} (LFR_{name.upper()})" for name in defaults)
            raise InsecureSettingsError(
                f"environment={self.environment.value} refuses the built-in development "
                f"value of: {names}; set a fresh secret for each"
            )
        weak = self.low_entropy_secrets()
        if weak:
            names = ", ".join(f"{name} (LFR_{name.upper()})" for name in weak)
            raise InsecureSettingsError(
                f"environment={self.environment.value} refuses low-entropy values of: {names}; "
                "generate each from a random source, e.g. `openssl rand -base64 32`"
            )

    def low_entropy_secrets(self) -> list[str]:
        """Names of the secrets that cannot have come from a random source (e.g. all zeros)."""
        named: list[tuple[str, SecretStr | None]] = [
            (name, getattr(self, name)) for name in (*_DEVELOPMENT_SECRETS, "audit_chain_key")
        ]
        return [
            name
            for name, secret in named
            if secret is not None and _looks_low_entropy(name, secret.get_secret_value())
        ]

    def biometric_key_bytes(self) -> bytes:
        return decode_key(self.biometric_key.get_secret_value(), setting="biometric_key")

    def biometric_previous_key_bytes(self) -> list[bytes]:
        return [
            decode_key(key.get_secret_value(), setting="biometric_previous_keys")
            for key in self.biometric_previous_keys
        ]

    def audit_signing_key_bytes(self) -> bytes:
        return decode_key(self.audit_signing_key.get_secret_value(), setting="audit_signing_key")

    def audit_chain_key_bytes(self) -> bytes:
        """The key sealing audit entries: audit_chain_key, else derived from the signing key."""
        if self.audit_chain_key is not None:
            return decode_key(self.audit_chain_key.get_secret_value(), setting="audit_chain_key")
        return hmac.new(self.audit_signing_key_bytes(), b"lfr audit chain key", "sha256").digest()


MIN_DISTINCT_SYMBOLS = 12
"""Fewest distinct bytes (or characters) a secret may hold. 32 random bytes hold about 30;
fewer than 12 happens by chance with negligible probability, while a key typed by hand
(all zeros, a repeated word) falls below it."""


def _looks_low_entropy(name: str, value: str) -> bool:
    symbols: bytes | str = value
    if name != "session_secret":
        try:
            symbols = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False  # the 32-byte validator reports it
    return len(set(symbols)) < MIN_DISTINCT_SYMBOLS or _is_repetition(symbols)


def _is_repetition(symbols: bytes | str) -> bool:
    """True for a short pattern repeated (``abcdabcd…``), whose distinct count may pass."""
    for period in range(1, len(symbols) // 2 + 1):
        if all(symbols[i] == symbols[i % period] for i in range(len(symbols))):
            return True
    return False


def settings_error_line(error: ValidationError) -> str:
    """One line naming each invalid setting and why (no traceback, no pydantic banner)."""
    parts = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem.get("loc", ()))
        message = str(problem.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
