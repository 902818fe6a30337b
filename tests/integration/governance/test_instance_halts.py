"""A halt is owed to every instance running a camera of the deployment, and is complete
only once each has stopped its workers (or its leases lapsed) and the bus holds it (DEP-2)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select

from lfr.db.base import utcnow
from lfr.db.fleet import ControlAckRow, ControlOutboxRow
from lfr.db.leases import camera_lease
from lfr.db.session import SessionFactory, transaction
from lfr.runtime.leases import Leases
from lfr.services import deployments, fleet
from tests.db_fixtures import Personas
from tests.integration.governance.world import World

pytestmark = pytest.mark.db


def complete(db: SessionFactory, deployment_id: str) -> bool:
    with transaction(db) as session:
        delivery = fleet.halt_delivery(session, deployment_id)
        assert delivery is not None
        return delivery.complete


def test_a_halt_waits_for_the_instance_running_its_camera(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    lease = camera_lease(world.deployment_id, "cam-1")
    running = Leases(session_factory, "instance-a")
    assert running.claim({lease}) == {lease}
    with transaction(session_factory) as session:
        deployments.halt_deployment(session, personas.silver, world.deployment_id, "test")
        [owed] = session.query(ControlOutboxRow).all()
        assert json.loads(owed.nodes) == ["instance:instance-a"]
        fleet.mark_published(session, owed.id, utcnow())
        fleet.acknowledge_stopped_instances(session, world.deployment_id)
    assert not complete(session_factory, world.deployment_id)  # its worker still runs
    running.release([lease])  # what the instance does once its workers are stopped
    with transaction(session_factory) as session:
        fleet.acknowledge_stopped_instances(session, world.deployment_id)
    assert complete(session_factory, world.deployment_id)


def test_an_instance_may_stop_before_the_halt_is_on_the_bus(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """Instances obey the record, so one may acknowledge first; the halt still goes on the
    bus for the nodes, and is complete only then."""
    lease = camera_lease(world.deployment_id, "cam-1")
    running = Leases(session_factory, "instance-a")
    running.claim({lease})
    with transaction(session_factory) as session:
        deployments.halt_deployment(session, personas.silver, world.deployment_id, "test")
    running.release([lease])
    with transaction(session_factory) as session:
        fleet.acknowledge_stopped_instances(session, world.deployment_id)
        assert [row.id for row in fleet.undelivered(session)]  # still owed to the bus
    assert not complete(session_factory, world.deployment_id)
    with transaction(session_factory) as session:
        [owed] = fleet.undelivered(session)
        fleet.mark_published(session, owed.id, utcnow())
    assert complete(session_factory, world.deployment_id)


def test_two_passes_acknowledging_one_instance_at_once_record_it_once(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """Found (CI, PostgreSQL): a halt's own convergence and the reconciler's pass both
    acknowledged the instance that had stopped, each after reading that neither had, and
    the second insert broke the one-acknowledgement constraint. The halt's row is locked
    first: the second pass waits, then finds the first's acknowledgement."""
    lease = camera_lease(world.deployment_id, "cam-1")
    running = Leases(session_factory, "instance-a")
    running.claim({lease})
    with transaction(session_factory) as session:
        deployments.halt_deployment(session, personas.silver, world.deployment_id, "test")
        [owed] = session.query(ControlOutboxRow).all()
        fleet.mark_published(session, owed.id, utcnow())
    running.release([lease])
    started, failures = threading.Event(), []

    def second_pass() -> None:
        started.set()
        try:
            with transaction(session_factory) as session:
                fleet.acknowledge_stopped_instances(session, world.deployment_id)
        except Exception as error:  # what the test is about: reported below
            failures.append(error)

    other = threading.Thread(target=second_pass)
    with transaction(session_factory) as first:
        fleet.acknowledge_stopped_instances(first, world.deployment_id)
        other.start()
        assert started.wait(10)
        time.sleep(0.5)  # the second pass is now inside its transaction, waiting
    other.join(60)
    assert failures == []
    with transaction(session_factory) as session:
        acks = session.scalar(select(func.count()).select_from(ControlAckRow))
    assert acks == 1
    assert complete(session_factory, world.deployment_id)
