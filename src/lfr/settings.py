"""Typed settings: one tree, read from arguments, the environment (``LFR_`` prefix, or a
``.env`` file) and an optional TOML file, in that order of precedence, over the defaults.

The groups nest: ``engine`` (every camera worker's `EngineConfig`), ``supervisor`` (how
worker processes are stopped and restarted), ``web`` (sign-in, sessions, uploads) and
``nats`` (the bus client's timeouts, redelivery and stream limits). A
nested value is set with ``__`` in the environment (``LFR_ENGINE__ALERT_THRESHOLD=0.96``,
``LFR_WEB__SESSION_IDLE_MINUTES=20``) or as a TOML table (``[engine]``). The file is named
by ``LFR_CONFIG_FILE`` (or ``--config``). Every field says what it is for; unknown keys are
refused, in the environment and the file alike, so that a typo in a deployment's
configuration is an error, not a silently ignored line.

The authority's conditions override what they govern (AUTH-2): its alert threshold
replaces ``engine.alert_threshold`` for its deployment, and its cameras and window are
never settings. A configured threshold may be stricter than the evaluated default, never
laxer (REC-2): only an authority lowers it.

Secrets (DP-2, AUD-1): the biometric encryption key, the audit signing key and the session
secret have built-in development values so that ``lfr demo`` and the tests run without setup.
Those values are public (they are in this file), so outside ``development`` and ``test`` the
settings refuse to load while any of them is still the built-in value, naming the setting.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import tomllib
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from lfr.bus.nats_tuning import NatsTuning
from lfr.setting_groups import SupervisorSettings, WebSettings
from lfr.vision.describers import describer_model_id
from lfr.vision.engine_config import EngineConfig
from lfr.vision.thresholds import evaluated_default_threshold


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


class SettingsFileError(ValueError):
    """The settings file is missing, is not TOML, holds a key that is no setting or a
    value its setting refuses; the message names the file and the key."""


def read_settings_file(path: Path) -> dict[str, Any]:
    """The TOML settings file's tables and values, as written."""
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise SettingsFileError(f"{path}: no such settings file") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsFileError(f"{path}: not a readable TOML file ({error})") from None


def settings_file_problems(settings_cls: type[BaseSettings], values: dict[str, Any]) -> list[str]:
    """What is wrong with a settings file's `values`, each value checked alone (merged
    with the other sources, an error could no longer say the file gave it): keys that
    are no setting, tables' keys included, and values their setting refuses."""
    problems: list[str] = []
    for key, value in values.items():
        field = settings_cls.model_fields.get(key)
        if field is None:
            problems.append(f"unknown setting {key}")
        else:
            problems.extend(_value_problems(key, field, value))
    if "config_file" in values:
        problems.append("config_file: a settings file cannot name another")
    return problems


def _value_problems(key: str, field: FieldInfo, value: Any) -> list[str]:
    annotated: Any = Annotated  # built at run time: the field's type with its bounds only
    bounds = field.metadata
    constrained: Any = annotated[(field.annotation, *bounds)] if bounds else field.annotation
    try:
        TypeAdapter(constrained).validate_python(value)
    except ValidationError as error:
        return [_problem_line(key, problem) for problem in error.errors()]
    return []


def _problem_line(key: str, problem: ErrorDetails) -> str:
    where = ".".join((key, *(str(part) for part in problem["loc"])))
    if problem["type"] == "extra_forbidden":
        return f"unknown setting {where}"
    return f"{where}: {problem['msg'].removeprefix('Value error, ')}"


