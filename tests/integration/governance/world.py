"""Builders for the governance service tests: an approved authority, its watchlist and a
deployment staffed by the personas, each step through the real services and, for the
authority and the deployment, through `lfr.demo`'s building steps (the one builder of
a governance world; this one adds the station application and its watchlist).

Times are relative to the real clock: the authority's window opens an hour ago and closes
in four hours, so "now" is inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from uuid import uuid4

from sqlalchemy import func, select

from lfr import demo
from lfr.audit import AuditEntry
from lfr.db.base import utcnow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.authorisation import (
    Application,
    Conditions,
    PlaceCategory,
    TimeWindow,
)
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Rank, Role
from lfr.domain.watchlist import BlueListDraft, EntryDraft
from lfr.services import cameras, deployments, watchlists
from lfr.services.watchlists import Enrolment, VisionEnroler
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from lfr.vision.types import Box, ListKind, MatchEvent, QualityFactors
from tests.db_fixtures import POLICY, Personas, persona_accounts, trained_account

FACES = ("alex-lacamoire.png", "lin-manuel-miranda.png", "obama_small.jpg")
PLACES = ("Station exit north", "Station exit south")
CAMERAS = ("cam-north", "cam-south")
CLIP = "short_hamilton_clip.mp4"
"""Each camera's source unless a test names others (a start needs one per camera, REC-1)."""
ON_VAN: dict[str, str | None] = dict.fromkeys(CAMERAS, "node:van-3")
"""Both cameras run by node van-3: none runs in the service."""


class CachingEnroler:
    """The real `VisionEnroler`, remembering each image's result so that a test suite that
    enrols the same photograph many times runs the detector and describer once per photo."""

    def __init__(self, inner: VisionEnroler) -> None:
        self._inner = inner
        self._seen: dict[bytes, Enrolment] = {}
        self.calls = 0

    def enrol(self, image: bytes, name: str) -> Enrolment:
        self.calls += 1
        if image not in self._seen:
            self._seen[image] = self._inner.enrol(image, name)
        return self._seen[image]


@cache
def face_bytes(faces_dir: Path, name: str) -> bytes:
    return (faces_dir / "face_recognition-examples" / name).read_bytes()


def application(
    applicant: Actor, *, urgent: bool = False, window: TimeWindow | None = None
) -> Application:
    now = utcnow()
    return Application(
        applicant_id=applicant.user_id,
        title="Station exits, robbery suspects",
        lawful_basis="Common-law policing powers; DPA 2018 s35, Schedule 8 para 1",
        legitimate_aim="Prevention and detection of crime",
        intelligence_case="Robberies cluster at the station exits in the evening",
        necessity="Suspects evade patrols in the crowd",
        proportionality="Five hours, two cameras, a small watchlist",
        alternatives="Patrols and CCTV review tried; insufficient",
        places=PLACES,
        place_category=PlaceCategory.CRIME_HOTSPOT,
        window=window or TimeWindow(now - timedelta(hours=1), now + timedelta(hours=4)),
        cameras=CAMERAS,
        scale_justification="Two exits cover the routes; five hours cover the peak",
        watchlist_rationale="Wanted robbery suspects",
        watchlist_categories=frozenset(
            {WatchlistCategory.WANTED_BY_COURTS, WatchlistCategory.SUSPECTED_OF_OFFENCE}
        ),
        safeguards="Signage, leaflets, immediate deletion of non-matches",
        equality_considerations="Threshold chosen from the published evaluation",
        urgent=urgent,
        urgency_reason="Imminent threat" if urgent else "",
    )


def submitted(factory: SessionFactory, personas: Personas, **changes: object) -> str:
    return demo.submitted(
        factory,
        personas.applicant,
        application(personas.applicant, **changes),  # type: ignore[arg-type]
    )


def approved(
    factory: SessionFactory,
    personas: Personas,
    *,
    decider: Actor | None = None,
    conditions: Conditions | None = None,
    consult: bool = True,
    **changes: object,
) -> str:
    """Submit, approve and (by default) consult; return the authority id."""
    _, authority_id = demo.authorise(
        factory,
        persona_accounts(personas),
        application(personas.applicant, **changes),  # type: ignore[arg-type]
        decider=decider,
        conditions=conditions,
        consult=consult,
        reasons="Necessary and proportionate",
    )
    return authority_id


