"""`lfr evaluate verification|identification`: measure the engine's accuracy (EQ-1).

Both run the engine's own parts (detector, 5-point alignment, describer, matcher) on a
labelled image set, show a progress bar on stderr and print a summary table, or the
full report as JSON with ``--json``. Descriptors are cached under ``.lfr-cache/`` by a
key that changes with the model and its configuration (`lfr.evaluation.descriptors`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from lfr.cli._settings import load_standalone_settings
from lfr.evaluation.datasets import (
    DatasetError,
    IdentityHalf,
    identity_images,
    in_half,
    read_labels,
    read_pairs,
    split_identification,
)
from lfr.evaluation.descriptors import (
    DEFAULT_CACHE_ROOT,
    EvaluationDescriber,
    NoFaceRule,
    build_evaluation_describer,
)
from lfr.evaluation.protocols import (
    IdentificationOptions,
    Report,
    evaluate_identification,
    evaluate_verification,
)
from lfr.vision.calibration import ModelCalibration, load_calibration, same_comparisons
from lfr.vision.decision import PLAIN, DecisionRule, Description
from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER, DescriberConfig, describer_model_id
from lfr.vision.detection import HogDetectorConfig
from lfr.vision.engine_config import EngineConfig
from lfr.vision.fair import FAIR_FMR, FairCohort, OffsetPairs, fit_fair_cohort
from lfr.vision.imageio import ImageError
from lfr.vision.matcher import Fusion
from lfr.vision.normalisation import CohortNormalisation

evaluate_app = typer.Typer(
    help="Measure accuracy on a labelled image set (LFW layout).", no_args_is_help=True
)
_stderr = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")]
LabelsOption = Annotated[
    Path | None,
    typer.Option(help="CSV of identity,group: the same figures per group (equitability)."),
]
DescriberOption = Annotated[
    str | None,
    typer.Option(
        help="The describer: a type (dlib; onnx or faceres with --model) or its settings as "
        'JSON (e.g. {"type": "fusion", "parts": [...]}). Default: the engine\'s configured '
        "describer, so that what is measured is what runs."
    ),
]
ModelOption = Annotated[
    Path | None, typer.Option(help="Model file for --describer onnx or faceres (.onnx).")
]
UpsampleOption = Annotated[
    int,
    typer.Option(
        min=0,
        max=2,
        help="HOG upsampling. 1 (default) finds LFW's ~65 px faces; 0 misses about 4% of them.",
    ),
]
NoFaceOption = Annotated[
    NoFaceRule,
    typer.Option(
        help="Images with no face found: 'centre' describes LFW's central box (measures the "
        "describer), 'skip' leaves them out (a missed probe counts as a miss)."
    ),
]
CacheOption = Annotated[
    Path, typer.Option(help="Descriptor cache folder (keyed by model and configuration).")
]
NoCacheOption = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the cache.")
]
MirrorOption = Annotated[
    bool | None,
    typer.Option(
        "--mirror/--no-mirror",
        help="Describe each chip mirrored too and average (flip augmentation). Default: "
        "as the engine's configured description.",
    ),
]
ChipPaddingsOption = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated chip paddings: each face is aligned at each, described, and "
        "the descriptors averaged (context augmentation), e.g. 0.25,0.3. Default: as the "
        "engine's configured description."
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Settings file whose \\[engine] table gives the rule evaluated by default (as "
        "LFR_CONFIG_FILE; LFR_ENGINE__* variables apply too).",
    ),
]


def parse_chip_paddings(text: str) -> tuple[float, ...]:
    """'0.25,0.3' → (0.25, 0.3); refuses anything but numbers from 0 to 1."""
    try:
        paddings = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise _InputError(f"--chip-paddings: {text!r} is not a list of numbers") from None
    if not paddings or any(not 0.0 <= p <= 1.0 for p in paddings):
        raise _InputError(f"--chip-paddings: {text!r} needs numbers from 0 to 1, e.g. 0.25,0.3")
    return paddings


class _InputError(Exception):
    """An input error already worded for the user."""


def engine_config(config_file: Path | None) -> EngineConfig:
    """The engine's configuration as `lfr serve` and `lfr node` would read it."""
    return load_standalone_settings(config_file).engine


