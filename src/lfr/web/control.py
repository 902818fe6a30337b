"""Deployment control: the deployments service decides, the runtime carries it out.

Starting: the service checks every DEP-1 condition and seals the watchlist; in the same
transaction the cameras' sources and the sealed gallery are read, so a deployment whose
cameras have no source is refused whole. Only after the commit are the workers started.
Halting and ending: the service records it first (alerts stop being accepted at once),
then every worker is stopped (DEP-2).

With a node key configured, each running deployment's sealed watchlist is also released
to its `lfr node`s over the bus (`lfr.runtime.release`; audited as
`watchlist.release`), and withdrawn when it stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.bus.messages import WatchlistRelease
from lfr.crypto import BiometricCipher
from lfr.db.governance import DeploymentRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.authorisation import urgent_lapse_time
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import SYSTEM_ACTOR, Actor
from lfr.domain.refusal import Refusal, Refusals
from lfr.reports import camera_statistics
from lfr.runtime.engine import EngineJob
from lfr.runtime.release import seal_release
from lfr.runtime.supervisor import Camera
from lfr.services import alerts, authorisations, deployments
from lfr.services.cameras import cameras_for, missing_sources, runs_on_node
from lfr.services.policy import current_policy
from lfr.services.watchlists import sealed_templates
from lfr.vision.matcher import TemplateSet
from lfr.vision.pipeline import EngineConfig
from lfr.vision.types import HealthFigures, MatchEvent
from lfr.web.preview import PreviewHub
from lfr.web.runtime import DeploymentRuntime

log = logging.getLogger("lfr.serve")


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    deployment_id: str
    cameras: list[Camera]
    job: EngineJob
    release: WatchlistRelease | None = None
    """The sealed watchlist for the deployment's nodes, when a node key is configured."""


class DeploymentControl:
    def __init__(
        self,
        db: SessionFactory,
        runtime: DeploymentRuntime | None,
        base_config: EngineConfig | None = None,
        *,
        realtime: bool = True,
        preview: PreviewHub | None = None,
        node_cipher: BiometricCipher | None = None,
    ) -> None:
        self._db = db
        self.runtime = runtime
        self.preview = preview
        self._node_cipher = node_cipher
        self._base_config = base_config or EngineConfig()
        self._realtime = realtime

    def start(self, actor: Actor, deployment_id: str) -> None:
        """Refuses naming every unmet DEP-1 condition and every camera without a source."""
        with transaction(self._db) as session:
            row = deployments.get_deployment(session, deployment_id)
            missing = missing_sources(session, deployments.cameras_of(row))
            try:
                row = deployments.start_deployment(session, actor, deployment_id)
            except Refusal as refusal:
                raise Refusals([*refusal.unmet, *missing]) from None
            if missing:
                raise Refusals(missing)
            plan = self._plan(session, row, actor)
        self._run(plan)

    def halt(self, actor: Actor, deployment_id: str, reason: str) -> None:
        with transaction(self._db) as session:
            deployments.halt_deployment(session, actor, deployment_id, reason)
        self._stop(deployment_id, reason)

    def end(self, actor: Actor, deployment_id: str) -> None:
        with transaction(self._db) as session:
            deployments.end_deployment(session, actor, deployment_id)
        self._stop(deployment_id, "the deployment ended")

    def resume_running(self) -> None:
        """At server start: workers for every deployment the record says is running."""
        with transaction(self._db) as session:
            rows = session.scalars(
                select(DeploymentRow).where(DeploymentRow.status == DeploymentStatus.RUNNING)
            ).all()
            plans = []
            for row in rows:
                try:
                    plans.append(self._plan(session, row, SYSTEM_ACTOR))
                except Refusal as refusal:
                    log.error("deployment %s cannot resume: %s", row.id, refusal)
        for plan in plans:
            self._run(plan)

    def record_alert(self, event: MatchEvent) -> str | None:
        """The runtime's alert sink: the alerts service decides whether it is an alert."""
        try:
            with transaction(self._db) as session:
                return alerts.create_alert(session, event).id
        except Refusal as refusal:
            log.warning("match event refused as an alert: %s", refusal)
            return None

    def record_health(self, figures: HealthFigures) -> None:
        """The runtime's health sink: the camera's running totals for the review (REV-1)."""
        try:
            with transaction(self._db) as session:
                camera_statistics.record_health(session, figures)
        except Refusal as refusal:
            log.warning("health figures not recorded: %s", refusal)

    def _plan(self, session: Session, row: DeploymentRow, actor: Actor) -> WorkerPlan:
        cameras = cameras_for(session, deployments.cameras_of(row))
        templates = sealed_templates(session, row.id)
        config = self._base_config
        if row.alert_threshold is not None:
            config = config.model_copy(update={"alert_threshold": row.alert_threshold})
        job = EngineJob(config, templates.gallery(), realtime=self._realtime)
        local = [camera for camera in cameras if not runs_on_node(camera.source)]
        release = (
            self._release(session, row, templates, config.alert_threshold, actor)
            if len(local) < len(cameras)  # only nodes need the templates on the bus
            else None
        )
        wrapped = self.preview.wrap(job) if self.preview else job
        return WorkerPlan(row.id, local, wrapped, release)

    def _release(
        self,
        session: Session,
        row: DeploymentRow,
        templates: TemplateSet,
        threshold: float,
        actor: Actor,
    ) -> WatchlistRelease | None:
        """The sealed watchlist for the nodes, audited in the caller's transaction; None
        without a node key or a runtime to publish it."""
        if self._node_cipher is None or self.runtime is None:
            return None
        authority = authorisations.load_authority(session, row.authority_id)
        # An unconfirmed urgent authority stops being in force before its window ends
        # (AUTH-3): the nodes stop matching then (a restart after confirmation re-releases).
        lapse = urgent_lapse_time(authority, current_policy().urgent_validity)
        ends = authority.scope.window.end
        valid_until = min(ends, lapse) if lapse is not None else ends
        release = seal_release(row.id, templates, threshold, valid_until, self._node_cipher)
        count = len(templates.subject_ids)
        record(
            session,
            actor=actor,
            action="watchlist.release",
            object_type="deployment",
            object_id=row.id,
            summary=f"sealed watchlist ({count} templates) released to the deployment's nodes",
            after={
                "templates": count,
                "alert_threshold": threshold,
                "valid_until": valid_until,
                "node_key_id": self._node_cipher.key_id.hex(),
            },
        )
        return release

    def _run(self, plan: WorkerPlan) -> None:
        if self.runtime is None:
            log.warning("deployment %s started without a recognition runtime", plan.deployment_id)
            return
        self.runtime.run_deployment(plan.deployment_id, plan.cameras, plan.job)
        if plan.release is not None:
            self.runtime.publish(plan.release)

    def _stop(self, deployment_id: str, reason: str) -> None:
        if self.runtime is not None:
            self.runtime.halt_deployment(deployment_id, reason)
        if self.preview is not None:
            self.preview.forget(deployment_id)
