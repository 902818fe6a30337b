"""The decision rule's parts on small hand-made cases (REC-2, EQ-1): description
averaging, fair score normalisation fitted on a cohort and applied to any watchlist,
rule names, when a rule cannot run, and screened search agreeing with exact search."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from lfr.vision.alignment import ArcFaceChip, ChipAlignment, DlibChip, PaddedBox
from lfr.vision.calibration import ModelCalibration, RuleCalibration
from lfr.vision.decision import (
    DecisionRule,
    Description,
    TrackPooling,
    TrackTemplate,
    TrackTemplates,
    comparison_scores,
    runnable_rule,
    searched_gallery,
    widened,
)
from lfr.vision.describers.base import SingleCrop, l2_normalise
from lfr.vision.fair import (
    FairCohort,
    OffsetPairs,
    cluster_offsets,
    fair_shift,
    fit_fair_cohort,
    merge_small_clusters,
)
from lfr.vision.matcher import Gallery
from lfr.vision.normalisation import CohortNormalisation
from lfr.vision.screening import Screening
from lfr.vision.types import Descriptor, RGBImage


class _PixelDescriber(SingleCrop):
    """Describes a chip by its first row's first and last red values and 1: mirroring
    swaps what it reads, so the averaging can be checked by hand."""

    model_id = "pixels"
    dimension = 3

    def __init__(self) -> None:
        self.calls: list[int] = []

    def describe(self, chips: Sequence[RGBImage]) -> Descriptor:
        self.calls.append(len(chips))
        rows = [[float(c[0, 0, 0]), float(c[0, -1, 0]), 1.0] for c in chips]
        return l2_normalise(np.array(rows, dtype=np.float32))


class _Face:
    """A face whose chip at each padding is given."""

    def __init__(self, chips: dict[float, tuple[int, int]]) -> None:
        self._chips = chips
        self.asked: list[ChipAlignment] = []

    def chip_for(self, alignment: ChipAlignment) -> RGBImage:
        assert isinstance(alignment, DlibChip)
        self.asked.append(alignment)
        left, right = self._chips[alignment.padding]
        chip = np.zeros((4, 4, 3), np.uint8)
        chip[0, 0, 0], chip[0, -1, 0] = left, right
        return chip


def test_plain_description_is_the_describers_descriptor_in_one_call() -> None:
    describer = _PixelDescriber()
    faces = [_Face({0.25: (3, 0)}), _Face({0.25: (0, 4)})]
    described = Description().describe(describer, faces)
    expected = l2_normalise(np.array([[3, 0, 1], [0, 4, 1]], np.float32))
    np.testing.assert_allclose(described, expected, atol=1e-6)
    assert describer.calls == [2]
    assert Description().alignments(describer) == (DlibChip(),)


def test_flip_and_context_average_unit_descriptors_of_every_chip() -> None:
    describer = _PixelDescriber()
    description = Description(mirror=True, chip_paddings=(0.25, 0.3))
    assert description.name == "flip+chips0.25-0.3"
    assert description.passes_per_face == 4
    assert description.alignments(describer) == (DlibChip(), DlibChip(padding=0.3))
    described = description.describe(describer, [_Face({0.25: (3, 0), 0.3: (0, 0)})])
    # Chip 1 (3, 0, 1) and its mirror (0, 3, 1): unit mean ∝ (1.5, 1.5, 1); chip 2
    # (0, 0, 1) and its mirror are the same. The face: unit mean of the two units.
    first = l2_normalise(np.array([[1.5, 1.5, 1.0]], np.float32))[0]
    expected = l2_normalise((first + np.array([0, 0, 1], np.float32))[None, :])
    np.testing.assert_allclose(described, expected, atol=1e-6)
    assert describer.calls == [4]  # one call for every chip and mirror


def test_context_widens_a_describers_own_crop_and_leaves_one_without_padding() -> None:
    assert widened(PaddedBox(padding=0.6), 0.3) == PaddedBox(padding=0.65)
    assert widened(ArcFaceChip(), 0.3) == ArcFaceChip()
    assert widened(DlibChip(size=200, padding=0.4), 0.25) == DlibChip(size=200, padding=0.4)
    with pytest.raises(ValueError, match="at least one"):
        Description(chip_paddings=())


def test_rule_names_say_the_description_and_the_score_rule() -> None:
    assert DecisionRule().name == "cosine"
    assert DecisionRule(fair=True).name == "cosine-fair"
    flip = Description(mirror=True)
    assert DecisionRule(description=flip, fair=True).name == "flip/cosine-fair"
    snorm = DecisionRule(normalisation=CohortNormalisation())
    assert snorm.name == "snorm-200"
    with pytest.raises(ValueError, match="raw cosine"):
        DecisionRule(normalisation=CohortNormalisation(), fair=True)


def test_a_track_template_is_the_unit_mean_of_its_descriptions_so_far() -> None:
    template = TrackTemplate(2)
    np.testing.assert_allclose(template.add(np.array([1.0, 0.0])), [[1.0, 0.0]])
    # (1, 0) + (0, 1): the unit mean (0.7071, 0.7071).
    np.testing.assert_allclose(template.add(np.array([0.0, 1.0])), [[0.70710678] * 2], atol=1e-6)
    # + (0, 1) again: (1, 2) / √5.
    pooled = template.add(np.array([0.0, 1.0]))
    np.testing.assert_allclose(pooled, [[1 / 5**0.5, 2 / 5**0.5]], atol=1e-6)
    assert template.count == 3


def test_pooling_averages_out_noise_a_single_frame_carries() -> None:
    """REC-2: a passer's frames each 0.8 like their subject (unit noise in two other
    directions, opposite in turn); the pooled track scores higher than any one frame."""
    subject = np.array([1.0, 0.0, 0.0])
    frames = _unit([[0.8, 0.6, 0.0], [0.8, -0.6, 0.0], [0.8, 0.0, 0.6], [0.8, 0.0, -0.6]])
    template = TrackTemplate(3)
    pooled = [float(template.add(frame)[0] @ subject) for frame in frames]
    assert [round(float(f @ subject), 3) for f in frames] == [0.8] * 4
    assert pooled[0] == pytest.approx(0.8)
    assert pooled[1] == pytest.approx(1.0)  # the noise of frames 1 and 2 cancels
    assert pooled[2] == pytest.approx(2.4 / np.sqrt(2.4**2 + 0.6**2))
    assert pooled[3] == pytest.approx(1.0)


def test_track_templates_pool_per_track_and_forget_ended_tracks() -> None:
    each = TrackTemplates(TrackPooling.EACH)
    rows = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    assert each.searched([1, 2], rows) is rows
    assert len(each) == 0  # nothing is held
    mean = TrackTemplates(TrackPooling.MEAN)
    np.testing.assert_allclose(mean.searched([1, 2], rows), rows)  # a first look is itself
    second = mean.searched([1], np.array([[0.0, 1.0]], np.float32))
    np.testing.assert_allclose(second, [[0.70710678, 0.70710678]], atol=1e-6)
    assert len(mean) == 2
    mean.keep_only([2])
    assert len(mean) == 1
    # Track 1 ended: a track of that id would start afresh.
    np.testing.assert_allclose(mean.searched([1], np.array([[0.0, 1.0]], np.float32)), [[0, 1]])
    mean.keep_only(())
    assert len(mean) == 0


def test_track_pooling_is_part_of_the_rule_not_of_its_calibrated_name() -> None:
    pooled = DecisionRule(fair=True, track_pooling=TrackPooling.MEAN)
    assert pooled.name == DecisionRule(fair=True).name == "cosine-fair"


def _unit(rows: list[list[float]]) -> NDArray[np.float64]:
    matrix = np.asarray(rows, dtype=np.float64)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_fair_shift_lowers_a_score_by_the_mean_of_both_offsets() -> None:
    scores = np.array([[0.9, 0.8]])
    shifted = fair_shift(scores, np.array([0.02]), np.array([0.04, -0.02]))
    np.testing.assert_allclose(shifted, [[0.9 - 0.03, 0.8 - 0.0]])


def _two_clusters() -> tuple[NDArray[np.float64], list[str], NDArray[np.float64], list[float]]:
    """Two clusters of two people each, two images a person: the people of cluster x
    (near e1) look more alike (0.66) than those of cluster y (near e2, 0.22). Points,
    their people, the centroids and every impostor score."""
    a = _unit([[1, 0.45, 0], [1, 0.45, 0], [1, -0.45, 0], [1, -0.45, 0]])
    b = _unit([[0, 1, 0.8], [0, 1, 0.8], [0, 1, -0.8], [0, 1, -0.8]])
    points = np.vstack([a, b])
    people = ["p", "p", "q", "q", "r", "r", "s", "s"]
    scores = points @ points.T
    impostor = [scores[i, j] for i in range(8) for j in range(i + 1, 8) if people[i] != people[j]]
    return points, people, _unit([[1, 0, 0], [0, 1, 0]]), impostor


def test_a_cluster_offset_is_its_own_threshold_minus_the_global_one() -> None:
    points, people, centroids, impostor = _two_clusters()
    scores = points @ points.T
    x_pairs = [scores[i, j] for i in range(4) for j in range(i + 1, 8) if people[i] != people[j]]
    y_pairs = [scores[i, j] for i in range(4, 8) for j in range(i + 1, 8) if people[i] != people[j]]
    y_pairs += [scores[i, j] for i in range(4) for j in range(4, 8)]
    fmr = 0.5
    offsets = cluster_offsets(points, people, centroids, fmr=fmr, min_false=0.5)
    overall = np.quantile(impostor, 1 - fmr)
    np.testing.assert_allclose(
        offsets,
        [np.quantile(x_pairs, 1 - fmr) - overall, np.quantile(y_pairs, 1 - fmr) - overall],
        atol=1e-6,
    )
    assert offsets[0] > 0 > offsets[1]  # the cluster that scores higher is shifted down
    # Too few comparisons to resolve the rate: no offset.
    assert not cluster_offsets(points, people, centroids, fmr=fmr, min_false=100).any()


def test_a_cluster_offset_from_its_own_pairs_reads_only_comparisons_within_it() -> None:
    """REC-2, EQ-1: with `within`, a cluster's threshold comes from comparisons of two of
    its own faces, not from the (lower) comparisons with other clusters' faces."""
    points, people, centroids, impostor = _two_clusters()
    scores = points @ points.T
    x_within = [scores[i, j] for i in range(2) for j in range(2, 4)]
    y_within = [scores[i, j] for i in range(4, 6) for j in range(6, 8)]
    fmr = 0.5
    offsets = cluster_offsets(
        points, people, centroids, fmr=fmr, min_false=0.5, pairs=OffsetPairs.WITHIN
    )
    overall = np.quantile(impostor, 1 - fmr)
    np.testing.assert_allclose(
        offsets,
        [np.quantile(x_within, 1 - fmr) - overall, np.quantile(y_within, 1 - fmr) - overall],
        atol=1e-6,
    )
    touching = cluster_offsets(points, people, centroids, fmr=fmr, min_false=0.5)
    assert not np.allclose(offsets, touching)


