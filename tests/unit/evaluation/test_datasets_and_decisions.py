"""Reading evaluation inputs, splitting LFW for 1:N, and quality gating."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lfr.evaluation.datasets import DatasetError, read_labels, split_identification
from lfr.evaluation.decisions import gate_by_quality


def test_split_enrols_the_first_image_and_probes_with_the_rest() -> None:
    people = {
        "a": [Path("a1"), Path("a2"), Path("a3")],
        "b": [Path("b1"), Path("b2")],
        "c": [Path("c1")],
    }
    split = split_identification(people)
    assert split.gallery == {"a": [Path("a1")], "b": [Path("b1")]}
    assert split.mated == [("a", Path("a2")), ("a", Path("a3")), ("b", Path("b2"))]
    assert split.nonmated == [("c", Path("c1"))]


def test_split_with_several_templates_keeps_one_image_to_probe_with() -> None:
    people = {"a": [Path(f"a{i}") for i in range(1, 5)], "b": [Path("b1"), Path("b2")]}
    split = split_identification(people, gallery_images=3)
    assert split.gallery == {"a": [Path("a1"), Path("a2"), Path("a3")], "b": [Path("b1")]}
    assert split.mated == [("a", Path("a4"))]  # b's probes start at its 4th image: none
    same_probes = split_identification(people, gallery_images=1, first_probe=3)
    assert same_probes.mated == split.mated


def test_split_refuses_a_probe_start_inside_the_gallery() -> None:
    with pytest.raises(ValueError, match="first_probe"):
        split_identification({"a": [Path("a1"), Path("a2")]}, gallery_images=2, first_probe=1)


def test_labels_file_errors_name_the_line(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("identity,group\na,g1\nb\n")
    with pytest.raises(DatasetError, match=r"labels.csv:3: expected 'identity,group'"):
        read_labels(labels)
    labels.write_text("a,g1\na,g2\n")
    with pytest.raises(DatasetError, match=r":2: a is already in group g1"):
        read_labels(labels)
    labels.write_text("a,g1\nb, g2\n")
    assert read_labels(labels) == {"a": "g1", "b": "g2"}


def test_quality_gate_removes_poor_probes_from_the_search() -> None:
    scores = np.array([[0.9, 0.1], [0.8, 0.2]])
    gated, kept = gate_by_quality(scores, np.array([0.2, 0.7]), minimum=0.5)
    assert kept.tolist() == [False, True]
    assert np.isneginf(gated[0]).all()
    assert gated[1].tolist() == [0.8, 0.2]


def test_fair_normalisation_moves_each_cluster_to_the_global_threshold() -> None:
    """EQ-1 mitigation (no labels): a cluster whose impostors score high has its scores
    lowered, one whose impostors score low has them raised, by half of each side's
    offset from the global threshold."""
    from lfr.evaluation.decisions import cluster_offsets, fair_normalisation

    # Subjects 0–1 in cluster 0 (impostor score 0.9 between them), 2–3 in cluster 1
    # (0.1 between them); across clusters 0.5.
    among = np.array(
        [
            [1.0, 0.9, 0.5, 0.5],
            [0.9, 1.0, 0.5, 0.5],
            [0.5, 0.5, 1.0, 0.1],
            [0.5, 0.5, 0.1, 1.0],
        ]
    )
    offsets = cluster_offsets(among, np.array([0, 0, 1, 1]), 2, fmr=0.5, min_false=1)
    # Global: the median of (0.9, 0.5, 0.5, 0.5, 0.5, 0.1) = 0.5. Cluster 0's own
    # comparisons (0.9, 0.5 ×4): median 0.5; cluster 1's (0.5 ×4, 0.1): 0.5.
    assert offsets.tolist() == pytest.approx([0.0, 0.0])
    offsets = cluster_offsets(among, np.array([0, 0, 1, 1]), 2, fmr=0.2, min_false=1)
    overall = float(np.quantile([0.9, 0.5, 0.5, 0.5, 0.5, 0.1], 0.8))
    high = float(np.quantile([0.9, 0.5, 0.5, 0.5, 0.5], 0.8))
    low = float(np.quantile([0.5, 0.5, 0.5, 0.5, 0.1], 0.8))
    assert offsets.tolist() == pytest.approx([high - overall, low - overall])
    assert offsets[0] > offsets[1]  # the cluster whose impostors score high

    templates = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    probes = np.array([[1.0, 0.0], [0.0, 1.0]])
    scores = np.full((2, 4), 0.7)
    shifted = fair_normalisation(scores, probes, templates, among, clusters=2, fmr=0.2, min_false=1)
    # Probe 0 (in the cluster of subjects 0–1) against subject 0: the high cluster's
    # offset from both sides; against subject 2: half of it; probe 1 against subject 2:
    # the low cluster's from both sides.
    high, low = offsets
    assert shifted[0, 0] == pytest.approx(0.7 - high)
    assert shifted[0, 2] == pytest.approx(0.7 - (high + low) / 2)
    assert shifted[1, 2] == pytest.approx(0.7 - low)
