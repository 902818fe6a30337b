"""Operations: `/healthz` (the process answers), `/readyz` (database, bus, workers) and
`/metrics` (Prometheus text format, `lfr.metrics`) for the people who run the service.

They carry no personal data: counts, names of deployments, cameras and nodes. Expose them
to the monitoring network only (a reverse proxy rule), like any service's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import text

from lfr import metrics
from lfr.db.base import utcnow
from lfr.db.session import reading
from lfr.services import fleet
from lfr.web.access import Admit
from lfr.web.context import WebContext
from lfr.web.deps import Context

router = APIRouter(dependencies=[Depends(Admit.public_route())], include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive and answering."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(context: Context) -> Response:
    """Ready to serve: the database answers, and (with recognition) the bus is reached."""
    checks = {"database": _database(context), "bus": _bus(context)}
    ready = all(value in ("ok", "not used") for value in checks.values())
    workers = _workers(context)
    body: dict[str, Any] = {"ready": ready, **checks, "workers": workers}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
def metrics_page(context: Context) -> Response:
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(
        metrics.StateCollector(lambda: camera_samples(context), lambda: fleet_sample(context))
    )
    body = metrics.exposition() + generate_latest(scrape)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def _database(context: WebContext) -> str:
    try:
        with reading(context.db) as db:
            db.execute(text("SELECT 1"))
    except Exception as error:  # any failure: not ready, say which kind
        metrics.DATABASE_ERRORS.inc()
        return f"unavailable ({type(error).__name__})"
    return "ok"


def _bus(context: WebContext) -> str:
    runtime = context.runtime
    if runtime is None:
        return "not used"
    return "ok" if runtime.ready else "connecting"


def _workers(context: WebContext) -> int:
    runtime = context.runtime
    return runtime.workers_alive() if runtime is not None else 0


def camera_samples(context: WebContext) -> list[metrics.CameraSample]:
    runtime = context.runtime
    if runtime is None:
        return []
    samples = []
    for deployment_id, health in runtime.all_cameras():
        figures = health.figures
        samples.append(
            metrics.CameraSample(
                deployment=deployment_id,
                camera=health.camera,
                status=health.status,
                age_s=health.age_s,
                fps=figures.fps if figures else 0.0,
                faces_per_s=figures.faces_per_s if figures else 0.0,
                descriptions=figures.descriptions if figures else 0,
                frames=figures.frames if figures else 0,
                dropped_frames=figures.dropped_frames if figures else 0,
                errors=figures.errors if figures else 0,
                latency_p50_s=(figures.latency_ms_p50 / 1000) if figures else 0.0,
                latency_p95_s=(figures.latency_ms_p95 / 1000) if figures else 0.0,
                restarts=health.worker.crashes if health.worker else 0,
            )
        )
    return samples


def fleet_sample(context: WebContext) -> metrics.FleetSample:
    at = utcnow()
    with reading(context.db) as db:
        undelivered = len(fleet.undelivered(db))
        nodes = [
            (
                row.name,
                fleet.link_up(row.last_seen, at, context.settings.node_unreachable_s),
                row.outbox_depth,
            )
            for row in fleet.node_statuses(db)
        ]
    return metrics.FleetSample(undelivered, nodes)
