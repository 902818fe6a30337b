"""Retention decisions (DP-1, DP-3, WL-6)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import SYSTEM_ACTOR, Actor
from lfr.domain.refusal import Refusal
from lfr.domain.retention import Hold, RetentionPolicy, alert_due, biometrics_due, check_hold
from tests.unit.domain.builders import AUDITOR, OPERATOR, SILVER, SUPERINTENDENT, T0, field_names

POLICY = RetentionPolicy()
CREATED = T0
HOLD = Hold("auditor", "Operation Example", date(2026, 6, 1))


@pytest.mark.parametrize(
    ("now", "hold", "due"),
    [
        (CREATED + timedelta(days=30, hours=23), None, False),
        (CREATED + timedelta(days=31), None, True),
        (CREATED + timedelta(days=31), HOLD, False),
        (datetime(2026, 5, 31, 23, 59, tzinfo=T0.tzinfo), HOLD, False),
        (datetime(2026, 6, 1, 0, 0, tzinfo=T0.tzinfo), HOLD, True),
        (CREATED + timedelta(days=10), Hold("a", "r", date(2026, 3, 1)), False),
    ],
)
def test_alert_retention(now: datetime, hold: Hold | None, due: bool) -> None:
    """DP-1: alerts go after 31 days; DP-3: a hold keeps one until its review date only."""
    assert alert_due(CREATED, hold, now, POLICY) is due


def test_alert_period_is_the_policy_s() -> None:
    """DP-1: the published period is a setting."""
    week = RetentionPolicy(alert_days=7)
    assert alert_due(CREATED, None, CREATED + timedelta(days=7), week)
    assert not alert_due(CREATED, None, CREATED + timedelta(days=7), POLICY)


ENDED = T0 + timedelta(hours=4)
WINDOW_END = T0 + timedelta(hours=4)


@pytest.mark.parametrize(
    ("status", "finished_at", "now", "grace", "due"),
    [
        (DeploymentStatus.RUNNING, None, ENDED + timedelta(days=1), timedelta(0), False),
        (DeploymentStatus.ENDED, ENDED, ENDED, timedelta(0), True),
        (DeploymentStatus.ENDED, ENDED, ENDED - timedelta(seconds=1), timedelta(0), False),
        (DeploymentStatus.CANCELLED, T0 - timedelta(hours=1), T0, timedelta(0), True),
        (DeploymentStatus.ENDED, ENDED, ENDED + timedelta(hours=1), timedelta(hours=2), False),
        (DeploymentStatus.ENDED, ENDED, ENDED + timedelta(hours=2), timedelta(hours=2), True),
        (DeploymentStatus.PLANNED, None, WINDOW_END - timedelta(seconds=1), timedelta(0), False),
        (DeploymentStatus.PLANNED, None, WINDOW_END, timedelta(0), True),
        (DeploymentStatus.HALTED, None, WINDOW_END, timedelta(0), True),
    ],
)
def test_biometrics_destroyed_when_the_deployment_ends(
    status: DeploymentStatus,
    finished_at: datetime | None,
    now: datetime,
    grace: timedelta,
    due: bool,
) -> None:
    """WL-6: images and templates go at the end (or cancellation, or the window's end)."""
    policy = RetentionPolicy(biometric_grace=grace)
    assert biometrics_due(status, finished_at, WINDOW_END, now, policy) is due


TODAY = T0.date()


@pytest.mark.parametrize(
    ("actor", "reason", "review_on", "expected"),
    [
        (AUDITOR, "Operation Example", TODAY + timedelta(days=30), set()),
        (SILVER, "Operation Example", TODAY + timedelta(days=365), set()),
        (SUPERINTENDENT, "Operation Example", TODAY + timedelta(days=1), {"actor"}),
        (OPERATOR, "Operation Example", TODAY + timedelta(days=30), {"actor"}),
        (SYSTEM_ACTOR, "Operation Example", TODAY + timedelta(days=30), {"actor"}),
        (AUDITOR, " ", TODAY + timedelta(days=30), {"reason"}),
        (AUDITOR, "Operation Example", TODAY, {"review_on"}),
        (AUDITOR, "Operation Example", TODAY + timedelta(days=366), {"review_on"}),
    ],
)
def test_hold_is_a_recorded_decision(
    actor: Actor, reason: str, review_on: date, expected: set[str]
) -> None:
    """DP-3: a named person keeps an alert for an investigation, with reason and review date."""
    if not expected:
        hold = check_hold(actor, reason, review_on, TODAY, POLICY)
        assert (hold.decided_by, hold.review_on) == (actor.user_id, review_on)
        return
    with pytest.raises(Refusal) as error:
        check_hold(actor, reason, review_on, TODAY, POLICY)
    assert field_names(error) == expected


def test_policy_table_is_published() -> None:
    """DP-1: the table names each kind of data, its period and its rule."""
    rows = RetentionPolicy(alert_days=14).table()
    assert {row.rule for row in rows} >= {"DP-1", "DP-3", "WL-6", "REC-4"}
    assert any("14 days" in row.period for row in rows)
