"""The decision rule: one code path from a face to the score an alert decision reads
(REC-2, EQ-1), run by the camera worker (`lfr.vision.pipeline`), by enrolment and by
`lfr evaluate`, so that what is measured is what runs.

1. **Description** (`Description`): the face aligned at each chip padding (context
   augmentation), each chip described and, with `mirror`, its mirror image too (flip
   augmentation); the unit descriptors averaged into one.
2. **Fusion of a subject's images** (`lfr.vision.matcher.Fusion`): one template per
   subject, the centroid of its images' descriptors (the engine's; `best` is an
   evaluation option).
3. **Score rule**: raw cosine; cohort normalisation (`lfr.vision.normalisation`); or fair
   score normalisation with the clusters shipped in the model's calibration
   (`lfr.vision.fair`), the same for any watchlist size.
4. **Calibration** (`lfr.vision.calibration`): the rule's score put on the reference
   scale (the raw cosine of plain descriptors with the same evaluated false-match rate),
   so that the authority's threshold means the same whichever rule runs.
5. **Fusion of a track's descriptions** (`TrackPooling`, `TrackTemplate`): on a camera,
   what is searched after each description of a followed face is either that
   description alone (`each`) or the track's descriptions so far pooled into one unit
   descriptor (`mean`), so that a passer's frames average their noise out as a
   subject's photographs do in its centroid. A photograph is one description: its
   pooled descriptor is its own, and `lfr evaluate` scores it alike either way.
6. **Threshold and margin**: a searched descriptor is evidence for the subject its
   calibrated score ranks first, at or above the threshold, and standing at least the
   `margin` above the second subject's score (`stands_out`): a stranger's best look-alike
   in a large watchlist seldom stands alone, a person's own template does. The tracker
   (`lfr.vision.tracking`) confirms it over a track, `lfr evaluate` reports FPIR and FNIR
   per image at the same threshold and margin.

`searched_gallery` is steps 2–4 for a watchlist: what a camera searches and what the
evaluation scores. `DecisionRule.name` names a rule in a calibration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lfr.vision.alignment import ChipAlignment, DlibChip, PaddedBox
from lfr.vision.calibration import REFERENCE_RULE, ModelCalibration
from lfr.vision.describers.base import Cropped, Describer, l2_normalise
from lfr.vision.landmarks import CHIP_PADDING
from lfr.vision.matcher import Fusion, Gallery
from lfr.vision.normalisation import CohortNormalisation
from lfr.vision.types import Descriptor, RGBImage

logger = logging.getLogger(__name__)

PLAIN = "plain"
"""The name of the plain description: one chip at the model's padding, not mirrored."""

FAIR = "fair"
"""The suffix of a score rule with fair score normalisation."""


class Description(BaseModel):
    """How a face becomes one descriptor: which chips are described and averaged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mirror: bool = Field(
        default=False,
        description=(
            "Also describe each chip mirrored left to right and average the two (flip "
            "test-time augmentation): one more network pass per chip."
        ),
    )
    chip_paddings: tuple[float, ...] = Field(
        default=(CHIP_PADDING,),
        description=(
            "Each face is aligned at each of these paddings (how much of the head around "
            f"the landmarks' square a chip shows; {CHIP_PADDING} is the model's own), each "
            "chip described and the unit descriptors averaged (context augmentation)."
        ),
    )

    @field_validator("chip_paddings")
    @classmethod
    def _paddings(cls, paddings: tuple[float, ...]) -> tuple[float, ...]:
        if not paddings:
            raise ValueError("at least one chip padding is needed")
        if any(not 0.0 <= p <= 1.0 for p in paddings):
            raise ValueError(f"chip paddings lie from 0 to 1, got {paddings}")
        return paddings

    @property
    def name(self) -> str:
        """'plain', or the augmentations: 'flip', 'chips0.25-0.3', 'flip+chips0.25-0.3'."""
        parts = ["flip"] if self.mirror else []
        if self.chip_paddings != (CHIP_PADDING,):
            parts.append("chips" + "-".join(f"{p:g}" for p in self.chip_paddings))
        return "+".join(parts) or PLAIN

    @property
    def passes_per_face(self) -> int:
        """Network passes one face costs (per crop its describer takes)."""
        return len(self.chip_paddings) * (2 if self.mirror else 1)

    def alignments(self, describer: Describer) -> tuple[ChipAlignment, ...]:
        """Every crop a face must be cut in for `describer` (`FaceAnalyser` alignments):
        each of the describer's own crops at each context padding."""
        return tuple(
            dict.fromkeys(
                widened(alignment, padding)
                for padding in self.chip_paddings
                for alignment in describer.alignments
            )
        )

    def describe(self, describer: Describer, faces: Sequence[Cropped]) -> Descriptor:
        """One unit descriptor per analysed face, in one describer call: each view of the
        face (each padding, mirrored too) described, a chip's descriptor averaged with its
        mirror's, then the face's paddings averaged."""
        if not faces:
            return np.zeros((0, describer.dimension), dtype=np.float32)
        if not self.mirror and self.chip_paddings == (CHIP_PADDING,):
            return describer.describe_faces(faces)
        flips = (False, True) if self.mirror else (False,)
        views = [
            _View(face, padding, flipped)
            for face in faces
            for padding in self.chip_paddings
            for flipped in flips
        ]
        described = describer.describe_faces(views).reshape(
            len(faces), len(self.chip_paddings), len(flips), -1
        )
        per_chip = l2_normalise(described.sum(axis=2).reshape(-1, described.shape[-1]))
        return l2_normalise(per_chip.reshape(len(faces), len(self.chip_paddings), -1).sum(axis=1))


