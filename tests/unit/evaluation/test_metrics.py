"""Accuracy maths on small hand-made cases whose answers are worked out by hand (EQ-1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lfr.evaluation.metrics import (
    Searches,
    all_pairs_scores,
    best_accuracy_threshold,
    det_points,
    fnir_at_fpir,
    kfold_accuracy,
    pairs_by_group,
    rank_accuracy,
    rates_at_threshold,
    searches_by_group,
    searches_from_candidates,
    searches_from_scores,
    stratified_folds,
    tar_at_far,
    threshold_for_false_rate,
)

TEN_NEGATIVES = np.arange(1, 11, dtype=np.float64) / 10  # 0.1 … 1.0


def test_threshold_lets_through_exactly_the_allowed_number_of_negatives() -> None:
    point = threshold_for_false_rate(TEN_NEGATIVES, 0.2)
    assert 0.8 < point.threshold <= 0.8 + 1e-12
    assert point.false_count == 2
    assert point.achieved_rate == pytest.approx(0.2)
    assert point.resolvable


def test_threshold_rejects_every_negative_tied_at_the_boundary() -> None:
    negatives = np.array([0.5, 0.5, 0.5, 0.1])
    point = threshold_for_false_rate(negatives, 0.5)  # 2 allowed, but 3 tie at 0.5
    assert point.threshold > 0.5
    assert point.false_count == 0


def test_a_rate_finer_than_the_negatives_allow_is_flagged_unresolvable() -> None:
    point = threshold_for_false_rate(TEN_NEGATIVES, 0.05)
    assert point.false_count == 0
    assert point.threshold > 1.0
    assert not point.resolvable


def test_a_false_rate_of_one_accepts_everything() -> None:
    point = threshold_for_false_rate(TEN_NEGATIVES, 1.0)
    assert point.threshold == -math.inf
    assert point.false_count == 10


@pytest.mark.parametrize("rate", [0.0, -0.1, 1.5])
def test_a_target_rate_outside_zero_one_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="target rate"):
        threshold_for_false_rate(TEN_NEGATIVES, rate)


def test_tar_at_far_counts_the_genuine_pairs_above_the_impostor_threshold() -> None:
    genuine = np.array([0.95, 0.85, 0.5])
    (at_ten_percent, at_thirty_percent) = tar_at_far(genuine, TEN_NEGATIVES, (0.1, 0.3))
    assert (at_ten_percent.true_accepts, at_ten_percent.n_genuine) == (1, 3)
    assert at_ten_percent.tar == pytest.approx(1 / 3)
    assert at_thirty_percent.true_accepts == 2  # threshold just above 0.7
    assert at_thirty_percent.point.false_count == 3


def test_best_threshold_maximises_accuracy_and_takes_the_lowest_of_equals() -> None:
    scores = np.array([0.2, 0.4, 0.6, 0.8])
    same = np.array([False, True, False, True])
    # 0.3 and 0.7 both get 3 of 4 right.
    assert best_accuracy_threshold(scores, same) == pytest.approx(0.3)


def test_kfold_accuracy_chooses_each_threshold_on_the_other_folds() -> None:
    scores = np.array([0.9, 0.4, 0.3, 0.1, 0.8, 0.7, 0.6, 0.2])
    same = np.array([True, True, False, False, True, True, False, False])
    folds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    result = kfold_accuracy(scores, same, folds)
    # Fold 0 is tested at 0.65 (chosen on fold 1): 0.4 is missed.
    # Fold 1 is tested at 0.35 (chosen on fold 0): 0.6 is wrongly accepted.
    assert [f.threshold for f in result.folds] == pytest.approx([0.65, 0.35])
    assert [(f.correct, f.n_pairs) for f in result.folds] == [(3, 4), (3, 4)]
    assert result.mean == pytest.approx(0.75)
    assert result.std == pytest.approx(0.0)
    assert (result.correct, result.n_pairs) == (6, 8)


def test_stratified_folds_cut_each_kind_into_contiguous_runs() -> None:
    same = np.array([True] * 20 + [False] * 10)
    folds = stratified_folds(same, n_folds=10)
    assert folds[:20].tolist() == [i // 2 for i in range(20)]
    assert folds[20:].tolist() == list(range(10))


def test_all_pairs_scores_split_genuine_from_impostor() -> None:
    vectors = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)
    genuine, impostor = all_pairs_scores(vectors, ["a", "a", "b"])
    assert genuine.tolist() == pytest.approx([0.6])
    assert sorted(impostor.tolist()) == pytest.approx([0.0, 0.8])


def _searches() -> Searches:
    return searches_from_candidates(
        mated=[
            ("a", [("a", 0.9), ("b", 0.5)]),  # rank 1
            ("b", [("a", 0.8), ("b", 0.7)]),  # rank 2
            ("c", [("a", 0.3)]),  # not returned
            ("d", [("d", 0.5)]),  # rank 1, low score
        ],
        nonmated=[
            ("x", [("a", 0.6)]),
            ("y", [("b", 0.4)]),
            ("z", []),
        ],
    )


def test_searches_record_the_rank_and_score_of_each_mate() -> None:
    searches = _searches()
    assert searches.mate_rank.tolist() == [1, 2, 0, 1]
    assert searches.mate_score.tolist() == [0.9, 0.7, -math.inf, 0.5]
    assert searches.nonmated_top_score.tolist() == [0.6, 0.4, -math.inf]


def test_rank_accuracy_counts_mates_returned_within_the_rank() -> None:
    searches = _searches()
    assert (rank_accuracy(searches, 1).hits, rank_accuracy(searches, 1).n_mated) == (2, 4)
    assert rank_accuracy(searches, 2).rate == pytest.approx(0.75)


def test_fnir_at_fpir_misses_mates_below_the_threshold_or_not_at_rank_one() -> None:
    loose, strict = fnir_at_fpir(_searches(), (0.34, 0.1))
    # One non-mated search may alert: threshold just above 0.4; a and d are found.
    assert loose.point.threshold > 0.4
    assert (loose.rates.false_positives, loose.rates.n_nonmated) == (1, 3)
    assert (loose.rates.false_negatives, loose.rates.n_mated) == (2, 4)
    # None may alert: threshold just above 0.6; d (0.5) is now missed too.
    assert strict.rates.false_positives == 0
    assert strict.rates.fnir == pytest.approx(0.75)
    assert not strict.point.resolvable


def test_det_points_run_from_alerting_on_everyone_to_alerting_on_no_stranger() -> None:
    points = det_points(_searches())
    assert [(p.false_positives, p.false_negatives) for p in points] == [(3, 2), (1, 2), (0, 3)]
    assert [p.threshold for p in points] == sorted(p.threshold for p in points)


def test_rates_at_a_fixed_threshold() -> None:
    rates = rates_at_threshold(_searches(), 0.85)
    assert (rates.false_positives, rates.false_negatives) == (0, 3)
    assert rates.fpir == 0.0


def test_searches_split_by_the_group_of_the_probe_identity() -> None:
    groups = {"a": "g1", "b": "g1", "x": "g1", "c": "g2", "d": "g2", "y": "g2"}
    split = searches_by_group(_searches(), groups)
    assert split["g1"].mated_identity == ("a", "b")
    assert split["g1"].nonmated_identity == ("x",)
    assert split["g2"].mated_identity == ("c", "d")
    assert split["g2"].nonmated_top_score.tolist() == [0.4]  # z is unlabelled: left out
    assert rank_accuracy(split["g1"]).rate == 0.5
    assert rank_accuracy(split["g2"]).rate == 0.5


def test_pairs_belong_to_a_group_only_when_both_identities_do() -> None:
    masks = pairs_by_group(
        ["a", "a", "c"], ["b", "c", "d"], {"a": "g1", "b": "g1", "c": "g2", "d": "g2"}
    )
    assert masks["g1"].tolist() == [True, False, False]
    assert masks["g2"].tolist() == [False, False, True]


def test_searches_from_a_score_matrix_match_those_from_candidate_lists() -> None:
    scores = np.array(
        [
            [0.9, 0.5, 0.1],  # a: rank 1
            [0.8, 0.7, 0.0],  # b: rank 2
            [0.6, 0.2, 0.3],  # x: non-mated, top 0.6
            [-math.inf, -math.inf, -math.inf],  # a, not searched
        ]
    )
    searches = searches_from_scores(scores, ["a", "b", "c"], ["a", "b", "x", "a"])
    assert searches.mated_identity == ("a", "b", "a")
    assert searches.mate_rank.tolist() == [1, 2, 0]
    assert searches.mate_score.tolist() == [0.9, 0.7, -math.inf]
    assert searches.nonmated_identity == ("x",)
    assert searches.nonmated_top_score.tolist() == [0.6]


def test_a_search_whose_best_does_not_stand_out_by_the_margin_alerts_on_nobody() -> None:
    """The decision rule's margin (lfr.vision.decision.stands_out) in 1:N figures: a
    mate ranked first but 0.005 above the second is missed at every threshold, rank
    kept; a stranger's top look-alike 0.005 above the next alerts at no threshold."""
    scores = np.array(
        [
            [0.90, 0.895, 0.1],  # a: rank 1, contested
            [0.20, 0.90, 0.80],  # b: rank 1, stands out by 0.1
            [0.60, 0.595, 0.3],  # x: non-mated, contested
            [0.70, 0.10, 0.30],  # y: non-mated, stands out
        ]
    )
    identities = ["a", "b", "x", "y"]
    plain = searches_from_scores(scores, ["a", "b", "c"], identities)
    ruled = searches_from_scores(scores, ["a", "b", "c"], identities, margin=0.01)
    assert plain.mate_score.tolist() == [0.90, 0.90]
    assert ruled.mate_rank.tolist() == [1, 1]
    assert ruled.mate_score.tolist() == [-math.inf, 0.90]
    assert ruled.nonmated_top_score.tolist() == [-math.inf, 0.70]
    one_subject = searches_from_scores(np.array([[0.9], [0.8]]), ["a"], ["a", "z"], 0.01)
    assert one_subject.mate_score.tolist() == [0.9]
    assert one_subject.nonmated_top_score.tolist() == [0.8]
