"""The camera-source check reads only what the force allows and maps nothing (issue 23,
items 4 and 5; REC-1).

Found: the check told an engineer whether any file on the server existed ("no such file",
"not a file", "empty file"), connected to any `http://` address it was given, and a
1,000-character source gave a 500 ("File name too long")."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lfr.db.session import transaction
from lfr.services import cameras
from lfr.setting_groups import WebSettings
from lfr.web.context import WebContext
from tests.db_fixtures import Personas

pytestmark = pytest.mark.db


@pytest.fixture
def engineer(personas: Personas, client_for) -> TestClient:
    return client_for(personas.engineer)


def _refusal(client: TestClient, source: str) -> tuple[int, str]:
    response = client.post("/api/cameras", json={"name": "cam-north", "source": source})
    if response.status_code != 422:
        return response.status_code, response.text
    (problem,) = response.json()["detail"]
    return response.status_code, problem["reason"]


def test_a_1000_character_source_is_refused_not_an_error(engineer: TestClient) -> None:
    status, reason = _refusal(engineer, "/srv/" + "a" * 995)
    assert status == 422
    assert reason == "no video could be read from it. Check the path"


@pytest.mark.parametrize("number", ["99999999999999999999", "\u00b2", "\u0663", "-1", "0x1"])
def test_a_device_number_that_is_no_device_is_refused_not_an_error(
    engineer: TestClient, number: str
) -> None:
    """REC-1: `device:N` with N too large for any device, or written in digits other than
    0-9 (which `int` or OpenCV could not take), is refused on how it is written: a 422,
    never a 500."""
    status, reason = _refusal(engineer, f"device:{number}")
    assert status == 422
    assert "a local device is written device:N with N a number (device:0)" in reason


def test_the_check_never_says_whether_a_server_path_exists(
    engineer: TestClient, tmp_path: Path
) -> None:
    """A missing path, a directory, an empty file and a file that is not video get the same
    words: the check cannot be used to map the server's files."""
    empty = tmp_path / "empty.mp4"
    empty.touch()
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    answers = {
        _refusal(engineer, str(path))
        for path in (tmp_path / "absent.mp4", tmp_path, empty, text, Path("/etc/hostname"))
    }
    assert answers == {(422, "no video could be read from it. Check the path")}


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local port that records whether anything connected to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    yield server
    server.close()


def _connected(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


def test_only_the_source_kinds_the_force_allows_are_read(
    engineer: TestClient, listener: socket.socket, web_context: WebContext
) -> None:
    """Found: the check connected to any http:// address. http is not among the default
    kinds: the refusal names what the force allows and nothing is contacted."""
    port = listener.getsockname()[1]
    status, reason = _refusal(engineer, f"http://127.0.0.1:{port}/video")
    assert status == 422
    assert reason == (
        "http sources are not allowed here; this force allows: device, file, node, rtsp, rtsps"
    )
    assert not _connected(listener)
    with transaction(web_context.db) as session:
        assert cameras.all_cameras(session) == []


def test_the_allowed_kinds_are_the_forces_setting(
    web_context: WebContext, personas: Personas, client_for, video_dir: Path
) -> None:
    """`web.camera_source_kinds`: a force that runs every camera on nodes allows no file."""
    web_context.settings = web_context.settings.model_copy(
        update={"web": WebSettings(camera_source_kinds=frozenset({"node"}))}
    )
    engineer = client_for(personas.engineer)
    clip = str(video_dir / "short_hamilton_clip.mp4")
    status, reason = _refusal(engineer, clip)
    assert (status, reason) == (422, "file sources are not allowed here; this force allows: node")
    page = engineer.post("/cameras", data={"name": "cam-north", "source": clip})
    assert page.status_code == 422
    assert "file sources are not allowed here" in page.text.lower()
    ok = engineer.post("/api/cameras", json={"name": "cam-van", "source": "node:van-3"})
    assert ok.status_code == 201
