"""Watchlists, entries, images and the blue list through the services (WL-1..6, REC-6, DP-2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, text

from lfr.db.governance import WatchlistEntryRow, WatchlistImageRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.authorisation import Conditions
from lfr.domain.categories import WatchlistCategory
from lfr.domain.refusal import Refusal
from lfr.domain.watchlist import BlueListDraft
from lfr.services import watchlists
from lfr.vision.imageio import decode_image_bytes
from lfr.vision.types import ListKind
from tests.db_fixtures import POLICY, Personas
from tests.integration.governance.world import (
    FACES,
    CachingEnroler,
    World,
    approved,
    audit_count,
    entry,
    face_bytes,
)

pytestmark = pytest.mark.db


def new_watchlist(factory: SessionFactory, personas: Personas, **approval: object) -> str:
    authority_id = approved(factory, personas, **approval)  # type: ignore[arg-type]
    with transaction(factory) as session:
        return watchlists.create_watchlist(
            session, personas.applicant, authority_id, policy=POLICY
        ).id


def entry_count(factory: SessionFactory) -> tuple[int, int]:
    with transaction(factory) as session:
        entries = session.scalar(select(func.count()).select_from(WatchlistEntryRow)) or 0
        images = session.scalar(select(func.count()).select_from(WatchlistImageRow)) or 0
    return entries, images


def test_image_and_template_are_encrypted_at_rest(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """WL-3/WL-5/DP-2: the entry's image passes the gate; image and template are stored
    encrypted (the raw column never holds the image bytes), and read back intact."""
    watchlist_id = new_watchlist(session_factory, personas)
    image = face_bytes(faces_dir, FACES[0])
    with transaction(session_factory) as session:
        row = watchlists.add_entry(
            session, personas.applicant, watchlist_id, entry(), [image], enroler
        )
        entry_id = row.id
    with transaction(session_factory) as session:
        raw_image, raw_template = session.execute(
            text("SELECT image, template FROM watchlist_image WHERE entry_id = :e"),
            {"e": entry_id},
        ).one()
        stored = session.scalars(
            select(WatchlistImageRow).where(WatchlistImageRow.entry_id == entry_id)
        ).one()
    assert bytes(raw_image) != image
    assert image[:64] not in bytes(raw_image)
    # Stored is a fresh JPEG of the same picture (never the uploaded bytes: issue 13).
    assert stored.image.startswith(b"\xff\xd8\xff")
    assert decode_image_bytes(stored.image, name="stored").shape == (
        decode_image_bytes(image, name="uploaded").shape
    )
    template = np.frombuffer(stored.template, dtype="<f4")
    assert template.shape == (128,)
    assert abs(float(np.linalg.norm(template)) - 1.0) < 1e-3
    assert len(bytes(raw_template)) > len(stored.template)  # nonce and tag around it


def test_unusable_image_is_refused_naming_it_and_nothing_is_stored(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """WL-5: a group photograph (two faces) and a non-image are refused, each named, with
    the reason; the good image beside them is not stored either, and nothing is audited."""
    watchlist_id = new_watchlist(session_factory, personas)
    before = audit_count(session_factory)
    images = [
        face_bytes(faces_dir, FACES[0]),
        face_bytes(faces_dir, "two_people.jpg"),
        b"not an image",
    ]
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        watchlists.add_entry(session, personas.applicant, watchlist_id, entry(), images, enroler)
    unmet = {(u.rule, u.field): u.reason for u in refused.value.unmet}
    assert set(unmet) == {("WL-5", "images[1]"), ("WL-5", "images[2]")}
    assert "2 faces" in unmet[("WL-5", "images[1]")]
    assert entry_count(session_factory) == (0, 0)
    assert audit_count(session_factory) == before


@pytest.mark.parametrize(
    ("draft", "approval", "expected"),
    [
        (entry(category=WatchlistCategory.WITNESS), {}, {("AUTH-6", "category")}),
        (entry(reason=" "), {}, {("WL-3", "reason")}),
        (entry(attests_still_of_interest=False), {}, {("WL-3", "attests_still_of_interest")}),
        (entry(date_of_birth=date(2015, 1, 1)), {}, {("WL-3a", "under_18_justification")}),
        (
            entry(category=WatchlistCategory.SUSPECTED_OF_OFFENCE),
            {
                "conditions": Conditions(
                    allowed_categories=frozenset({WatchlistCategory.WANTED_BY_COURTS})
                )
            },
            {("AUTH-6", "category")},
        ),
    ],
)
def test_refused_entries_leave_no_trace(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    draft: object,
    approval: dict[str, object],
    expected: set[tuple[str, str]],
) -> None:
    """WL-3/WL-3a/WL-4/AUTH-6: each refusal names rule and field; nothing stored or audited."""
    watchlist_id = new_watchlist(session_factory, personas, **approval)
    before = audit_count(session_factory)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        watchlists.add_entry(
            session,
            personas.applicant,
            watchlist_id,
            draft,  # type: ignore[arg-type]
            [face_bytes(faces_dir, FACES[0])],
            enroler,
        )
    assert {(u.rule, u.field) for u in refused.value.unmet} == expected
    assert entry_count(session_factory) == (0, 0)
    assert audit_count(session_factory) == before


def test_size_condition_and_duplicates(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """WL-4: the authority's maximum size holds; a subject is listed once; a child is
    accepted with a justification (WL-3a)."""
    watchlist_id = new_watchlist(
        session_factory, personas, conditions=Conditions(max_watchlist_size=1)
    )
    image = [face_bytes(faces_dir, FACES[0])]
    child = entry(
        "PNC 9",
        date_of_birth=date(2015, 1, 1),
        under_18_justification="Missing child at risk of exploitation",
        category=WatchlistCategory.WANTED_BY_COURTS,
    )
    with transaction(session_factory) as session:
        watchlists.add_entry(session, personas.applicant, watchlist_id, child, image, enroler)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        watchlists.add_entry(
            session, personas.applicant, watchlist_id, entry("PNC 9"), image, enroler
        )
    assert {(u.rule, u.field) for u in refused.value.unmet} == {
        ("WL-4", "size"),
        ("WL-4", "subject_reference"),
    }


def test_one_watchlist_per_authority_compiled_by_its_applicant(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """WL-1: a second watchlist for the same authority is refused; so is another compiler."""
    authority_id = approved(session_factory, personas)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        watchlists.create_watchlist(session, personas.engineer, authority_id, policy=POLICY)
    assert ("WL-3", "actor") in {(u.rule, u.field) for u in refused.value.unmet}
    with transaction(session_factory) as session:
        watchlists.create_watchlist(session, personas.applicant, authority_id, policy=POLICY)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        watchlists.create_watchlist(session, personas.applicant, authority_id, policy=POLICY)
    assert {(u.rule, u.field) for u in refused.value.unmet} == {("WL-1", "authority")}


def test_sealed_watchlist_accepts_nothing(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    world: World,
) -> None:
    """WL-1: sealed at the start, the watchlist takes no entry, removal or volunteer."""
    image = face_bytes(faces_dir, FACES[2])
    with pytest.raises(Refusal, match="sealed"), transaction(session_factory) as session:
        watchlists.add_entry(
            session, personas.applicant, world.watchlist_id, entry("PNC 3"), [image], enroler
        )
    with pytest.raises(Refusal, match="sealed"), transaction(session_factory) as session:
        watchlists.remove_entry(
            session, personas.applicant, world.watchlist_id, world.entry_ids[0], "no longer wanted"
        )
    volunteer = BlueListDraft(personas.operator.user_id, "I consent", True, "Taken today")
    with pytest.raises(Refusal, match="REC-6"), transaction(session_factory) as session:
        watchlists.enrol_blue_list(
            session, personas.engineer, world.watchlist_id, volunteer, image, enroler
        )


def test_gallery_of_a_running_deployment(session_factory: SessionFactory, world: World) -> None:
    """REC-2/REC-6: the engine's gallery holds the watchlist and the blue list, by entry id."""
    with transaction(session_factory) as session:
        gallery = watchlists.sealed_templates(session, world.deployment_id).gallery()
    assert set(gallery.subject_ids) == {*world.entry_ids, world.blue_id}
    assert gallery.list_kind(world.blue_id) is ListKind.BLUE_LIST
    assert gallery.list_kind(world.entry_ids[0]) is ListKind.WATCHLIST


