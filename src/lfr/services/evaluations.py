"""Storing an equitability evaluation of a named model version (EQ-1), audited (AUD-1).

`lfr.reports.evaluations` reads stored evaluations back; `lfr evaluate equitability`
computes one and stores it here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.db.reports import EvaluationChartRow, ModelEvaluationRow
from lfr.domain.people import Actor
from lfr.reports.evaluations import EQUITABILITY


def store_evaluation(
    session: Session,
    actor: Actor,
    *,
    model_version: str,
    dataset: str,
    labels_sha256: str,
    report: Mapping[str, Any],
    charts: Mapping[str, bytes],
) -> ModelEvaluationRow:
    """Keep an equitability evaluation of `model_version` with its charts; audited."""
    row = ModelEvaluationRow(
        model_version=model_version,
        kind=EQUITABILITY,
        dataset=dataset,
        labels_sha256=labels_sha256,
        lowest_equitable_threshold=report.get("lowest_equitable_threshold"),
        report=json.dumps(report, sort_keys=True),
        created_by=actor.name,
    )
    session.add(row)
    session.flush()
    for name, png in charts.items():
        session.add(EvaluationChartRow(evaluation_id=row.id, name=name, png=png))
    session.flush()
    record(
        session,
        actor=actor,
        action="evaluation.store",
        object_type="model_evaluation",
        object_id=row.id,
        summary=f"equitability evaluation of {model_version} on {dataset}",
        after={
            "model_version": model_version,
            "lowest_equitable_threshold": row.lowest_equitable_threshold,
            "labels_sha256": labels_sha256,
        },
    )
    return row
