"""Models load once, on first use, and what their loader held is released afterwards."""

from __future__ import annotations

import gc
import threading
import weakref

from lfr.vision._lazy import LazyModel


class Blob:
    """Stands in for a model's bytes captured by its loader."""


def test_the_model_loads_once_even_when_threads_arrive_together() -> None:
    calls: list[int] = []
    lazy = LazyModel(lambda: calls.append(1) or "model")
    threads = [threading.Thread(target=lazy.get) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lazy.get() == "model"
    assert calls == [1]
    assert lazy.loaded


def test_what_the_loader_captured_is_released_once_the_model_is_held() -> None:
    blob = Blob()
    captured = weakref.ref(blob)

    def load(data: Blob = blob) -> str:
        return f"model from {type(data).__name__}"

    lazy = LazyModel(load)
    del blob, load
    gc.collect()
    assert captured() is not None  # still needed: not loaded yet
    assert lazy.get() == "model from Blob"
    gc.collect()
    assert captured() is None
