"""What `lfr watch` prints for an alert: the fields the brief and the operator need."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lfr.cli.watch import alert_line, alert_record
from lfr.vision.types import Box, Candidate, MatchEvent, QualityFactors

SEEN = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)
CAPTURED = datetime(2026, 5, 1, 10, 0, 1, 500000, tzinfo=UTC)


def event() -> MatchEvent:
    quality = QualityFactors(
        inter_eye_px=40,
        face_height_px=90,
        sharpness=80,
        brightness=120,
        contrast=40,
        yaw_deg=3,
        roll_deg=-2,
        score=0.9,
    )
    return MatchEvent(
        camera="gate-2",
        track_id=7,
        subject_id="subject-17",
        score=0.9612345,
        threshold=0.95,
        observations=3,
        candidates=(Candidate(subject_id="subject-17", score=0.97),),
        box=Box(left=10, top=20, right=100, bottom=110),
        probe_jpeg=b"\xff\xd8",
        quality=quality,
        first_seen=SEEN,
        captured_at=CAPTURED,
        emitted_at=CAPTURED,
    )


def test_json_record_has_the_required_fields_and_no_image() -> None:
    record = json.loads(json.dumps(alert_record(event())))
    assert {k: record[k] for k in ("subject", "score", "track", "camera", "time")} == {
        "subject": "subject-17",
        "score": 0.9612,
        "track": 7,
        "camera": "gate-2",
        "time": "2026-05-01T10:00:01.500000+00:00",
    }
    assert record["observations"] == 3
    assert record["box"] == {"left": 10, "top": 20, "right": 100, "bottom": 110}
    assert record["quality"]["score"] == 0.9
    assert "probe_jpeg" not in record


def test_readable_line_names_subject_score_threshold_camera_and_track() -> None:
    line = alert_line(event())
    assert line.startswith("10:00:01.500  ALERT subject-17  score 0.961 (threshold 0.950)")
    assert "camera gate-2  track 7  3 observations  quality 0.90" in line
