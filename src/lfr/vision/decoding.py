"""How a camera's video becomes frames: OpenCV's FFmpeg (the default) or FFmpeg through
PyAV, which can decode on the GPU (NVDEC) by settings (`[engine.decoding]`).

A 1080p H.264 frame costs a few milliseconds of CPU to decode, and a GPU machine that
carries dozens of cameras would spend its cores on decoding alone. With
``decoder = "pyav"`` and ``hardware = "cuda"`` FFmpeg decodes on the GPU's video engine
(NVDEC, through the CUDA hardware context PyAV's wheel is built with) and only the
finished picture is copied back and turned into the engine's RGB. Without a GPU the
same setting is refused before anything starts (`hardware_problem`), naming what is
missing; the CPU path (``opencv``) is unchanged.

`open_capture` returns an object with the part of `cv2.VideoCapture` the sources use
(`read`, `get(cv2.CAP_PROP_FPS)`, `isOpened`, `release`), whichever decoder runs, so the
sources' buffering, pacing, reconnecting and clocks are one code for both.
"""

from __future__ import annotations

import functools
import io
from collections import deque
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

import cv2
from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    import av.container
    import av.video.frame

Decoder = Literal["opencv", "pyav"]
Hardware = Literal["none", "cuda"]


class DecodingConfig(BaseModel):
    """Which decoder turns a file's or a stream's video into frames (local devices are
    always read through OpenCV)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decoder: Decoder = Field(
        default="opencv",
        description=(
            "'opencv': OpenCV's FFmpeg, on the CPU (the default). 'pyav': FFmpeg through "
            "PyAV, on the CPU or, with hardware 'cuda', on the GPU."
        ),
    )
    hardware: Hardware = Field(
        default="none",
        description=(
            "'cuda': decode on an NVIDIA GPU's video engine (NVDEC); needs decoder 'pyav', "
            "an NVIDIA GPU and its driver, and is refused at start without them. 'none': "
            "the CPU."
        ),
    )

    @model_validator(mode="after")
    def _hardware_needs_pyav(self) -> DecodingConfig:
        if self.hardware != "none" and self.decoder != "pyav":
            raise ValueError(
                f"hardware {self.hardware!r} decodes through PyAV: set decoder = 'pyav'"
            )
        return self


class DecodingError(RuntimeError):
    """A video the chosen decoder cannot open; `str()` says why in plain words."""


class PyAVCapture:
    """A file or stream decoded by FFmpeg through PyAV, read like a `cv2.VideoCapture`.

    A packet that does not decode (a corrupt slice, a stream's lost data) is skipped and
    counted, so one damaged packet never ends a camera (OpenCV's capture ends a file
    there)."""

    def __init__(self, container: av.container.InputContainer) -> None:
        self._container = container
        self._stream = container.streams.video[0]
        self._stream.thread_type = "AUTO"  # frame and slice threads: the CPU path's speed
        self._packets = container.demux(self._stream)
        self._pending: deque[av.video.frame.VideoFrame] = deque()
        self._open = True
        self.skipped_packets = 0

    def isOpened(self) -> bool:  # noqa: N802 - the cv2.VideoCapture name the sources call
        return self._open

    def read(self) -> tuple[bool, Any]:
        """The next frame as BGR (OpenCV's order, which the sources turn into RGB), or
        ``(False, None)`` at the end of the video or once released."""
        frame = self._next_frame() if self._open else None
        if frame is None:
            return False, None
        return True, frame.to_ndarray(format="bgr24")

    def get(self, prop: int) -> float:
        """The stated frame rate for `cv2.CAP_PROP_FPS` (0 when the video states none);
        0 for any other property."""
        if prop != cv2.CAP_PROP_FPS:
            return 0.0
        rate: Fraction | None = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else 0.0

    def release(self) -> None:
        if self._open:
            self._open = False
            self._pending.clear()
            self._container.close()

    def _next_frame(self) -> av.video.frame.VideoFrame | None:
        import av.error

        while not self._pending:
            try:
                packet = next(self._packets)
            except StopIteration:
                return None
            except av.error.FFmpegError:  # the stream broke: the end, as OpenCV reports it
                return None
            try:
                self._pending.extend(packet.decode())
            except av.error.FFmpegError:  # invalid data, or a decoder's error on it
                self.skipped_packets += 1
        return self._pending.popleft()


def open_pyav(spec: str, hardware: Hardware, timeout_s: float | None = None) -> PyAVCapture:
    """A file path or stream URL opened through PyAV, on NVDEC with ``hardware='cuda'``;
    `DecodingError` saying why when it cannot be opened."""
    import av
    import av.error
    from av.codec.hwaccel import HWAccel

    hwaccel = HWAccel("cuda", allow_software_fallback=False) if hardware == "cuda" else None
    timeout = (timeout_s, timeout_s) if timeout_s is not None else None
    try:
        container = av.open(spec, timeout=timeout, hwaccel=hwaccel)
    except av.error.FFmpegError:
        raise DecodingError(_opening_failure(hardware)) from None
    except RuntimeError:  # PyAV: none of its video streams has a codec NVDEC decodes
        raise DecodingError(
            "NVDEC (CUDA) has no decoder for its video's codec (a GIF's, for one): set "
            "engine.decoding.hardware to 'none' to decode on the CPU"
        ) from None
    if not container.streams.video:
        container.close()
        raise DecodingError("holds no video stream")
    return PyAVCapture(container)


def _opening_failure(hardware: Hardware) -> str:
    """Why FFmpeg did not open a video: the GPU only where NVDEC cannot decode on this
    machine at all, so that a camera that is down or a file that is no video is not
    reported as a missing GPU."""
    problem = _cuda_decoding_problem() if hardware == "cuda" else None
    if problem is not None:
        return f"NVDEC (CUDA) decoding could not start: {problem}"
    return "cannot be decoded as video (not a video, or cut off before its index)"


def _cuda_absent(error: Exception) -> str:
    reason = getattr(error, "strerror", None) or str(error)
    return f"FFmpeg found no usable NVIDIA GPU and driver ({reason})"


def open_capture(spec: str, decoding: DecodingConfig, timeout_s: float | None = None) -> Any:
    """A capture of a file path or stream URL by the configured decoder: OpenCV's
    (``isOpened()`` False when it cannot open it, as before) or PyAV's (`DecodingError`)."""
    if decoding.decoder == "pyav":
        return open_pyav(spec, decoding.hardware, timeout_s)
    if timeout_s is None:
        return cv2.VideoCapture(spec, cv2.CAP_FFMPEG)
    milliseconds = int(timeout_s * 1000)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        milliseconds,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        milliseconds,
    ]
    return cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)


def hardware_problem(decoding: DecodingConfig) -> str | None:
    """Why the configured decoding cannot run on this machine, or None: for the start
    checks, so that a GPU setting on a machine without one stops the start with one line
    instead of every camera failing to open."""
    if decoding.hardware == "none":
        return None
    return _cuda_decoding_problem()


@functools.cache
def _cuda_decoding_problem() -> str | None:
    """Open a small H.264 clip, made here in memory, with NVDEC (once a process)."""
    import av
    import av.error
    from av.codec.hwaccel import HWAccel, hwdevices_available

    if "cuda" not in hwdevices_available():
        return "this PyAV's FFmpeg was built without CUDA"
    clip = _tiny_h264_clip()
    try:
        hwaccel = HWAccel("cuda", allow_software_fallback=False)
        with av.open(clip, "r", hwaccel=hwaccel) as video:
            next(video.decode(video=0))
    except (av.error.FFmpegError, StopIteration) as error:
        return _cuda_absent(error)
    return None


def _tiny_h264_clip() -> io.BytesIO:
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for shade in range(4):
            picture = np.full((64, 64, 3), 60 * shade, dtype=np.uint8)
            output.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        output.mux(stream.encode(None))
    buffer.seek(0)
    return buffer