def widened(alignment: ChipAlignment, padding: float) -> ChipAlignment:
    """`alignment` with `padding - CHIP_PADDING` more padding (context), where the crop
    has a padding (an ArcFace crop has none: it stays as it is)."""
    if isinstance(alignment, DlibChip | PaddedBox) and padding != CHIP_PADDING:
        extra = padding - CHIP_PADDING
        return alignment.model_copy(update={"padding": round(alignment.padding + extra, 6)})
    return alignment


@dataclass(frozen=True, slots=True)
class _View:
    """A face as one view of its description sees it: its crops widened to a padding,
    mirrored or not."""

    face: Cropped
    padding: float
    mirrored: bool

    def chip_for(self, alignment: ChipAlignment) -> RGBImage:
        chip = self.face.chip_for(widened(alignment, self.padding))
        return np.ascontiguousarray(chip[:, ::-1]) if self.mirrored else chip


FLIP_AND_CONTEXT = Description(mirror=True, chip_paddings=(CHIP_PADDING, 0.3))
"""The engine's default description: each face at the model's padding and a little
more (0.3: more hair, jaw and ears), each chip mirrored too, four network passes a face
(docs/evaluation.md has what it gives and costs)."""


class TrackPooling(StrEnum):
    """What a camera searches after each description of a followed face."""

    EACH = "each"
    """The description alone: each frame's evidence stands on its own."""
    MEAN = "mean"
    """The unit mean of the track's descriptions so far (`TrackTemplate`)."""


class TrackTemplate:
    """A followed face's descriptions pooled: the running sum of its unit descriptors,
    whose unit vector is what the track is searched with (`TrackPooling.MEAN`).

    Held in memory while its track lives and dropped with it (REC-4): the camera worker
    forgets a track's template when the tracker ends the track. Holds no image."""

    __slots__ = ("_sum", "count")

    def __init__(self, dimension: int) -> None:
        self._sum = np.zeros(dimension, dtype=np.float64)
        self.count = 0

    def add(self, descriptor: NDArray[np.floating]) -> Descriptor:
        """Pools one more unit descriptor; returns the pooled unit descriptor (1 × d)."""
        self._sum += np.asarray(descriptor, dtype=np.float64).reshape(-1)
        self.count += 1
        return l2_normalise(self._sum.astype(np.float32).reshape(1, -1))


class TrackTemplates:
    """The camera's track templates, one per live track (`TrackPooling.MEAN`); with
    `TrackPooling.EACH` the descriptors pass through unchanged and nothing is held."""

    def __init__(self, pooling: TrackPooling) -> None:
        self.pooling = pooling
        self._templates: dict[int, TrackTemplate] = {}

    def searched(self, track_ids: Sequence[int], descriptors: Descriptor) -> Descriptor:
        """What to search for each described track: its description (`each`), or its
        template with the description pooled in (`mean`)."""
        if self.pooling is TrackPooling.EACH or not len(track_ids):
            return descriptors
        pooled = [
            self._templates.setdefault(track_id, TrackTemplate(descriptors.shape[1])).add(row)
            for track_id, row in zip(track_ids, descriptors, strict=True)
        ]
        return np.concatenate(pooled).astype(np.float32)

    def keep_only(self, live: Iterable[int]) -> None:
        """Forgets the templates of tracks that ended."""
        alive = set(live)
        for track_id in [t for t in self._templates if t not in alive]:
            del self._templates[track_id]

    def __len__(self) -> int:
        return len(self._templates)


def stands_out(best: float, runner_up: float | None, margin: float) -> bool:
    """Whether a search's best score stands `margin` above the second subject's (None:
    the watchlist has no second subject, so nothing competes)."""
    return runner_up is None or best - runner_up >= margin


