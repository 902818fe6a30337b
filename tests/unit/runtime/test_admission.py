"""REC-5 admission control: a machine is not asked to run more cameras than it can process
at the rate recognition assumes; the start checklist says so with the expected rate, and a
running camera below it is shown as slow. Sources are real clips, probed for real."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from lfr.bus.cameras import Camera
from lfr.runtime.admission import (
    HEADROOM,
    Admission,
    HostCapacity,
    calibration_follower,
    detects_on_a_device,
    frames_per_s,
)
from lfr.runtime.central import CameraHealth
from lfr.runtime.supervisor import SupervisorSettings
from lfr.vision.decoding import DecodingConfig
from lfr.vision.pipeline import EngineConfig
from lfr.vision.sources import SourceError, SourceShape, probe
from lfr.vision.types import CameraStatus, HealthFigures


@pytest.fixture
def hamilton(video_dir: Path) -> str:
    return str(video_dir / "short_hamilton_clip.mp4")  # 640×360, 29.97 frames/s


def admission(settings: SupervisorSettings, elsewhere: int = 0) -> Admission:
    return Admission(settings, HostCapacity(settings, EngineConfig()), lambda _d: elsewhere)


def test_probe_reads_the_size_and_rate_of_a_real_clip(hamilton: str) -> None:
    shape = probe(hamilton)
    assert (shape.width, shape.height) == (640, 360)
    assert shape.fps == pytest.approx(29.97, abs=0.01)


def test_probe_names_why_a_source_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        probe(str(tmp_path / "missing.mp4"))
    (tmp_path / "not-video.mp4").write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="cannot be decoded"):
        probe(str(tmp_path / "not-video.mp4"))


def test_cameras_within_capacity_meet_no_warning(hamilton: str) -> None:
    settings = SupervisorSettings(host_frames_per_s=60, min_camera_fps=10)
    cameras = [Camera("north", hamilton), Camera("south", hamilton)]
    check = admission(settings).check("d-1", cameras)
    assert (check.unmet, check.warnings) == ([], [])


def test_beyond_capacity_each_camera_is_warned_of_with_its_expected_rate(hamilton: str) -> None:
    """60 frames/s shared by 4 here and 3 of another deployment: about 8.6 each."""
    settings = SupervisorSettings(host_frames_per_s=60, min_camera_fps=10)
    cameras = [Camera(f"cam-{n}", hamilton) for n in range(4)]
    check = admission(settings, elsewhere=3).check("d-1", cameras)
    assert check.unmet == []
    assert [w.field for w in check.warnings] == ["cam-0", "cam-1", "cam-2", "cam-3"]
    assert {w.rule for w in check.warnings} == {"REC-5"}
    assert "about 8.6 frames/s expected" in check.warnings[0].reason
    assert "7 cameras" in check.warnings[0].reason


def test_refuse_mode_makes_the_shortfall_unmet(hamilton: str) -> None:
    settings = SupervisorSettings(host_frames_per_s=30, min_camera_fps=10, over_capacity="refuse")
    check = admission(settings).check("d-1", [Camera(f"cam-{n}", hamilton) for n in range(4)])
    assert [u.field for u in check.unmet] == ["cam-0", "cam-1", "cam-2", "cam-3"]
    assert check.warnings == []


def test_a_source_slower_than_the_minimum_is_named_as_such(video_dir: Path) -> None:
    """The walking clip is 12.5 frames/s: enough for 10, not for 15."""
    walking = str(video_dir / "face-demographics-walking-and-pause.gif")
    settings = SupervisorSettings(host_frames_per_s=500, min_camera_fps=15)
    (warning,) = admission(settings).check("d-1", [Camera("gate", walking)]).warnings
    assert "its source delivers 12.5 frames/s" in warning.reason


def test_an_unreadable_source_is_a_warning_even_in_refuse_mode(tmp_path: Path) -> None:
    """A camera not up yet may come up (its worker keeps trying): it is said, not refused."""
    settings = SupervisorSettings(host_frames_per_s=60, over_capacity="refuse")
    check = admission(settings).check("d-1", [Camera("gate", str(tmp_path / "gone.mp4"))])
    assert check.unmet == []
    assert [(w.rule, w.field) for w in check.warnings] == [("REC-1", "gate")]
    assert "no such file" in check.warnings[0].reason


def test_admission_off_probes_nothing(tmp_path: Path) -> None:
    settings = SupervisorSettings(min_camera_fps=0)
    check = admission(settings).check("d-1", [Camera("gate", str(tmp_path / "gone.mp4"))])
    assert (check.unmet, check.warnings) == ([], [])


def test_measured_capacity_is_calibrated_once_per_size_and_scaled_by_cores() -> None:
    calls: list[tuple[int, int, int]] = []

    def calibrate(_config: EngineConfig, width: int, height: int, streams: int) -> float:
        calls.append((width, height, streams))
        return 20.0

    capacity = HostCapacity(SupervisorSettings(), EngineConfig(), calibrate, cores=4)
    assert capacity.frames_per_s(640, 360) == pytest.approx(20.0 * 4 * HEADROOM)
    capacity.frames_per_s(640, 360)
    capacity.frames_per_s(1280, 720)
    assert calls == [(640, 360, 1), (1280, 720, 1)]  # one stream on one core


def test_a_detector_on_a_gpu_is_measured_with_a_stream_a_core_and_not_multiplied() -> None:
    """#26 item 4: on a GPU every camera's detection queues on one device, so the
    capacity is what as many streams as cores reach side by side, not one stream's rate
    times the cores."""
    calls: list[int] = []

    def calibrate(_config: EngineConfig, _width: int, _height: int, streams: int) -> float:
        calls.append(streams)
        return 300.0

    on_gpu = EngineConfig.model_validate(
        {
            "detector": {
                "type": "mmod-onnx",
                "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
            }
        }
    )
    assert detects_on_a_device(on_gpu)
    assert not detects_on_a_device(EngineConfig())
    capacity = HostCapacity(SupervisorSettings(), on_gpu, calibrate, cores=16)
    assert capacity.frames_per_s(1920, 1080) == pytest.approx(300.0 * HEADROOM)
    assert calls == [16]


def test_the_calibration_times_the_real_detector() -> None:
    """A 640×360 frame is detected faster than a 1920×1080 one is (or as fast, where the
    detector shrinks both to the same width), and both at a positive rate."""
    small = frames_per_s(EngineConfig(), 640, 360)
    large = frames_per_s(EngineConfig(), 1920, 1080)
    assert small > 0
    assert large > 0
    assert small >= large * 0.8


def test_streams_side_by_side_are_counted_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stream runs at once beside the others and every stream's frames count: four
    detectors that each take 20 ms a frame without holding the processor (a GPU's wait)
    give about four times one's rate."""
    import lfr.runtime.admission as admission_module

    class WaitingFollower:
        def observe(self, _frame: object) -> None:
            time.sleep(0.02)

    monkeypatch.setattr(admission_module, "calibration_follower", lambda _c: WaitingFollower())
    monkeypatch.setattr(admission_module, "CALIBRATION_SECONDS", 0.5)
    alone = frames_per_s(EngineConfig(), 64, 64, streams=1)
    together = frames_per_s(EngineConfig(), 64, 64, streams=4)
    assert 10 < alone <= 50
    assert together > 2.5 * alone


