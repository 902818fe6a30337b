"""Watchlists and the blue list (WL-1..6, REC-6): the use-cases, each one transaction.

An image enters only through an `Enroler`, which applies the engine's enrolment quality
gate (WL-5) and returns the template; image and template are stored encrypted (DP-2).
`VisionEnroler` is the real one (dlib detection, landmarks, quality gate, descriptor).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.governance import (
    AuthorityRow,
    BlueListEntryRow,
    DeploymentRow,
    WatchlistEntryRow,
    WatchlistImageRow,
    WatchlistRow,
)
from lfr.db.people import User
from lfr.domain import watchlist as rules
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import NotFound, Refusal, Refusals, Unmet
from lfr.domain.rules import blank
from lfr.domain.watchlist import BlueListDraft, EntryDraft, ListedEntry
from lfr.services._rows import audited, found, locked, moment
from lfr.services.authorisations import authority_of, locked_authority
from lfr.services.policy import GovernancePolicy
from lfr.vision.analysis import FaceAnalyser
from lfr.vision.decision import Description
from lfr.vision.describers import Describer, build_describer
from lfr.vision.describers.base import l2_normalise
from lfr.vision.detection import build_detector
from lfr.vision.engine_config import EngineConfig
from lfr.vision.imageio import ImageError, decode_upload, reencode_for_storage
from lfr.vision.matcher import TemplateSet
from lfr.vision.memory import release_freed_memory
from lfr.vision.quality import EnrolmentRefused, QualityGate, check_enrolment_image
from lfr.vision.types import ListKind

# --- enrolment (WL-5) ----------------------------------------------------------------------


MAX_CONCURRENT_ENROLMENTS = 2
"""Images decoded and described at once, across all requests. Each costs up to ~75 MB
(a 25 MP image) and a CPU core for seconds: more lets a burst of uploads finish sooner but
starves the live cameras and risks memory; fewer makes uploads wait."""

ENROLMENT_WAIT_S = 60.0
"""How long an upload waits for a free enrolment slot before being told to retry."""

ENROLMENT_MAX_SIDE = 2048
"""Longest side an enrolment image is worked on and stored at: ample for a face (the gate
wants far fewer pixels between the eyes), and it bounds the detector's time and memory
whatever size (up to the 25 MP cap) was uploaded."""

MAX_IMAGES_PER_REQUEST = 50
"""Images one request may carry (one entry's photographs, or a bulk import's)."""

_enrolment_slots = threading.BoundedSemaphore(MAX_CONCURRENT_ENROLMENTS)

SAME_PHOTOGRAPH_COSINE = 0.9995
"""Two templates this alike come from one photograph: the same pixels give the same
template, while two photographs of one person stay below it (none of lfw-dev's 216,090
such pairs reaches 0.999 with the shipped describer; the highest is 0.9983)."""


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A usable image's template (float32 bytes), where it came from, and the image to
    store: re-encoded from the decoded pixels, never the uploaded bytes."""

    template: bytes
    model_id: str
    quality_score: float
    image: bytes


class Enroler(Protocol):
    def enrol(self, image: bytes, name: str) -> Enrolment:
        """The template of the one usable face in `image`, or `Refusal` (WL-5) saying why."""
        ...


