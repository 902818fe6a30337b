"""A real MJPEG-over-HTTP camera for tests: it can be stopped and started again on the
same port, which is how a test proves that a stream source reconnects by itself."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

import cv2
import numpy as np

BOUNDARY = "frame"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def jpeg_frame(number: int) -> bytes:
    image = np.full((96, 128, 3), number % 256, dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return bytes(encoded.tobytes())


class MjpegCamera:
    """Serves `multipart/x-mixed-replace` JPEG frames at `fps` on 127.0.0.1:`port`."""

    def __init__(self, port: int, fps: float = 25.0) -> None:
        self.port = port
        self.fps = fps
        self.url = f"http://127.0.0.1:{port}/camera.mjpg"
        self._server: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._stopping.clear()
        server = self._bind()
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def _bind(self, attempts: int = 100) -> ThreadingHTTPServer:
        """The port again after a stop: its old connections may hold it a moment longer
        on a loaded machine, so binding is retried (about 20 s at most)."""
        for _ in range(attempts - 1):
            try:
                return ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            except OSError:
                time.sleep(0.2)
        return ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())

    def stop(self) -> None:
        self._stopping.set()  # open connections end too, like a camera losing power
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                number = 0
                while not camera._stopping.is_set():
                    body = jpeg_frame(number)
                    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    head += f"Content-Length: {len(body)}\r\n\r\n"
                    try:
                        self.wfile.write(head.encode() + body + b"\r\n")
                    except OSError:
                        return
                    number += 1
                    time.sleep(1 / camera.fps)
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: a test's output is its assertions."""

        return Handler
