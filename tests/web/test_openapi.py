"""The JSON API's typed contract: every route under /api declares its response model, its
errors and an operation id; the OpenAPI document served is the one checked into
docs/openapi.json, so a change to the contract is visible in review (regenerate it with
`lfr api openapi > docs/openapi.json`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from lfr.web.access import route_admission
from lfr.web.openapi import openapi_document, openapi_text
from lfr.web.routes import api_routes

CHECKED_IN = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def json_routes() -> list[APIRoute]:
    return [route for route in api_routes() if route.path.startswith("/api")]


def _answers_json(route: APIRoute) -> bool:
    response_class = route.response_class
    return route.status_code != 204 and (
        not isinstance(response_class, type) or issubclass(response_class, JSONResponse)
    )


def _is_schema(model: Any) -> bool:
    """A pydantic schema, or a list of one (never a bare dict inferred from `-> dict`)."""
    if get_origin(model) is list:
        (model,) = get_args(model)
    return isinstance(model, type) and issubclass(model, BaseModel)


def test_every_json_route_is_typed_and_named() -> None:
    untyped = [
        f"{sorted(r.methods or ())} {r.path}"
        for r in json_routes()
        if r.path != "/api/docs" and _answers_json(r) and not _is_schema(r.response_model)
    ]
    assert untyped == [], f"JSON routes without response_model: {untyped}"
    unnamed = [r.path for r in json_routes() if r.path != "/api/docs" and not r.operation_id]
    assert unnamed == [], f"routes without an explicit operation_id: {unnamed}"
    ids = [r.operation_id for r in json_routes() if r.operation_id]
    assert len(ids) == len(set(ids)), "operation ids must be unique"


def test_every_signed_in_route_documents_its_refusals() -> None:
    """401/403/422 (and 404 where an object is named) in the one refusal shape."""
    missing = []
    for route in json_routes():
        admit = route_admission(route)
        if route.path == "/api/docs" or admit is None or admit.public:
            continue
        if not {401, 403} <= set(route.responses):
            missing.append(route.path)
    assert missing == []
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith("4"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problems"}, (method, path)


def test_one_public_results_schema_served_once() -> None:
    document = openapi_document()
    result_paths = [
        path for path, operations in document["paths"].items() if "ResultPublic" in str(operations)
    ]
    assert result_paths == ["/api/public/results"]


@pytest.mark.db
def test_the_served_document_is_the_checked_in_one(app_client: TestClient) -> None:
    served = app_client.get("/api/openapi.json").json()
    assert served == openapi_document()
    assert CHECKED_IN.read_text(encoding="utf-8") == openapi_text(), (
        "the API contract changed: run `lfr api openapi > docs/openapi.json` and review it"
    )