class VisionEnroler:
    """The engine's enrolment: decode, one face, the strict enrolment gate, describe."""

    def __init__(
        self,
        analyser: FaceAnalyser,
        describer: Describer,
        gate: QualityGate | None = None,
        description: Description | None = None,
    ) -> None:
        self._description = description or Description()
        self._analyser = analyser.cutting(self._description.alignments(describer))
        self._describer = describer
        self._gate = gate or QualityGate.for_enrolment()

    @classmethod
    def default(cls) -> VisionEnroler:
        """The enrolment of the engine's default configuration (dlib HOG, dlib ResNet)."""
        return cls.for_engine(EngineConfig())

    @classmethod
    def for_engine(cls, config: EngineConfig) -> VisionEnroler:
        """Enrolment as the cameras running `config` describe (models load on first use):
        its detector at full resolution, its describer and enrolment gate, so that
        templates and probes are alike."""
        describer = build_describer(config.describer)
        analyser = FaceAnalyser(build_detector(config.enrolment_detector()))
        return cls(analyser, describer, config.enrolment_gate, config.description)

    def enrol(self, image: bytes, name: str) -> Enrolment:
        if not _enrolment_slots.acquire(timeout=ENROLMENT_WAIT_S):
            raise Refusal("WL-5", "the server is busy checking other images: try again", name)
        try:
            outcome = self._enrolment_or_reason(image, name)
        finally:
            _enrolment_slots.release()
        # Decoding up to 25 MP needs ~100 MB for a moment, in whichever worker thread ran
        # it; glibc would keep that memory in the thread's heap, so a server that had seen
        # a few large uploads would hold the most each thread ever decoded. Trimming now,
        # with the pixels freed (no refusal holds them), costs a few milliseconds.
        release_freed_memory()
        if isinstance(outcome, str):
            raise Refusal("WL-5", outcome, name)
        return outcome

    def _enrolment_or_reason(self, image: bytes, name: str) -> Enrolment | str:
        """The enrolment, or why the image cannot be used."""
        try:
            pixels = decode_upload(image, name=name, max_side=ENROLMENT_MAX_SIDE)
            face = check_enrolment_image(pixels, self._analyser, self._gate)
        except (ImageError, EnrolmentRefused) as refused:
            return refused.reason
        descriptor = self._description.describe(self._describer, [face])[0]
        return Enrolment(
            template=np.asarray(descriptor, dtype="<f4").tobytes(),
            model_id=self._describer.model_id,
            quality_score=face.quality.score,
            image=reencode_for_storage(pixels),
        )


class PreparedEnroler:
    """Enrolments worked out before the database transaction opens.

    Decoding an image and finding its face take seconds; done inside the transaction they
    held SQLite's write lock, so one upload blocked every other request. The route prepares
    them first (`prepare_enrolments`), then the service runs its rules in a short
    transaction and takes each image's result from here.
    """

    def __init__(self, results: dict[bytes, Enrolment | list[str]]) -> None:
        self._results = results

    def enrol(self, image: bytes, name: str) -> Enrolment:
        result = self._results.get(image)
        if result is None:
            raise Refusal("WL-5", "the image was not checked before the transaction", name)
        if isinstance(result, list):
            raise Refusals([Unmet("WL-5", reason, name) for reason in result])
        return result


def prepare_enrolments(enroler: Enroler, images: Sequence[bytes]) -> PreparedEnroler:
    """Check and describe each distinct image now, outside any transaction (WL-5)."""
    if len(images) > MAX_IMAGES_PER_REQUEST:
        raise Refusal("WL-5", f"at most {MAX_IMAGES_PER_REQUEST} images per request", "images")
    results: dict[bytes, Enrolment | list[str]] = {}
    for image in images:
        if image in results:
            continue
        try:
            results[image] = enroler.enrol(image, "image")
        except Refusal as refusal:
            results[image] = [unmet.reason for unmet in refusal.unmet]
    return PreparedEnroler(results)


def _enrol_all(enroler: Enroler, images: Sequence[bytes]) -> list[Enrolment]:
    """Enrol every image; refuse naming each unusable one (`images[i]`), keep none."""
    if not images:
        raise Refusal("WL-3", "at least one image of the subject is needed", "images")
    if len(images) > MAX_IMAGES_PER_REQUEST:
        raise Refusal("WL-5", f"at most {MAX_IMAGES_PER_REQUEST} images per entry", "images")
    enrolled: list[Enrolment] = []
    refused: list[Unmet] = []
    for index, image in enumerate(images):
        try:
            enrolled.append(enroler.enrol(image, f"images[{index}]"))
        except Refusal as refusal:
            refused.extend(refusal.unmet)
    if refused:
        raise Refusals(refused)
    return enrolled


# --- the watchlist -------------------------------------------------------------------------


