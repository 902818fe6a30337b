"""REC-5 operations: the time from an alert stored to its event on an operator's open
console stream is measured once per screen (`lfr_alert_to_screen_seconds`)."""

from __future__ import annotations

import asyncio

from lfr import metrics
from lfr.web.live import ALERTS_TOPIC, LiveFeed, alert_message, event_stream, health_message


def screens_timed() -> float:
    return metrics.REGISTRY.get_sample_value("lfr_alert_to_screen_seconds_count") or 0.0


async def never_disconnected() -> bool:
    return False


def test_each_alert_event_sent_to_a_screen_is_timed_once() -> None:
    async def scenario() -> tuple[str, float]:
        feed = LiveFeed()
        stream = event_stream(feed, {ALERTS_TOPIC, "health:d-1"}, never_disconnected)
        assert await anext(stream) == ": connected\n\n"
        before = screens_timed()
        feed.publish(health_message("d-1"))  # not an alert: not timed
        await anext(stream)
        feed.publish(alert_message("a-1"))
        sent = await anext(stream)
        await stream.aclose()
        return sent, screens_timed() - before

    sent, timed = asyncio.run(scenario())
    assert "alert-a-1" in sent
    assert timed == 1.0
