"""Where each message goes: topics, subjects and the streams that hold them.

Subjects (``<prefix>`` is ``lfr`` unless configured; docs/bus.md has the table):

* ``<prefix>.match.<deployment>.<camera>``   MatchEvent
* ``<prefix>.health.<deployment>.<camera>``  HealthFigures
* ``<prefix>.control.<deployment>``          HaltDeployment
* ``<prefix>.watchlist.<deployment>.<node>`` WatchlistRelease (one copy per node)
* ``<prefix>.node.<deployment>.<node>``      NodeReport

Deployment ids and camera names become subject tokens, so they are restricted to letters,
digits, ``_`` and ``-``: a dot or a wildcard in a camera name would otherwise route a
message somewhere else. A message without a deployment (``lfr watch`` on its own) goes to
the token ``_``.
"""

from __future__ import annotations

import re
from enum import StrEnum

from lfr.bus.messages import HaltDeployment, Message, NodeReport, WatchlistRelease
from lfr.vision.types import HealthFigures, MatchEvent

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DURABLE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
NO_DEPLOYMENT = "_"


class Topic(StrEnum):
    MATCH = "match"
    HEALTH = "health"
    CONTROL = "control"
    WATCHLIST = "watchlist"
    NODE = "node"


def check_token(value: str, what: str) -> str:
    """Return ``value`` if it can be a subject token, else raise ValueError naming ``what``."""
    if not TOKEN_PATTERN.match(value):
        raise ValueError(
            f"{what} {value!r} cannot name a bus subject: use 1-64 letters, digits, '_' or '-'"
        )
    return value


def check_durable(value: str) -> str:
    """A durable consumer name (``node-<deployment>-<node>`` can exceed one subject token)."""
    if not DURABLE_PATTERN.match(value):
        raise ValueError(f"durable name {value!r}: use 1-200 letters, digits, '_' or '-'")
    return value


def topic_of(message: Message) -> Topic:
    if isinstance(message, MatchEvent):
        return Topic.MATCH
    if isinstance(message, HealthFigures):
        return Topic.HEALTH
    if isinstance(message, WatchlistRelease):
        return Topic.WATCHLIST
    if isinstance(message, NodeReport):
        return Topic.NODE
    return Topic.CONTROL


def subject_for(prefix: str, message: Message) -> str:
    """The subject a message is published on."""
    if isinstance(message, WatchlistRelease):
        return latest_subject(prefix, Topic.WATCHLIST, message.deployment_id, message.node)
    if isinstance(message, HaltDeployment):
        deployment_id = check_token(message.deployment_id, "deployment id")
        return f"{prefix}.{topic_of(message)}.{deployment_id}"
    if isinstance(message, NodeReport):
        deployment_id = check_token(message.deployment_id, "deployment id")
        return f"{prefix}.{topic_of(message)}.{deployment_id}.{check_token(message.node, 'node')}"
    deployment = check_token(message.deployment_id or NO_DEPLOYMENT, "deployment id")
    camera = check_token(message.camera, "camera name")
    return f"{prefix}.{topic_of(message)}.{deployment}.{camera}"


def subject_filter(prefix: str, topic: Topic, deployment_id: str | None = None) -> str:
    """The subjects a consumer of ``topic`` reads: one deployment's, or every one's."""
    deployment = "*" if deployment_id is None else check_token(deployment_id, "deployment id")
    if topic in (Topic.CONTROL, Topic.WATCHLIST):
        return f"{prefix}.{topic}.{deployment}"
    return f"{prefix}.{topic}.{deployment}.*"


KEPT_PER_DEPLOYMENT = frozenset({Topic.CONTROL, Topic.WATCHLIST})
"""Topics with one subject per deployment whose messages stay until replaced or aged out."""


def latest_subject(prefix: str, topic: Topic, deployment_id: str, node: str | None = None) -> str:
    """The one subject whose newest message `Bus.latest` reads: a deployment's control
    subject, or the watchlist release of one node (``<prefix>.watchlist.<dep>.<node>``)."""
    if topic not in KEPT_PER_DEPLOYMENT:
        raise ValueError(f"{topic} keeps no latest message per deployment")
    subject = subject_filter(prefix, topic, deployment_id)
    if topic is Topic.WATCHLIST and node is not None:
        return f"{subject}.{check_token(node, 'node name')}"
    return subject


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` is one token, a final ``>`` is one or more tokens."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or (token != "*" and token != tokens[index]):
            return False
    return len(tokens) == len(wanted)
