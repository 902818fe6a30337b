"""What the public pages publish (PUB-*)."""

from __future__ import annotations

from lfr.web.schemas.base import Schema


class PlannedPublic(Schema):
    """A planned or running deployment as the public page lists it (PUB-1)."""

    title: str
    window: str
    area: str
    purpose: str
    status: str


class PublicDeployments(Schema):
    """Deployments announced and not yet reviewed; results are at /api/public/results."""

    planned: list[PlannedPublic]
