"""A rehearsal deployment built through the real services (the same steps `lfr demo` takes),
and match events as a camera worker emits them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lfr.db.session import SessionFactory, transaction
from lfr.demo import Rehearsal, seed_rehearsal
from lfr.demo.media import DemoMedia
from lfr.services import deployments
from lfr.services.watchlists import Enroler
from lfr.vision.imageio import encode_jpeg, load_image
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from lfr.vision.types import Box, MatchEvent, QualityFactors
from tests.db_fixtures import POLICY, Personas, persona_accounts


def running_rehearsal(
    db: SessionFactory, personas: Personas, image: Path, clip: Path, enroler: Enroler
) -> Rehearsal:
    """`lfr demo`'s rehearsal (the one builder of a staffed deployment for the web tests),
    started by Silver."""
    rehearsal = seed_rehearsal(db, persona_accounts(personas), DemoMedia(image, clip), enroler)
    with transaction(db) as session:
        deployments.start_deployment(
            session, personas.silver, rehearsal.deployment_id, policy=POLICY
        )
    return rehearsal


def match_event(rehearsal: Rehearsal, image: Path, *, score: float = 0.97) -> MatchEvent:
    """What the engine emits for a confirmed track (the probe is the enrolled photo)."""
    now = datetime.now(UTC)
    return MatchEvent(
        deployment_id=rehearsal.deployment_id,
        camera="demo-cam",
        track_id=1,
        subject_id=rehearsal.entry_id,
        score=score,
        threshold=DEFAULT_ALERT_THRESHOLD,
        observations=3,
        box=Box(left=10, top=10, right=110, bottom=130),
        probe_jpeg=encode_jpeg(load_image(image)),
        quality=QualityFactors(
            inter_eye_px=40,
            face_height_px=120,
            sharpness=150,
            brightness=120,
            contrast=40,
            yaw_deg=3,
            roll_deg=1,
            score=0.8,
        ),
        first_seen=now,
        captured_at=now,
        emitted_at=now,
    )