def chosen_description(
    engine: EngineConfig, mirror: bool | None, chip_paddings: str | None
) -> Description:
    """The engine's description, with the flip and paddings given on the command line."""
    changes: dict[str, Any] = {}
    if mirror is not None:
        changes["mirror"] = mirror
    if chip_paddings is not None:
        changes["chip_paddings"] = parse_chip_paddings(chip_paddings)
    return engine.description.model_copy(update=changes)


def _build(
    describer: DescriberConfig,
    upsample: int,
    no_face: NoFaceRule,
    cache: Path | None,
    description: Description,
) -> EvaluationDescriber:
    evaluation, _ = build_evaluation_describer(
        HogDetectorConfig(upsample=upsample), describer, no_face, cache, description
    )
    return evaluation


MODEL_FILE_DESCRIBERS = ("onnx", "faceres")
"""The describer types whose model file `--model` names."""


def chosen_describer(
    engine: EngineConfig, describer: str | None, model: Path | None
) -> DescriberConfig:
    """The engine's configured describer, or the one the command line names (a type, or
    settings as JSON). The flip is the description's, so a dlib describer's own stays off."""
    if describer is None and model is not None:
        raise _InputError("--model: give --describer too (onnx or faceres)")
    settings = (
        engine.describer.model_dump(mode="json")
        if describer is None
        else _with_model(_named_describer(describer), describer, model)
    )
    if settings.get("type") == "dlib":
        settings["mirror"] = False
    try:
        chosen: DescriberConfig = DESCRIBER_CONFIG_ADAPTER.validate_python(settings)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'describer'}: {e['msg']}"
            for e in error.errors()
        )
        named = "the engine's describer" if describer is None else f"--describer {describer}"
        raise _InputError(f"{named}: {problems}") from error
    return chosen


def _named_describer(describer: str) -> dict[str, Any]:
    """`--describer`'s settings: a type name, or JSON settings (an object)."""
    if not describer.lstrip().startswith(("{", "[", '"')):
        return {"type": describer}
    try:
        settings = json.loads(describer)
    except ValueError as error:
        raise _InputError(f"--describer: not JSON ({error})") from error
    if not isinstance(settings, dict):
        raise _InputError('--describer: JSON settings are an object, {"type": …}')
    return settings


