"""Forms that are never a dead end: a refusal is shown on the form that caused it.

A form that posts with htmx (`hx-post`, a `.problems` slot inside it) gets, when a rule
says no, a short list of what to fix, each item naming the field as the form labels it
(never a code such as ``lawful_basis`` or ``images[0]``) and linking to it. The form is not
replaced, so everything typed and every file chosen stays as it was. On success the page
goes where the plain form would have gone (``HX-Redirect``). Without JavaScript the form
posts as before and the application's error page lists the same problems.

The labels come from one place, `lfr.web.labels.field_label`, which the templates use too
(the Jinja filter ``field_label``), so the message and the form cannot disagree.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec

from fastapi import Request
from fastapi.responses import Response

from lfr.domain.refusal import NotFound, Refusal, Unmet
from lfr.web.labels import INDEXED, field_label
from lfr.web.rendering import render

P = ParamSpec("P")

ANCHORS = {
    "window": "window_start",
    "conditions": "max_watchlist_size",
    "performance_assessment": "performance",
    "safeguards_assessment": "safeguards",
}
"""Fields a rule names as a whole whose first control has another id."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing to fix, in the form's words."""

    label: str
    reason: str
    rule: str
    anchor: str | None
    """The id of the form control to jump to, where the field is one."""


def problems_of(refusal: Refusal) -> list[Problem]:
    return [_problem(unmet) for unmet in refusal.unmet]


def _problem(unmet: Unmet) -> Problem:
    field = unmet.field or ""
    indexed = INDEXED.match(field)
    control = ANCHORS.get(field) or (indexed["name"] if indexed else field)
    anchor = control if re.fullmatch(r"[a-z_0-9]+", control) else None
    return Problem(field_label(unmet.field), _sentence(unmet.reason), unmet.rule, anchor)


def _sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:] if reason else reason


def shown_on_form(
    fields_at: str | None = None,
) -> Callable[[Callable[P, Awaitable[Response]]], Callable[P, Awaitable[Response]]]:
    """Route decorator: an htmx post refused by a rule answers 422 with the problems
    fragment (htmx puts it in the form's `.problems` slot); a redirect becomes
    ``HX-Redirect``. `fields_at`, a path template filled from the route's path
    parameters, is where the fields live when not on this form (submit → the edit page).
    The route must take ``request: Request``."""

    def decorate(route: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
        if not inspect.iscoroutinefunction(route):
            raise TypeError(f"{route.__name__}: shown_on_form wraps async routes")

        @functools.wraps(route)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            request = kwargs["request"]
            assert isinstance(request, Request)
            if request.headers.get("hx-request") != "true":
                return await route(*args, **kwargs)
            try:
                response = await route(*args, **kwargs)
            except NotFound:
                raise  # not the form's to show: the object is not there for this person
            except Refusal as refusal:
                target = fields_at.format(**request.path_params) if fields_at else ""
                return refused_fragment(request, refusal, target)
            return _as_htmx_redirect(response)

        # FastAPI reads the route's parameters from the signature: resolve them in the
        # route's own module (its annotations are strings naming its imports).
        wrapper.__signature__ = inspect.signature(route, eval_str=True)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def refused_fragment(request: Request, refusal: Refusal, fields_at: str = "") -> Response:
    return render(
        request,
        "partials/problems.html",
        {"problems": problems_of(refusal), "fields_at": fields_at},
        status=422,
    )


def _as_htmx_redirect(response: Response) -> Response:
    location = response.headers.get("location")
    if 300 <= response.status_code < 400 and location:
        return Response(status_code=200, headers={"HX-Redirect": location})
    return response