class DecisionRule(BaseModel):
    """Everything between a face and its calibrated score (see the module's text)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: Description = Field(default_factory=Description)
    fusion: Fusion = Fusion.CENTROID
    normalisation: CohortNormalisation | None = None
    fair: bool = Field(
        default=False,
        description="Fair score normalisation with the calibration's shipped clusters.",
    )
    track_pooling: TrackPooling = Field(
        default=TrackPooling.EACH,
        description=(
            "What a camera searches after each description of a followed face "
            "(`TrackPooling`); a photograph is one description either way."
        ),
    )
    margin: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description=(
            "How far the best subject's calibrated score must stand above the second's "
            "for a search to count (`stands_out`); 0: no such condition. It does not "
            "change the scores, so it is not part of the rule's name in a calibration."
        ),
    )

    @model_validator(mode="after")
    def _one_score_rule(self) -> DecisionRule:
        if self.fair and self.normalisation is not None:
            raise ValueError(
                "fair score normalisation runs on raw cosine: turn cohort normalisation off"
            )
        return self

    @property
    def score_rule(self) -> str:
        """'cosine', 'cosine-fair' or the cohort rule ('snorm-200')."""
        if self.normalisation is not None:
            return self.normalisation.rule
        return f"{REFERENCE_RULE}-{FAIR}" if self.fair else REFERENCE_RULE

    @property
    def name(self) -> str:
        """The rule's name in a calibration: the score rule, after the description when
        it is not plain ('flip+chips0.25-0.3/cosine-fair'). Plain raw cosine is the
        reference rule."""
        if self.description.name == PLAIN:
            return self.score_rule
        return f"{self.description.name}/{self.score_rule}"

    def without_score_rule(self) -> DecisionRule:
        """The same description and fusion, scored by raw cosine."""
        return self.model_copy(update={"normalisation": None, "fair": False})


def runnable_rule(
    rule: DecisionRule, n_subjects: int | None, calibration: ModelCalibration | None
) -> DecisionRule:
    """The rule a watchlist of `n_subjects` (None: not known yet, judged on the rule and
    the calibration alone) is searched with: `rule`, unless its score
    rule cannot run calibrated — a cohort rule on a watchlist too small for a cohort,
    fair normalisation without shipped clusters for the description, or a rule the
    calibration does not cover — then raw cosine on the same descriptors (a rule never
    runs uncalibrated: its units would not be the threshold's)."""
    cohort_too_small = (
        rule.normalisation is not None
        and n_subjects is not None
        and not rule.normalisation.applies_to(n_subjects)
    )
    no_clusters = rule.fair and (
        calibration is None or rule.description.name not in calibration.fair_cohorts
    )
    uncovered = calibration is None or not calibration.covers(rule.name)
    if rule.score_rule != REFERENCE_RULE and (cohort_too_small or no_clusters or uncovered):
        return rule.without_score_rule()
    return rule


def rule_in_effect(
    rule: DecisionRule, n_subjects: int | None, calibration: ModelCalibration | None
) -> str:
    """The name of the rule a camera runs (`runnable_rule`): what a deployment records."""
    return runnable_rule(rule, n_subjects, calibration).name


def rule_gallery(
    gallery: Gallery, rule: DecisionRule, calibration: ModelCalibration | None
) -> Gallery:
    """`gallery` scored by `rule`'s score rule, in the rule's own units (what a
    calibration is measured on). Fair normalisation takes its clusters from
    `calibration`."""
    cohort = calibration.fair_cohorts.get(rule.description.name) if calibration else None
    if rule.fair and cohort is None:
        raise ValueError(
            f"fair normalisation needs clusters for the {rule.description.name} description "
            "in the calibration (lfr evaluate fair-cohort)"
        )
    return gallery.with_rule(rule.normalisation, cohort if rule.fair else None)


def searched_gallery(
    gallery: Gallery, rule: DecisionRule, calibration: ModelCalibration | None
) -> Gallery:
    """The gallery a camera searches and `lfr evaluate` scores: the rule that can run
    (`runnable_rule`), its scores put on the calibrated reference scale."""
    runs = runnable_rule(rule, len(gallery), calibration)
    scored = rule_gallery(gallery, runs, calibration)
    if runs.name == REFERENCE_RULE:
        return scored
    if calibration is None or not calibration.covers(runs.name):
        logger.warning(
            "the calibration does not cover rule %s: its scores are raw cosines of its own "
            "descriptors, near but not on the reference scale",
            runs.name,
        )
        return scored
    name = runs.name
    return scored.with_score_map(lambda scores: calibration.to_reference(name, scores))


def comparison_scores(
    descriptors: Descriptor, rule: DecisionRule, calibration: ModelCalibration | None
) -> NDArray[np.float64]:
    """(images × images) scores of every image against every other, each image taken
    as a one-image watchlist subject and scored as a camera would (`searched_gallery`):
    the 1:1 comparisons of an equitability evaluation, under the engine's rule."""
    subjects = [str(i) for i in range(len(descriptors))]
    searched = searched_gallery(Gallery.build(subjects, descriptors), rule, calibration)
    scores: NDArray[np.float64] = searched.scores(descriptors).astype(np.float64)
    return scores
