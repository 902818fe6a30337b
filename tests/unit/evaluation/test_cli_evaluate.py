"""`lfr evaluate` on a tiny LFW-layout folder built from lfw-dev identities (EQ-1).

Real detector, alignment and dlib describer; the descriptor cache is shared by the
tests of this module so that each image is described once.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lfr.cli import app

MULTI = {"Aaron_Peirsol": 4, "Abdoulaye_Wade": 4, "Abel_Pacheco": 4, "Akhmed_Zakayev": 3}
SINGLE = ["AJ_Cook", "AJ_Lamas", "Aaron_Eckhart"]
PAIRS = (
    "10\t300\n"  # LFW's header line
    "Abel_Pacheco\t1\t2\n"
    "Aaron_Peirsol\t2\t4\n"
    "Akhmed_Zakayev\t1\t3\n"
    "Abel_Pacheco\t1\tAJ_Cook\t1\n"
    "Abdoulaye_Wade\t2\tAaron_Eckhart\t1\n"
)


@pytest.fixture(scope="module")
def tiny(lfw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-lfw")
    for name in [*MULTI, *SINGLE]:
        shutil.copytree(lfw_dir / "images" / name, root / "images" / name)
    (root / "pairs.txt").write_text(PAIRS)
    (root / "labels.csv").write_text(
        "identity,group\nAaron_Peirsol,g1\nAbdoulaye_Wade,g1\nAJ_Cook,g1\n"
        "Abel_Pacheco,g2\nAkhmed_Zakayev,g2\nAJ_Lamas,g2\nAaron_Eckhart,g2\n"
    )
    return root


def invoke(*args: str | Path) -> Any:
    result = CliRunner().invoke(app, ["evaluate", *map(str, args)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def identification(tiny: Path, *extra: str | Path) -> Any:
    return invoke(
        "identification", tiny / "images", "--json", "--cache-dir", tiny / "cache", *extra
    )


def test_identification_enrols_first_images_and_counts_every_probe(tiny: Path) -> None:
    report = identification(tiny)
    counts = report["counts"]
    assert counts["gallery_subjects"] == counts["gallery_templates"] == len(MULTI)
    assert counts["mated_probes"] == sum(n - 1 for n in MULTI.values())
    assert counts["nonmated_probes"] == len(SINGLE)
    assert report["images"] == sum(MULTI.values()) + len(SINGLE)
    rank1 = report["rank1"]
    assert rank1["rate"] == pytest.approx(rank1["hits"] / rank1["n_mated"])
    # Four clearly different people: dlib tells them apart on raw cosine (S-norm with a
    # cohort of two, all a four-subject watchlist allows, measures the cohort, not dlib).
    assert identification(tiny, "--normalise", "none")["rank1"]["rate"] >= 0.8


def test_identification_rates_agree_with_their_counts(tiny: Path) -> None:
    report = identification(tiny)
    n_nonmated = report["counts"]["nonmated_probes"]
    for row in report["fnir_at_fpir"]:
        assert row["fnir"] == pytest.approx(row["false_negatives"] / row["n_mated"])
        assert row["fpir"] == pytest.approx(row["false_positives"] / row["n_nonmated"])
        assert row["false_positives"] <= math.floor(row["fpir_target"] * n_nonmated + 1e-9)
        assert row["resolvable"] == (n_nonmated * row["fpir_target"] >= 1)
    det = report["det"]
    assert [p["threshold"] for p in det[1:]] == sorted(p["threshold"] for p in det[1:])
    assert [p["fpir"] for p in det] == sorted((p["fpir"] for p in det), reverse=True)
    assert det[-1]["false_positives"] == 0


def test_identification_reports_images_where_no_face_was_found(tiny: Path) -> None:
    centre = identification(tiny)
    skip = identification(tiny, "--no-face", "skip")
    missed = centre["no_face_found"]
    assert missed["count"] == len(missed["images"])
    assert skip["no_face_found"]["images"] == missed["images"]
    assert missed["count"] >= 1  # HOG misses some of these crops even with upsampling
    # Under "skip" every probe image without a face goes unsearched (none is a gallery
    # image here); under "centre" they are described where LFW puts the face.
    gallery = {f"{name}_0001.jpg" for name in MULTI}
    assert not any(Path(p).name in gallery for p in missed["images"])
    assert skip["counts"]["probes_not_searched"] == missed["count"]
    assert centre["counts"]["probes_not_searched"] == 0


def test_identification_figures_per_group(tiny: Path) -> None:
    report = identification(tiny, "--labels", tiny / "labels.csv")
    groups = report["by_group"]
    assert set(groups) == {"g1", "g2"}
    assert groups["g1"]["counts"] == {"mated_probes": 6, "nonmated_probes": 1}
    assert groups["g2"]["counts"] == {"mated_probes": 5, "nonmated_probes": 2}
    for figures in groups.values():
        at_overall = figures["at_overall_thresholds"]
        assert [row["threshold"] for row in at_overall] == [
            row["threshold"] for row in report["fnir_at_fpir"]
        ]


def test_fusion_with_several_templates_compares_on_the_same_probes(tiny: Path) -> None:
    one = identification(tiny, "--first-probe", "2")
    two = identification(tiny, "--gallery-images", "2")
    kept = identification(tiny, "--gallery-images", "2", "--fusion", "best")
    assert two["counts"]["gallery_templates"] == len(MULTI)  # fused into centroids
    assert kept["counts"]["gallery_templates"] == 2 * len(MULTI)
    assert two["decisions"]["fusion"] == "centroid"
    assert one["counts"]["mated_probes"] == two["counts"]["mated_probes"]
    assert one["counts"]["mated_probes"] == sum(n - 2 for n in MULTI.values())


def test_normalised_scores_are_reported_with_the_rule_used(tiny: Path) -> None:
    report = identification(tiny, "--normalise", "tnorm", "--cohort-size", "3")
    assert report["decisions"]["normalisation"] == "tnorm-3"
    assert report["decisions"]["rule"] == "tnorm-3"
    assert report["rank1"]["n_mated"] == sum(n - 1 for n in MULTI.values())


def test_verification_reports_10fold_accuracy_and_all_pairs_tar(tiny: Path) -> None:
    report = invoke(
        "verification", tiny / "pairs.txt", tiny / "images", "--json", "--cache-dir", tiny / "cache"
    )
    counts = report["counts"]
    assert (counts["pairs"], counts["same_pairs"], counts["different_pairs"]) == (5, 3, 2)
    images = 9  # distinct images the pairs name
    assert counts["genuine_all_pairs"] + counts["impostor_all_pairs"] == images * (images - 1) // 2
    assert report["accuracy_10fold"]["n_pairs"] == 5
    assert report["images"] == images
    for row in report["tar_at_far"]:
        assert row["tar"] == pytest.approx(row["true_accepts"] / row["n_genuine"])
        assert row["n_impostor"] == counts["impostor_all_pairs"]


def test_a_pairs_line_naming_a_missing_image_is_refused_with_its_line(tiny: Path) -> None:
    bad = tiny / "bad-pairs.txt"
    bad.write_text("Abel_Pacheco\t1\t9\n")
    result = CliRunner().invoke(
        app, ["evaluate", "verification", str(bad), str(tiny / "images"), "--no-cache"]
    )
    assert result.exit_code == 2
    assert f"{bad}:1" in result.stderr
    assert "Abel_Pacheco_0009.jpg not found" in result.stderr


def test_an_unknown_describer_is_refused_by_name(tiny: Path) -> None:
    result = CliRunner().invoke(
        app, ["evaluate", "identification", str(tiny / "images"), "--describer", "nope"]
    )
    assert result.exit_code == 2
    assert "--describer nope" in result.stderr


def test_identification_writes_the_calibration_it_measured(tiny: Path, tmp_path: Path) -> None:
    """REC-2: a force's own run replaces the shipped calibration, figures only; a second
    rule measured on the same comparisons joins the same file."""
    from lfr.vision.calibration import REFERENCE_RULE, load_calibration

    out = tmp_path / "calibration.json"
    report = identification(tiny, "--calibration-out", out, "--normalise", "snorm")
    assert report["decisions"]["rule"] == "snorm-200"
    calibration = load_calibration(out, report["model_id"])
    assert calibration is not None
    assert set(calibration.rules) == {REFERENCE_RULE, "snorm-200"}
    assert calibration.non_mated_comparisons == report["calibration"]["non_mated_comparisons"]
    identification(tiny, "--calibration-out", out, "--normalise", "tnorm")
    both = load_calibration(out, report["model_id"])
    assert both is not None
    assert set(both.rules) == {REFERENCE_RULE, "snorm-200", "tnorm-200"}
    assert both.rules["snorm-200"] == calibration.rules["snorm-200"]


def _hand_made_cohort(path: Path, description: str = "plain") -> Path:
    """Two clusters with offsets, as `lfr evaluate fair-cohort` writes them (the tiny
    folder has too few people to fit any)."""
    from lfr.vision.fair import FairCohort

    axes = np.eye(2, 128)
    path.write_text(
        FairCohort(
            description=description,
            dataset="hand-made",
            identities=100,
            false_match_rate=1e-3,
            centroids=tuple(tuple(row) for row in axes.tolist()),
            offsets=(0.02, -0.01),
        ).model_dump_json()
    )
    return path


def test_group_differentials_carry_intervals_and_the_max_min_ratio(
    tiny: Path, tmp_path: Path
) -> None:
    """EQ-1: per group FPIR, FNIR, FMR and FNMR at each overall threshold, each with its
    interval, and the highest group's rate over the lowest's."""
    cohort = _hand_made_cohort(tmp_path / "cohort.json")
    report = identification(
        tiny, "--labels", tiny / "labels.csv", "--fair", "--fair-cohort", cohort
    )
    assert report["decisions"]["rule"] == "cosine-fair"
    assert report["calibration"]["rules"].keys() == {"cosine", "cosine-fair"}
    assert report["calibration"]["fair_cohorts"]["plain"]["offsets"] == [0.02, -0.01]
    for row in report["differentials"]:
        groups = row["groups"]
        assert set(groups) == {"g1", "g2"}
        for rates in groups.values():
            for rate in rates.values():
                assert rate["low"] <= rate["value"] <= rate["high"]
        fnir = row["max_min_ratio"]["fnir"]
        values = {g: groups[g]["fnir"]["value"] for g in groups}
        assert values[fnir["highest_group"]] == max(values.values())  # either, on a tie
        assert values[fnir["lowest_group"]] == min(values.values())
        if fnir["value"] is not None:
            assert fnir["value"] == pytest.approx(max(values.values()) / min(values.values()))


def test_the_default_run_is_the_engines_configured_rule(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REC-2, EQ-1: with no option `lfr evaluate identification` measures the rule the
    engine runs, as the engine's settings configure it, at its alert threshold."""
    from lfr.vision.engine_config import EngineConfig

    engine = EngineConfig()
    report = identification(tiny)
    assert report["decisions"]["rule"] == engine.decision_rule().name
    assert report["decisions"]["rule_run"] == report["decisions"]["rule"]
    assert report["decisions"]["calibrated"] is True
    assert report["description"] == engine.description.name
    assert report["at_threshold"]["threshold"] == engine.alert_threshold
    assert report["at_threshold"]["calibrated"] is True
    assert report["decisions"]["margin"] == engine.alert_margin == 0.01
    assert identification(tiny, "--margin", "0")["decisions"]["margin"] == 0
    monkeypatch.setenv("LFR_ENGINE__DESCRIPTION__CHIP_PADDINGS", "[0.25, 0.3]")
    monkeypatch.setenv("LFR_ENGINE__DESCRIPTION__MIRROR", "true")
    monkeypatch.setenv("LFR_ENGINE__ALERT_THRESHOLD", "0.96")
    configured = identification(tiny)
    assert configured["mirror"] is True
    assert configured["chip_paddings"] == [0.25, 0.3]
    assert configured["decisions"]["rule"].startswith("flip+chips0.25-0.3/")
    assert configured["at_threshold"]["threshold"] == 0.96