def test_clusters_of_too_few_people_are_dissolved_so_no_centroid_is_one_face() -> None:
    points = _unit([[1, 0.1, 0]] * 6 + [[0, 1, 0.1]] * 6 + [[0, 0.1, 1]])
    people = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)] + ["loner"]
    centroids = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    kept = merge_small_clusters(points, people, centroids, min_identities=3)
    assert len(kept) == 2
    nearest = np.argmax(points @ kept.T, axis=1)
    for c in range(len(kept)):
        assert len({people[i] for i in np.flatnonzero(nearest == c)}) >= 3


def _cohort(centroids: list[list[float]], offsets: list[float]) -> FairCohort:
    return FairCohort(
        description="plain",
        dataset="hand-made",
        identities=100,
        false_match_rate=1e-3,
        centroids=tuple(tuple(row) for row in _unit(centroids)),
        offsets=tuple(offsets),
    )


def _calibration(cohort: FairCohort | None, *rules: str) -> ModelCalibration:
    scale = RuleCalibration(scores=(0.5, 0.9))
    return ModelCalibration(
        model_id="hand",
        dataset="hand-made",
        command="test",
        non_mated_comparisons=10,
        false_match_rates=(0.1, 0.01),
        rules={"cosine": scale} | {rule: RuleCalibration(scores=(0.4, 0.8)) for rule in rules},
        fair_cohorts={cohort.description: cohort} if cohort else {},
    )


