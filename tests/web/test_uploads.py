"""Bad input on uploads: oversized bodies, wrong content types, unusable images (WL-5) —
each refused with a message naming what was wrong, and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from lfr.db.session import transaction
from lfr.demo import authorise, rehearsal_application
from lfr.services.watchlists import VisionEnroler
from lfr.web.context import WebContext
from tests.db_fixtures import POLICY, Personas, persona_accounts
from tests.web.test_api_doors import actions_on

pytestmark = pytest.mark.db


@pytest.fixture
def watchlist_id(web_context: WebContext, personas: Personas) -> str:
    from lfr.services import watchlists

    _application, authority_id = authorise(
        web_context.db, persona_accounts(personas), rehearsal_application(personas.applicant)
    )
    with transaction(web_context.db) as db:
        return watchlists.create_watchlist(db, personas.applicant, authority_id, policy=POLICY).id


def entry_form() -> dict[str, str]:
    return {
        "subject_reference": "PNC-1",
        "category": "wanted_by_courts",
        "reason": "warrant",
        "image_source": "custody photo",
        "attests_image_is_subject": "true",
        "attests_still_of_interest": "true",
    }


@pytest.fixture
def compiler(web_context: WebContext, personas: Personas, client_for, enroler: VisionEnroler):
    """The applicant's browser, with the engine's enrolment shared (its models load once)."""
    web_context.use_enroler(enroler)
    return client_for(personas.applicant)


def add_entry(
    client: TestClient, watchlist_id: str, name: str, image: bytes, form: dict[str, str]
) -> Response:
    return client.post(
        f"/watchlists/{watchlist_id}/entries",
        data=form,
        files={"images": (name, image, "image/jpeg")},
        follow_redirects=False,
    )


def test_oversized_upload_is_refused_with_the_limit(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    applicant = client_for(personas.applicant)
    limit = web_context.web_settings.max_upload_bytes
    response = applicant.post(
        "/watchlists/check-image",
        files={"images": ("big.jpg", b"\xff" * (limit + 1), "image/jpeg")},
    )
    assert response.status_code == 413
    assert "upload too large" in response.text
    assert "MiB" in response.text


def test_oversized_api_request_answers_json(personas: Personas, client_for) -> None:
    silver = client_for(personas.silver)
    response = silver.post(
        "/api/deployments/x/halt",
        content=b"{" + b" " * (11 * 1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "upload too large" in response.json()["detail"][0]["reason"]


def test_wrong_content_type_is_refused_naming_the_file(
    web_context: WebContext, personas: Personas, watchlist_id: str, client_for
) -> None:
    applicant = client_for(personas.applicant)
    response = applicant.post(
        f"/watchlists/{watchlist_id}/entries",
        data=entry_form(),
        files={"images": ("notes.txt", b"not an image", "text/plain")},
    )
    assert response.status_code == 422
    assert "notes.txt" in response.text
    assert "not JPEG or PNG" in response.text
    assert "PNC-1" not in applicant.get(f"/watchlists/{watchlist_id}").text


def test_image_without_a_face_gets_instant_feedback_and_is_not_stored(
    compiler: TestClient, watchlist_id: str, faces_dir: Path
) -> None:
    """WL-5: the check says why at once; adding the entry with it stores nothing."""
    applicant = compiler
    dogs = (faces_dir / "dlib-examples" / "dogs.jpg").read_bytes()
    check = applicant.post(
        "/watchlists/check-image", files={"images": ("dogs.jpg", dogs, "image/jpeg")}
    )
    assert check.status_code == 200
    assert "dogs.jpg refused" in check.text
    assert "no face" in check.text
    refused = add_entry(applicant, watchlist_id, "dogs.jpg", dogs, entry_form())
    assert refused.status_code == 422
    assert "WL-5" in refused.text
    face = (faces_dir / "face_recognition-examples" / "obama.jpg").read_bytes()
    good = applicant.post(
        "/watchlists/check-image", files={"images": ("obama.jpg", face, "image/jpeg")}
    )
    assert "usable" in good.text
    added = add_entry(applicant, watchlist_id, "obama.jpg", face, entry_form())
    assert added.status_code == 303
    assert "PNC-1" in applicant.get(f"/watchlists/{watchlist_id}").text


def test_missing_attestation_is_refused(
    compiler: TestClient, watchlist_id: str, faces_dir: Path
) -> None:
    """WL-3: the compiling officer must attest both things; the refusal names the field."""
    form = entry_form()
    del form["attests_still_of_interest"]
    face = (faces_dir / "face_recognition-examples" / "obama.jpg").read_bytes()
    response = add_entry(compiler, watchlist_id, "obama.jpg", face, form)
    assert response.status_code == 422
    assert "still_of_interest" in response.text or "still of interest" in response.text


def import_csv(rows: list[str]) -> bytes:
    header = "subject_reference,category,reason,image_source,image"
    return "\n".join([header, *rows]).encode()


def post_import(client: TestClient, watchlist_id: str, images: dict[str, bytes]) -> Response:
    """Imports one row per image (PNC-A, PNC-B, ... in order), both attestations given."""
    rows = [
        f"PNC-{chr(ord('A') + number)},wanted_by_courts,warrant,custody,{name}"
        for number, name in enumerate(images)
    ]
    files = [("table", ("list.csv", import_csv(rows), "text/csv"))]
    files += [("images", (name, data, "image/jpeg")) for name, data in images.items()]
    return client.post(
        f"/watchlists/{watchlist_id}/import",
        data={"attests_image_is_subject": "true", "attests_still_of_interest": "true"},
        files=files,
        follow_redirects=False,
    )


def test_bulk_import_adds_all_rows_or_none(
    compiler: TestClient, watchlist_id: str, faces_dir: Path
) -> None:
    """WL-3/WL-5 per row: one bad row (no face) refuses the whole import, naming the row."""
    applicant = compiler
    examples = faces_dir / "face_recognition-examples"
    obama = (examples / "obama.jpg").read_bytes()
    biden = (examples / "biden.jpg").read_bytes()
    dogs = (faces_dir / "dlib-examples" / "dogs.jpg").read_bytes()
    bad = post_import(applicant, watchlist_id, {"obama.jpg": obama, "dogs.jpg": dogs})
    assert bad.status_code == 422
    assert "row 3" in bad.text
    assert "PNC-A" not in applicant.get(f"/watchlists/{watchlist_id}").text
    good = post_import(applicant, watchlist_id, {"obama.jpg": obama, "biden.jpg": biden})
    assert good.status_code == 303
    page = applicant.get(f"/watchlists/{watchlist_id}").text
    assert "PNC-A" in page
    assert "PNC-B" in page


def test_bulk_import_names_a_missing_column(
    personas: Personas, watchlist_id: str, client_for, faces_dir: Path
) -> None:
    applicant = client_for(personas.applicant)
    response = applicant.post(
        f"/watchlists/{watchlist_id}/import",
        files=[
            ("table", ("list.csv", b"subject_reference,reason\nPNC-A,x\n", "text/csv")),
            ("images", ("a.jpg", b"\xff\xd8", "image/jpeg")),
        ],
    )
    assert response.status_code == 422
    assert "missing column(s): category, image_source, image" in response.text


def import_files(
    table: bytes, images: dict[str, bytes]
) -> list[tuple[str, tuple[str, bytes, str]]]:
    files = [("table", ("list.csv", table, "text/csv"))]
    return files + [("images", (name, data, "image/jpeg")) for name, data in images.items()]


ATTESTED = {"attests_image_is_subject": "true", "attests_still_of_interest": "true"}


def test_bulk_import_takes_several_images_per_subject_and_shows_each_quality(
    compiler: TestClient, watchlist_id: str, faces_dir: Path
) -> None:
    """Issue 15 / WL-3: a row names several images (`;`); the entry keeps them all, and the
    page and the API show the enrolment quality of each."""
    examples = faces_dir / "face_recognition-examples"
    names = ("obama.jpg", "obama2.jpg", "biden.jpg")
    images = {name: (examples / name).read_bytes() for name in names}
    table = import_csv(
        [
            "PNC-O,wanted_by_courts,warrant,custody,obama.jpg; obama2.jpg",
            "PNC-B,wanted_by_courts,warrant,custody,biden.jpg",
        ]
    )
    response = compiler.post(
        f"/watchlists/{watchlist_id}/import",
        data=ATTESTED,
        files=import_files(table, images),
        follow_redirects=False,
    )
    assert response.status_code == 303
    entry, single = compiler.get(f"/api/watchlists/{watchlist_id}").json()["entries"]
    assert entry["images"] == 2
    assert len(entry["image_qualities"]) == 2
    assert all(0 < quality <= 1 for quality in entry["image_qualities"])
    assert len(single["image_qualities"]) == 1
    page = compiler.get(f"/watchlists/{watchlist_id}").text
    shown = ", ".join(f"{quality:.2f}" for quality in entry["image_qualities"])
    assert f"quality {shown}" in page
    # the subject with one photograph is marked, the other not
    rows = page.split('<tr><td data-label="Subject">')[1:]
    marked = {row.split("<")[0]: "one image" in row for row in rows}
    assert marked == {"PNC-O": False, "PNC-B": True}


def api_import(
    client: TestClient, watchlist_id: str, rows: list[str], images: dict[str, bytes]
) -> Response:
    """The JSON bulk import of these CSV rows with these files, both attestations given."""
    return client.post(
        f"/api/watchlists/{watchlist_id}/import",
        data=ATTESTED,
        files=import_files(import_csv(rows), images),
    )


def test_bulk_import_names_the_row_and_file_of_each_problem(
    compiler: TestClient, watchlist_id: str, faces_dir: Path
) -> None:
    """Every problem at once, by row and by file: an unknown category, an image named but
    not uploaded, an image with no face; nothing is added."""
    obama = (faces_dir / "face_recognition-examples" / "obama.jpg").read_bytes()
    dogs = (faces_dir / "dlib-examples" / "dogs.jpg").read_bytes()
    biden = (faces_dir / "face_recognition-examples" / "biden.jpg").read_bytes()
    both = {"obama.jpg": obama, "biden.jpg": biden, "dogs.jpg": dogs}
    absent = "PNC-A,wanted_by_courts,warrant,custody,obama.jpg;absent.jpg"
    unknown = "PNC-B,no_such_category,warrant,custody,obama.jpg"
    parse_refused = api_import(compiler, watchlist_id, [absent, unknown], {"obama.jpg": obama})
    assert parse_refused.status_code == 422
    fields = {problem["field"]: problem["reason"] for problem in parse_refused.json()["detail"]}
    assert fields == {"row 3 category": "unknown category 'no_such_category'"}

    no_face = "PNC-B,wanted_by_courts,warrant,custody,biden.jpg;dogs.jpg"
    missing = api_import(compiler, watchlist_id, [absent, no_face], both)
    assert missing.status_code == 422
    assert [p["field"] for p in missing.json()["detail"]] == ["row 2 image"]
    assert "'absent.jpg' was not uploaded" in missing.json()["detail"][0]["reason"]

    fine = "PNC-A,wanted_by_courts,warrant,custody,obama.jpg"
    refused = api_import(compiler, watchlist_id, [fine, no_face], both)
    assert refused.status_code == 422
    assert {p["field"] for p in refused.json()["detail"]} == {"row 3 dogs.jpg"}
    assert compiler.get(f"/api/watchlists/{watchlist_id}").json()["entries"] == []


def test_bulk_import_through_the_api_answers_the_watchlist(
    compiler: TestClient, watchlist_id: str, faces_dir: Path, web_context: WebContext
) -> None:
    """The JSON door to the bulk import (WL-3..5): 201 with the watchlist, each row audited
    as a single entry is."""
    examples = faces_dir / "face_recognition-examples"
    images = {name: (examples / name).read_bytes() for name in ("obama.jpg", "biden.jpg")}
    rows = [
        "PNC-A,wanted_by_courts,warrant,custody,obama.jpg",
        "PNC-B,wanted_by_courts,warrant,custody,biden.jpg",
    ]
    response = api_import(compiler, watchlist_id, rows, images)
    assert response.status_code == 201
    assert response.headers["location"] == f"/api/watchlists/{watchlist_id}"
    references = [e["subject_reference"] for e in response.json()["entries"]]
    assert references == ["PNC-A", "PNC-B"]
    assert actions_on(web_context, watchlist_id).count("watchlist.add_entry") == 2


def test_image_check_through_the_api_gives_quality_or_reasons(
    compiler: TestClient, faces_dir: Path
) -> None:
    """WL-5 instant feedback as JSON: each image usable with its quality, or refused with
    the gate's reasons; nothing stored."""
    obama = (faces_dir / "face_recognition-examples" / "obama.jpg").read_bytes()
    dogs = (faces_dir / "dlib-examples" / "dogs.jpg").read_bytes()
    response = compiler.post(
        "/api/watchlists/check-image",
        files=[
            ("images", ("obama.jpg", obama, "image/jpeg")),
            ("images", ("dogs.jpg", dogs, "image/jpeg")),
        ],
    )
    assert response.status_code == 200
    usable, refused = response.json()
    assert usable["name"] == "obama.jpg"
    assert usable["usable"] is True
    assert 0 < usable["quality"] <= 1
    assert usable["reasons"] == []
    assert refused == {
        "name": "dogs.jpg",
        "usable": False,
        "quality": None,
        "reasons": [refused["reasons"][0]],
    }
    assert "no face" in refused["reasons"][0]
