"""Handing freed heap memory back to the operating system.

glibc's malloc keeps what a program frees for reuse, and after a large block is freed it
raises its threshold for serving blocks from fresh mappings, so later large blocks (a
decoded image, a model's temporaries) come from the heap and stay there once freed; each
thread has its own heap (arena). A long-lived process that now and then handles something
large therefore holds on to the most it ever needed in every thread that handled it.
"""

from __future__ import annotations

import ctypes
from functools import cache


def release_freed_memory() -> None:
    """Hands heap memory freed so far, in every thread's arena, back to the operating
    system (glibc's malloc_trim; nothing elsewhere). It takes a few milliseconds: call it
    after work that freed a lot, not in a tight loop."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> ctypes._NamedFuncPointer | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