def _with_model(settings: dict[str, Any], describer: str, model: Path | None) -> dict[str, Any]:
    """The settings with `--model` as their model file, for the types that take one."""
    takes_file = settings.get("type") in MODEL_FILE_DESCRIBERS
    if model is None:
        if takes_file and "model_path" not in settings:
            raise _InputError(f"--describer {describer}: give its model file with --model FILE")
        return settings
    if not takes_file:
        raise _InputError(f"--model: only for --describer {' or '.join(MODEL_FILE_DESCRIBERS)}")
    if not model.is_file():
        raise _InputError(f"--model {model}: no such file")
    return {**settings, "model_path": model}


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_stderr,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _run(action: Callable[[], Report], as_json: bool, summary: Callable[[Report], Table]) -> None:
    try:
        report = action()
    except (_InputError, DatasetError, ImageError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        Console().print(summary(report))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _verification_table(report: Report) -> Table:
    table = Table(title=f"Verification ({report['model_id']})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("rests on", justify="right")
    accuracy = report["accuracy_10fold"]
    table.add_row(
        "10-fold accuracy",
        f"{accuracy['mean']:.2%} ± {accuracy['std']:.2%}",
        f"{accuracy['correct']}/{accuracy['n_pairs']} pairs",
    )
    for row in report["tar_at_far"]:
        table.add_row(
            f"TAR at FAR {row['far']:g}",
            _percent(row["tar"]),
            f"{row['true_accepts']}/{row['n_genuine']} genuine, "
            f"{row['false_accepts']}/{row['n_impostor']} impostor",
        )
    table.add_row("no face found", str(report["no_face_found"]["count"]), report["no_face"])
    return table


def _margin_shown(decisions: Report) -> str:
    margin = decisions.get("margin") or 0
    return f", margin {margin:g}" if margin else ""


def _identification_table(report: Report) -> Table:
    counts = report["counts"]
    decisions = report["decisions"]
    table = Table(
        title=f"Identification ({report['model_id']}, rule {decisions['rule']}"
        f"{_margin_shown(decisions)}): "
        f"{counts['gallery_subjects']} enrolled, {counts['mated_probes']} mated, "
        f"{counts['nonmated_probes']} non-mated probes"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("calibrated (false-match rate)", justify="right")
    table.add_column("rests on", justify="right")
    rank1 = report["rank1"]
    table.add_row("rank-1", _percent(rank1["rate"]), "", "", f"{rank1['hits']}/{rank1['n_mated']}")
    for row, calibrated in zip(
        report["fnir_at_fpir"], report["calibrated_thresholds"], strict=True
    ):
        threshold = "—" if row["threshold"] is None else f"{row['threshold']:.4f}"
        if not row["resolvable"]:
            threshold += " *"
        table.add_row(
            f"FNIR at FPIR {row['fpir_target']:g}",
            _percent(row["fnir"]),
            threshold,
            "—"
            if calibrated["calibrated"] is None
            else f"{calibrated['calibrated']:.4f} ({calibrated['one_in']})",
            f"{row['false_negatives']}/{row['n_mated']} missed, "
            f"{row['false_positives']}/{row['n_nonmated']} false alerts",
        )
    at = report.get("at_threshold")
    if at is not None:
        table.add_row(
            "FNIR / FPIR at the threshold"
            + ("" if at.get("calibrated", True) else " (in the rule's own units)"),
            f"{_percent(at['fnir'])} / {_percent(at['fpir'])}",
            f"{at['threshold']:.4f}",
            "",
            f"{at['false_negatives']}/{at['n_mated']} missed, "
            f"{at['false_positives']}/{at['n_nonmated']} false alerts",
        )
    table.add_row("no face found", str(report["no_face_found"]["count"]), "", "", report["no_face"])
    if decisions["rule_run"] != decisions["rule"] or not decisions["calibrated"]:
        table.add_row(
            "note", "", "", "", f"the engine would run {decisions['rule_run']}; not calibrated"
        )
    table.caption = "* too few non-mated probes to resolve this FPIR: above every one of them"
    return table


@evaluate_app.command()
def verification(
    pairs: Annotated[Path, typer.Argument(help="LFW pairs file (name i j / name1 i name2 j).")],
    images: Annotated[
        Path, typer.Argument(help="LFW-layout folder: IMAGES/<Name>/<Name>_NNNN.jpg")
    ],
    as_json: JsonOption = False,
    labels: LabelsOption = None,
    describer: DescriberOption = None,
    model: ModelOption = None,
    upsample: UpsampleOption = 1,
    no_face: NoFaceOption = NoFaceRule.CENTRE,
    cache_dir: CacheOption = DEFAULT_CACHE_ROOT,
    no_cache: NoCacheOption = False,
    mirror: MirrorOption = None,
    chip_paddings: ChipPaddingsOption = None,
    config: ConfigOption = None,
) -> None:
    """1:1 verification: 10-fold accuracy on the pairs, TAR at FAR 1e-2/1e-3/1e-4 on all
    pairs of their images, described as the engine describes (raw cosine)."""

    def action() -> Report:
        read = read_pairs(pairs, images)
        group_labels = read_labels(labels) if labels is not None else None
        cache = None if no_cache else cache_dir
        engine = engine_config(config)
        description = chosen_description(engine, mirror, chip_paddings)
        described_by = chosen_describer(engine, describer, model)
        evaluation = _build(described_by, upsample, no_face, cache, description)
        total = len({p for pair in read for p in (pair.first, pair.second)})
        with _progress(total, "describing") as advance:
            return evaluate_verification(read, evaluation, group_labels, advance)

    _run(action, as_json, _verification_table)


@evaluate_app.command()
def identification(
    images: Annotated[Path, typer.Argument(help="LFW-layout folder: IMAGES/<Name>/*.jpg")],
    as_json: JsonOption = False,
    labels: LabelsOption = None,
    describer: DescriberOption = None,
    model: ModelOption = None,
    upsample: UpsampleOption = 1,
    no_face: NoFaceOption = NoFaceRule.CENTRE,
    cache_dir: CacheOption = DEFAULT_CACHE_ROOT,
    no_cache: NoCacheOption = False,
    gallery_images: Annotated[
        int, typer.Option(min=1, help="Images enrolled per subject (fusion: several templates).")
    ] = 1,
    first_probe: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Mated probes from this image on (default: --gallery-images), to "
            "compare runs with different --gallery-images on the same probes.",
        ),
    ] = None,
    normalise: Annotated[
        str | None,
        typer.Option(
            help="Cohort score normalisation: none (raw cosine), tnorm (per probe), znorm "
            "(per subject) or snorm (both). Default: as the engine's configured rule."
        ),
    ] = None,
    cohort_size: Annotated[
        int, typer.Option(min=2, help="Cohort size for tnorm/znorm/snorm.")
    ] = 200,
    fusion: Annotated[
        Fusion,
        typer.Option(
            help="Several images of a subject: centroid (their mean, the engine's) or best "
            "(each kept, the best scoring)."
        ),
    ] = Fusion.CENTROID,
    fair: Annotated[
        bool | None,
        typer.Option(
            "--fair/--no-fair",
            help="Fair score normalisation with the calibration's shipped clusters. "
            "Default: as the engine's configured rule.",
        ),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="How far a search's best subject must stand above the second to count "
            "(calibrated scores; 0: no condition). Default: the engine's alert_margin.",
        ),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            help="The calibration the engine uses (its scores and fair clusters). Default: "
            "the engine's configured calibration_path, else the one shipped with the model."
        ),
    ] = None,
    fair_cohort: Annotated[
        Path | None,
        typer.Option(
            help="Fair clusters fitted by `lfr evaluate fair-cohort` (JSON), in place of "
            "the calibration's: to evaluate on identities the clusters were not fitted on."
        ),
    ] = None,
    half: Annotated[
        IdentityHalf | None,
        typer.Option(
            help="Only the identities of this half of the folder (split by a hash of the "
            "name): with --fair-cohort fitted on the other half, a cross-validated run."
        ),
    ] = None,
    calibration_out: Annotated[
        Path | None,
        typer.Option(
            help="Write the calibration this run measured (figures only): the rule's "
            "scores against raw cosine of plain descriptors, with the fair clusters used. "
            "An existing file of the same run gains the rule. For the engine's "
            "calibration_path."
        ),
    ] = None,
    min_quality: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Probes below this quality score are not searched."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Also report FPIR and FNIR at this calibrated threshold. Default: the "
            "engine's alert threshold, or the evaluated default of the describer measured "
            "when --describer names another model."
        ),
    ] = None,
    mirror: MirrorOption = None,
    chip_paddings: ChipPaddingsOption = None,
    config: ConfigOption = None,
) -> None:
    """Open-set 1:N identification: first image of each identity with two or more images
    enrolled, the rest mated probes, one-image identities non-mated probes. Rank-1,
    FNIR at FPIR 0.1/0.01/0.001, DET points."""

    def action() -> Report:
        if calibration_out is not None:
            _existing_calibration(calibration_out)  # refused now, not after the run
        identities = identity_images(images)
        if half is not None:
            identities = in_half(identities, half)
        split = split_identification(identities, gallery_images, first_probe)
        group_labels = read_labels(labels) if labels is not None else None
        engine = engine_config(config)
        description = chosen_description(engine, mirror, chip_paddings)
        described_by = chosen_describer(engine, describer, model)
        engine_of_model = _engine_of(engine, described_by)
        rule = chosen_rule(
            engine_of_model, description, normalise, cohort_size, fusion, fair, margin
        )
        in_use = _calibration_in_use(described_by, engine, calibration, fair_cohort)
        options = IdentificationOptions(
            rule=rule,
            calibration=in_use,
            min_quality=min_quality,
            threshold=threshold if threshold is not None else engine_of_model.alert_threshold,
        )
        cache = None if no_cache else cache_dir
        evaluation = _build(described_by, upsample, no_face, cache, description)
        plain = (
            None
            if description.name == PLAIN
            else _build(described_by, upsample, no_face, cache, Description())
        )
        paths = [p for g in split.gallery.values() for p in g]
        total = len({*paths, *(p for _, p in split.mated), *(p for _, p in split.nonmated)})
        with _progress(total * (1 if plain is None else 2), "describing") as advance:
            report = evaluate_identification(
                split, evaluation, options, group_labels, advance, reference=plain
            )
        report["decisions"] |= {
            "gallery_images": gallery_images,
            "first_probe": first_probe,
            "half": half,
        }
        measured = report["calibration"]
        measured["dataset"] = f"{images.resolve().parent.name}/{images.name}: {measured['dataset']}"
        if calibration_out is not None:
            write_calibration(calibration_out, ModelCalibration.model_validate(measured))
        return report

    _run(action, as_json, _identification_table)


