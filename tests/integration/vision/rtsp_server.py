"""A real RTSP camera for the tests: GStreamer's RTSP server (gst-rtsp-server) serving a
folder of JPEG frames, looped forever, at a fixed frame rate, as H.264.

Run by the *system* Python (Debian's python3-gi and gir1.2-gst-rtsp-server-1.0; `.ci/run`
installs them), as its own process, so that the test can stop it and start it again on the
same port like a camera that goes away:

    /usr/bin/python3 rtsp_server.py PORT FRAMES_DIR [FPS]

serves rtsp://127.0.0.1:PORT/camera and prints "ready" once it listens. It imports
nothing from lfr (it runs outside the project's virtual environment).
"""

from __future__ import annotations

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

MOUNT = "/camera"


def launch_line(frames_dir: str, fps: int) -> str:
    """frame00000.jpg, frame00001.jpg, ... looped, encoded for low latency."""
    return (
        f"( multifilesrc location={frames_dir}/frame%05d.jpg index=0 loop=true "
        f'caps="image/jpeg,framerate={fps}/1" ! jpegdec ! videoconvert '
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def main(argv: list[str]) -> None:
    port, frames_dir = argv[0], argv[1]
    fps = int(argv[2]) if len(argv) > 2 else 25
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(frames_dir, fps))
    factory.set_shared(True)  # one pipeline for every client, like a camera
    server.get_mount_points().add_factory(MOUNT, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {port}")
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main(sys.argv[1:])
