"""Retention: the published periods and "what is due for deletion at time t" (DP-1, DP-3, WL-6).

Decisions only; `lfr retention run` (services) deletes what these functions call due and
audits each deletion. Nothing about a passer-by who did not alert is ever stored (REC-4),
so it needs no rule here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Unmet
from lfr.domain.rules import human_problems, raise_if_any, required


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The published periods (DP-1).

    `alert_days`: longer keeps evidence for complaints and review, shorter keeps less
    personal data; 31 days is the published default. `biometric_grace`: how long after a
    deployment ends its watchlist images and templates survive; zero means "at the end"
    (WL-6) and is the default, anything longer keeps biometrics without a purpose.
    `max_hold_days`: the longest an investigation hold may run before its review date.
    """

    alert_days: int = 31
    biometric_grace: timedelta = timedelta(0)
    max_hold_days: int = 365

    def table(self) -> list[RetentionRule]:
        return [
            RetentionRule(
                "Alerts (probe image, score, factors, decisions)",
                f"{self.alert_days} days after the alert",
                "DP-1",
            ),
            RetentionRule(
                "Alerts held for an investigation",
                "until the hold's review date, then as any alert",
                "DP-3",
            ),
            RetentionRule(
                "Watchlist and blue-list images and templates",
                _grace_text(self.biometric_grace),
                "WL-6",
            ),
            RetentionRule("Faces that did not alert", "never stored", "REC-4"),
            RetentionRule("Audit log", "kept; it holds no biometric data", "AUD-1"),
        ]


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """One row of the published retention table."""

    data: str
    period: str
    rule: str


def _grace_text(grace: timedelta) -> str:
    if not grace:
        return "deleted when the deployment ends"
    return f"deleted {grace.total_seconds() / 3600:g} h after the deployment ends"


@dataclass(frozen=True, slots=True)
class Hold:
    """A recorded decision to keep an alert for an investigation (DP-3)."""

    decided_by: str
    reason: str
    review_on: date


HOLD_ROLES = frozenset({Role.GOLD, Role.SILVER, Role.REVIEWER})
"""Who may keep an alert for an investigation (DP-3): the people who read alerts and
answer for what a deployment did. An authorising officer reads no alert, so holds none."""


def check_hold(
    actor: Actor, reason: str, review_on: date, today: date, policy: RetentionPolicy
) -> Hold:
    """DP-3: a commander or reviewer keeps an alert, saying why, until a review date no
    further away than the policy allows."""
    problems = human_problems(actor)
    if not actor.roles & HOLD_ROLES:
        problems.append(Unmet("DP-3", "Gold, Silver or a reviewer", "actor"))
    problems += required(reason, Unmet("DP-3", "name the investigation and why", "reason"))
    if review_on <= today:
        problems.append(Unmet("DP-3", "the review date must be in the future", "review_on"))
    elif review_on > today + timedelta(days=policy.max_hold_days):
        problems.append(Unmet("DP-3", f"at most {policy.max_hold_days} days ahead", "review_on"))
    raise_if_any(problems)
    return Hold(actor.user_id, reason.strip(), review_on)


def alert_due(
    created_at: datetime, hold: Hold | None, now: datetime, policy: RetentionPolicy
) -> bool:
    """DP-1/DP-3: an alert goes when its period is over, unless a hold still runs.

    A hold whose review date has passed no longer protects the alert: keeping it needs a
    fresh decision, so nothing is kept by forgetting to review it.
    """
    if hold is not None and now.date() < hold.review_on:
        return False
    return now >= created_at + timedelta(days=policy.alert_days)


def biometrics_due(
    status: DeploymentStatus,
    finished_at: datetime | None,
    window_end: datetime,
    now: datetime,
    policy: RetentionPolicy,
) -> bool:
    """WL-6: images and templates go when the deployment ends or is cancelled; also when the
    authorised window has passed without the deployment running, so none outlive their use."""
    if status.finished and finished_at is not None:
        return now >= finished_at + policy.biometric_grace
    if status is DeploymentStatus.RUNNING:
        return False
    return now >= window_end + policy.biometric_grace
