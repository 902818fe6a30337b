"""1:N search of probe descriptors against a watchlist held as one normalised matrix (REC-2).

Scores are cosine similarities (higher = more alike, 1 = identical direction). A subject
may have several templates (several photographs); its score for a probe is its best
template's. Optionally (`with_normalisation`) scores are cohort-normalised
(`lfr.vision.normalisation`): then they are in cohort standard deviations, not cosines,
and the alert threshold must be set in those units. The alert threshold is *not* applied
here: the caller (the tracker) applies the one the authority set, so that the matcher has
no hidden constant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from lfr.vision.describers.base import l2_normalise
from lfr.vision.normalisation import CohortNormalisation, CohortNormaliser
from lfr.vision.types import Candidate, Descriptor, ListKind


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
    ) -> None:
        # Use `Gallery.build`; this constructor trusts its (sorted, normalised) inputs.
        self._templates = templates
        self._template_subject = template_subject
        self._subject_ids = subject_ids
        self._list_kinds = list_kinds
        self.model_id = model_id
        self._normaliser: CohortNormaliser | None = None
        # Templates are sorted by subject: each subject's block starts at these rows, so one
        # `maximum.reduceat` gives every subject's best template score.
        self._block_starts = (
            np.flatnonzero(np.r_[True, template_subject[1:] != template_subject[:-1]])
            if len(template_subject)
            else np.zeros(0, dtype=np.intp)
        )

    @classmethod
    def build(
        cls,
        subject_ids: Sequence[str],
        descriptors: Descriptor,
        list_kinds: Sequence[ListKind] | None = None,
        *,
        model_id: str | None = None,
    ) -> Gallery:
        """A gallery with one template per row of `descriptors`; `subject_ids[i]` (and
        `list_kinds[i]`, default watchlist) belong to row i. Rows are re-normalised."""
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
        return cls(
            templates=l2_normalise(matrix[order])
            if len(order)
            else matrix.reshape(0, matrix.shape[1]),
            template_subject=owner[order],
            subject_ids=tuple(subjects),
            list_kinds=kind_of,
            model_id=model_id,
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

    def with_normalisation(self, config: CohortNormalisation | None) -> Gallery:
        """This gallery with `search` scores cohort-normalised (None: raw cosines). Fits
        each subject's cohort statistics now, against the other subjects."""
        copy = Gallery(
            self._templates,
            self._template_subject,
            self._subject_ids,
            self._list_kinds,
            self.model_id,
        )
        if config is not None:
            copy._normaliser = CohortNormaliser(config, len(self), self._subject_rows)
        return copy

    @property
    def normalisation(self) -> CohortNormalisation | None:
        return self._normaliser.config if self._normaliser is not None else None

    def scores(self, probes: Descriptor) -> NDArray[np.float32]:
        """(n_probes, n_subjects) scores as `search` ranks them: best-template cosine
        similarity, cohort-normalised when the gallery is."""
        similarities = self.similarities(probes)
        if self._normaliser is None or not similarities.shape[0]:
            return similarities
        return self._normaliser.apply(similarities.astype(np.float64)).astype(np.float32)

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
        scores = self.scores(probes)
        n_subjects = scores.shape[1]
        take = min(k, n_subjects)
        if take == 0:
            return [[] for _ in range(scores.shape[0])]
        if take < n_subjects:
            top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        else:
            top = np.broadcast_to(np.arange(n_subjects), (scores.shape[0], n_subjects))
        results = []
        for row, columns in zip(scores, top, strict=True):
            best = columns[np.argsort(-row[columns], kind="stable")]
            results.append(
                [Candidate(subject_id=self._subject_ids[c], score=float(row[c])) for c in best]
            )
        return results

    def _probe_matrix(self, probes: Descriptor) -> Descriptor:
        matrix = np.asarray(probes, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix[None, :]
        if matrix.ndim != 2 or (matrix.shape[0] and matrix.shape[1] != self.dimension):
            raise ValueError(
                f"probes must be (n, {self.dimension}) descriptors, got shape {matrix.shape}"
            )
        return l2_normalise(matrix) if matrix.shape[0] else matrix.reshape(0, self.dimension)


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
