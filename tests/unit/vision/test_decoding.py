"""The decoders a camera's video can go through (`lfr.vision.decoding`, REC-1): PyAV's
FFmpeg, the road to NVDEC on a GPU, gives the engine the frames OpenCV's gives; a damaged
packet costs its frames, not the camera; GPU decoding on a machine without a GPU is
refused naming what is missing, by the settings, the source and the camera worker alike.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from lfr.runtime.engine import EngineJob, run_camera_engine
from lfr.runtime.worker import WorkerContext
from lfr.vision import decoding
from lfr.vision.decoding import DecodingConfig, DecodingError, PyAVCapture, hardware_problem
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import EngineConfig
from lfr.vision.sources import FileSource, SourceError, open_source

HAMILTON = "short_hamilton_clip.mp4"
PYAV = DecodingConfig(decoder="pyav")
NVDEC = DecodingConfig(decoder="pyav", hardware="cuda")


@pytest.fixture(scope="module")
def no_gpu() -> str:
    """Why this machine cannot decode on a GPU (the tests of the refusal need one)."""
    problem = hardware_problem(NVDEC)
    if problem is None:
        pytest.skip("this machine decodes on an NVIDIA GPU")
    return problem


def test_pyav_gives_the_engine_the_frames_opencv_gives(video_dir: Path) -> None:
    """The same H.264 clip, frame for frame and pixel for pixel, with the same clock."""
    opencv = list(FileSource(video_dir / HAMILTON, "cam"))
    pyav = list(FileSource(video_dir / HAMILTON, "cam", decoding=PYAV))
    assert len(pyav) == len(opencv) > 200
    for ours, theirs in zip(pyav, opencv, strict=True):
        assert ours.index == theirs.index
        assert ours.captured_at - pyav[0].captured_at == theirs.captured_at - opencv[0].captured_at
        assert np.array_equal(ours.image, theirs.image)


def test_pyav_reports_each_frame_s_decoding_time(video_dir: Path) -> None:
    source = open_source(str(video_dir / HAMILTON), "cam", decoding=PYAV)
    frames = [source.read(0) for _ in range(10)]
    assert all(frame is not None for frame in frames)
    times = source.decode_times.drain()
    assert len(times) == 10
    assert all(0 < seconds < 5 for seconds in times)
    source.close()


def test_a_damaged_stretch_of_a_file_costs_its_frames_not_the_rest(
    tmp_path: Path, video_dir: Path
) -> None:
    """Bytes overwritten a third of the way into an H.264 clip: PyAV skips the packets
    that no longer decode and goes on to the end (OpenCV's FFmpeg stops there)."""
    data = bytearray((video_dir / HAMILTON).read_bytes())
    damaged_from = len(data) // 3
    noise = np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8)
    data[damaged_from : damaged_from + noise.size] = noise.tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    whole = len(list(FileSource(video_dir / HAMILTON, "cam", decoding=PYAV)))

    source = FileSource(damaged, "cam", decoding=PYAV)
    frames = list(source)
    skipped = source._capture.skipped_packets
    assert isinstance(source._capture, PyAVCapture)
    assert skipped > 0
    assert whole * 0.8 < len(frames) < whole
    assert [f.index for f in frames] == list(range(len(frames)))


def test_gpu_decoding_is_asked_of_pyav_only() -> None:
    with pytest.raises(ValidationError, match="set decoder = 'pyav'"):
        DecodingConfig(hardware="cuda")
    with pytest.raises(ValidationError, match=r"decoding\.decoder"):
        EngineConfig.model_validate({"decoding": {"decoder": "gstreamer"}})


def test_gpu_decoding_without_a_gpu_is_refused_naming_what_is_missing(
    no_gpu: str, video_dir: Path
) -> None:
    assert "NVIDIA GPU" in no_gpu
    with pytest.raises(SourceError) as refused:
        open_source(str(video_dir / HAMILTON), "cam", decoding=NVDEC)
    assert str(refused.value).startswith(f"{video_dir / HAMILTON}: NVDEC (CUDA) decoding")
    assert "NVIDIA GPU" in str(refused.value)


def test_a_stream_to_decode_on_a_missing_gpu_is_down_saying_why(no_gpu: str) -> None:
    """A live camera keeps trying (it is a camera, not a file), DOWN with the reason."""
    source = open_source("rtsp://127.0.0.1:9/camera", "street", connect_timeout_s=1, decoding=NVDEC)
    try:
        deadline = threading.Event()
        while source.last_error is None and not deadline.wait(0.05):
            pass
        assert "NVDEC (CUDA) decoding could not start" in (source.last_error or "")
    finally:
        source.close()


def test_the_camera_worker_decodes_as_its_engine_settings_say(no_gpu: str, video_dir: Path) -> None:
    """One road: the worker a deployment starts opens its camera with the engine's
    `decoding`, here GPU decoding on a machine without one, so its camera is refused."""
    job = EngineJob(
        EngineConfig(decoding=NVDEC),
        Gallery.build([], np.zeros((0, 128), dtype=np.float32)),
        realtime=False,
    )
    context = WorkerContext(
        deployment_id="dep-1",
        camera="entrance",
        source=str(video_dir / HAMILTON),
        job=job,
        emit=lambda _item: None,
        stop=threading.Event(),
    )
    with pytest.raises(SourceError, match="NVDEC"):
        run_camera_engine(context)


def test_a_video_nvdec_has_no_decoder_for_is_refused_saying_so(video_dir: Path) -> None:
    """A GIF with hardware 'cuda': one reason naming the setting, not PyAV's RuntimeError
    out of the source (a worker's traceback, a stream thread that dies without a word)."""
    gif = video_dir / "face-demographics-walking-and-pause.gif"
    with pytest.raises(SourceError) as refused:
        open_source(str(gif), "cam", decoding=NVDEC)
    assert "NVDEC (CUDA) has no decoder for its video's codec" in str(refused.value)
    assert "engine.decoding.hardware to 'none'" in str(refused.value)


def test_a_camera_that_is_down_is_not_blamed_on_the_gpu_where_nvdec_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a machine that decodes on its GPU, a refused connection is the camera's
    reason, as with OpenCV: not "no usable NVIDIA GPU (Connection refused)"."""
    monkeypatch.setattr(decoding, "_cuda_decoding_problem", lambda: None)
    with pytest.raises(DecodingError) as refused:
        decoding.open_pyav("rtsp://127.0.0.1:9/camera", "cuda", timeout_s=1)
    assert "NVIDIA" not in str(refused.value)
    source = open_source("rtsp://127.0.0.1:9/camera", "street", connect_timeout_s=1, decoding=NVDEC)
    try:
        deadline = threading.Event()
        while source.last_error is None and not deadline.wait(0.05):
            pass
        assert source.last_error == "rtsp://127.0.0.1:9/camera: " + (
            "cannot connect (refused, unreachable or not a video stream)"
        )
    finally:
        source.close()
