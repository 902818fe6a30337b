"""One road for configuration: the system `lfr.system.build(settings)` makes obeys the
settings it was given, over HTTP, whatever the process's environment says: the urgent
authority's validity (AUTH-3), the force's calibration behind the forecast and the score's
(EQ-1, AUTH-2) and the sign-in account lock (``web.max_failed_sign_ins``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lfr.audit import AuditEntry
from lfr.db.people import User
from lfr.db.session import reading
from lfr.reports.recognition import FORCE_CALIBRATION
from lfr.setting_groups import WebSettings
from lfr.settings import Settings, get_settings
from lfr.vision.calibration import REFERENCE_RULE, ModelCalibration, shipped_calibration
from lfr.vision.engine_config import EngineConfig
from lfr.web.context import WebContext
from tests.db_fixtures import Personas
from tests.web.conftest import ClientFor
from tests.web.test_api_doors import urgent_application
from tests.web.test_sign_in import sign_in

pytestmark = pytest.mark.db

URGENT_HOURS = 24.0
LOCK_AFTER = 2
MODEL = "dlib-resnet-v1"


def stricter_calibration() -> ModelCalibration:
    """The shipped calibration with every reference score 0.01 higher: the same score is a
    commoner stranger's score under it, so its false-match rate is higher."""
    shipped = shipped_calibration(MODEL)
    assert shipped is not None
    reference = shipped.rules[REFERENCE_RULE].scores
    stricter = {REFERENCE_RULE: {"scores": [score + 0.01 for score in reference]}}
    return ModelCalibration.model_validate({**shipped.model_dump(), "rules": stricter})


@pytest.fixture
def system_settings(migrated_url: str, tmp_path: Path) -> Settings:
    """Settings unlike the defaults in every knob these tests look at."""
    calibration = tmp_path / "force-calibration.json"
    calibration.write_text(stricter_calibration().model_dump_json())
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=migrated_url,
        urgent_authority_hours=URGENT_HOURS,
        engine=EngineConfig(calibration_path=calibration),
        web=WebSettings(max_failed_sign_ins=LOCK_AFTER),
    )


@pytest.fixture(autouse=True)
def _the_environment_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's own settings disagree with the system's: nothing may read them."""
    monkeypatch.setenv("LFR_URGENT_AUTHORITY_HOURS", "72")
    monkeypatch.setenv("LFR_WEB__MAX_FAILED_SIGN_INS", "9")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_an_urgent_authority_lapses_after_the_configured_hours(
    web_context: WebContext, personas: Personas, client_for: ClientFor
) -> None:
    """AUTH-3: built with urgent_authority_hours=24, the Inspector's urgent authority lapses
    24 h after the decision, on the API and on the authority's service door."""
    applicant = client_for(personas.applicant)
    draft = urgent_application(applicant, personas)
    assert applicant.post(f"/api/applications/{draft['id']}/submit").status_code == 200
    decided = client_for(personas.inspector).post(
        f"/api/applications/{draft['id']}/decision",
        json={"kind": "approve", "reasons": "Urgent: a child at risk"},
    )
    assert decided.status_code == 201, decided.text
    decided_at = datetime.fromisoformat(decided.json()["decided_at"])
    lapses_at = datetime.fromisoformat(decided.json()["authority"]["lapses_at"])
    assert lapses_at - decided_at == timedelta(hours=URGENT_HOURS)
    read = applicant.get(f"/api/applications/{draft['id']}").json()
    assert datetime.fromisoformat(read["authority"]["lapses_at"]) == lapses_at
    assert web_context.control.policy.urgent_validity == timedelta(hours=URGENT_HOURS)


def test_the_forecast_reads_the_configured_calibration(
    personas: Personas, client_for: ClientFor
) -> None:
    """EQ-1, AUTH-2: engine.calibration_path of the settings given to build is the
    calibration the authorising officer's forecast reads."""
    own = stricter_calibration()
    answer = client_for(personas.authorising_officer).get(
        "/api/reports/forecast", params={"threshold": 0.951, "watchlist_size": 1000}
    )
    assert answer.status_code == 200, answer.text
    forecast = answer.json()
    assert forecast["rates_source"] == FORCE_CALIBRATION
    assert forecast["false_match_rate"] == pytest.approx(own.false_match_rate(0.951))
    shipped = shipped_calibration(MODEL)
    assert shipped is not None
    assert forecast["false_match_rate"] > shipped.false_match_rate(0.951)


def test_the_account_locks_after_the_configured_failures(
    app_client: TestClient, web_context: WebContext, personas: Personas
) -> None:
    """web.max_failed_sign_ins=2 locks the account itself (audited) after two failures,
    not after a number fixed in the code."""
    for _ in range(LOCK_AFTER):
        sign_in(app_client, "operator", "not the password at all")
    with reading(web_context.db) as db:
        user = db.scalars(select(User).where(User.username == "operator")).one()
        locked_until, user_id = user.locked_until, user.id
        locks = db.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "user.locked"))
        locked_accounts = list(locks)
    assert locked_until is not None
    assert locked_accounts == [user_id]
