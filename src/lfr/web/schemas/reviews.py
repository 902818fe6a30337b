"""Post-deployment reviews (REV-1)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from lfr.web.schemas.base import Schema


class ReviewOut(Schema):
    """A deployment's review (REV-1): figures frozen once signed off."""

    id: str
    status: str
    figures_sha256: str | None
    figures: dict[str, Any]


class ReviewSummary(Schema):
    id: str
    deployment_id: str
    status: str


class AssessmentIn(Schema):
    performance: str = Field(max_length=20000)
    safeguards: str = Field(max_length=20000)
    lessons: str = Field(max_length=20000)
