"""1:N search of probe descriptors against a watchlist held as one normalised matrix (REC-2).

Scores are cosine similarities (higher = more alike, 1 = identical direction). A subject
may have several templates (several photographs); by default (`Fusion.CENTROID`) they are
fused into one: the mean of the subject's unit templates, re-normalised. On lfw-dev, with
three photographs per subject, the centroid lowered FNIR at FPIR 1% from 26.1% (best
template's score) to 13.5%, and with S-norm from 17.8% to 11.4% (docs/evaluation.md);
`Fusion.BEST` keeps each template and scores a subject by its best one.

Optionally (`with_normalisation`) scores are cohort-normalised
(`lfr.vision.normalisation`) and, with a calibration (`lfr.vision.calibration`), put back
on the reference scale: the raw cosine with the same evaluated false-match rate, so that
one threshold means the same whichever rule runs. The alert threshold is *not* applied
here: the caller (the tracker) applies the one the authority set, so that the matcher has
no hidden constant.

Galleries of `Screening.min_templates` templates or more (default 200k) are searched
through a screen (`lfr.vision.screening`): a compact int8 copy picks `candidates`
subjects, which are re-scored exactly, so returned scores are always exact. With cohort
normalisation the screen keeps, besides the best `candidates` by approximate normalised
score, the best `candidates` + cohort_size + 1 by approximate raw score, so that each
probe's T-norm cohort (its best raw scores) is re-scored exactly too; the normalised
scores are then computed on those exact scores. `similarities` and `scores` (whole
matrices, for evaluation) stay exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from lfr.vision.describers.base import l2_normalise
from lfr.vision.fair import FairCohort, fair_shift
from lfr.vision.normalisation import CohortNormalisation, CohortNormaliser
from lfr.vision.screening import ScreenIndex, Screening, to_scores
from lfr.vision.types import Candidate, Descriptor, ListKind


class Fusion(StrEnum):
    """How a subject's several templates make its score."""

    CENTROID = "centroid"
    """One template per subject: the mean of its unit templates, re-normalised."""
    BEST = "best"
    """Every template kept; the subject scores its best template's similarity."""


ScoreMap = Callable[[NDArray[np.float64]], NDArray[np.float64]]
"""A monotone map of normalised scores (e.g. onto the calibrated reference scale)."""