def create_watchlist(
    session: Session,
    actor: Actor,
    authority_id: str,
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
) -> WatchlistRow:
    """The authority's one watchlist (WL-1), compiled by its applicant while it is in force."""
    authority, problems = locked_authority(session, authority_id, moment(now), policy)
    if actor.user_id != authority.application.applicant_id or not actor.has(Role.APPLICANT):
        problems.append(Unmet("WL-3", "the authority's applicant compiles it", "actor"))
    existing = session.scalars(
        select(WatchlistRow.id).where(WatchlistRow.authority_id == authority_id)
    ).all()
    problems += rules.new_watchlist_problems(len(existing))
    if problems:
        raise Refusals(problems)
    row = WatchlistRow(authority_id=authority_id, created_by=actor.user_id)
    session.add(row)
    session.flush()
    audited(session, actor, row, "watchlist.create", "watchlist created")
    return row


def listed_entries(watchlist: WatchlistRow) -> list[ListedEntry]:
    return [ListedEntry(e.subject_reference, e.category, e.added_at) for e in watchlist.entries]


def _refuse_if_destroyed(watchlist: WatchlistRow) -> None:
    """WL-6, DP-1: once its deployment ended or was cancelled and its images were destroyed,
    a watchlist takes no more images: they would be stored after the destruction, for ever."""
    if watchlist.biometrics_destroyed_at is not None:
        raise Refusal(
            "WL-6",
            "its deployment is over and its images were destroyed: nothing more is enrolled",
            "watchlist",
        )


def add_entry(
    session: Session,
    actor: Actor,
    watchlist_id: str,
    entry: EntryDraft,
    images: Sequence[bytes],
    enroler: Enroler,
    *,
    now: datetime | None = None,
) -> WatchlistEntryRow:
    """Add a subject with their image(s): WL-3/WL-3a fields (a photograph already on the
    list for a subject is refused: one photograph, one subject), WL-4 composition, AUTH-6
    scope, WL-5 image quality. A refusal names every problem and stores nothing."""
    at = moment(now)
    watchlist = locked(session, WatchlistRow, watchlist_id, "watchlist")
    _refuse_if_destroyed(watchlist)
    scope = authority_of(watchlist_authority(session, watchlist)).scope
    sealed = watchlist.sealed_at is not None
    existing = listed_entries(watchlist)
    rules.check_add_entry(actor, watchlist.created_by, entry, existing, scope, sealed, at)
    enrolled = _enrol_all(enroler, images)
    already = photographs_listed(listed_templates(session, watchlist.id), enrolled)
    if already:
        raise Refusals(already)
    row = WatchlistEntryRow(
        watchlist_id=watchlist.id,
        subject_reference=entry.subject_reference.strip(),
        category=entry.category,
        reason=entry.reason.strip(),
        image_source=entry.image_source.strip(),
        date_of_birth=entry.date_of_birth,
        under_18_justification=entry.under_18_justification.strip() or None,
        attested_by=actor.user_id,
        added_at=at,
        images=[
            WatchlistImageRow(
                image=e.image,
                template=e.template,
                model_id=e.model_id,
                quality_score=e.quality_score,
            )
            for e in enrolled
        ],
    )
    session.add(row)
    session.flush()
    minor = rules.is_under_18(entry.date_of_birth, scope.window.start.date())
    audited(
        session,
        actor,
        watchlist,
        "watchlist.add_entry",
        f"entry {row.subject_reference} added ({row.category.value})",
        after={
            "entry_id": row.id,
            "subject_reference": row.subject_reference,
            "category": row.category,
            "images": len(enrolled),
            "under_18": minor,
            "attested": ["image_is_subject", "still_of_interest"],
        },
        reason=row.reason,
    )
    return row