def test_gallery_refused_before_the_start(
    session_factory: SessionFactory, planned_world: World
) -> None:
    """DEP-1: no templates leave the database for a deployment that is not running."""
    with pytest.raises(Refusal, match="DEP-2"), transaction(session_factory) as session:
        watchlists.sealed_templates(session, planned_world.deployment_id)


def test_remove_entry_before_the_start(
    session_factory: SessionFactory, personas: Personas, planned_world: World
) -> None:
    """WL-3: an entry comes off an unsealed watchlist with its images, with a reason."""
    with transaction(session_factory) as session:
        watchlists.remove_entry(
            session,
            personas.applicant,
            planned_world.watchlist_id,
            planned_world.entry_ids[0],
            "Arrested yesterday",
        )
    assert entry_count(session_factory) == (1, 1)


def test_one_photograph_is_never_on_both_the_watchlist_and_the_blue_list(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    planned_world: World,
) -> None:
    """REC-6, WL-3: a subject's photograph enrolled as a volunteer (or a volunteer's added as
    a subject) was accepted; a real alert could then be taken for a blue-list test, which is
    never referred. Each is refused, naming the entry that holds the photograph."""
    volunteer = BlueListDraft(personas.silver.user_id, "I consent", True, "Taken today")
    subjects_photograph = face_bytes(faces_dir, FACES[0])
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        watchlists.enrol_blue_list(
            session,
            personas.engineer,
            planned_world.watchlist_id,
            volunteer,
            subjects_photograph,
            enroler,
        )
    assert {(u.rule, u.field) for u in refused.value.unmet} == {("REC-6", "image")}
    assert "already on the list for PNC 1" in refused.value.unmet[0].reason
    volunteers_photograph = face_bytes(faces_dir, FACES[2])
    with (
        pytest.raises(Refusal, match="already on the list for a blue-list volunteer"),
        transaction(session_factory) as session,
    ):
        watchlists.add_entry(
            session,
            personas.applicant,
            planned_world.watchlist_id,
            entry("PNC 3"),
            [volunteers_photograph],
            enroler,
        )
