"""Who may reach which route: every route declares the roles it admits with `Admit`.

`Admit` is a FastAPI dependency; a route without one is a defect that the role-matrix test
catches (it walks the app's routes and reads each route's `Admit`). Admitting a role to a
route is only the first gate: a route that touches one resource asks that resource's single
permission check in the services (e.g. "may this person read this draft?"), so a URL with
someone else's id is refused there (no IDOR).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from lfr.db.web_sessions import SessionStage
from lfr.domain.people import Actor, Role
from lfr.web.sessions import COOKIE_NAME, SessionView

ALL_ROLES = frozenset(Role)


class NotSignedInError(Exception):
    """Raised by a gate when the request has no signed-in session; pages redirect to sign-in,
    the API answers 401."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person making this request, and their session."""

    actor: Actor
    session: SessionView


@dataclass(frozen=True, slots=True)
class RequestIdentity:
    """Whatever the request carries: maybe a session, maybe a signed-in person."""

    session: SessionView | None
    actor: Actor | None

    @property
    def signed_in(self) -> bool:
        return (
            self.actor is not None
            and self.session is not None
            and self.session.stage is SessionStage.SIGNED_IN
        )


def known_identity(request: Request) -> RequestIdentity:
    """The identity `load_identity` found for this request (none if it did not run, as for
    a request refused before routing)."""
    identity = getattr(request.state, "identity", None)
    if isinstance(identity, RequestIdentity):
        return identity
    return RequestIdentity(session=None, actor=None)


def load_identity(request: Request) -> RequestIdentity:
    """Reads the session cookie and the account behind it, once per request."""
    identity = getattr(request.state, "identity", None)
    if isinstance(identity, RequestIdentity):
        return identity
    loader: Callable[[str | None], RequestIdentity] = request.app.state.identity_loader
    identity = loader(request.cookies.get(COOKIE_NAME))
    request.state.identity = identity
    return identity


Identity = Annotated[RequestIdentity, Depends(load_identity)]


class Gate:
    """A route's declaration of who may use it (`Admit`, or `Admit.public_route()`)."""

    def __init__(self, *roles: Role, public: bool = False, any_role: bool = False) -> None:
        self.public = public
        self.roles: frozenset[Role] = ALL_ROLES if any_role else frozenset(roles)
        self.any_role = any_role

    def admits(self, actor: Actor | None) -> bool:
        """The pure rule; the role-matrix test compares it with its own expected table."""
        if self.public:
            return True
        if actor is None:
            return False
        return self.any_role or bool(self.roles & actor.roles)

    def __repr__(self) -> str:
        if self.public:
            return "Admit(public)"
        if self.any_role:
            return "Admit(signed in)"
        return f"Admit({', '.join(sorted(role.value for role in self.roles))})"


class Admit(Gate):
    """Admits the signed-in holders of any of its roles and gives the route the person
    making the request: never None, so a route reads ``viewer.actor`` directly.

    `Admit(Role.OPERATOR, Role.SILVER)` admits holders of any of those roles;
    `Admit.signed_in()` admits every signed-in person; `Admit.public_route()` admits
    anyone, signed in or not, and gives the route nothing.
    """

    def __init__(self, *roles: Role, any_role: bool = False) -> None:
        super().__init__(*roles, any_role=any_role)

    @classmethod
    def public_route(cls) -> PublicRoute:
        return PublicRoute()

    @classmethod
    def signed_in(cls) -> Admit:
        return cls(any_role=True)

    def __call__(self, identity: Identity) -> Viewer:
        if not identity.signed_in or identity.actor is None or identity.session is None:
            raise NotSignedInError()
        if not self.admits(identity.actor):
            raise HTTPException(status_code=403, detail=self._refusal())
        return Viewer(actor=identity.actor, session=identity.session)

    def _refusal(self) -> str:
        names = ", ".join(sorted(role.value.replace("_", " ") for role in self.roles))
        return f"this page is for: {names}"


class PublicRoute(Gate):
    """Admits anyone, signed in or not (`Admit.public_route()`)."""

    def __init__(self) -> None:
        super().__init__(public=True)

    def __call__(self, identity: Identity) -> None:
        return None


def route_admission(route: BaseRoute) -> Gate | None:
    """The gate a route declared (None: undeclared, which the tests refuse)."""
    if not isinstance(route, APIRoute):
        return None
    for dependant in _walk(route.dependant.dependencies):
        if isinstance(dependant.call, Gate):
            return dependant.call
    return None


def _walk(dependants: Iterable[Dependant]) -> Iterator[Dependant]:
    for dependant in dependants:
        yield dependant
        yield from _walk(dependant.dependencies)
