"""`lfr evaluate equitability IMAGES --labels FILE` (EQ-1): per-group error rates with
confidence intervals, significance, DET curves, the lowest equitable threshold; stored as
an evaluation of a named model version and written to a folder as JSON and PNG files.

Added to the `evaluate` group of `lfr.cli.evaluate`, whose describer options, progress
bar and descriptor cache it shares.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lfr.cli._database import database_transaction
from lfr.cli._settings import load_settings
from lfr.cli.evaluate import (
    CacheOption,
    ChipPaddingsOption,
    ConfigOption,
    DescriberOption,
    MirrorOption,
    ModelOption,
    NoCacheOption,
    NoFaceOption,
    UpsampleOption,
    _build,
    _InputError,
    _progress,
    chosen_describer,
    chosen_description,
    engine_config,
    evaluate_app,
)
from lfr.evaluation.datasets import DatasetError, identity_images, read_labels
from lfr.evaluation.descriptors import DEFAULT_CACHE_ROOT, NoFaceRule
from lfr.reports.equitability_evaluation import (
    EquitabilityResult,
    evaluate_equitability,
    labelled_identities,
    parse_thresholds,
)
from lfr.services.evaluations import store_evaluation
from lfr.services.people import console_actor
from lfr.vision.imageio import ImageError


def equitability(
    images: Annotated[Path, typer.Argument(help="LFW-layout folder: IMAGES/<Name>/*.jpg")],
    labels: Annotated[
        Path,
        typer.Option(help="CSV of identity,group; only labelled identities are evaluated."),
    ],
    model_version: Annotated[
        str | None,
        typer.Option(help="Name the evaluation is stored under (default: the model's id)."),
    ] = None,
    thresholds: Annotated[
        str, typer.Option(help="START:STOP:STEP (inclusive) or a comma-separated list.")
    ] = "0.80:0.98:0.01",
    alpha: Annotated[
        float | None,
        typer.Option(
            min=0.0001,
            max=0.5,
            help="Significance level (Holm-adjusted); default: LFR_EQUITABILITY_ALPHA.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Folder for report.json and the charts (PNG).")
    ] = None,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Keep it in the database (EQ-1).")
    ] = True,
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
    """Demographic differentials of the model (NIST FRVT Part 3 style): FMR and FNMR (1:1)
    and FPIR and FNIR (1:N) per group over a range of thresholds, on calibrated scores of
    the engine's configured decision rule (lfr.vision.decision), since the stored figures
    feed its threshold decisions."""
    # One significance level for the stored floor (EQ-1) and for monitoring (EQ-2).
    level = alpha if alpha is not None else load_settings().equitability_alpha
    try:
        steps = parse_thresholds(thresholds)
        group_labels = read_labels(labels)
        chosen = labelled_identities(identity_images(images), group_labels)
        cache = None if no_cache else cache_dir
        engine = engine_config(config)
        description = chosen_description(engine, mirror, chip_paddings)
        described_by = chosen_describer(engine, describer, model)
        evaluation = _build(described_by, upsample, no_face, cache, description)
        total = sum(len(paths) for paths in chosen.values())
        with _progress(total, "describing") as advance:
            result = evaluate_equitability(
                chosen, group_labels, evaluation, steps, level, advance, engine
            )
    except (_InputError, DatasetError, ImageError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    version = model_version or str(result.report["model_id"])
    result.report["model_version"] = version
    result.report["dataset"] = f"{images} ({total} images, labels {labels.name})"
    if output is not None:
        _write(output, result)
    if store:
        _store(result, version, labels)
    Console().print(_summary(result, version))


def _write(folder: Path, result: EquitabilityResult) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(result.report, indent=2))
    for name, png in result.charts.items():
        (folder / f"{name}.png").write_bytes(png)
    typer.echo(f"wrote {folder}/report.json and {len(result.charts)} charts", err=True)


def _store(result: EquitabilityResult, version: str, labels: Path) -> None:
    load_settings()
    with database_transaction() as session:
        row = store_evaluation(
            session,
            console_actor(),
            model_version=version,
            dataset=str(result.report["dataset"]),
            labels_sha256=hashlib.sha256(labels.read_bytes()).hexdigest(),
            report=result.report,
            charts=result.charts,
        )
        typer.echo(f"stored as evaluation {row.id} of {version}", err=True)


def _summary(result: EquitabilityResult, version: str) -> Table:
    report = result.report
    lowest = report["lowest_equitable_threshold"]
    table = Table(
        title=f"Equitability of {version}: lowest equitable threshold "
        f"{'none in range' if lowest is None else f'{lowest:.2f}'}",
        caption="95% Wilson intervals and Holm-adjusted p-values: --output report.json",
    )
    table.add_column("threshold", justify="right")
    table.add_column("group")
    for name in ("FMR", "FNMR", "FPIR", "FNIR"):
        table.add_column(name, justify="right")
    table.add_column("FMR differential")
    for row in report["thresholds"]:
        for index, (group, rates) in enumerate(sorted(row["groups"].items())):
            first = index == 0
            table.add_row(
                f"{row['threshold']:.2f}" if first else "",
                group,
                *(_percent(rates[name]) for name in ("fmr", "fnmr", "fpir", "fnir")),
                ("yes" if row["fmr_differential"] else "no") if first else "",
                end_section=index == len(row["groups"]) - 1,
            )
    return table


def _percent(rate: dict[str, float] | None) -> str:
    return "—" if rate is None else f"{rate['value']:.4%}"


def register(app: typer.Typer) -> None:
    evaluate_app.command("equitability")(equitability)
