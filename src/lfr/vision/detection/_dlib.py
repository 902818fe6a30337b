"""What the two dlib backends (HOG and MMOD) share: a model loaded on first use, and
dlib's rectangles turned into our boxes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic

from lfr.vision._lazy import LazyModel
from lfr.vision.detection.base import ConfigT, RegionDetector


class DlibDetector(RegionDetector, Generic[ConfigT]):
    """A dlib backend: its settings and its model, which `load` reads on first use."""

    def __init__(self, config: ConfigT, load: Callable[[], Any]) -> None:
        super().__init__(config)
        self._config = config
        self._model: LazyModel[Any] = LazyModel(load)
        # A dlib detector keeps its working buffers in the object: two calls at once (two
        # enrolments, say) crash the process, so one caller at a time.
        self._lock = threading.Lock()


def exclusive_box(rect: Any) -> tuple[int, int, int, int]:
    """A dlib rectangle as (left, top, right, bottom): dlib's right and bottom are inclusive,
    ours are exclusive."""
    return (rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)
