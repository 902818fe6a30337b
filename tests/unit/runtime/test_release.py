"""A deployment's sealed watchlist as released to a node: it opens only with that node's
key, for its own deployment and node, its model, inside its window (WL-1, DP-2, WL-6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from lfr.bus.identity import NodeIdentity
from lfr.bus.messages import WatchlistRelease, decode, encode
from lfr.runtime.release import ReleaseError, open_release, seal_release, withdrawal
from lfr.vision.matcher import TemplateSet
from lfr.vision.types import ListKind

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MODEL = "dlib-resnet-v1"
NODE = NodeIdentity.generate()


def templates() -> TemplateSet:
    matrix = np.random.default_rng(1).normal(size=(3, 128)).astype(np.float32)
    kinds = (ListKind.WATCHLIST, ListKind.WATCHLIST, ListKind.BLUE_LIST)
    return TemplateSet(("entry-1", "entry-1", "blue-1"), kinds, matrix, MODEL)


def release(deployment: str = "dep-1", hours: float = 4.0) -> WatchlistRelease:
    window_end = NOW + timedelta(hours=hours)
    return seal_release(deployment, templates(), 0.95, window_end, "van-3", NODE.public())


def test_a_release_opens_with_its_node_s_key_into_the_same_templates_and_terms() -> None:
    sealed = release()
    assert b"entry-1" not in sealed.sealed
    travelled = decode(encode(sealed)).payload  # as it crosses the bus
    assert isinstance(travelled, WatchlistRelease)
    opened = open_release(travelled, NODE, "van-3", model_id=MODEL, now=NOW)
    original = templates()
    assert opened.templates.subject_ids == original.subject_ids
    assert opened.templates.list_kinds == original.list_kinds
    assert np.array_equal(opened.templates.matrix, original.matrix)
    assert (opened.alert_threshold, opened.valid_until) == (0.95, NOW + timedelta(hours=4))
    assert opened.templates.gallery().list_kind("blue-1") is ListKind.BLUE_LIST


@pytest.mark.parametrize(
    ("make", "identity", "node", "model", "complaint"),
    [
        (lambda: withdrawal("dep-1", "van-3"), NODE, "van-3", MODEL, "withdrawn"),
        (lambda: release(hours=-1), NODE, "van-3", MODEL, "authorised window ended"),
        (release, NODE, "van-3", "another-model", "made by model dlib-resnet-v1"),
        (release, NodeIdentity.generate(), "van-3", MODEL, "not for node van-3"),
        # another node's name with the right key: the node is bound to the ciphertext
        (release, NODE, "van-9", MODEL, "not for node van-9"),
        # the terms travel in clear but are bound to the ciphertext: none can be altered
        (
            lambda: release().model_copy(update={"alert_threshold": 0.1}),
            NODE,
            "van-3",
            MODEL,
            "terms were altered",
        ),
        (
            lambda: release().model_copy(update={"valid_until": NOW + timedelta(days=300)}),
            NODE,
            "van-3",
            MODEL,
            "terms were altered",
        ),
        # a release for another deployment, relabelled: the deployment id is bound to it
        (
            lambda: release("dep-2").model_copy(update={"deployment_id": "dep-1"}),
            NODE,
            "van-3",
            MODEL,
            "not for node",
        ),
    ],
)
def test_a_release_that_cannot_be_used_is_refused_saying_why(
    make: object, identity: NodeIdentity, node: str, model: str, complaint: str
) -> None:
    assert callable(make)
    with pytest.raises(ReleaseError, match=complaint):
        open_release(make(), identity, node, model_id=model, now=NOW)
