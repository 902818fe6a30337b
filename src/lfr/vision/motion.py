"""Where a frame changed: the parts of a camera's view the face detector needs to search
again (REC-2).

A fixed camera sees mostly the same street from frame to frame. A face that was not in a
part of the view when the detector last searched it, and is there now, changed those
pixels; where nothing changed, a new search finds what the last one found. So between
whole-frame searches the detector can search only the parts that changed (and around the
faces being followed, which may have stopped moving): `changed_boxes` finds them on a small
grey copy of the frame, `padded` and `merged` turn them into few, roomy regions, and
`search_share` says how much of the frame they cover (past a share, one whole-frame search
costs less than many pieces).

Nothing here keeps a picture: the caller holds one small grey copy of the frame it last
searched whole (REC-4), replaced at each whole-frame search.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from lfr.vision.types import Box

GreyImage = NDArray[np.uint8]
_CLOSING = np.ones((3, 3), np.uint8)


def changed_boxes(
    before: GreyImage, now: GreyImage, threshold: int, min_pixels: int = 2
) -> list[Box]:
    """Boxes (in these images' pixels) around the areas where `now` differs from `before`
    by more than `threshold` grey levels; areas of fewer than `min_pixels` changed pixels
    (codec noise, a flicker) are ignored. The changed pixels are closed and grown by one
    pixel first, so that a moving face whose smooth middle hardly changes still forms one
    area with its edges."""
    if before.shape != now.shape:
        raise ValueError(f"images differ in shape: {before.shape} and {now.shape}")
    changed = (cv2.absdiff(before, now) > threshold).astype(np.uint8)
    grown = cv2.dilate(cv2.morphologyEx(changed, cv2.MORPH_CLOSE, _CLOSING), _CLOSING)
    count, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    boxes = []
    for left, top, width, height, pixels in stats[1:count]:
        if pixels >= min_pixels:
            boxes.append(
                Box(left=int(left), top=int(top), right=int(left + width), bottom=int(top + height))
            )
    return boxes


def scaled(box: Box, factor: float, shape: tuple[int, ...]) -> Box:
    """`box` from a copy shrunk by `factor` back in the pixels of a frame of `shape`
    (rounded outwards, clipped to the frame)."""
    height, width = shape[:2]
    return Box(
        left=max(0, int(np.floor(box.left / factor))),
        top=max(0, int(np.floor(box.top / factor))),
        right=min(width, int(np.ceil(box.right / factor))),
        bottom=min(height, int(np.ceil(box.bottom / factor))),
    )


def padded(box: Box, pad_x: float, pad_y: float, shape: tuple[int, ...]) -> Box:
    """`box` grown by `pad_x` / `pad_y` pixels on each side, clipped to a frame of `shape`."""
    height, width = shape[:2]
    return Box(
        left=max(0, round(box.left - pad_x)),
        top=max(0, round(box.top - pad_y)),
        right=min(width, round(box.right + pad_x)),
        bottom=min(height, round(box.bottom + pad_y)),
    )


Edges = tuple[int, int, int, int]


def _overlap(a: Edges, b: Edges) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def merged(boxes: Sequence[Box]) -> list[Box]:
    """Overlapping boxes replaced by the box around them, until no two overlap: each
    part of the frame is searched once, and a face across two regions is whole in one.
    (Plain tuples inside: this runs at every detection.)"""
    pending: list[Edges] = [(b.left, b.top, b.right, b.bottom) for b in boxes]
    done: list[Edges] = []
    while pending:
        current = pending.pop()
        grown = True
        while grown:
            grown = False
            for index, other in enumerate(pending):
                if _overlap(current, other):
                    current = (
                        min(current[0], other[0]),
                        min(current[1], other[1]),
                        max(current[2], other[2]),
                        max(current[3], other[3]),
                    )
                    del pending[index]
                    grown = True
                    break
        # A box that grew may now overlap one already done: take that one back.
        clashing = [d for d in done if _overlap(current, d)]
        if clashing:
            done = [d for d in done if not _overlap(current, d)]
            pending.extend([current, *clashing])
        else:
            done.append(current)
    return [
        Box(left=e[0], top=e[1], right=e[2], bottom=e[3])
        for e in sorted(done, key=lambda e: (e[1], e[0]))
    ]


def search_share(boxes: Sequence[Box], shape: tuple[int, ...]) -> float:
    """The share of a frame of `shape` that `boxes` (not overlapping) cover."""
    height, width = shape[:2]
    return sum(b.width * b.height for b in boxes) / float(max(1, width * height))
