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
