"""Load a model once, on first use, under a lock (DESIGN: backends load lazily).

Building a detector or describer must be cheap (a configuration check), so that a
worker can be configured before its models are read from disk; the first call that
needs the model pays for loading it, and two threads arriving together load it once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from lfr.vision.memory import release_freed_memory

T = TypeVar("T")


class LazyModel(Generic[T]):
    """Holds `load()`'s result after the first `get()`; thread-safe."""

    def __init__(self, load: Callable[[], T]) -> None:
        self._load: Callable[[], T] | None = load
        self._lock = threading.Lock()
        self._model: T | None = None

    def get(self) -> T:
        model = self._model
        if model is not None:
            return model
        with self._lock:
            if self._model is None:
                assert self._load is not None  # dropped only once the model is held
                self._model = self._load()
                # What the loader captured (a model's bytes, say) is not needed again,
                # nor are loading's temporaries (converting dlib's network to ONNX frees
                # about 110 MB), which glibc would otherwise keep for the life of a camera
                # worker process, one per camera.
                self._load = None
                release_freed_memory()
            return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None
