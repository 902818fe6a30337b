"""The base schema and the API's one refusal shape (`Problems`), with the refusals
each kind of route documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lfr.domain.refusal import Unmet

PlaceName = Annotated[str, Field(max_length=200)]
"""A place of a deployment: a street, a station, a venue."""
CameraName = Annotated[str, Field(max_length=64)]
"""A camera's name, as `CameraIn` takes it."""


NUL = "\x00"
NUL_REFUSED = "text may not hold the NUL character (U+0000)"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, Mapping):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_character(cls, value: Any) -> Any:
        # PostgreSQL cannot store it (a 500 there), and no person types it.
        if _holds_nul(value):
            raise ValueError(NUL_REFUSED)
        return value


class Problem(Schema):
    """One unmet condition: the SPEC rule (or `request`, `sign-in`, `access`, `not-found`),
    the field it concerns and why, in plain words."""

    rule: str
    field: str | None = None
    reason: str


class Problems(Schema):
    """Every reason a request was refused; nothing was changed."""

    detail: list[Problem]


def problems_of(unmet: tuple[Unmet, ...] | list[Unmet]) -> list[dict[str, str | None]]:
    return [{"rule": u.rule, "field": u.field, "reason": u.reason} for u in unmet]


def problems_response(
    status: int, problems: list[dict[str, str | None]], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The API's one refusal shape: `{"detail": [{"rule", "field", "reason"}]}`."""
    return JSONResponse({"detail": problems}, status_code=status, headers=headers)


def _refusal(description: str) -> dict[str, Any]:
    return {"model": Problems, "description": description}


PUBLIC_ERRORS: dict[int | str, dict[str, Any]] = {
    422: _refusal("The request did not validate (`rule`: request; `field` names the part)."),
}


SIGNED_IN_ERRORS: dict[int | str, dict[str, Any]] = {
    **PUBLIC_ERRORS,
    401: _refusal("Not signed in (`rule`: sign-in)."),
    403: _refusal(
        "Signed in, but this route is not for your roles, or the CSRF token is missing or not "
        "this session's (`rule`: access)."
    ),
}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **SIGNED_IN_ERRORS,
    404: _refusal("No such object, or not one you may read (`rule`: not-found)."),
}


BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _refusal("The body could not be read: not UTF-8, or nested too deep (`rule`: request)."),
    413: _refusal("The body is larger than the upload limit (`rule`: request)."),
}
"""What any route that reads a body may answer before it looks at what the body says."""


CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    **BODY_ERRORS,
    422: _refusal(
        "A rule of the framework, or the request's own validation, refused it: every unmet "
        "condition is listed with its SPEC rule and field, and nothing was changed."
    ),
}


def as_json_refusals(errors: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The same refusals for a route whose success is not JSON (FastAPI would document
    them in the route's own media type): named as JSON explicitly."""
    ref = {"$ref": "#/components/schemas/Problems"}
    return {
        status: {
            "description": answer["description"],
            "content": {"application/json": {"schema": ref}},
        }
        for status, answer in errors.items()
    }