def test_the_default_describer_is_the_engines_configured_one(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REC-2: with no --describer the run describes with the describer the engine's
    settings configure, and reads no other model's calibration."""
    exported = tmp_path / "dlib.onnx"
    result = CliRunner().invoke(app, ["model", "export-dlib", str(exported)])
    assert result.exit_code == 0, result.output
    configured = {"type": "onnx", "model_path": str(exported), "model_id": "a-force-model"}
    monkeypatch.setenv("LFR_ENGINE__DESCRIBER", json.dumps(configured))
    report = identification(tiny, "--no-fair")
    assert report["model_id"] == "a-force-model"
    assert report["calibration"]["model_id"] == "a-force-model"
    # Named on the command line as JSON, another describer is measured instead.
    named = identification(tiny, "--no-fair", "--describer", '{"type": "dlib"}')
    assert named["model_id"] == "dlib-resnet-v1"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--describer", '{"type": "dlib"'], "--describer: not JSON"),
        (["--describer", "[1, 2]"], "JSON settings are an object"),
        (["--describer", "onnx"], "--describer onnx: give its model file with --model FILE"),
        (["--describer", "dlib", "--model", "{tiny}/pairs.txt"], "--model: only for"),
        (["--describer", "onnx", "--model", "{tiny}/none.onnx"], "none.onnx: no such file"),
        (["--fair-cohort", "{tiny}/pairs.txt"], "pairs.txt: not fair clusters"),
        (["--calibration-out", "{tiny}/no/such/c.json"], "there is no folder"),
        (["--calibration-out", "{tiny}"], "a folder, not a file"),
        (["--calibration-out", "{tiny}/pairs.txt"], "holds no calibration to add to"),
    ],
)
def test_options_that_cannot_serve_are_refused_before_the_run(
    tiny: Path, options: list[str], message: str
) -> None:
    """One line naming the option, exit 2, before any image is described."""
    given = [option.replace("{tiny}", str(tiny)) for option in options]
    result = CliRunner().invoke(
        app, ["evaluate", "identification", str(tiny / "images"), "--no-cache", *given]
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert "describing" not in result.output


def test_the_description_can_be_named_on_the_command_line(tiny: Path) -> None:
    """The flip and the paddings reach the describer and the report says so."""
    report = identification(tiny, "--mirror", "--chip-paddings", "0.25,0.3", "--no-fair")
    assert report["mirror"] is True
    assert report["chip_paddings"] == [0.25, 0.3]
    assert report["decisions"]["rule"] == "flip+chips0.25-0.3/cosine"
    # Its calibration is against raw cosine of plain descriptors: the one scale.
    assert report["calibration"]["rules"].keys() == {"cosine", "flip+chips0.25-0.3/cosine"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--chip-paddings", "wide"], "--chip-paddings: 'wide' is not a list of numbers"),
        (["--chip-paddings", "0.25,3"], "numbers from 0 to 1"),
        (["--normalise", "snorm", "--fair"], "fair score normalisation runs on raw cosine"),
        (["--fair", "--calibration", "{tiny}/none.json"], "none.json"),
    ],
)
def test_options_that_cannot_run_are_refused_saying_what_to_change(
    tiny: Path, options: list[str], message: str
) -> None:
    given = [option.format(tiny=tiny) for option in options]
    result = CliRunner().invoke(
        app, ["evaluate", "identification", str(tiny / "images"), "--no-cache", *given]
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_fair_clusters_need_a_cohort_of_many_people(tiny: Path, tmp_path: Path) -> None:
    """The clusters ship (centroids only): a cohort too small to hide any one person in
    a cluster is refused, saying how many people are needed."""
    out = tmp_path / "cohort.json"
    result = CliRunner().invoke(
        app,
        ["evaluate", "fair-cohort", str(tiny / "images"), "--out", str(out), "--no-cache"],
    )
    assert result.exit_code == 2, result.output
    assert "a cohort of 7 people is too small: at least 40 needed" in result.stderr
    assert not out.exists()


def test_a_named_describer_is_reported_at_its_own_evaluated_default(
    tiny: Path, tmp_path: Path
) -> None:
    """Each model has its own scale: a fused model named on the command line is reported
    at the fused model's evaluated default, not at the engine's dlib threshold."""
    from lfr.vision.describers.faceres import DLIB_FACERES_CARD
    from tests.tiny_faceres import write_faceres_shaped_model

    faceres = write_faceres_shaped_model(tmp_path / "faceres.onnx")
    fused = {
        "type": "fusion",
        "parts": [
            {"describer": {"type": "dlib"}, "weight": 0.85},
            {"describer": {"type": "faceres", "model_path": str(faceres)}, "weight": 0.15},
        ],
    }
    report = identification(tiny, "--no-cache", "--no-fair", "--describer", json.dumps(fused))
    assert report["model_id"] == DLIB_FACERES_CARD.model_id
    assert report["at_threshold"]["threshold"] == DLIB_FACERES_CARD.default_threshold
    assert report["decisions"]["margin"] == DLIB_FACERES_CARD.default_margin == 0.0
