"""Camera sources are read before they are saved (REC-1): at the form and the JSON route a
source from which no frame can be read is refused in plain words, what was typed kept and
nothing saved; a node's camera is read on its node, not here."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from lfr.audit import AuditEntry
from lfr.db.session import transaction
from lfr.services import cameras
from lfr.web.context import WebContext
from tests.db_fixtures import Personas

pytestmark = pytest.mark.db

MISSING = "/srv/rehearsal/no-such-clip.mp4"


def saved(context: WebContext) -> dict[str, str]:
    with transaction(context.db) as session:
        return {c.name: c.source for c in cameras.all_cameras(session)}


def configured(context: WebContext) -> int:
    with transaction(context.db) as session:
        entries = select(func.count()).where(AuditEntry.action == "camera.configure")
        return session.scalar(entries) or 0


def test_the_form_refuses_a_source_that_gives_no_frame_keeping_what_was_typed(
    web_context: WebContext, personas: Personas, video_dir: Path, client_for
) -> None:
    engineer = client_for(personas.engineer)
    refused = engineer.post("/cameras", data={"name": "cam-north", "source": MISSING})
    assert refused.status_code == 422
    assert 'class="problems"' in refused.text
    assert "No video could be read from it" in refused.text
    assert "Check the path" in refused.text
    assert 'value="cam-north"' in refused.text
    assert f'value="{MISSING}"' in refused.text
    assert (saved(web_context), configured(web_context)) == ({}, 0)

    clip = str(video_dir / "short_hamilton_clip.mp4")
    ok = engineer.post(
        "/cameras", data={"name": "cam-north", "source": clip}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert saved(web_context) == {"cam-north": clip}


def test_the_api_refuses_it_too_and_a_node_s_camera_is_not_read_here(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    engineer = client_for(personas.engineer)
    refused = engineer.post("/api/cameras", json={"name": "cam-north", "source": MISSING})
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert (problem["rule"], problem["field"]) == ("REC-1", "source")
    assert "no video could be read from it" in problem["reason"]
    on_node = engineer.post("/api/cameras", json={"name": "cam-van", "source": "node:van-3"})
    assert on_node.status_code == 201
    assert saved(web_context) == {"cam-van": "node:van-3"}
