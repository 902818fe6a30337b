"""Operations: `/healthz` (the process answers), `/readyz` (database, bus, workers) and
`/metrics` (Prometheus text format, `lfr.metrics`) for the people who run the service.

They carry no personal data: counts, names of deployments, cameras and nodes, and never a
deployment the public pages do not show yet (an announcement delayed). `/metrics` answers
only a scrape presenting `web.metrics_token`; or `lfr serve` serves it on a monitoring
address of its own (`web.metrics_address`, `serve_metrics_apart`).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from wsgiref.simple_server import WSGIServer

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from sqlalchemy import text

from lfr import metrics
from lfr.db.base import utcnow
from lfr.db.session import reading
from lfr.services import fleet, publication
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
    """Ready to serve: the database answers, and (with recognition) the bus is reached now,
    not merely once (a broker outage makes it 503 until the link is back)."""
    checks = {"database": _database(context), "bus": _bus(context)}
    ready = all(value in ("ok", "not used") for value in checks.values())
    workers = _workers(context)
    body: dict[str, Any] = {"ready": ready, **checks, "workers": workers}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
def metrics_page(
    context: Context, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus text format, for a scrape presenting the metrics token."""
    token = context.web_settings.metrics_token
    if token is None:
        raise HTTPException(404, "metrics are not served here (see web.metrics_address)")
    expected = f"Bearer {token.get_secret_value()}".encode()
    if not hmac.compare_digest((authorization or "").encode(), expected):
        # Plain text for a scraper (its log shows why), not the sign-in page people get.
        return PlainTextResponse(
            "present the metrics token\n", 401, headers={"WWW-Authenticate": "Bearer"}
        )
    body = generate_latest(service_metrics(context))
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def service_metrics(context: WebContext) -> CollectorRegistry:
    """This process's metrics, the runtime's and the record's state, deployments whose
    announcement the public pages do not show yet withheld."""
    state = metrics.StateCollector(lambda: camera_samples(context), lambda: fleet_sample(context))
    return metrics.scrape(state, lambda: _announced(context))


def serve_metrics_apart(context: WebContext) -> WSGIServer | None:
    """Serve /metrics, without a token, on `web.metrics_address` (a thread of its own);
    returns its server (None when no address is set)."""
    address = context.web_settings.metrics_address
    if address is None:
        return None
    host, _, port = address.rpartition(":")
    server, _thread = start_http_server(
        int(port), addr=host.strip("[]"), registry=service_metrics(context)
    )
    return server


def _announced(context: WebContext) -> set[str]:
    with reading(context.db) as db:
        return publication.announced_deployments(db)


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
    if not runtime.ready:
        return "connecting"
    return "ok" if runtime.bus_connected else "reconnecting"


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
