"""`benchmarks.cameras`: `--resolutions` takes sizes written as its help says (WxH), the
deciding frame's clock, and the GPU mode's code path on this CPU machine (issue 26)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from benchmarks.cameras import (
    ProcessingClock,
    Row,
    WorkerFigures,
    cameras_held,
    engine_settings,
    main,
    resolution_name,
)

from lfr.vision.decoding import DecodingConfig, hardware_problem
from lfr.vision.engine_config import EngineConfig
from lfr.vision.imageio import load_image
from lfr.vision.onnx_runtime import missing_providers
from lfr.vision.pipeline import Engine
from lfr.vision.sources import open_source
from lfr.vision.types import CameraStatus


@pytest.mark.parametrize("typed", ["1280x720", "1280X720", "1280×720", " 1280 x 720 "])
def test_a_size_is_read_with_either_multiplication_sign(typed: str) -> None:
    assert resolution_name(typed) == "1280×720"


@pytest.mark.parametrize("typed", ["3840x2160", "1280", "big"])
def test_a_size_without_a_clip_is_refused_naming_the_sizes_there_are(typed: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="640×360, 1280×720, 1920×1080"):
        resolution_name(typed)


def test_the_processing_clock_notes_the_capture_time_of_the_frame_handed_out(
    data_dir: Path,
) -> None:
    """The deciding frame → alert latency reads the capture time of the frame the worker
    is processing: the last one read, never an earlier one."""
    source = ProcessingClock(open_source(str(data_dir / "video" / "short_hamilton_clip.mp4"), "c"))
    try:
        assert source.processing is None
        seen = []
        for _ in range(3):
            frame = source.read(5.0)
            assert frame is not None
            seen.append(frame.captured_at)
            assert source.processing == frame.captured_at
        assert seen == sorted(seen)
        assert len(set(seen)) == 3
        assert source.status is CameraStatus.UP
    finally:
        source.close()


def test_the_gpu_mode_says_it_was_not_run_where_nvdec_cannot_decode(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine with onnxruntime-gpu but no decoder for the GPU: not run, saying why."""
    import lfr.vision.onnx_runtime

    if hardware_problem(DecodingConfig(decoder="pyav", hardware="cuda")) is None:
        pytest.skip("this machine decodes on an NVIDIA GPU: the GPU mode runs here")
    monkeypatch.setattr(lfr.vision.onnx_runtime, "missing_providers", lambda _p: [])
    main(["--gpu", "--cameras", "32"])
    said = capsys.readouterr().out
    assert said.startswith("## GPU mode: not run")
    assert "NVDEC decoding cannot run here: " in said
    assert "NVIDIA GPU" in said


def test_the_gpu_mode_says_it_was_not_run_where_onnx_runtime_has_no_gpu(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not missing_providers(["CUDAExecutionProvider"]):
        pytest.skip("this machine has the CUDA provider: the GPU mode runs here")
    main(["--gpu", "--cameras", "32"])
    said = capsys.readouterr().out
    assert said.startswith("## GPU mode: not run")
    assert "['CUDAExecutionProvider']" in said
    assert "CPUExecutionProvider" in said


def test_the_gpu_setting_detects_and_describes_on_the_providers_it_is_given(
    faces_dir: Path,
) -> None:
    """The GPU mode's engine, on the CPU provider: MMOD on ONNX Runtime finds a face and
    the dlib describer describes it, each on the providers named."""
    settings = engine_settings("gpu", 4, ["CPUExecutionProvider"])
    config = EngineConfig.model_validate(settings)
    assert config.detector.type == "mmod-onnx"
    assert config.detector.providers == ("CPUExecutionProvider",)  # type: ignore[union-attr]
    assert config.describer.providers == ("CPUExecutionProvider",)  # type: ignore[union-attr]
    assert config.decoding == DecodingConfig(decoder="pyav")  # on the CPU here
    on_gpu = EngineConfig.model_validate(engine_settings("gpu", 4, ["CUDAExecutionProvider"]))
    assert on_gpu.decoding == DecodingConfig(decoder="pyav", hardware="cuda")
    engine = Engine.from_config(config)
    faces = engine.analyser.analyse(load_image(faces_dir / "face_recognition-examples/obama.jpg"))
    assert len(faces) == 1
    assert engine.describer.describe([faces[0].chip]).shape == (1, 128)


def figures(frames: int, dropped: int) -> WorkerFigures:
    return WorkerFigures(frames, dropped, 10.0, [], [], 1.0, 100.0, 0, 0.0)


def test_cameras_are_held_only_where_every_camera_kept_the_clips_rate() -> None:
    rows = [
        Row("gpu", 8, "1920×1080", [figures(250, 0)] * 8),
        Row("gpu", 16, "1920×1080", [figures(250, 0)] * 15 + [figures(230, 20)]),  # slowest 23
        Row("gpu", 32, "1920×1080", [figures(240, 10)] * 32),  # 24 frames/s, 4% dropped
        Row("gpu", 48, "1920×1080", [figures(200, 50)] * 48),
    ]
    assert cameras_held(rows) == 32
    assert cameras_held(rows[:2]) == 8
    assert cameras_held(rows[3:]) == 0


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--decoding", '{"decoder": "bogus"}', "decoding.decoder: Input should be"),
        ("--decoding", "pyav", "not JSON"),
        ("--decoding", '{"hardware": "cuda"}', "set decoder = 'pyav'"),
        ("--detector", '{"type": "nope"}', "detector: Input tag 'nope'"),
    ],
)
def test_an_engine_setting_the_engine_refuses_stops_the_benchmark_before_any_worker(
    option: str, value: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad `--decoding` or `--detector` is refused by the command line, exit status 2,
    naming why: not by every worker process while the benchmark waits on their figures."""
    with pytest.raises(SystemExit) as exit_status:
        main([option, value, "--cameras", "1", "--seconds", "1"])
    assert exit_status.value.code == 2
    said = capsys.readouterr().err
    assert f"argument {option}: " in said
    assert reason in said


def test_decoding_on_a_gpu_this_machine_lacks_stops_the_benchmark_before_any_worker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gpu = DecodingConfig(decoder="pyav", hardware="cuda")
    if hardware_problem(gpu) is None:
        pytest.skip("this machine decodes on an NVIDIA GPU")
    with pytest.raises(SystemExit) as exit_status:
        main(["--decoding", gpu.model_dump_json(), "--cameras", "1", "--seconds", "1"])
    assert exit_status.value.code == 2
    assert "NVDEC decoding cannot run here: " in capsys.readouterr().err
