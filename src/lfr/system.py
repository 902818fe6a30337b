"""One assembly of the whole system: `build(settings)` makes the database, the recognition
runtime (bus, supervisor, reconciler), the live feeds and the web application, once.

`lfr serve`, `lfr demo`, the tests and the benchmarks all build the system here, so the
parts are wired one way only. The web application is one door among several: it receives
what it needs (`WebContext`) and owns none of the runtime; the runtime starts and stops
with the application's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI

from lfr.audit.log import make_checkpoint_if_due, request_id_var
from lfr.bus.base import Bus
from lfr.bus.identity import service_signer
from lfr.bus.nats_auth import user_seed
from lfr.bus.nats_bus import NatsSettings
from lfr.db.changes import on_watched_commit
from lfr.db.session import SessionFactory, transaction
from lfr.keyring import bind_keys, engine_of
from lfr.runtime.admission import Admission, HostCapacity
from lfr.runtime.central import CentralRuntime, Listeners
from lfr.runtime.control import DeploymentControl
from lfr.runtime.preview import PreviewHub
from lfr.runtime.reconciler import Planner, Reconciler
from lfr.runtime.schedules import Job, Scheduler
from lfr.runtime.supervisor import Supervisor, SupervisorSettings
from lfr.runtime.worker import WorkerTarget
from lfr.services.retention import run_retention_if_due
from lfr.settings import Settings
from lfr.vision.describers import describer_model_id
from lfr.vision.pipeline import EngineConfig
from lfr.vision.thresholds import evaluated_default_threshold
from lfr.web.context import WebContext
from lfr.web.live import LiveFeed, alert_message, health_message


@dataclass
class Recognition:
    """The running side: the runtime that runs workers and hears the bus, and the
    reconciler that makes both follow the record."""

    runtime: CentralRuntime
    reconciler: Reconciler
    preview: PreviewHub | None
    scheduler: Scheduler

    @property
    def bus(self) -> Bus:
        return self.runtime.bus

    @property
    def supervisor(self) -> Supervisor:
        return self.runtime.supervisor

    async def start(self) -> None:
        if self.preview is not None:
            self.preview.start()
        await self.runtime.start()
        await self.reconciler.start()
        await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.reconciler.stop()
        await self.runtime.stop()
        # Only now that the workers here are gone: the other instances take over at once.
        await asyncio.to_thread(self.reconciler.release_leases)
        if self.preview is not None:
            self.preview.stop()


def nats_settings(settings: Settings) -> NatsSettings | None:
    """The bus of scale-out when `nats_url` is set; None: the bus runs in memory."""
    if settings.nats_url is None:
        return None
    service = service_signer(settings.audit_signing_key_bytes())
    return NatsSettings.at(
        settings.nats_url,
        settings.nats,
        prefix=settings.nats_prefix,
        credentials_file=settings.nats_credentials_file,
        nkey_seed=user_seed(service.bus_seed()),  # the service's user (lfr fleet nats-config)
    )


def attach_recognition(
    context: WebContext,
    target: WorkerTarget,
    *,
    realtime: bool = True,
    supervisor: SupervisorSettings | None = None,
    preview: PreviewHub | None = None,
    engine: EngineConfig | None = None,
) -> Recognition:
    """Camera workers, bus and reconciler for this context: started and stopped with its
    application. `supervisor` and `engine` default to the settings' own (``supervisor``,
    ``engine``); the authority's threshold still replaces the engine's (`Planner`)."""
    settings = context.settings
    supervisor = supervisor or settings.supervisor
    engine = engine or settings.engine
    planner = Planner(
        engine,
        policy=context.policy,
        realtime=realtime,
        wrap=preview.wrap if preview else None,
        loop_files=supervisor.loop_files,
    )
    control = DeploymentControl(context.db, context.policy, service_key=context.service_key)
    runtime = CentralRuntime(
        target,
        alert_sink=control.record_alert,
        health_sink=control.record_health,
        node_sink=control.record_node_report,
        listeners=_listeners(context.feed),
        nats=nats_settings(settings),
        settings=supervisor,
        signer=service_signer(settings.audit_signing_key_bytes()),
        describer=engine.describer,
    )
    on_stopped = preview.forget if preview is not None else None
    control.admission = admission_for(runtime, supervisor, planner)
    reconciler = Reconciler(
        context.db,
        runtime,
        planner,
        policy=context.policy,
        interval_s=settings.reconcile_interval_s,
        on_stopped=on_stopped,
    )
    on_watched_commit(context.db, reconciler.wake)
    control.reconciler = reconciler
    jobs = scheduled_jobs(context, leads=lambda: reconciler.leads)
    recognition = Recognition(runtime, reconciler, preview, Scheduler(jobs))
    context.control, context.recognition, context.preview = control, recognition, preview
    return recognition


def admission_for(
    runtime: CentralRuntime, settings: SupervisorSettings, planner: Planner
) -> Admission:
    """This machine's admission control (REC-5): its capacity measured with the engine its
    workers run, shared with the workers it runs already."""
    capacity = HostCapacity(settings, planner.base_config)
    return Admission(settings, capacity, runtime.workers_elsewhere)


SCHEDULE_CHECK_S = 60.0
"""How often each scheduled job asks whether it is due (each decides from the record)."""


def scheduled_jobs(context: WebContext, leads: Callable[[], bool] = lambda: True) -> list[Job]:
    """What `lfr serve` does by itself: retention when due (DP-1), and a signed audit
    checkpoint at least hourly (AUD-1); with several instances, only the one that `leads`
    (holds the leader's lease) runs them, and each decides "due?" under a lock anyway."""
    settings = context.settings
    interval = timedelta(minutes=settings.retention_interval_minutes)
    policy = context.policy

    def retention() -> None:
        if leads():
            with transaction(context.db) as session:
                run_retention_if_due(session, interval=interval, policy=policy)

    def checkpoint() -> None:
        if leads():
            with transaction(context.db) as session:
                make_checkpoint_if_due(session)

    return [
        Job("retention", SCHEDULE_CHECK_S, retention),
        Job("audit checkpoint", SCHEDULE_CHECK_S, checkpoint),
    ]


def _listeners(feed: LiveFeed) -> Listeners:
    return Listeners(
        alert=lambda alert_id: feed.publish(alert_message(alert_id)),
        health=lambda deployment_id: feed.publish(health_message(deployment_id)),
    )


@dataclass
class System:
    """The assembled system: the context the web app serves from, the app, and the
    recognition side when this process runs cameras (None: the web alone)."""

    context: WebContext
    app: FastAPI
    recognition: Recognition | None = None


log = logging.getLogger(__name__)


def warn_of_an_unevaluated_threshold(engine: EngineConfig) -> None:
    """Say at start when the describer's model has no evaluated default threshold and none
    is configured: the shipped default is dlib's, on dlib's scale, and means nothing
    measured for another model (a force's own, or a fusion of other weights)."""
    if "alert_threshold" in engine.model_fields_set:
        return
    if evaluated_default_threshold(engine.describer) is not None:
        return
    log.warning(
        "the describer's model %s has no evaluated default threshold: the engine alerts at "
        "%g, dlib's default, which was not measured for this model; measure one (lfr "
        "evaluate identification --calibration-out FILE) and set engine.alert_threshold "
        "and engine.calibration_path",
        describer_model_id(engine.describer),
        engine.alert_threshold,
    )


def build(
    settings: Settings,
    db: SessionFactory | None = None,
    *,
    target: WorkerTarget | None = None,
    preview: PreviewHub | None = None,
    realtime: bool = True,
) -> System:
    """The whole system on `db` (default: the configured database, migrated): with a
    worker `target`, camera workers run for the deployments the record says run; without,
    the web alone (no recognition). `realtime=False` analyses every frame of a file source
    (a test's same observations on a slow machine).

    Everything the system does follows `settings`: the database is opened with its keys
    (`lfr.keyring`), a `db` given is re-bound to them, and every part gets its knobs from
    here (the governance policy, the evaluated model, the engine, the bus, the intervals),
    never from the process's environment."""
    from lfr.keyring import prepare_database
    from lfr.web.app import create_app

    warn_of_an_unevaluated_threshold(settings.engine)
    if db is None:
        db = prepare_database(settings)
    bind_keys(engine_of(db), settings)  # what this system seals and signs, with its keys
    context = WebContext(settings=settings, db=db, request_id_var=request_id_var)
    recognition = None
    if target is not None:
        recognition = attach_recognition(context, target, realtime=realtime, preview=preview)
    return System(context, create_app(context), recognition)
