"""A camera of a deployment as the parts that run it pass it around: its name (a bus
subject token: alerts and health are published under it) and its source spec.

It lives below the services so that the service reading a deployment's camera sources
(`lfr.services.cameras.cameras_for`) and the runtime starting their workers share it
without the services importing the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from lfr.bus.subjects import check_token


@dataclass(frozen=True)
class Camera:
    """One camera of a deployment: a name (a subject token) and its source spec."""

    name: str
    source: str

    def __post_init__(self) -> None:
        check_token(self.name, "camera name")
