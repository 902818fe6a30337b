"""Subjects and wildcard matching, as pure functions (tables, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lfr.bus.messages import HaltDeployment
from lfr.bus.subjects import Topic, check_token, subject_filter, subject_for, subject_matches
from lfr.vision.types import CameraStatus, HealthFigures


def figures(deployment_id: str | None, camera: str) -> HealthFigures:
    return HealthFigures(
        deployment_id=deployment_id,
        camera=camera,
        status=CameraStatus.UP,
        at=datetime.now(UTC),
        fps=0,
        faces_per_s=0,
        latency_ms_p50=0,
        latency_ms_p95=0,
        frames=0,
        faces=0,
        dropped_frames=0,
        errors=0,
    )


@pytest.mark.parametrize(
    ("message", "subject"),
    [
        (figures("dep-1", "north"), "lfr.health.dep-1.north"),
        (figures(None, "north"), "lfr.health._.north"),
        (HaltDeployment(deployment_id="dep-1", reason="r"), "lfr.control.dep-1"),
    ],
)
def test_each_message_has_its_subject(
    message: HealthFigures | HaltDeployment, subject: str
) -> None:
    assert subject_for("lfr", message) == subject


@pytest.mark.parametrize("camera", ["north.gate", "cam *", "cam>", "", "x" * 65, "café"])
def test_a_name_that_would_reroute_a_message_is_refused(camera: str) -> None:
    with pytest.raises(ValueError, match="cannot name a bus subject"):
        subject_for("lfr", figures("dep-1", camera))


def test_the_refusal_names_what_was_wrong() -> None:
    with pytest.raises(ValueError, match=r"^camera name 'a\.b' cannot name"):
        check_token("a.b", "camera name")


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("lfr.match.*.*", "lfr.match.dep-1.north", True),
        ("lfr.match.dep-1.*", "lfr.match.dep-2.north", False),
        ("lfr.match.*.*", "lfr.match.dep-1", False),
        ("lfr.match.*.*", "lfr.match.dep-1.north.extra", False),
        ("lfr.>", "lfr.match.dep-1.north", True),
        ("lfr.>", "lfr", False),
        ("lfr.control.dep-1", "lfr.control.dep-1", True),
        ("lfr.control.dep-1", "lfr.control.dep-10", False),
    ],
)
def test_wildcards_match_as_nats_does(pattern: str, subject: str, matches: bool) -> None:
    assert subject_matches(pattern, subject) is matches


@pytest.mark.parametrize(
    ("topic", "deployment", "expected"),
    [
        (Topic.MATCH, None, "lfr.match.*.*"),
        (Topic.HEALTH, "dep-1", "lfr.health.dep-1.*"),
        (Topic.CONTROL, "dep-1", "lfr.control.dep-1"),
        (Topic.CONTROL, None, "lfr.control.*"),
    ],
)
def test_consumers_filter_by_topic_and_deployment(
    topic: Topic, deployment: str | None, expected: str
) -> None:
    assert subject_filter("lfr", topic, deployment) == expected
