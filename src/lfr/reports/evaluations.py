"""Stored equitability evaluations of named model versions (EQ-1), read back
(`lfr.services.evaluations` stores them).

An evaluation is stored whole (its report as JSON, its charts as PNG) so that the report
page, the threshold lock and the forecast all read the same figures. The overall false
match and false non-match rates are kept on a grid of thresholds; a figure asked for at a
threshold between two grid points is read at the grid point at or just below it, which
over- rather than under-states the false match rate (a cautious forecast).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.reports import EvaluationChartRow, ModelEvaluationRow
from lfr.domain.refusal import NotFound
from lfr.vision.calibration import SHIPPED
from lfr.vision.describers import model_card

EQUITABILITY = "equitability"


@dataclass(frozen=True, slots=True)
class OverallRates:
    """The whole population's rates at one threshold of an evaluation."""

    threshold: float
    fmr: float
    fnmr: float
    groups: Mapping[str, Any] | None = None
    """Each group's rates at that threshold, as stored (FMR, FNMR, FPIR, FNIR with
    intervals): the differential the officer sees while deciding."""


def latest_evaluation(session: Session, model_version: str) -> ModelEvaluationRow | None:
    """The newest equitability evaluation of the model version, if any."""
    return session.scalars(
        select(ModelEvaluationRow)
        .where(
            ModelEvaluationRow.model_version == model_version,
            ModelEvaluationRow.kind == EQUITABILITY,
        )
        .order_by(ModelEvaluationRow.created_at.desc(), ModelEvaluationRow.id)
    ).first()


def list_evaluations(session: Session) -> list[ModelEvaluationRow]:
    return list(
        session.scalars(select(ModelEvaluationRow).order_by(ModelEvaluationRow.created_at.desc()))
    )


def get_evaluation(session: Session, evaluation_id: str) -> ModelEvaluationRow:
    row = session.get(ModelEvaluationRow, evaluation_id)
    if row is None:
        raise NotFound("model_evaluation", evaluation_id)
    return row


def report_of(row: ModelEvaluationRow) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(row.report)
    return report


def chart_names(session: Session, evaluation_id: str) -> list[str]:
    return list(
        session.scalars(
            select(EvaluationChartRow.name)
            .where(EvaluationChartRow.evaluation_id == evaluation_id)
            .order_by(EvaluationChartRow.name)
        )
    )


def chart_png(session: Session, evaluation_id: str, name: str) -> bytes:
    png = session.scalars(
        select(EvaluationChartRow.png).where(
            EvaluationChartRow.evaluation_id == evaluation_id, EvaluationChartRow.name == name
        )
    ).first()
    if png is None:
        raise NotFound("evaluation_chart", f"{evaluation_id}/{name}")
    return png


@dataclass(frozen=True, slots=True)
class ShippedEquitability:
    """The equitability evaluation shipped with a model (figures only, measured on a
    public face set with its labels): the lock and the forecast read it until the force
    stores its own evaluation of the model (EQ-1, AUTH-2)."""

    model_version: str
    dataset: str
    labels_sha256: str
    command: str
    report: Mapping[str, Any]

    @property
    def lowest_equitable_threshold(self) -> float | None:
        lowest: float | None = self.report["lowest_equitable_threshold"]
        return lowest


@cache
def shipped_equitability(model_version: str) -> ShippedEquitability | None:
    """The figures shipped for `model_version` (``<model>.equitability.json`` beside its
    calibration, or the file its describer's `ModelCard` names), None when the package has
    none."""
    card = model_card(model_version)
    name = card.equitability_file if card is not None else None
    entry = SHIPPED / (name or f"{model_version}.equitability.json")
    if not entry.is_file():
        return None
    data = json.loads(entry.read_text())
    return ShippedEquitability(
        data["model_version"],
        data["dataset"],
        data["labels_sha256"],
        data["command"],
        data["report"],
    )


def overall_rates_at(row: ModelEvaluationRow, threshold: float) -> OverallRates | None:
    """The overall FMR and FNMR at the grid threshold at or just below `threshold`; None
    when the threshold lies below the evaluated range (nothing measured there)."""
    return rates_at(report_of(row), threshold)


def rates_at(report: Mapping[str, Any], threshold: float) -> OverallRates | None:
    """`overall_rates_at` on an evaluation's report (stored or shipped)."""
    rows = report["thresholds"]
    below = [r for r in rows if r["threshold"] <= threshold + 1e-12]
    if not below:
        return None
    chosen = max(below, key=lambda r: r["threshold"])
    overall = chosen["overall"]
    return OverallRates(chosen["threshold"], overall["fmr"], overall["fnmr"], chosen.get("groups"))
