"""The reconciler's one predicate (DEP-2, AUTH-1, AUTH-3, AUTH-4, WL-1): a deployment's
recognition runs when it is RUNNING, under an authority in force, with its watchlist sealed;
a running one whose authority went out of force is ended for that rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from lfr.domain.authorisation import Consultation, ConsultationOutcome
from lfr.domain.deployment import DeploymentStatus, run_verdict
from tests.unit.domain.builders import (
    CHIEF,
    INSPECTOR,
    T0,
    URGENT_VALIDITY,
    approved_authority,
    complete_application,
)

NOW = T0 + timedelta(minutes=5)


@pytest.mark.parametrize(
    "status", [s for s in DeploymentStatus if s is not DeploymentStatus.RUNNING]
)
def test_only_a_running_deployment_runs_and_nothing_else_is_ended(status: DeploymentStatus) -> None:
    verdict = run_verdict(status, approved_authority(), True, NOW, URGENT_VALIDITY)
    assert (verdict.run, verdict.stop) == (False, None)


def test_a_running_deployment_in_force_with_a_sealed_watchlist_runs() -> None:
    verdict = run_verdict(
        DeploymentStatus.RUNNING, approved_authority(), True, NOW, URGENT_VALIDITY
    )
    assert (verdict.run, verdict.stop) == (True, None)


def test_an_unsealed_watchlist_does_not_run_but_is_not_a_rule_s_end() -> None:
    verdict = run_verdict(
        DeploymentStatus.RUNNING, approved_authority(), False, NOW, URGENT_VALIDITY
    )
    assert (verdict.run, verdict.stop) == (False, None)


def test_the_window_s_end_ends_it_under_auth_1() -> None:
    authority = approved_authority()
    after = authority.scope.window.end + timedelta(seconds=1)
    verdict = run_verdict(DeploymentStatus.RUNNING, authority, True, after, URGENT_VALIDITY)
    assert verdict.run is False
    assert verdict.stop is not None
    assert (verdict.stop.rule, verdict.stop.field) == ("AUTH-1", "window")


def test_an_unconfirmed_urgent_authority_ends_it_at_its_lapse_under_auth_3() -> None:
    application = complete_application(urgent=True, urgency_reason="Imminent")
    authority = approved_authority(application, decider=INSPECTOR)  # decided T0 - 2 days
    short = timedelta(hours=24)
    verdict = run_verdict(DeploymentStatus.RUNNING, authority, True, NOW, short)
    assert verdict.stop is not None
    assert verdict.stop.rule == "AUTH-3"


def test_a_veto_ends_it_under_auth_4() -> None:
    authority = approved_authority()
    veto = Consultation(ConsultationOutcome.VETO, "Disproportionate", CHIEF.user_id, T0)
    vetoed = replace(authority, consultations=(*authority.consultations, veto))
    verdict = run_verdict(DeploymentStatus.RUNNING, vetoed, True, NOW, URGENT_VALIDITY)
    assert verdict.stop is not None
    assert verdict.stop.rule == "AUTH-4"
