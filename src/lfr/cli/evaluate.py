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

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from lfr.evaluation.datasets import (
    DatasetError,
    identity_images,
    read_labels,
    read_pairs,
    split_identification,
)
from lfr.evaluation.descriptors import (
    DEFAULT_CACHE_ROOT,
    DEFAULT_CHIP_PADDINGS,
    EvaluationDescriber,
    NoFaceRule,
    build_evaluation_describer,
)
from lfr.evaluation.protocols import (
    DEFAULT_FAIR_CLUSTERS,
    IdentificationOptions,
    Report,
    evaluate_identification,
    evaluate_verification,
)
from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER
from lfr.vision.detection import HogDetectorConfig
from lfr.vision.imageio import ImageError
from lfr.vision.matcher import Fusion

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
    str, typer.Option(help="Describer backend: dlib (default) or onnx (needs --model).")
]
ModelOption = Annotated[Path | None, typer.Option(help="Model file for --describer onnx (.onnx).")]
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
    bool,
    typer.Option(
        help="Describe each chip mirrored too and average (flip test-time augmentation; "
        "the dlib describer only). --no-mirror describes as the live engine does."
    ),
]
ChipPaddingsOption = Annotated[
    str,
    typer.Option(
        help="Comma-separated chip paddings: each face is aligned at each, described, and "
        "the descriptors averaged (context test-time augmentation). '0.25' describes as "
        "the live engine does."
    ),
]
_DEFAULT_PADDINGS = ",".join(f"{p:g}" for p in DEFAULT_CHIP_PADDINGS)


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


def _build(
    describer: str,
    model: Path | None,
    upsample: int,
    no_face: NoFaceRule,
    cache: Path | None,
    mirror: bool = True,
    chip_paddings: str = _DEFAULT_PADDINGS,
) -> EvaluationDescriber:
    paddings = parse_chip_paddings(chip_paddings)
    settings: dict[str, Any] = {"type": describer}
    if describer == "dlib":  # other describers have no mirror: they describe one chip
        settings["mirror"] = mirror
    if model is not None:
        settings["model_path"] = model
    try:
        describer_config = DESCRIBER_CONFIG_ADAPTER.validate_python(settings)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'describer'}: {e['msg']}"
            for e in error.errors()
        )
        raise _InputError(f"--describer {describer} / --model: {problems}") from error
    evaluation, _ = build_evaluation_describer(
        HogDetectorConfig(upsample=upsample), describer_config, no_face, cache, paddings
    )
    return evaluation


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


def _identification_table(report: Report) -> Table:
    counts = report["counts"]
    table = Table(
        title=f"Identification ({report['model_id']}): {counts['gallery_subjects']} enrolled, "
        f"{counts['mated_probes']} mated, {counts['nonmated_probes']} non-mated probes"
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
    table.add_row("no face found", str(report["no_face_found"]["count"]), "", "", report["no_face"])
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
    describer: DescriberOption = "dlib",
    model: ModelOption = None,
    upsample: UpsampleOption = 1,
    no_face: NoFaceOption = NoFaceRule.CENTRE,
    cache_dir: CacheOption = DEFAULT_CACHE_ROOT,
    no_cache: NoCacheOption = False,
    mirror: MirrorOption = True,
    chip_paddings: ChipPaddingsOption = _DEFAULT_PADDINGS,
) -> None:
    """1:1 verification: 10-fold accuracy on the pairs, TAR at FAR 1e-2/1e-3/1e-4 on all
    pairs of their images."""

    def action() -> Report:
        read = read_pairs(pairs, images)
        group_labels = read_labels(labels) if labels is not None else None
        cache = None if no_cache else cache_dir
        evaluation = _build(describer, model, upsample, no_face, cache, mirror, chip_paddings)
        total = len({p for pair in read for p in (pair.first, pair.second)})
        with _progress(total, "describing") as advance:
            return evaluate_verification(read, evaluation, group_labels, advance)

    _run(action, as_json, _verification_table)


@evaluate_app.command()
def identification(
    images: Annotated[Path, typer.Argument(help="LFW-layout folder: IMAGES/<Name>/*.jpg")],
    as_json: JsonOption = False,
    labels: LabelsOption = None,
    describer: DescriberOption = "dlib",
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
        str,
        typer.Option(
            help="Score normalisation: none (raw cosine, the default: with fair "
            "normalisation the best measured), tnorm (per probe), znorm (per subject), snorm "
            "(both; the live engine's option)."
        ),
    ] = "none",
    cohort_size: Annotated[
        int, typer.Option(min=2, help="Cohort size for tnorm/znorm/snorm.")
    ] = 200,
    fusion: Annotated[
        Fusion,
        typer.Option(
            help="Several images of a subject: centroid (their mean, the engine's default) "
            "or best (each kept, the best scoring)."
        ),
    ] = Fusion.CENTROID,
    fair_clusters: Annotated[
        int,
        typer.Option(
            min=0,
            help="Fair score normalisation (no demographic label needed) with this many "
            "clusters of the watchlist's templates; 0 turns it off. Measured here, not in "
            "the live engine.",
        ),
    ] = DEFAULT_FAIR_CLUSTERS,
    calibration_out: Annotated[
        Path | None,
        typer.Option(
            help="Write the calibration this run measured (figures only) for the engine's "
            "calibration_path: a force's own replaces the shipped one."
        ),
    ] = None,
    min_quality: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Probes below this quality score are not searched."),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Also report FPIR and FNIR at this fixed threshold.")
    ] = None,
    mirror: MirrorOption = True,
    chip_paddings: ChipPaddingsOption = _DEFAULT_PADDINGS,
) -> None:
    """Open-set 1:N identification: first image of each identity with two or more images
    enrolled, the rest mated probes, one-image identities non-mated probes. Rank-1,
    FNIR at FPIR 0.1/0.01/0.001, DET points."""

    def action() -> Report:
        split = split_identification(identity_images(images), gallery_images, first_probe)
        group_labels = read_labels(labels) if labels is not None else None
        options = IdentificationOptions(
            normalisation=normalise,
            cohort_size=cohort_size,
            fusion=fusion,
            fair_clusters=fair_clusters or None,
            min_quality=min_quality,
            threshold=threshold,
        )
        if normalise not in ("none", "tnorm", "znorm", "snorm"):
            raise _InputError(f"--normalise: {normalise!r} is not one of none, tnorm, znorm, snorm")
        if fair_clusters == 1:
            raise _InputError("--fair-clusters: 1 cluster is no clustering; give 2 or more, or 0")
        cache = None if no_cache else cache_dir
        evaluation = _build(describer, model, upsample, no_face, cache, mirror, chip_paddings)
        paths = [p for g in split.gallery.values() for p in g]
        total = len({*paths, *(p for _, p in split.mated), *(p for _, p in split.nonmated)})
        with _progress(total, "describing") as advance:
            report = evaluate_identification(split, evaluation, options, group_labels, advance)
        report["decisions"] |= {"gallery_images": gallery_images, "first_probe": first_probe}
        calibration = report["calibration"]
        calibration["dataset"] = (
            f"{images.resolve().parent.name}/{images.name}: {calibration['dataset']}"
        )
        if calibration_out is not None:
            calibration_out.write_text(json.dumps(calibration, indent=1) + "\n")
        return report

    _run(action, as_json, _identification_table)


def register(app: typer.Typer) -> None:
    app.add_typer(evaluate_app, name="evaluate")