def test_the_calibration_searches_the_whole_frame_at_every_detection() -> None:
    """Its one still frame changes nowhere: searching only changes would time almost no
    detection and promise a busy street several times the rate it gets (REC-2)."""
    follower = calibration_follower(EngineConfig())
    frame = np.zeros((360, 640, 3), np.uint8)
    for _ in range(6):
        follower.observe(frame)
        if follower.detected:
            assert follower.searched is None


def _figures(fps: float) -> HealthFigures:
    return HealthFigures(
        deployment_id="d-1",
        camera="cam-1",
        status=CameraStatus.UP,
        at=datetime.now(UTC),
        fps=fps,
        faces_per_s=0.0,
        latency_ms_p50=20,
        latency_ms_p95=40,
        frames=100,
        faces=0,
        dropped_frames=0,
        errors=0,
    )


def test_a_running_camera_below_the_minimum_is_slow_once_settled() -> None:
    health = CameraHealth("cam-1", _figures(6.0), None, age_s=1.0, min_fps=10.0, settled=True)
    assert health.slow
    assert health.status == "up"
    assert not replace(health, settled=False).slow  # the first window loads the models
    assert not replace(health, figures=_figures(12.0)).slow
    assert not replace(health, min_fps=0.0).slow
    assert not replace(health, age_s=60.0).slow  # stale says more than slow


def test_a_source_is_read_once_a_minute_and_a_failed_read_is_tried_again(
    hamilton: str, tmp_path: Path
) -> None:
    """The checklist shows on every view of a planned deployment: a stream is not probed
    each time, but a camera put right after a failed read shows at once."""
    reads: list[str] = []

    def counted_probe(spec: str) -> SourceShape:
        reads.append(spec)
        return probe(spec)

    settings = SupervisorSettings(host_frames_per_s=60)
    capacity = HostCapacity(settings, EngineConfig())
    admission = Admission(settings, capacity, lambda _d: 0, counted_probe)
    missing = str(tmp_path / "later.mp4")
    for _ in range(2):
        admission.check("d-1", [Camera("north", hamilton), Camera("gate", missing)])
    assert reads == [hamilton, missing, missing]


def test_the_checklist_reads_a_camera_with_the_decoder_its_worker_will_use(
    video_dir: Path,
) -> None:
    """GPU decoding of a GIF, which NVDEC has no decoder for (or on a machine without a
    GPU): the checklist names why its worker will not read it, rather than reading it
    with OpenCV and saying nothing."""
    settings = SupervisorSettings(host_frames_per_s=60)
    engine = EngineConfig(decoding=DecodingConfig(decoder="pyav", hardware="cuda"))
    gif = str(video_dir / "face-demographics-walking-and-pause.gif")
    check = Admission(settings, HostCapacity(settings, engine), lambda _d: 0).check(
        "d-1", [Camera("gate", gif)]
    )
    assert [(w.rule, w.field) for w in check.warnings] == [("REC-1", "gate")]
    assert "NVDEC (CUDA)" in check.warnings[0].reason
    assert admission(settings).check("d-1", [Camera("gate", gif)]).warnings == []
