"""Typed, versioned messages between recognition workers and the services.

`MemoryBus` (in-process, the embedded default) and `NatsBus` (NATS JetStream, for nodes on
other machines) share one protocol, `Bus`, and one set of delivery rules (lfr.bus.base);
docs/bus.md describes subjects, streams, guarantees and versioning.
"""

from lfr.bus.base import Bus, ConsumerSettings, Delivery, RefusedMessage, Subscription
from lfr.bus.memory import MemoryBroker, MemoryBus
from lfr.bus.messages import HaltDeployment, MalformedMessageError, Message, decode, encode
from lfr.bus.nats_bus import BusUnavailableError, NatsBus, NatsSettings
from lfr.bus.subjects import Topic

__all__ = [
    "Bus",
    "BusUnavailableError",
    "ConsumerSettings",
    "Delivery",
    "HaltDeployment",
    "MalformedMessageError",
    "MemoryBroker",
    "MemoryBus",
    "Message",
    "NatsBus",
    "NatsSettings",
    "RefusedMessage",
    "Subscription",
    "Topic",
    "decode",
    "encode",
]
