"""Real messages for the bus tests: a MatchEvent carrying a real JPEG face crop."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from lfr.vision.types import Box, CameraStatus, HealthFigures, MatchEvent, QualityFactors


def jpeg_crop(image_path: Path, box: Box) -> bytes:
    with Image.open(image_path) as image:
        crop = image.convert("RGB").crop((box.left, box.top, box.right, box.bottom))
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def match_event(
    faces_dir: Path, *, deployment_id: str = "dep-1", camera: str = "cam-1"
) -> MatchEvent:
    box = Box(left=100, top=80, right=260, bottom=260)
    now = datetime.now(UTC)
    return MatchEvent(
        deployment_id=deployment_id,
        camera=camera,
        track_id=7,
        subject_id="subject-42",
        score=0.71,
        threshold=0.6,
        observations=3,
        box=box,
        probe_jpeg=jpeg_crop(faces_dir / "face_recognition-examples" / "obama.jpg", box),
        quality=QualityFactors(
            inter_eye_px=48,
            face_height_px=180,
            sharpness=120.5,
            brightness=110,
            contrast=40,
            yaw_deg=5,
            roll_deg=-2,
            score=0.8,
        ),
        first_seen=now,
        captured_at=now,
        emitted_at=now,
    )


def health(
    camera: str = "cam-1", *, deployment_id: str = "dep-1", frames: int = 10
) -> HealthFigures:
    return HealthFigures(
        deployment_id=deployment_id,
        camera=camera,
        status=CameraStatus.UP,
        at=datetime.now(UTC),
        fps=12.5,
        faces_per_s=1.0,
        latency_ms_p50=40,
        latency_ms_p95=90,
        frames=frames,
        faces=2,
        dropped_frames=0,
        errors=0,
    )
