"""`lfr evaluate equitability` on a tiny LFW-layout folder (EQ-1): the real detector,
alignment and dlib describer through the harness's cache; stored in a real database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lfr.cli import app
from lfr.db.migrate import upgrade
from lfr.db.session import make_session_factory, transaction
from lfr.reports.evaluations import latest_evaluation
from lfr.settings import get_settings
from lfr.vision.engine_config import EngineConfig
from tests.db_fixtures import keyed_engine

GROUPS = {
    "Aaron_Peirsol": "g1",
    "Abdoulaye_Wade": "g1",
    "AJ_Cook": "g1",
    "Abel_Pacheco": "g2",
    "Akhmed_Zakayev": "g2",
    "AJ_Lamas": "g2",
}


@pytest.fixture(scope="module")
def tiny(lfw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-lfw")
    for name in GROUPS:
        shutil.copytree(lfw_dir / "images" / name, root / "images" / name)
    lines = ["identity,group", *(f"{name},{group}" for name, group in GROUPS.items())]
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_equitability_writes_charts_and_stores_the_evaluation(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'lfr.db'}"
    upgrade(url)
    monkeypatch.setenv("LFR_DATABASE_URL", url)
    get_settings.cache_clear()  # the command reads the settings afresh, as a new process would
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "equitability",
            str(tiny / "images"),
            "--labels",
            str(tiny / "labels.csv"),
            "--thresholds",
            "0.90:0.94:0.02",
            "--model-version",
            "test-model",
            "--output",
            str(tmp_path / "out"),
            "--cache-dir",
            str(tiny / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [row["threshold"] for row in report["thresholds"]] == [0.9, 0.92, 0.94]
    assert sorted(report["groups"]) == ["g1", "g2"]
    assert report["groups"]["g1"]["identities"] == 3
    # The stored figures feed the live engine's thresholds: described as it describes.
    assert report["rule"] == EngineConfig().decision_rule().name
    assert report["mirror"] is EngineConfig().description.mirror
    assert report["chip_paddings"] == list(EngineConfig().description.chip_paddings)
    for name in ("det", "fmr_by_threshold", "fnmr_by_threshold"):
        assert (tmp_path / "out" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    engine = keyed_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            stored = latest_evaluation(session, "test-model")
            assert stored is not None
            assert json.loads(stored.report)["thresholds"] == report["thresholds"]
    finally:
        engine.dispose()
        get_settings.cache_clear()


def test_labels_naming_nobody_are_refused_clearly(tiny: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("identity,group\nNobody_Here,g1\n")
    result = CliRunner().invoke(
        app,
        ["evaluate", "equitability", str(tiny / "images"), "--labels", str(labels), "--no-store"],
    )
    assert result.exit_code == 2
    assert "no identity of the image folder is named in the labels file" in result.output
