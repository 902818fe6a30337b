"""Deployment control for every door (pages, the JSON API, commands): the deployments
service decides and records; the reconciler carries it out.

Starting: this machine's capacity is measured first (REC-5: probing the cameras, outside
any transaction); the deployments service then checks the whole start rule (DEP-1, a source
for every camera, that capacity) and seals the watchlist, or refuses naming all of it.
Halting and ending: the service records it, with the halt owed to the deployment's nodes
in the same transaction (alerts captured after it stop being accepted at once). Then the
reconciler is asked for a pass and waited for, so the request answers with the workers
here already started or stopped; nodes hear through the outbox, and the deployment page
shows who has acknowledged (DEP-2).

The sinks turn what the runtime receives into records: an alert through the alerts service
(which refuses one for a deployment that is not running, and counts one captured after the
stop), health into the review's running totals (REV-1), node reports into node status and
acknowledged halts.
"""

from __future__ import annotations

import logging

from lfr import metrics
from lfr.bus.cameras import Camera
from lfr.bus.messages import NodeReport
from lfr.bus.subjects import Topic
from lfr.db.base import utcnow
from lfr.db.session import SessionFactory, reading, transaction
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Actor
from lfr.domain.refusal import Refusal
from lfr.runtime.admission import Admission, AdmissionCheck
from lfr.runtime.reconciler import Reconciler
from lfr.services import alerts, camera_statistics, deployments, fleet
from lfr.services.alerts import CapturedAfterStopError
from lfr.services.cameras import all_cameras
from lfr.services.fleet import Origin
from lfr.services.policy import GovernancePolicy
from lfr.vision.source_types import runs_on_node
from lfr.vision.types import HealthFigures, MatchEvent

log = logging.getLogger("lfr.serve")

OWN_WORKER = Origin(node=None, content=b"", signature=None, in_process=True)
"""The origin of what the service hands its sinks itself, not through the bus (what comes
over the bus is signed: by the service's own workers or by an enrolled node)."""


class DeploymentControl:
    def __init__(
        self,
        db: SessionFactory,
        policy: GovernancePolicy,
        reconciler: Reconciler | None = None,
        admission: Admission | None = None,
        *,
        service_key: bytes | None = None,
    ) -> None:
        """`service_key`: the service's bus key, which its own camera workers' messages
        verify with (`lfr.bus.identity.service_signer`)."""
        self._db = db
        self.policy = policy
        self._service_key = service_key
        self.reconciler = reconciler
        self.admission = admission

    def start(self, actor: Actor, deployment_id: str) -> None:
        """Measures this machine's capacity for the cameras it would run (REC-5: probing,
        so outside the transaction), then asks the deployments service, which refuses
        naming every unmet condition: DEP-1's, every camera without a source and, with
        `over_capacity: refuse`, every camera this machine could not run fast enough."""
        admitted = self.admission_check(deployment_id)  # probes: outside the transaction
        with transaction(self._db) as session:
            deployments.start_deployment(
                session, actor, deployment_id, policy=self.policy, capacity=admitted.unmet
            )
        for warning in admitted.warnings:
            log.warning("deployment %s started despite: %s", deployment_id, warning)
        self._converge()

    def admission_check(self, deployment_id: str) -> AdmissionCheck:
        """What this machine's capacity says of the cameras it would run (REC-5); nothing
        without a runtime here, or for a deployment that is not planned."""
        if self.admission is None:
            return AdmissionCheck([], [])
        with reading(self._db) as session:
            row = deployments.get_deployment(session, deployment_id)
            if row.status is not DeploymentStatus.PLANNED:
                return AdmissionCheck([], [])
            names = set(deployments.cameras_of(row))
            local = [
                Camera(c.name, c.source)
                for c in all_cameras(session)
                if c.name in names and not runs_on_node(c.source)
            ]
        return self.admission.check(deployment_id, local)

    def halt(self, actor: Actor, deployment_id: str, reason: str) -> None:
        with transaction(self._db) as session:
            deployments.halt_deployment(session, actor, deployment_id, reason)
        self._converge()

    def end(self, actor: Actor, deployment_id: str) -> None:
        with transaction(self._db) as session:
            deployments.end_deployment(session, actor, deployment_id, policy=self.policy)
        self._converge()

    def _converge(self) -> None:
        if self.reconciler is None:
            log.warning("no recognition runtime: the record changed, no worker follows")
            return
        try:
            self.reconciler.converge()
        except TimeoutError:  # recorded already; the reconciler carries on by itself
            log.error("the runtime did not follow the record in time; it keeps trying")

    def record_alert(self, event: MatchEvent, origin: Origin = OWN_WORKER) -> str | None:
        """The runtime's alert sink: the alerts service decides whether it is an alert, once
        the camera's origin is checked (a node camera speaks through its node's signature)."""
        deployment = event.deployment_id or "_"
        try:
            with transaction(self._db) as session:
                fleet.check_origin(session, event.camera, origin, self._service_key)
                alert_id = alerts.create_alert(session, event, policy=self.policy).id
        except fleet.OriginRefusedError as refusal:
            refused_from_bus(Topic.MATCH, event.camera, refusal)
            return None
        except CapturedAfterStopError as refusal:
            self._refused(event, refusal)
            if event.deployment_id is not None:
                with transaction(self._db) as session:
                    deployments.count_refused_alert(session, event.deployment_id)
            return None
        except Refusal as refusal:
            self._refused(event, refusal)
            return None
        metrics.ALERTS_RAISED.labels(deployment, event.camera).inc()
        waited = (utcnow() - event.captured_at).total_seconds()
        metrics.FRAME_TO_ALERT.labels(deployment).observe(max(0.0, waited))
        return alert_id

    @staticmethod
    def _refused(event: MatchEvent, refusal: Refusal) -> None:
        log.warning("match event refused as an alert: %s", refusal)
        metrics.ALERTS_REFUSED.labels(event.deployment_id or "_", refusal.rule).inc()

    def record_health(self, figures: HealthFigures, origin: Origin = OWN_WORKER) -> bool:
        """The runtime's health sink: the camera's running totals for the review (REV-1);
        False (nothing kept) when the figures' origin is refused."""
        try:
            with transaction(self._db) as session:
                fleet.check_origin(session, figures.camera, origin, self._service_key)
                camera_statistics.record_health(session, figures)
        except fleet.OriginRefusedError as refusal:
            refused_from_bus(Topic.HEALTH, figures.camera, refusal)
            return False
        except Refusal as refusal:
            log.warning("health figures not recorded: %s", refusal)
            return False
        return True

    def record_node_report(self, report: NodeReport, origin: Origin) -> None:
        """The runtime's node sink: the node's state and the halts it acknowledged."""
        try:
            with transaction(self._db) as session:
                fleet.record_report(session, report, origin)
        except fleet.OriginRefusedError as refusal:
            refused_from_bus(Topic.NODE, report.node, refusal)
        except Refusal as refusal:
            log.warning("node report refused: %s", refusal)


def refused_from_bus(topic: Topic, source: str, refusal: fleet.OriginRefusedError) -> None:
    """Count and log a message whose sender is not proven: the camera or node it names and
    why, never its content (a forged alert may still carry a face)."""
    metrics.BUS_REFUSED.labels(topic.value, refusal.kind).inc()
    log.warning("bus message refused (%s from %s): %s", topic.value, source, refusal.reason)