def test_fair_normalisation_is_the_same_for_a_watchlist_of_one_or_of_many() -> None:
    cohort = _cohort([[1, 0, 0], [0, 1, 0]], [0.04, -0.02])
    calibration = _calibration(cohort, "cosine-fair")
    rule = DecisionRule(fair=True)
    probe = _unit([[1, 0.2, 0]])
    one = Gallery.build(["x"], _unit([[0.9, 0.1, 0.3]]))
    many = Gallery.build(["x", "y", "z"], _unit([[0.9, 0.1, 0.3], [0.1, 1, 0.2], [0.3, 0.3, 0.9]]))
    alone = searched_gallery(one, rule, calibration).scores(probe)[0, 0]
    among = searched_gallery(many, rule, calibration).scores(probe)[0, 0]
    assert alone == pytest.approx(among)
    # By hand: both faces in cluster 0 (offset 0.04): cosine − 0.04, then mapped from
    # the rule's scale (0.4 → 0.5, 0.8 → 0.9) onto the reference one: + 0.1.
    cosine = float(probe[0] @ _unit([[0.9, 0.1, 0.3]])[0])
    assert alone == pytest.approx(cosine - 0.04 + 0.1, abs=1e-6)


def test_a_rule_that_cannot_run_calibrated_falls_back_to_raw_cosine() -> None:
    cohort = _cohort([[1, 0, 0], [0, 1, 0]], [0.04, -0.02])
    fair = DecisionRule(fair=True)
    assert runnable_rule(fair, 5, _calibration(cohort, "cosine-fair")) == fair
    assert runnable_rule(fair, 5, _calibration(None, "cosine-fair")).name == "cosine"
    assert runnable_rule(fair, 5, _calibration(cohort)).name == "cosine"
    assert runnable_rule(fair, 5, None).name == "cosine"
    snorm = DecisionRule(normalisation=CohortNormalisation(min_subjects=30))
    assert runnable_rule(snorm, 29, _calibration(None, "snorm-200")).name == "cosine"
    assert runnable_rule(snorm, 30, _calibration(None, "snorm-200")) == snorm
    flipped = DecisionRule(description=Description(mirror=True), fair=True)
    assert runnable_rule(flipped, 5, _calibration(cohort, "flip/cosine-fair")).name == (
        "flip/cosine"  # the clusters were fitted on plain descriptors
    )


