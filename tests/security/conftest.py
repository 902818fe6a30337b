"""Fixtures of the security regression suite: the governance world and the web clients."""

from __future__ import annotations

from tests.integration.governance.conftest import enroler, planned_world, world
from tests.web.conftest import app_client, client_for, system, system_settings, web_context

__all__ = [
    "app_client",
    "client_for",
    "enroler",
    "planned_world",
    "system",
    "system_settings",
    "web_context",
    "world",
]