class SettingsFileSource(PydanticBaseSettingsSource):
    """The TOML file's values, beneath the environment's. A key that is no setting, or a
    value its setting refuses, is refused here, naming the file."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        values = read_settings_file(self.path)
        problems = settings_file_problems(self.settings_cls, values)
        if problems:
            raise SettingsFileError(f"{self.path}: {'; '.join(problems)}")
        return values


def chosen_settings_file(
    init_settings: PydanticBaseSettingsSource, *environments: PydanticBaseSettingsSource
) -> Path | None:
    """The settings file named by the argument ``config_file``, else by the environment
    (``LFR_CONFIG_FILE``, then ``.env``)."""
    if isinstance(init_settings, InitSettingsSource):
        given = init_settings.init_kwargs.get("config_file")
        if given is not None:
            return Path(given)
    for source in environments:
        named = source().get("config_file")
        if named:
            return Path(named)
    return None


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
    model_config = SettingsConfigDict(
        env_prefix="LFR_", env_file=".env", env_nested_delimiter="__", extra="forbid"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then ``.env``, then the settings file: the
        first that sets a value wins, and the defaults fill in the rest."""
        path = chosen_settings_file(init_settings, env_settings, dotenv_settings)
        file_settings = SettingsFileSource(settings_cls, path)
        return init_settings, env_settings, dotenv_settings, file_settings, file_secret_settings

    config_file: Path | None = Field(
        default=None,
        description=(
            "TOML file of settings (LFR_CONFIG_FILE, or --config), with the same names as "
            "the environment's in tables ([engine], [supervisor], [web], [nats]). The environment "
            "overrides it; keys that are no setting are refused."
        ),
    )

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
    nats: NatsTuning = Field(
        default_factory=NatsTuning,
        description=(
            "How the service's NATS client connects, waits and retries, and what its streams "
            "keep (LFR_NATS__FIRST_CONNECT_S, [nats]); the server itself is nats_url."
        ),
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

    reconcile_interval_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description=(
            "Longest time between two passes of the reconciler when nothing wakes it: how "
            "late, at worst, a window's end or an urgent authority's lapse stops the cameras "
            "(AUTH-3, DEP-2). Shorter notices sooner; each pass reads the running deployments."
        ),
    )
    node_unreachable_s: float = Field(
        default=20.0,
        gt=0,
        le=3600,
        description=(
            "A node silent this long is shown unreachable (it reports every 5 s): on the "
            "fleet, operations and deployment pages, and in a halt's delivery. Shorter shows "
            "a lost link sooner and a slow network as lost too."
        ),
    )

    evaluated_model_version: str = Field(
        default="dlib-resnet-v1",
        min_length=1,
        max_length=80,
        description=(
            "The describer model version whose stored equitability evaluation (EQ-1) sets "
            "the floor under authorised alert thresholds and feeds the forecasts shown to "
            "the authorising officer. It must name the model the cameras run; unset, it is "
            "the configured describer's model id (engine.describer), so that the lock reads "
            "the figures of the model that runs. Set it only to name a force's own "
            "evaluations of that model, stored under another version."
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

    engine: EngineConfig = Field(
        default_factory=EngineConfig,
        description=(
            "The recognition engine every camera worker of `lfr serve` and `lfr node` runs "
            "(LFR_ENGINE__<NAME>, [engine]). The authority's alert threshold replaces "
            "alert_threshold for its deployment (AUTH-2, REC-2)."
        ),
    )
    supervisor: SupervisorSettings = Field(
        default_factory=SupervisorSettings,
        description="How camera worker processes are halted and restarted (LFR_SUPERVISOR__…).",
    )
    web: WebSettings = Field(
        default_factory=WebSettings,
        description="Sign-in, session and upload limits of the web application (LFR_WEB__…).",
    )

    @field_validator("engine")
    @classmethod
    def _threshold_no_laxer_than_evaluated(cls, engine: EngineConfig) -> EngineConfig:
        """Configuration may make the engine stricter, never laxer: a threshold below the
        configured describer's evaluated default is the authorising officer's condition to
        set (AUTH-2, REC-2). A model without an evaluated default has the force's own."""
        evaluated = evaluated_default_threshold(engine.describer)
        if evaluated is not None and engine.alert_threshold < evaluated:
            raise ValueError(
                f"alert_threshold {engine.alert_threshold} is below the evaluated default "
                f"{evaluated} of the describer's model: only an authority's condition sets a "
                "lower one"
            )
        return engine

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
    def _evaluated_model_is_the_cameras(self) -> Settings:
        if "evaluated_model_version" not in self.model_fields_set:
            self.evaluated_model_version = describer_model_id(self.engine.describer)
        return self

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


def environment_error_line(error: SettingsError) -> str:
    """One line for a value in the environment that could not be decoded (a list or a
    table not written as JSON): the variable that holds it and what it takes."""
    import os
    import re

    found = re.search(r'field "([^"]+)"', str(error))
    field_name = found.group(1) if found else ""
    field = Settings.model_fields.get(field_name)
    variable = f"LFR_{field_name.upper()}"
    if field is not None:
        from dotenv import dotenv_values

        source = EnvSettingsSource(Settings, env_prefix="LFR_", env_nested_delimiter="__")
        dotenv = {k: v for k, v in dotenv_values(".env").items() if v is not None}
        for name, value in {**dotenv, **os.environ}.items():
            if name.upper().startswith(f"{variable}__"):
                try:
                    source.explode_env_vars(field_name, field, {name.lower(): value})
                except ValueError:
                    variable = name
                    break
    cause = f" ({error.__cause__})" if error.__cause__ is not None else ""
    return (
        f"{variable}: cannot be read{cause}; a list or a table is written as JSON, "
        f'e.g. {variable}=\'["first", "second"]\''
    )


class StandaloneSettings(Settings):
    """The settings as a process that holds none of the service's secrets reads them
    (`lfr node`, `lfr watch`): the same tree and sources, without the refusal of built-in
    secrets it never uses, so a node need not be given the service's keys."""

    def require_production_secrets(self) -> None:
        return


_chosen_file: Path | None = None


def use_settings_file(path: Path | None) -> None:
    """Read `path` (``--config``) in every later `get_settings()` of this process, so the
    parts that read the settings themselves (the cipher, the governance policy) agree
    with the command's."""
    global _chosen_file
    _chosen_file = path
    get_settings.cache_clear()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    if _chosen_file is None:
        return Settings()
    return Settings(config_file=_chosen_file)
