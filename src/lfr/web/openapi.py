"""The JSON API's OpenAPI document, built from the routes alone (no database needed), so
that `lfr api openapi` can print it and `docs/openapi.json` can be compared with it: a
change to the contract shows in review."""

from __future__ import annotations

import json
from typing import Any

from fastapi.openapi.utils import get_openapi

TITLE = "lfr"
SUMMARY = "Live Facial Recognition deployments with the framework's safeguards built in."
VERSION = "0.1.0"


def openapi_document() -> dict[str, Any]:
    """What /api/openapi.json serves."""
    from lfr.web.routes import ROUTERS

    routes = [route for router in ROUTERS for route in router.routes]
    return get_openapi(title=TITLE, version=VERSION, summary=SUMMARY, routes=routes)


def openapi_text() -> str:
    """The document as checked into docs/openapi.json (sorted keys, two-space indent)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
