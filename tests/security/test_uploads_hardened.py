"""Uploads (issue 13, WL-5): only JPEG and PNG by their first bytes, a pixel cap read from
the header before decoding, stored images re-encoded (no uploaded byte, no metadata), the
slow work outside the database transaction, and bounds on images per request and on
enrolments at once."""

from __future__ import annotations

import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from lfr.audit import record
from lfr.db.governance import WatchlistImageRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.people import SYSTEM_ACTOR
from lfr.domain.refusal import Refusal
from lfr.services import watchlists
from lfr.services.watchlists import Enrolment, VisionEnroler
from lfr.vision.imageio import ImageError, decode_upload
from lfr.web.context import WebContext
from tests.db_fixtures import Personas
from tests.security.uploads import EPS, OTHER_FORMATS, encoded, png_claiming
from tests.web.test_uploads import entry_form, watchlist_id

pytestmark = pytest.mark.db
__all__ = ["watchlist_id"]

FACE = "face_recognition-examples/obama_small.jpg"


@pytest.fixture
def compiler(
    web_context: WebContext, personas: Personas, client_for, enroler: VisionEnroler
) -> TestClient:
    web_context.use_enroler(enroler)
    client: TestClient = client_for(personas.applicant)
    return client


def _check(client: TestClient, body: bytes, name: str = "x.jpg") -> str:
    response = client.post("/watchlists/check-image", files={"images": (name, body, "image/jpeg")})
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("kind", OTHER_FORMATS)
def test_other_formats_declared_as_jpeg_are_refused_by_their_bytes(
    compiler: TestClient, kind: str
) -> None:
    """Issue 13: TIFF, BMP, GIF, WebP, … sent as image/jpeg were accepted."""
    assert "not a JPEG or PNG image" in _check(compiler, encoded(kind))


def test_eps_never_reaches_a_decoder() -> None:
    """Issue 13: an EPS made Pillow look for Ghostscript."""
    with pytest.raises(ImageError, match="not a JPEG or PNG"):
        decode_upload(EPS, name="x.eps")


def test_a_bomb_is_refused_from_its_header_before_decoding(compiler: TestClient) -> None:
    """Issue 13: a 52 KB PNG claiming 6300×6300 cost 6.7 s and ~300 MB; now the header's
    size is refused first (25 MP cap)."""
    bomb = png_claiming(6300, 6300)
    assert len(bomb) < 100_000
    page = _check(compiler, bomb)
    assert "over the limit of 25,000,000" in page
    assert "refused before decoding" in page


def test_custody_size_images_still_pass_the_cap() -> None:
    decode_upload(encoded("PNG", (4000, 3000)), name="12mp.png")


def _jpeg_with_metadata(faces_dir: Path, marker: bytes) -> bytes:
    picture = Image.open(faces_dir / FACE)
    exif = Image.Exif()
    exif[0x010E] = marker.decode()  # ImageDescription
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", exif=exif.tobytes(), comment=marker, quality=95)
    return buffer.getvalue()


def test_stored_image_is_reencoded_without_metadata(
    compiler: TestClient, web_context: WebContext, watchlist_id: str, faces_dir: Path
) -> None:
    """Issue 13: the stored image is a fresh encoding: no EXIF, no comment, none of the
    uploaded bytes (a TIFF served back as image/jpeg is no longer possible)."""
    marker = b"GPS 51.5007N 0.1246W secret-marker"
    upload = _jpeg_with_metadata(faces_dir, marker)
    response = compiler.post(
        f"/watchlists/{watchlist_id}/entries",
        data=entry_form(),
        files={"images": ("face.jpg", upload, "image/jpeg")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    with transaction(web_context.db) as db:
        stored = db.query(WatchlistImageRow).one().image
    assert marker not in stored
    assert upload[200:264] not in stored  # no run of the uploaded bytes
    assert Image.open(io.BytesIO(stored)).getexif() == {}
    assert "exif" not in Image.open(io.BytesIO(stored)).info


def test_too_many_images_in_one_request_are_refused(
    compiler: TestClient, watchlist_id: str
) -> None:
    files = [("images", (f"{n}.jpg", b"\xff\xd8\xff", "image/jpeg")) for n in range(51)]
    response = compiler.post(f"/watchlists/{watchlist_id}/entries", data=entry_form(), files=files)
    assert response.status_code == 422
    assert "at most 50 images" in response.text


def test_enrolments_at_once_are_bounded(
    monkeypatch: pytest.MonkeyPatch, enroler: VisionEnroler, faces_dir: Path
) -> None:
    """Issue 13: four bombs in parallel peaked at 2.35 GB; at most two images are decoded
    at once, and a third waits (here: is told to retry)."""
    monkeypatch.setattr(watchlists, "ENROLMENT_WAIT_S", 0.1)
    face = (faces_dir / FACE).read_bytes() + os.urandom(8)  # bytes no earlier test enrolled
    slots = watchlists._enrolment_slots
    taken = [slots.acquire(blocking=False) for _ in range(watchlists.MAX_CONCURRENT_ENROLMENTS)]
    try:
        assert all(taken)
        with pytest.raises(Refusal, match="busy"):
            enroler.enrol(face, "face.jpg")
    finally:
        for _ in taken:
            slots.release()
    assert enroler.enrol(face, "face.jpg").template


@pytest.mark.slow
def test_two_enrolments_at_once_do_not_crash_the_process(enroler: VisionEnroler) -> None:
    """Two large images checked at once (what the two enrolment slots allow) crashed the
    server in dlib's detector, which is not safe to call from two threads; each is refused
    with a reason instead."""
    bombs = [png_claiming(4900, 4900), png_claiming(3000, 6000), png_claiming(4000, 4000)] * 6

    def reason(image: bytes) -> str:
        with pytest.raises(Refusal) as refused:
            enroler.enrol(image, "large.png")
        return refused.value.unmet[0].reason

    with ThreadPoolExecutor(max_workers=4) as pool:
        reasons = list(pool.map(reason, bombs))
    assert reasons == ["no face found"] * len(bombs)


class _HeldEnroler:
    """The real enroler, held at its start until released: shows what the database is
    doing while an image is being checked."""

    def __init__(self, inner: VisionEnroler) -> None:
        self.inner = inner
        self.started = threading.Event()
        self.release = threading.Event()

    def enrol(self, image: bytes, name: str) -> Enrolment:
        self.started.set()
        self.release.wait(timeout=30)
        return self.inner.enrol(image, name)


def test_images_are_checked_outside_the_database_transaction(
    web_context: WebContext,
    session_factory: SessionFactory,
    client_for,
    personas: Personas,
    enroler: VisionEnroler,
    watchlist_id: str,
    faces_dir: Path,
) -> None:
    """Issue 13: one 6-image upload held SQLite's write lock for 27–30 s; now another
    request writes while the images are still being checked."""
    held = _HeldEnroler(enroler)
    web_context.use_enroler(held)  # type: ignore[arg-type]
    compiler = client_for(personas.applicant)
    outcome: dict[str, int] = {}

    def upload() -> None:
        response = compiler.post(
            f"/watchlists/{watchlist_id}/entries",
            data=entry_form(),
            files={"images": ("f.jpg", (faces_dir / FACE).read_bytes(), "image/jpeg")},
            follow_redirects=False,
        )
        outcome["status"] = response.status_code

    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert held.started.wait(timeout=30)
        with transaction(session_factory) as db:  # a write while the image is checked
            record(db, actor=SYSTEM_ACTOR, action="x", object_type="x", object_id=1, summary="w")
    finally:
        held.release.set()
        thread.join(timeout=60)
    assert outcome["status"] == 303