class Gallery:
    """The templates of a watchlist (and blue list, REC-6), searchable in one matrix product.

    Immutable once built; safe to share between threads.
    """

    def __init__(
        self,
        templates: Descriptor,
        template_subject: NDArray[np.intp],
        subject_ids: tuple[str, ...],
        list_kinds: dict[str, ListKind],
        model_id: str | None,
        screening: Screening | None = None,
        screen: ScreenIndex | None = None,
    ) -> None:
        # Use `Gallery.build`; this constructor trusts its (sorted, normalised) inputs.
        self._templates = templates
        self._template_subject = template_subject
        self._subject_ids = subject_ids
        self._list_kinds = list_kinds
        self.model_id = model_id
        self._normaliser: CohortNormaliser | None = None
        self._fair: _FairOffsets | None = None
        self._score_map: ScoreMap | None = None
        # Templates are sorted by subject: each subject's block starts at these rows, so one
        # `maximum.reduceat` gives every subject's best template score.
        self._block_starts = (
            np.flatnonzero(np.r_[True, template_subject[1:] != template_subject[:-1]])
            if len(template_subject)
            else np.zeros(0, dtype=np.intp)
        )
        self._block_ends = np.r_[self._block_starts[1:], len(template_subject)].astype(np.intp)
        self.screening = screening or Screening()
        if screen is None and self.template_count >= self.screening.min_templates:
            screen = ScreenIndex(templates)
        self._screen = screen

    @classmethod
    def build(
        cls,
        subject_ids: Sequence[str],
        descriptors: Descriptor,
        list_kinds: Sequence[ListKind] | None = None,
        *,
        model_id: str | None = None,
        screening: Screening | None = None,
        fusion: Fusion = Fusion.CENTROID,
    ) -> Gallery:
        """A gallery of the rows of `descriptors`; `subject_ids[i]` (and `list_kinds[i]`,
        default watchlist) belong to row i. Rows are re-normalised, and a subject's rows
        fused as `fusion` says. `screening` (default `Screening()`) says from what size
        searches are screened."""
        matrix = np.asarray(descriptors, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError(f"descriptors must be a 2-D matrix, got shape {matrix.shape}")
        if len(subject_ids) != matrix.shape[0]:
            raise ValueError(
                f"{len(subject_ids)} subject ids for {matrix.shape[0]} descriptor rows"
            )
        kinds = (
            list(list_kinds) if list_kinds is not None else [ListKind.WATCHLIST] * len(subject_ids)
        )
        if len(kinds) != len(subject_ids):
            raise ValueError(f"{len(kinds)} list kinds for {len(subject_ids)} subject ids")
        if not np.all(np.isfinite(matrix)):
            raise ValueError("descriptors contain NaN or infinite values")
        subjects, kind_of = _subjects_in_order(subject_ids, kinds)
        index_of = {subject: i for i, subject in enumerate(subjects)}
        owner = np.array([index_of[s] for s in subject_ids], dtype=np.intp)
        order = np.argsort(owner, kind="stable")
        templates = (
            l2_normalise(matrix[order]) if len(order) else matrix.reshape(0, matrix.shape[1])
        )
        template_subject = owner[order]
        if fusion is Fusion.CENTROID and len(order):
            templates, template_subject = _centroids(templates, template_subject)
        return cls(
            templates=templates,
            template_subject=template_subject,
            subject_ids=tuple(subjects),
            list_kinds=kind_of,
            model_id=model_id,
            screening=screening,
        )

    def __len__(self) -> int:
        """The number of subjects (not templates)."""
        return len(self._subject_ids)

    @property
    def subject_ids(self) -> tuple[str, ...]:
        return self._subject_ids

    @property
    def template_count(self) -> int:
        return int(self._templates.shape[0])

    @property
    def templates(self) -> Descriptor:
        """The unit templates, sorted by subject (one per subject when fused)."""
        return self._templates

    @property
    def dimension(self) -> int:
        return int(self._templates.shape[1])

    def list_kind(self, subject_id: str) -> ListKind:
        try:
            return self._list_kinds[subject_id]
        except KeyError:
            raise KeyError(f"subject {subject_id!r} is not in the gallery") from None

    def similarities(self, probes: Descriptor) -> NDArray[np.float32]:
        """(n_probes, n_subjects) best-template cosine similarity, subjects in
        `subject_ids` order."""
        matrix = self._probe_matrix(probes)
        if not len(self._subject_ids):
            return np.zeros((matrix.shape[0], 0), dtype=np.float32)
        per_template = matrix @ self._templates.T
        return np.maximum.reduceat(per_template, self._block_starts, axis=1)

    @property
    def screened(self) -> bool:
        """Whether `search` goes through the screen (the gallery is large enough)."""
        return self._screen is not None

    @property
    def screen_components(self) -> int | None:
        """Dimensions the screen keeps (None: not screened)."""
        return self._screen.components if self._screen is not None else None

    def with_normalisation(
        self, config: CohortNormalisation | None, score_map: ScoreMap | None = None
    ) -> Gallery:
        """This gallery with `search` scores cohort-normalised (None: raw cosines), then
        passed through `score_map` when given (a monotone map, e.g. onto the calibrated
        reference scale)."""
        return self.with_rule(config, None).with_score_map(score_map)

    def with_rule(
        self, normalisation: CohortNormalisation | None, fair: FairCohort | None = None
    ) -> Gallery:
        """This gallery with `search` scores cohort-normalised (`normalisation`) or shifted
        by fair score normalisation with `fair`'s clusters (one or neither: raw cosines),
        no score map. Fits each subject's cohort statistics (or finds its cluster) now."""
        copy = self._copy(self.screening, self._screen)
        if normalisation is not None:
            copy._normaliser = CohortNormaliser(normalisation, len(self), self._subject_rows)
        if fair is not None:
            if self.template_count != len(self):
                raise ValueError(
                    "fair normalisation needs one template per subject (centroid fusion)"
                )
            copy._fair = _FairOffsets(fair, fair.offsets_of(self._templates))
        return copy

    def with_score_map(self, score_map: ScoreMap | None) -> Gallery:
        """This gallery (and its score rule) with scores passed through `score_map` (a
        monotone map, e.g. onto the calibrated reference scale; None: none)."""
        copy = self._copy(self.screening, self._screen)
        copy._normaliser, copy._fair, copy._score_map = self._normaliser, self._fair, score_map
        return copy

    def with_screening(self, screening: Screening) -> Gallery:
        """This gallery (and its score rule) searched with other screening settings."""
        keep = self._screen is not None and self.template_count >= screening.min_templates
        copy = self._copy(screening, self._screen if keep else None)
        copy._normaliser, copy._fair, copy._score_map = (
            self._normaliser,
            self._fair,
            self._score_map,
        )
        return copy

    def _copy(self, screening: Screening, screen: ScreenIndex | None) -> Gallery:
        return Gallery(
            self._templates,
            self._template_subject,
            self._subject_ids,
            self._list_kinds,
            self.model_id,
            screening,
            screen,
        )

    @property
    def normalisation(self) -> CohortNormalisation | None:
        return self._normaliser.config if self._normaliser is not None else None

    def scores(self, probes: Descriptor) -> NDArray[np.float32]:
        """(n_probes, n_subjects) scores as `search` ranks them: best-template cosine
        similarity, under the gallery's score rule and score map."""
        similarities = self.similarities(probes)
        if not self.rule_applies or not similarities.shape[0]:
            return similarities
        return self._ruled(similarities, self._probe_matrix(probes), None).astype(np.float32)

    @property
    def rule_applies(self) -> bool:
        """Whether scores are anything but raw cosine similarities."""
        return any(x is not None for x in (self._normaliser, self._fair, self._score_map))

    def _ruled(
        self,
        similarities: NDArray[np.floating],
        probes: Descriptor,
        columns: NDArray[np.intp] | None,
    ) -> NDArray[np.float64]:
        """Raw similarities of unit `probes` (with subject `columns[i, j]`, None: subject
        j) under the score rule, then the score map: the one place scores are made."""
        scores = similarities.astype(np.float64)
        if self._normaliser is not None:
            scores = self._normaliser.apply_to_columns(scores, columns)
        if self._fair is not None:
            subject = self._fair.subjects if columns is None else self._fair.subjects[columns]
            scores = fair_shift(scores, self._fair.cohort.offsets_of(probes), subject)
        return scores if self._score_map is None else self._score_map(scores)

    def _subject_rows(self, start: int, stop: int) -> NDArray[np.float64]:
        """Best template-to-template similarity of subjects start … stop-1 to every subject."""
        first = self._block_starts[start]
        last = self._block_starts[stop] if stop < len(self._block_starts) else len(self._templates)
        per_template = self.similarities(self._templates[first:last]).astype(np.float64)
        return np.maximum.reduceat(per_template, self._block_starts[start:stop] - first, axis=0)

    def search(self, probes: Descriptor, k: int = 5) -> list[list[Candidate]]:
        """For each probe row, up to `k` subjects, best first, with their best template's
        score (cosine similarity, or its cohort-normalised value)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if self._screen is not None and len(self._subject_ids):
            return self._screened_search(self._probe_matrix(probes), k)
        scores = self.scores(probes)
        take = min(k, scores.shape[1])
        if take == 0:
            return [[] for _ in range(scores.shape[0])]
        top = _top_columns(scores, take)
        return [
            self._ranked(row[columns], columns) for row, columns in zip(scores, top, strict=True)
        ]

    def _screened_search(self, probes: Descriptor, k: int) -> list[list[Candidate]]:
        """`search` through the screen: approximate scores pick candidate subjects, whose
        exact (and, when normalised, exactly normalised) scores are ranked."""
        assert self._screen is not None
        n_subjects = len(self._subject_ids)
        take = min(k, n_subjects)
        products, step, offset = self._screen.products(probes)
        screened = self._best_per_subject(products)
        wanted = min(n_subjects, max(self.screening.candidates, take))
        candidates = _top_columns(screened, wanted)
        if self._normaliser is not None or self._fair is not None:
            # T-norm needs each probe's best raw scores exactly; Z-norm and fair
            # normalisation reorder subjects, so the screen picks candidates by the ruled
            # approximate scores too.
            cohort = wanted + (self._normaliser.cohort_size + 1 if self._normaliser else 0)
            approximate = to_scores(screened, step, offset).astype(np.float64)
            rule = self.with_score_map(None)
            candidates = np.concatenate(
                [
                    _top_columns(screened, min(n_subjects, cohort)),
                    _top_columns(rule._ruled(approximate, probes, None), wanted),
                ],
                axis=1,
            )
        results = []
        for probe, probe_candidates in zip(probes, candidates, strict=True):
            subjects = np.unique(probe_candidates)
            exact = self._exact_subject_scores(probe, subjects)
            if self.rule_applies:
                ruled = self._ruled(exact[None, :], probe[None, :], subjects[None, :])
                exact = ruled[0].astype(np.float32)
            best = _top_columns(exact[None, :], take)[0]
            results.append(self._ranked(exact[best], subjects[best]))
        return results

    def _best_per_subject(self, per_template: NDArray[np.int32]) -> NDArray[np.int32]:
        if len(self._block_starts) == per_template.shape[1]:
            return per_template  # one template per subject
        return np.maximum.reduceat(per_template, self._block_starts, axis=1)

    def _exact_subject_scores(
        self, probe: NDArray[np.float32], subjects: NDArray[np.intp]
    ) -> NDArray[np.float32]:
        """Each listed subject's best-template cosine with one unit probe, computed on
        all of the subject's templates."""
        starts, ends = self._block_starts[subjects], self._block_ends[subjects]
        lengths = ends - starts
        offsets = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.intp)
        rows = np.arange(int(lengths.sum()), dtype=np.intp) + np.repeat(starts - offsets, lengths)
        similarities = self._templates[rows] @ probe
        return np.maximum.reduceat(similarities, offsets)

    def _ranked(self, scores: NDArray[np.float32], subjects: NDArray[np.intp]) -> list[Candidate]:
        """Candidates for `subjects` (indices) with their `scores`, best first."""
        order = np.argsort(-scores, kind="stable")
        return [
            Candidate(subject_id=self._subject_ids[subjects[i]], score=float(scores[i]))
            for i in order
        ]

    def _probe_matrix(self, probes: Descriptor) -> Descriptor:
        matrix = np.asarray(probes, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix[None, :]
        if matrix.ndim != 2 or (matrix.shape[0] and matrix.shape[1] != self.dimension):
            raise ValueError(
                f"probes must be (n, {self.dimension}) descriptors, got shape {matrix.shape}"
            )
        return l2_normalise(matrix) if matrix.shape[0] else matrix.reshape(0, self.dimension)


@dataclass(frozen=True)
class _FairOffsets:
    """Fair normalisation fitted to a gallery: the shipped clusters and each subject's
    cluster offset."""

    cohort: FairCohort
    subjects: NDArray[np.float64]


@dataclass(frozen=True)
class TemplateSet:
    """Templates as a watchlist stores them: one row per image, each with its subject and
    list; what a gallery is built from, and what a node receives (`lfr.runtime.release`)."""

    subject_ids: tuple[str, ...]
    list_kinds: tuple[ListKind, ...]
    matrix: NDArray[np.float32]
    model_id: str | None = None

    def gallery(self) -> Gallery:
        return Gallery.build(self.subject_ids, self.matrix, self.list_kinds, model_id=self.model_id)


def _centroids(
    templates: Descriptor, template_subject: NDArray[np.intp]
) -> tuple[Descriptor, NDArray[np.intp]]:
    """Each subject's unit templates averaged and re-normalised (rows sorted by subject)."""
    starts = np.flatnonzero(np.r_[True, template_subject[1:] != template_subject[:-1]])
    sums = np.add.reduceat(templates.astype(np.float64), starts, axis=0)
    return l2_normalise(sums.astype(np.float32)), template_subject[starts]


def _top_columns(scores: NDArray[np.number], take: int) -> NDArray[np.intp]:
    """Each row's `take` highest columns, in no particular order."""
    n_columns = scores.shape[1]
    if take >= n_columns:
        return np.broadcast_to(np.arange(n_columns), (scores.shape[0], n_columns))
    # Partitioning for the last `take` avoids negating (copying) a million-wide row.
    return np.argpartition(scores, n_columns - take, axis=1)[:, n_columns - take :]


def _subjects_in_order(
    subject_ids: Sequence[str], kinds: Sequence[ListKind]
) -> tuple[list[str], dict[str, ListKind]]:
    """Distinct subjects in first-seen order and each one's list; a subject on two lists
    is refused (a blue-list test subject must never alert as a watchlist subject)."""
    order: list[str] = []
    kind_of: dict[str, ListKind] = {}
    for subject, kind in zip(subject_ids, kinds, strict=True):
        if not subject:
            raise ValueError("empty subject id")
        known = kind_of.get(subject)
        if known is None:
            kind_of[subject] = ListKind(kind)
            order.append(subject)
        elif known != kind:
            raise ValueError(f"subject {subject!r} is on both the {known} and the {kind}")
    return order, kind_of
