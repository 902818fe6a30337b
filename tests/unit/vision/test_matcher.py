"""Gallery maths on small hand-made matrices with known answers (REC-2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lfr.vision.matcher import Fusion, Gallery
from lfr.vision.types import ListKind


def _gallery() -> Gallery:
    # Subject "a" has two templates (east and 60° up), "b" one (north), "c" one (west).
    templates = np.array(
        [[1.0, 0.0], [0.0, 1.0], [0.5, math.sqrt(3) / 2], [-1.0, 0.0]], dtype=np.float32
    )
    return Gallery.build(["a", "b", "a", "c"], templates, fusion=Fusion.BEST)


def test_best_template_per_subject_and_order() -> None:
    gallery = _gallery()
    [east, north] = gallery.search(np.array([[1, 0], [0, 1]], dtype=np.float32), k=3)
    assert [c.subject_id for c in east] == ["a", "b", "c"]
    assert [c.score for c in east] == pytest.approx([1.0, 0.0, -1.0], abs=1e-6)
    # North: b exactly; a through its second template (cos 30°); c orthogonal.
    assert [c.subject_id for c in north] == ["b", "a", "c"]
    assert [c.score for c in north] == pytest.approx([1.0, math.sqrt(3) / 2, 0.0], abs=1e-6)


def test_one_candidate_per_subject_and_k_limits() -> None:
    gallery = _gallery()
    assert len(gallery) == 3
    assert gallery.template_count == 4
    [top1] = gallery.search(np.array([0.0, 1.0], dtype=np.float32), k=1)
    assert [(c.subject_id, round(c.score, 6)) for c in top1] == [("b", 1.0)]
    [everyone] = gallery.search(np.array([0.0, 1.0], dtype=np.float32), k=10)
    assert sorted(c.subject_id for c in everyone) == ["a", "b", "c"]


def test_inputs_are_normalised() -> None:
    gallery = Gallery.build(["x", "y"], np.array([[3.0, 4.0], [0.0, 10.0]], dtype=np.float32))
    [result] = gallery.search(np.array([[6.0, 8.0]], dtype=np.float32), k=2)
    assert result[0].subject_id == "x"
    assert result[0].score == pytest.approx(1.0, abs=1e-6)
    assert result[1].score == pytest.approx(0.8, abs=1e-6)


def test_similarities_matrix_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    templates = rng.normal(size=(9, 16)).astype(np.float32)
    owners = ["s3", "s1", "s2", "s1", "s3", "s3", "s2", "s4", "s1"]
    probes = rng.normal(size=(5, 16)).astype(np.float32)
    gallery = Gallery.build(owners, templates, fusion=Fusion.BEST)

    unit_t = templates / np.linalg.norm(templates, axis=1, keepdims=True)
    unit_p = probes / np.linalg.norm(probes, axis=1, keepdims=True)
    cosines = unit_p @ unit_t.T
    expected = np.stack(
        [
            cosines[:, [i for i, o in enumerate(owners) if o == s]].max(axis=1)
            for s in gallery.subject_ids
        ],
        axis=1,
    )
    assert gallery.subject_ids == ("s3", "s1", "s2", "s4")  # first-seen order
    np.testing.assert_allclose(gallery.similarities(probes), expected, atol=1e-6)
    for row, candidates in zip(expected, gallery.search(probes, k=2), strict=True):
        best = np.argsort(-row)[:2]
        assert [c.subject_id for c in candidates] == [gallery.subject_ids[i] for i in best]


def test_list_kinds() -> None:
    gallery = Gallery.build(
        ["w", "tester"],
        np.eye(2, dtype=np.float32),
        [ListKind.WATCHLIST, ListKind.BLUE_LIST],
    )
    assert gallery.list_kind("w") is ListKind.WATCHLIST
    assert gallery.list_kind("tester") is ListKind.BLUE_LIST
    with pytest.raises(KeyError, match="nobody"):
        gallery.list_kind("nobody")
    with pytest.raises(ValueError, match="both"):
        Gallery.build(
            ["s", "s"], np.eye(2, dtype=np.float32), [ListKind.WATCHLIST, ListKind.BLUE_LIST]
        )


def test_empty_gallery_returns_no_candidates() -> None:
    gallery = Gallery.build([], np.zeros((0, 4), dtype=np.float32))
    assert len(gallery) == 0
    assert gallery.search(np.ones((2, 4), dtype=np.float32)) == [[], []]


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="2 subject ids for 3"):
        Gallery.build(["a", "b"], np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        Gallery.build(["a"], np.array([[np.nan, 1.0]], dtype=np.float32))
    gallery = _gallery()
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        gallery.search(np.ones((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="k must be"):
        gallery.search(np.ones((1, 2), dtype=np.float32), k=0)


def test_a_subjects_templates_fuse_into_their_centroid_by_default() -> None:
    """REC-2: several photographs of a subject are fused into one template, the mean of
    their unit vectors (re-normalised)."""
    templates = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]], dtype=np.float32)
    gallery = Gallery.build(["a", "a", "c"], templates)
    assert gallery.template_count == 2
    # a's centroid is (1, 1)/√2: east scores cos 45°, whatever the first template's length.
    [east] = gallery.search(np.array([[1.0, 0.0]], dtype=np.float32), k=2)
    assert [(c.subject_id, round(c.score, 6)) for c in east] == [
        ("a", round(math.sqrt(0.5), 6)),
        ("c", -1.0),
    ]