def entry(reference: str = "PNC 20/123456A", **changes: object) -> EntryDraft:
    values: dict[str, object] = {
        "subject_reference": reference,
        "category": WatchlistCategory.WANTED_BY_COURTS,
        "reason": "Failed to appear, robbery trial",
        "image_source": "Custody image",
        "attests_image_is_subject": True,
        "attests_still_of_interest": True,
    }
    values.update(changes)
    return EntryDraft(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class World:
    authority_id: str
    watchlist_id: str
    deployment_id: str
    entry_ids: tuple[str, ...]
    blue_id: str


def build_world(
    factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    *,
    start: bool = True,
    conditions: Conditions | None = None,
    urgent: bool = False,
    sources: Mapping[str, str | None] | None = None,
) -> World:
    """An approved (with `conditions`, if given), consulted authority; a watchlist of two
    subjects and one blue-list volunteer; a deployment staffed by the personas, each camera
    given its source before the start (REC-1): the one `sources` names (None: no source),
    else the sample clip, read here; started unless `start` is False. `urgent`: an
    Inspector's urgent authority, unconfirmed."""
    decider = personas.inspector if urgent else None
    authority_id = approved(
        factory, personas, conditions=conditions, decider=decider, urgent=urgent
    )
    with transaction(factory) as session:
        watchlist = watchlists.create_watchlist(
            session, personas.applicant, authority_id, policy=POLICY
        )
        entries = tuple(
            watchlists.add_entry(
                session,
                personas.applicant,
                watchlist.id,
                entry(reference),
                [face_bytes(faces_dir, face)],
                enroler,
            ).id
            for reference, face in (("PNC 1", FACES[0]), ("PNC 2", FACES[1]))
        )
        blue = watchlists.enrol_blue_list(
            session,
            personas.engineer,
            watchlist.id,
            BlueListDraft(
                personas.engineer.user_id,
                "I consent to today's test",
                True,
                "Photographed on the day",
            ),
            face_bytes(faces_dir, FACES[2]),
            enroler,
        )
        watchlist_id, blue_id = watchlist.id, blue.id
    deployment_id = demo.plan_and_staff(
        factory,
        persona_accounts(personas),
        authority_id,
        PLACES[:1],
        CAMERAS,
        planned_by=personas.silver,
        staffed_by=personas.silver,
    )
    clip = str(faces_dir.parent / "video" / CLIP)
    with transaction(factory) as session:
        for camera in CAMERAS:
            source = (sources or {}).get(camera, clip)
            if source is not None:
                cameras.configure_camera(session, personas.engineer, camera, source)
    world = World(authority_id, watchlist_id, deployment_id, entries, blue_id)
    if start:
        with transaction(factory) as session:
            deployments.start_deployment(
                session, personas.silver, world.deployment_id, policy=POLICY
            )
    return world


def extra_person(factory: SessionFactory, username: str, rank: Rank, *roles: Role) -> Actor:
    """Another trained account (e.g. a second operator to race the first)."""
    with transaction(factory) as session:
        return trained_account(
            session, username=username, display_name=username.title(), rank=rank, roles=roles
        )


def match_event(
    world: World,
    faces_dir: Path,
    *,
    subject_id: str | None = None,
    list_kind: ListKind = ListKind.WATCHLIST,
    camera: str = CAMERAS[0],
    score: float = 0.97,
    threshold: float = DEFAULT_ALERT_THRESHOLD,
    at: datetime | None = None,
) -> MatchEvent:
    when = at or utcnow()
    return MatchEvent(
        deployment_id=world.deployment_id,
        camera=camera,
        track_id=7,
        subject_id=subject_id or world.entry_ids[0],
        list_kind=list_kind,
        score=score,
        threshold=threshold,
        observations=3,
        box=Box(left=10, top=10, right=110, bottom=130),
        probe_jpeg=face_bytes(faces_dir, "obama_small.jpg"),
        quality=QualityFactors(
            inter_eye_px=42,
            face_height_px=120,
            sharpness=80,
            brightness=120,
            contrast=40,
            yaw_deg=5,
            roll_deg=2,
            score=0.9,
        ),
        first_seen=when - timedelta(seconds=2),
        captured_at=when - timedelta(seconds=1),
        emitted_at=when,
        event_id=uuid4(),
    )


def audit_count(factory: SessionFactory) -> int:
    with transaction(factory) as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0