def entries_problems(
    session: Session,
    actor: Actor,
    watchlist_id: str,
    entries: Sequence[tuple[EntryDraft, Sequence[bytes]]],
    enroler: Enroler,
    *,
    now: datetime | None = None,
) -> list[list[Unmet]]:
    """What `add_entry` would refuse of each entry, added in this order, without writing:
    a bulk import checks every row before its first (short) write transaction."""
    at = moment(now)
    watchlist = found(session, WatchlistRow, watchlist_id, "watchlist")
    _refuse_if_destroyed(watchlist)
    scope = authority_of(watchlist_authority(session, watchlist)).scope
    sealed = watchlist.sealed_at is not None
    existing = listed_entries(watchlist)
    templates = listed_templates(session, watchlist.id)
    found_problems: list[list[Unmet]] = []
    for entry, images in entries:
        problems: list[Unmet] = []
        try:
            rules.check_add_entry(actor, watchlist.created_by, entry, existing, scope, sealed, at)
            if entry.category is not None:  # counted as the list's next entry
                existing.append(ListedEntry(entry.subject_reference.strip(), entry.category, at))
        except Refusal as refusal:
            problems += refusal.unmet
        try:
            problems += photographs_listed(templates, _enrol_all(enroler, images))
        except Refusal as refusal:
            problems += refusal.unmet
        found_problems.append(problems)
    return found_problems


@dataclass(frozen=True)
class ListedTemplates:
    """The templates on a list, as unit rows, with the subject each belongs to."""

    model_ids: tuple[str, ...]
    subjects: tuple[str, ...]
    units: np.ndarray


BLUE_LIST_SUBJECT = "a blue-list volunteer"
"""How a blue-list photograph is named when another list entry would repeat it."""


def listed_templates(session: Session, watchlist_id: str) -> ListedTemplates:
    """Every template on the list and on its blue list (REC-6: a volunteer's photograph on
    the watchlist, or a subject's on the blue list, would turn a real alert into a test),
    read in two queries (the images themselves stay unread)."""
    rows: list[tuple[str, bytes, str]] = [
        (model, template, subject)
        for model, template, subject in session.execute(
            select(
                WatchlistImageRow.model_id,
                WatchlistImageRow.template,
                WatchlistEntryRow.subject_reference,
            )
            .join(WatchlistEntryRow, WatchlistImageRow.entry_id == WatchlistEntryRow.id)
            .where(WatchlistEntryRow.watchlist_id == watchlist_id)
        )
    ]
    blue = session.execute(
        select(BlueListEntryRow.model_id, BlueListEntryRow.template).where(
            BlueListEntryRow.watchlist_id == watchlist_id
        )
    )
    rows += [(model, template, BLUE_LIST_SUBJECT) for model, template in blue if template]
    vectors = [np.frombuffer(template, dtype="<f4") for _, template, _ in rows]
    return ListedTemplates(
        tuple(model for model, _, _ in rows),
        tuple(subject for _, _, subject in rows),
        l2_normalise(np.stack(vectors)) if vectors else np.zeros((0, 0), dtype=np.float32),
    )


def photographs_listed(listed: ListedTemplates, enrolled: Sequence[Enrolment]) -> list[Unmet]:
    """Each of `enrolled` whose photograph is already on the list (WL-3: one photograph,
    one subject), named by its place (`images[i]`) and the subject it is listed for."""
    problems: list[Unmet] = []
    for index, enrolment in enumerate(enrolled):
        probe = l2_normalise(np.frombuffer(enrolment.template, dtype="<f4"))[0]
        same_model = np.array([m == enrolment.model_id for m in listed.model_ids], dtype=bool)
        if not same_model.any() or listed.units.shape[1] != probe.shape[0]:
            continue
        scores = np.where(same_model, listed.units @ probe, -1.0)
        best = int(np.argmax(scores))
        if scores[best] >= SAME_PHOTOGRAPH_COSINE:
            reason = (
                f"this photograph is already on the list for {listed.subjects[best]}: "
                "one photograph, one subject"
            )
            problems.append(Unmet("WL-3", reason, f"images[{index}]"))
    return problems


def remove_entry(
    session: Session, actor: Actor, watchlist_id: str, entry_id: str, reason: str
) -> None:
    """Take an entry (and its images) off an unsealed watchlist, saying why."""
    watchlist = locked(session, WatchlistRow, watchlist_id, "watchlist")
    rules.check_remove_entry(actor, watchlist.created_by, watchlist.sealed_at is not None)
    if blank(reason):
        raise Refusal("WL-3", "say why the entry is removed", "reason")
    entry = found(session, WatchlistEntryRow, entry_id, "watchlist entry")
    if entry.watchlist_id != watchlist.id:
        raise NotFound("watchlist entry", entry_id)
    reference = entry.subject_reference
    session.delete(entry)
    session.flush()
    audited(
        session,
        actor,
        watchlist,
        "watchlist.remove_entry",
        f"entry {reference} removed",
        after={"entry_id": entry_id},
        reason=reason,
    )


