"""The settings the governance services apply, gathered from `Settings` (AUTH-3, WL-2, DP-1).

Every service that applies one of these limits takes the policy as an argument, with no
default: the system container (`lfr.system.build`, `WebContext.policy`) makes it once from
the settings it was given, and the console commands from theirs, so a limit configured
there is the limit every door applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from lfr.domain.retention import RetentionPolicy
from lfr.domain.watchlist import CURRENCY_LIMIT
from lfr.reports.recognition import RecognitionSettings
from lfr.settings import Settings


@dataclass(frozen=True, slots=True)
class GovernancePolicy:
    urgent_validity: timedelta = timedelta(hours=72)
    currency_limit: timedelta = CURRENCY_LIMIT
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    recognition: RecognitionSettings = field(default_factory=RecognitionSettings)
    """What a deployment's recognition configuration is resolved from, with its authority
    (`lfr.reports.recognition.resolve_recognition`)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> GovernancePolicy:
        return cls(
            urgent_validity=timedelta(hours=settings.urgent_authority_hours),
            currency_limit=timedelta(hours=settings.watchlist_currency_hours),
            retention=RetentionPolicy(
                alert_days=settings.alert_retention_days,
                biometric_grace=timedelta(hours=settings.biometric_grace_hours),
                max_hold_days=settings.hold_max_days,
            ),
            recognition=RecognitionSettings.from_settings(settings),
        )
