"""People and their training (TRN-1)."""

from __future__ import annotations

from datetime import datetime

from lfr.domain.people import Role
from lfr.web.schemas.base import Schema


class TrainingOut(Schema):
    role: Role
    expires_at: datetime


class PersonOut(Schema):
    """An account as administrators see it (never a password or second-factor secret)."""

    id: str
    username: str
    display_name: str
    rank: str
    roles: list[Role]
    active: bool
    training: list[TrainingOut]