def chosen_rule(
    engine: EngineConfig,
    description: Description,
    normalise: str | None,
    cohort_size: int,
    fusion: Fusion,
    fair: bool | None,
    margin: float | None = None,
) -> DecisionRule:
    """The engine's decision rule, with what the command line names instead."""
    rule = engine.decision_rule().model_copy(update={"description": description, "fusion": fusion})
    if normalise is not None:
        if normalise not in ("none", "tnorm", "znorm", "snorm"):
            raise _InputError(f"--normalise: {normalise!r} is not one of none, tnorm, znorm, snorm")
        cohort = (
            None
            if normalise == "none"
            else CohortNormalisation(type=normalise, cohort_size=cohort_size, min_subjects=4)
        )
        rule = rule.model_copy(
            update={"normalisation": cohort, "fair": False if cohort else rule.fair}
        )
    if fair is not None:
        rule = rule.model_copy(update={"fair": fair})
    if margin is not None:
        rule = rule.model_copy(update={"margin": margin})
    try:
        return DecisionRule.model_validate(rule.model_dump())
    except ValidationError as error:
        raise _InputError(f"--normalise / --fair: {error.errors()[0]['msg']}") from error


def _engine_of(engine: EngineConfig, describer: DescriberConfig) -> EngineConfig:
    """The engine as configured when it runs this describer's model, else the engine of
    that describer as it starts (EngineConfig's one resolution: its model's evaluated
    default threshold and margin, the configured rule otherwise)."""
    if describer_model_id(describer) == describer_model_id(engine.describer):
        return engine
    own = EngineConfig(describer=describer)
    return engine.model_copy(
        update={
            "describer": describer,
            "alert_threshold": own.alert_threshold,
            "alert_margin": own.alert_margin,
        }
    )