def test_screened_search_with_fair_normalisation_ranks_as_exact_search() -> None:
    rng = np.random.default_rng(4)
    templates = l2_normalise(rng.normal(size=(300, 16)).astype(np.float32))
    probes = l2_normalise(templates[:20] + 0.5 * rng.normal(size=(20, 16)).astype(np.float32))
    centroids = l2_normalise(rng.normal(size=(4, 16)).astype(np.float32)).tolist()
    cohort = _cohort(centroids, [0.1, -0.05, 0.0, 0.2])
    calibration = _calibration(cohort, "cosine-fair")
    subjects = [f"s{i}" for i in range(300)]
    exact = Gallery.build(subjects, templates, screening=Screening(min_templates=10**6))
    screened = Gallery.build(
        subjects, templates, screening=Screening(min_templates=1, candidates=40)
    )
    assert screened.screened
    rule = DecisionRule(fair=True)
    for want, got in zip(
        searched_gallery(exact, rule, calibration).search(probes, k=3),
        searched_gallery(screened, rule, calibration).search(probes, k=3),
        strict=True,
    ):
        assert [c.subject_id for c in want] == [c.subject_id for c in got]
        assert [c.score for c in want] == pytest.approx([c.score for c in got], abs=1e-5)


def test_fitting_a_cohort_ships_centroids_and_offsets_only() -> None:
    rng = np.random.default_rng(7)
    people = [f"p{i}" for i in range(120) for _ in range(2)]
    points = l2_normalise(rng.normal(size=(240, 8)).astype(np.float32))
    cohort = fit_fair_cohort(
        points, people, clusters=5, description="plain", dataset="random", min_identities=20
    )
    assert cohort.identities == 120
    assert len(cohort.centroids) == len(cohort.offsets) <= 5
    nearest = np.argmax(points @ cohort.centroid_matrix().T, axis=1)
    for c in range(len(cohort.centroids)):
        assert len({people[i] for i in np.flatnonzero(nearest == c)}) >= 20
    assert set(FairCohort.model_fields) == {
        "description",
        "dataset",
        "identities",
        "false_match_rate",
        "centroids",
        "offsets",
        "offset_pairs",
    }
    with pytest.raises(ValueError, match="too small"):
        fit_fair_cohort(points[:20], people[:20], clusters=2, description="plain", dataset="random")


def test_comparison_scores_are_each_pair_scored_as_a_camera_would() -> None:
    cohort = _cohort([[1, 0, 0], [0, 1, 0]], [0.04, -0.02])
    calibration = _calibration(cohort, "cosine-fair")
    faces = _unit([[1, 0.1, 0], [0.1, 1, 0], [1, 0, 0.2]])
    scores = comparison_scores(faces.astype(np.float32), DecisionRule(fair=True), calibration)
    cosine = faces @ faces.T
    offsets = np.array([0.04, -0.02, 0.04])
    expected = cosine - 0.5 * (offsets[:, None] + offsets[None, :]) + 0.1
    np.testing.assert_allclose(scores, expected, atol=1e-5)
