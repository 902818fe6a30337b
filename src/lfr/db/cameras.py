"""Camera sources: the one table of deployment configuration the web adds (REC-1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from lfr.db.base import Base, UTCDateTime


class CameraSource(Base):
    """Where a named camera's video comes from (RTSP/HTTP URL, a rehearsal file, device:N).

    Deployments name their cameras; the engineer says where each one is (SPEC roles:
    "configure cameras"). Never holds video, only the address."""

    __tablename__ = "camera_source"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(2000))
    configured_by: Mapped[str] = mapped_column(String(200))
    configured_at: Mapped[datetime] = mapped_column(UTCDateTime())