def enrol_blue_list(
    session: Session,
    actor: Actor,
    watchlist_id: str,
    draft: BlueListDraft,
    image: bytes,
    enroler: Enroler,
    *,
    now: datetime | None = None,
) -> BlueListEntryRow:
    """Enrol a consenting member of staff for live testing beside the watchlist (REC-6)."""
    watchlist = locked(session, WatchlistRow, watchlist_id, "watchlist")
    _refuse_if_destroyed(watchlist)
    enrolled = [e.staff_user_id for e in watchlist.blue_entries]
    rules.check_blue_list_entry(actor, draft, enrolled, watchlist.sealed_at is not None)
    if session.get(User, draft.staff_user_id) is None:
        raise Refusal("REC-6", "no such member of staff", "staff_user_id")
    enrolment = enroler.enrol(image, "image")
    if repeated := photographs_listed(listed_templates(session, watchlist.id), [enrolment]):
        raise Refusals([replace(unmet, rule="REC-6", field="image") for unmet in repeated])
    row = BlueListEntryRow(
        watchlist_id=watchlist.id,
        staff_user_id=draft.staff_user_id,
        consent_statement=draft.consent_statement.strip(),
        image_source=draft.image_source.strip(),
        enrolled_by=actor.user_id,
        enrolled_at=moment(now),
        image=enrolment.image,
        template=enrolment.template,
        model_id=enrolment.model_id,
    )
    session.add(row)
    session.flush()
    audited(
        session,
        actor,
        watchlist,
        "blue_list.enrol",
        "blue-list volunteer enrolled",
        after={"entry_id": row.id, "staff_user_id": row.staff_user_id},
        reason=row.consent_statement,
    )
    return row


def watchlist_authority(session: Session, watchlist: WatchlistRow) -> AuthorityRow:
    return found(session, AuthorityRow, watchlist.authority_id, "authority")


def watchlist_for_authority(session: Session, authority_id: str) -> WatchlistRow | None:
    return session.scalars(
        select(WatchlistRow).where(WatchlistRow.authority_id == authority_id)
    ).one_or_none()


# --- for the engine ------------------------------------------------------------------------


def sealed_templates(session: Session, deployment_id: str) -> TemplateSet:
    """The templates of a running deployment's sealed watchlist and blue list (WL-1): one
    per image, subject ids are entry ids (what a `MatchEvent` names); `.gallery()` is the
    matcher's gallery."""
    deployment = found(session, DeploymentRow, deployment_id, "deployment")
    if deployment.status is not DeploymentStatus.RUNNING:
        raise Refusal("DEP-2", f"the deployment is {deployment.status.value}", "deployment")
    watchlist = watchlist_for_authority(session, deployment.authority_id)
    if watchlist is None or watchlist.sealed_at is None:
        raise Refusal("WL-1", "the deployment has no sealed watchlist", "watchlist")
    subjects: list[str] = []
    kinds: list[ListKind] = []
    templates: list[bytes] = []
    models: set[str] = set()
    for entry in watchlist.entries:
        for image in entry.images:
            subjects.append(entry.id)
            kinds.append(ListKind.WATCHLIST)
            templates.append(image.template)
            models.add(image.model_id)
    for blue in watchlist.blue_entries:
        if blue.template is not None:
            subjects.append(blue.id)
            kinds.append(ListKind.BLUE_LIST)
            templates.append(blue.template)
            models.add(blue.model_id)
    if not templates:
        raise Refusal("WL-2", "the watchlist is empty", "watchlist")
    if len(models) > 1:
        raise Refusal("WL-5", f"templates of several models: {sorted(models)}", "watchlist")
    matrix = np.array([np.frombuffer(t, dtype="<f4") for t in templates], dtype=np.float32)
    return TemplateSet(tuple(subjects), tuple(kinds), matrix, next(iter(models), None))