def _calibration_in_use(
    describer: DescriberConfig, engine: EngineConfig, path: Path | None, fair_cohort: Path | None
) -> ModelCalibration | None:
    """The calibration of the describer evaluated: the file given, else the engine's
    configured one where it is that describer's model, else the shipped one."""
    model_id = describer_model_id(describer)
    for given in (path, fair_cohort):
        if given is not None and not given.is_file():
            raise _InputError(f"{given}: no such file")
    engines_model = describer_model_id(engine.describer) == model_id
    configured = path or (engine.calibration_path if engines_model else None)
    in_use = load_calibration(configured, model_id)
    if fair_cohort is None:
        return in_use
    if in_use is None:
        raise _InputError("--fair-cohort needs a calibration to add it to (--calibration)")
    try:
        cohort = FairCohort.model_validate_json(fair_cohort.read_text())
    except ValidationError as error:
        why = error.errors()[0]["msg"]
        raise _InputError(f"--fair-cohort {fair_cohort}: not fair clusters ({why})") from error
    return in_use.model_copy(
        update={"fair_cohorts": in_use.fair_cohorts | {cohort.description: cohort}}
    )


def _writable_output(path: Path, option: str) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    if path.is_dir():
        raise _InputError(f"{option} {path}: a folder, not a file")
    if not path.parent.is_dir():
        raise _InputError(f"{option} {path}: there is no folder {path.parent}")


def _existing_calibration(path: Path) -> ModelCalibration | None:
    """The calibration already at `--calibration-out` (its rules are kept), checked before
    the run: a file there that is not one is refused rather than overwritten."""
    _writable_output(path, "--calibration-out")
    if not path.exists():
        return None
    try:
        return ModelCalibration.model_validate_json(path.read_text())
    except (ValidationError, OSError, UnicodeDecodeError) as error:
        raise _InputError(
            f"--calibration-out {path}: holds no calibration to add to; name a new file"
        ) from error


def write_calibration(path: Path, measured: ModelCalibration) -> None:
    """Write `measured`, merged into the calibration already at `path` when that one was
    measured on the same comparisons (same reference scores): one file, several rules."""
    calibration = measured
    existing = _existing_calibration(path)
    if existing is not None and same_comparisons(existing, measured):
        calibration = existing.model_copy(
            update={
                "rules": existing.rules | measured.rules,
                "fair_cohorts": existing.fair_cohorts | measured.fair_cohorts,
            }
        )
    try:
        path.write_text(json.dumps(calibration.model_dump(mode="json"), indent=1) + "\n")
    except OSError as error:
        raise _InputError(f"--calibration-out {path}: {error.strerror}") from error


@evaluate_app.command("fair-cohort")
def fair_cohort_command(
    images: Annotated[Path, typer.Argument(help="LFW-layout folder: IMAGES/<Name>/*.jpg")],
    out: Annotated[Path, typer.Option(help="Where to write the clusters (JSON).")],
    clusters: Annotated[int, typer.Option(min=2, help="k-means clusters.")] = 25,
    offset_pairs: Annotated[
        OffsetPairs,
        typer.Option(
            help="Which impostor comparisons set a cluster's threshold: those touching "
            "it (at least one of its faces) or those within it (both)."
        ),
    ] = OffsetPairs.TOUCHING,
    fmr: Annotated[
        float, typer.Option(min=1e-6, max=0.5, help="FMR of the cluster thresholds.")
    ] = FAIR_FMR,
    half: Annotated[
        IdentityHalf | None,
        typer.Option(help="Fit on this half of the identities only (cross-validation)."),
    ] = None,
    describer: DescriberOption = None,
    model: ModelOption = None,
    upsample: UpsampleOption = 1,
    no_face: NoFaceOption = NoFaceRule.CENTRE,
    cache_dir: CacheOption = DEFAULT_CACHE_ROOT,
    no_cache: NoCacheOption = False,
    mirror: MirrorOption = None,
    chip_paddings: ChipPaddingsOption = None,
    config: ConfigOption = None,
) -> None:
    """Fit fair score normalisation's clusters and offsets on a cohort (one photograph of
    each of the folder's identities, or of one half's): centroids and offsets only, each
    centroid the mean of many people (lfr.vision.fair). Add them to a calibration with
    `lfr evaluate identification --fair-cohort FILE --calibration-out`."""

    def action() -> Report:
        _writable_output(out, "--out")
        identities = identity_images(images)
        if half is not None:
            identities = in_half(identities, half)
        engine = engine_config(config)
        description = chosen_description(engine, mirror, chip_paddings)
        cache = None if no_cache else cache_dir
        described_by = chosen_describer(engine, describer, model)
        evaluation = _build(described_by, upsample, no_face, cache, description)
        # One photograph a person (the first): people with many photographs would
        # otherwise make clusters, and impostor pairs, of their own.
        paths = [group[0] for group in identities.values()]
        with _progress(len(paths), "describing") as advance:
            described = evaluation.describe_all(paths, advance)
        rows = [d for d in described if d.descriptor is not None]
        cohort = fit_fair_cohort(
            np.stack([d.descriptor for d in rows if d.descriptor is not None]),
            [d.path.parent.name for d in rows],
            clusters=clusters,
            fmr=fmr,
            pairs=offset_pairs,
            description=description.name,
            dataset=f"{images.resolve().parent.name}/{images.name}"
            + (f", half {half}" if half is not None else ""),
        )
        try:
            out.write_text(cohort.model_dump_json(indent=1) + "\n")
        except OSError as error:
            raise _InputError(f"--out {out}: {error.strerror}") from error
        return cohort.model_dump(mode="json", exclude={"centroids"}) | {
            "clusters": len(cohort.centroids)
        }

    _run(action, True, lambda report: Table())


def register(app: typer.Typer) -> None:
    app.add_typer(evaluate_app, name="evaluate")
