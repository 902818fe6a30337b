"""`lfr demo`: a demo force (one account per role), and a rehearsal deployment taken through
the real services from application to start, so an alert reaches the operator within a
minute of `lfr demo`.

Nothing here bypasses a rule: each step is the service a person would call from a page,
acting as the demo account that holds the role (the applicant drafts, a Superintendent
decides, a chief officer is consulted, the applicant compiles the watchlist, an engineer
points the camera at the rehearsal clip, Silver starts it). The tests build every
governance world (authority, watchlist, staffed deployment) with these same steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.base import utcnow
from lfr.db.people import User
from lfr.db.session import SessionFactory, transaction
from lfr.demo.media import DemoMedia, generated_media, user_media
from lfr.domain.authorisation import (
    Application,
    Conditions,
    ConsultationOutcome,
    DecisionKind,
    PlaceCategory,
    TimeWindow,
)
from lfr.domain.categories import WatchlistCategory
from lfr.domain.deployment import DEPLOYMENT_ROLES
from lfr.domain.people import Actor, Rank, Role
from lfr.domain.watchlist import EntryDraft
from lfr.services import authorisations, deployments, people, watchlists
from lfr.services.cameras import configure_camera
from lfr.services.policy import GovernancePolicy
from lfr.services.watchlists import Enroler
from lfr.settings import Settings
from lfr.vision.describers.dlib_resnet import DLIB_MODEL_ID
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from lfr.web.context import WebContext
from lfr.web.signin import SECOND_FACTOR_ROLES

FRAMEWORK_LIMITS = GovernancePolicy()
"""The framework's own limits (AUTH-3, WL-2, DP-1), which the building steps below apply
unless given a system's (`seed_demo` gives its own context's)."""

DEMO_PASSWORD_SUFFIX = "-demo-password"
"""Demo passwords are the account name plus this suffix: known by design, printed, and
only ever created by `lfr demo` on a development database."""

DEMO_ACCOUNTS: dict[str, tuple[Rank, tuple[Role, ...]]] = {
    "applicant": (Rank.SERGEANT, (Role.APPLICANT,)),
    "authoriser": (Rank.SUPERINTENDENT, (Role.AUTHORISING_OFFICER,)),
    "chief": (Rank.COMMANDER, (Role.CHIEF_OFFICER,)),
    "gold": (Rank.CHIEF_SUPERINTENDENT, (Role.GOLD,)),
    "silver": (Rank.CHIEF_INSPECTOR, (Role.SILVER,)),
    "bronze": (Rank.INSPECTOR, (Role.BRONZE,)),
    "operator": (Rank.STAFF, (Role.OPERATOR,)),
    "engagement": (Rank.CONSTABLE, (Role.ENGAGEMENT_OFFICER,)),
    "engineer": (Rank.STAFF, (Role.ENGINEER,)),
    "reviewer": (Rank.STAFF, (Role.REVIEWER,)),
    "oversight": (Rank.STAFF, (Role.OVERSIGHT,)),
    "administrator": (Rank.STAFF, (Role.ADMINISTRATOR,)),
}

DEMO_CAMERA = "demo-cam"
DEMO_PLACE = "Rehearsal Street"
DEMO_SUBJECT = "DEMO-0001"
REHEARSAL_REASONS = "Necessary and proportionate for a rehearsal with one camera."
REHEARSAL_JUSTIFICATION = (
    "A rehearsal on the demonstration's own footage: no member of the public is watched, "
    "and the configured model's default threshold is what the rehearsal shows."
)
"""Recorded, as the lock asks (EQ-1), where the configured model's default threshold lies
below its equitable floor (dlib fused with faceres: docs/evaluation.md)."""


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    password: str
    totp_secret: str | None
    actor: Actor


@dataclass(frozen=True, slots=True)
class Rehearsal:
    application_id: str
    authority_id: str
    watchlist_id: str
    deployment_id: str
    entry_id: str


def demo_password(username: str) -> str:
    return f"{username}{DEMO_PASSWORD_SUFFIX}"


def seed_accounts(db: SessionFactory) -> dict[str, DemoAccount]:
    """One account per role, trained for a year; second-factor roles get a TOTP secret.
    Accounts that exist already are reused (a second `lfr demo` on the same data)."""
    console = people.console_actor()
    accounts: dict[str, DemoAccount] = {}
    with transaction(db) as session:
        for username, (rank, roles) in DEMO_ACCOUNTS.items():
            user = people.find_user(session, username)
            if user is None:
                user = trained_account(
                    session,
                    username=username,
                    display_name=f"Demo {username}",
                    rank=rank,
                    roles=roles,
                    password=demo_password(username),
                )
                if set(roles) & SECOND_FACTOR_ROLES:
                    factor = pyotp.random_base32().encode()
                    people.enrol_second_factor(session, console, user, factor)
            secret = user.totp_secret.decode() if user.totp_secret else None
            accounts[username] = DemoAccount(
                username, demo_password(username), secret, people.to_actor(user)
            )
    return accounts


def trained_account(
    session: Session,
    *,
    username: str,
    display_name: str,
    rank: Rank,
    roles: Sequence[Role],
    password: str,
) -> User:
    """An account made by the console administrator, holding `roles`, each with training
    completed yesterday and valid for the coming year (TRN-1)."""
    console = people.console_actor()
    now = utcnow()
    user = people.create_user(
        session,
        actor=console,
        username=username,
        display_name=display_name,
        rank=rank,
        password=password,
        roles=roles,
    )
    for role in roles:
        people.record_training(
            session,
            actor=console,
            user_id=user.id,
            role=role,
            completed_at=now - timedelta(days=1),
            expires_at=now + timedelta(days=365),
        )
    return user


def rehearsal_application(applicant: Actor, *, hours: int = 8) -> Application:
    now = utcnow().replace(microsecond=0)
    return Application(
        applicant_id=applicant.user_id,
        title="Rehearsal on Rehearsal Street",
        lawful_basis="Common-law policing powers; DPA 2018 s.35 and Schedule 8 (rehearsal).",
        legitimate_aim="Locating people wanted by the courts (a rehearsal with staff only).",
        intelligence_case="Rehearsal: the clip shows one listed person walking past.",
        necessity="Rehearsal of the system before live use.",
        proportionality="One camera, a short window, one listed subject.",
        alternatives="Tabletop exercise only: discounted, it does not test the cameras.",
        places=(DEMO_PLACE,),
        place_category=PlaceCategory.CRIME_HOTSPOT,
        window=TimeWindow(now - timedelta(hours=1), now + timedelta(hours=hours)),
        cameras=(DEMO_CAMERA,),
        scale_justification="One camera for a few hours is the minimum for a rehearsal.",
        watchlist_rationale="One subject wanted by the courts (the rehearsal subject).",
        watchlist_categories=frozenset({WatchlistCategory.WANTED_BY_COURTS}),
        safeguards="Signage; operator scrutiny; no engagement outside the rehearsal.",
        equality_considerations="Rehearsal with a single consenting image; none arise.",
    )


def submitted(db: SessionFactory, applicant: Actor, application: Application) -> str:
    """Draft and submit `application` as its applicant (AUTH-1): returns the application's id."""
    with transaction(db) as session:
        draft = authorisations.create_application(session, applicant, application)
        authorisations.submit_application(session, applicant, draft.id)
        return draft.id


def authorise(
    db: SessionFactory,
    accounts: dict[str, Actor],
    application: Application,
    *,
    decider: Actor | None = None,
    conditions: Conditions | None = None,
    consult: bool = True,
    reasons: str = REHEARSAL_REASONS,
    model_version: str = DLIB_MODEL_ID,
    engine_threshold: float = DEFAULT_ALERT_THRESHOLD,
    policy: GovernancePolicy = FRAMEWORK_LIMITS,
    threshold_justification: str | None = None,
) -> tuple[str, str]:
    """Draft and submit; approve (with `conditions`, if given) as `decider`, by default the
    authoriser, against the equitability floor of `model_version`; have the chief officer
    consulted unless `consult` is False (AUTH-1..3): returns (application, authority)."""
    application_id = submitted(db, accounts["applicant"], application)
    kind = DecisionKind.APPROVE_WITH_CONDITIONS if conditions else DecisionKind.APPROVE
    with transaction(db) as session:
        result = authorisations.decide_application(
            session,
            decider or accounts["authoriser"],
            application_id,
            kind,
            reasons,
            conditions,
            model_version=model_version,
            engine_threshold=engine_threshold,
            threshold_justification=threshold_justification,
        )
        assert result.authority is not None
        if consult:
            authorisations.consult_chief_officer(
                session,
                accounts["chief"],
                application_id,
                ConsultationOutcome.NO_OBJECTION,
                "",
                policy=policy,
            )
        return application_id, result.authority.id


def compile_watchlist(
    db: SessionFactory,
    applicant: Actor,
    authority_id: str,
    image: bytes,
    enroler: Enroler,
    *,
    subject: str = DEMO_SUBJECT,
    policy: GovernancePolicy = FRAMEWORK_LIMITS,
) -> tuple[str, str]:
    """The authority's watchlist with one attested entry: returns (watchlist, entry)."""
    with transaction(db) as session:
        watchlist = watchlists.create_watchlist(session, applicant, authority_id, policy=policy)
        entry = watchlists.add_entry(
            session,
            applicant,
            watchlist.id,
            EntryDraft(
                subject_reference=subject,
                category=WatchlistCategory.WANTED_BY_COURTS,
                reason="Rehearsal subject (a public-domain portrait).",
                image_source="rehearsal media",
                attests_image_is_subject=True,
                attests_still_of_interest=True,
            ),
            [image],
            enroler,
        )
        return watchlist.id, entry.id


STAFF: dict[Role, str] = {
    Role.GOLD: "gold",
    Role.SILVER: "silver",
    Role.BRONZE: "bronze",
    Role.OPERATOR: "operator",
    Role.ENGAGEMENT_OFFICER: "engagement",
}
"""The account that holds each deployment role (DEP-1)."""


def plan_and_staff(
    db: SessionFactory,
    accounts: dict[str, Actor],
    authority_id: str,
    places: Sequence[str] = (DEMO_PLACE,),
    cameras: Sequence[str] = (DEMO_CAMERA,),
    *,
    planned_by: Actor | None = None,
    staffed_by: Actor | None = None,
    policy: GovernancePolicy = FRAMEWORK_LIMITS,
) -> str:
    """Plan the deployment (by default as the applicant) and assign every deployment role
    (by default as Gold) to the account that holds it (`STAFF`): returns its id."""
    with transaction(db) as session:
        deployment = deployments.plan_deployment(
            session,
            planned_by or accounts["applicant"],
            authority_id,
            places,
            cameras,
            policy=policy,
        )
        for role in DEPLOYMENT_ROLES:
            person = accounts[STAFF[role]]
            deployments.assign(
                session, staffed_by or accounts["gold"], deployment.id, person.user_id, role
            )
        return deployment.id


def point_camera(
    db: SessionFactory,
    accounts: dict[str, Actor],
    clip: Path,
    cameras: Sequence[str] = (DEMO_CAMERA,),
) -> None:
    """The engineer points the rehearsal's cameras at `clip` (REC-1)."""
    with transaction(db) as session:
        for camera in cameras:
            configure_camera(session, accounts["engineer"], camera, str(clip))


def seed_rehearsal(
    db: SessionFactory,
    accounts: dict[str, Actor],
    media: DemoMedia,
    enroler: Enroler,
    *,
    model_version: str = DLIB_MODEL_ID,
    engine_threshold: float = DEFAULT_ALERT_THRESHOLD,
    policy: GovernancePolicy = FRAMEWORK_LIMITS,
) -> Rehearsal:
    """The rehearsal deployment: authorised against the equitability floor of
    `model_version`, under `policy`'s limits (a system's: `seed_demo`), planned and staffed."""
    application_id, authority_id = authorise(
        db,
        accounts,
        rehearsal_application(accounts["applicant"]),
        model_version=model_version,
        engine_threshold=engine_threshold,
        policy=policy,
        threshold_justification=REHEARSAL_JUSTIFICATION,
    )
    watchlist_id, entry_id = compile_watchlist(
        db,
        accounts["applicant"],
        authority_id,
        media.watchlist_image.read_bytes(),
        enroler,
        policy=policy,
    )
    deployment_id = plan_and_staff(db, accounts, authority_id, policy=policy)
    point_camera(db, accounts, media.clip)
    return Rehearsal(application_id, authority_id, watchlist_id, deployment_id, entry_id)


def check_demo_environment(settings: Settings) -> None:
    """Refuse the demo outside development/test, in one line, before anything touches the
    database (`lfr demo` calls this first: it must not create accounts it then refuses)."""
    if not settings.allows_development_secrets:
        raise SystemExit(
            f"error: lfr demo runs only with LFR_ENVIRONMENT=development (or test), "
            f"not {settings.environment.value}; nothing was written"
        )


def seed_demo(context: WebContext, *, media: Path | None, echo: Callable[[str], None]) -> None:
    """Seeds the demo force and starts its rehearsal deployment (as demo Silver)."""
    check_demo_environment(context.settings)
    demo_media = (
        user_media(media) if media else generated_media(context.settings.data_dir / "demo-media")
    )
    accounts = seed_accounts(context.db)
    actors = {name: account.actor for name, account in accounts.items()}
    if _has_rehearsal(context.db):
        echo("Demo data already present: reusing it.")
    else:
        echo("Seeding the demo: application, decision, consultation, watchlist, staff…")
        rehearsal = seed_rehearsal(
            context.db,
            actors,
            demo_media,
            context.enroler(),
            model_version=context.settings.evaluated_model_version,
            engine_threshold=context.settings.engine.alert_threshold,
            policy=context.policy,
        )
        with transaction(context.db) as session:
            # Started in the record; the server's runtime starts its workers on startup.
            deployments.start_deployment(
                session, actors["silver"], rehearsal.deployment_id, policy=context.policy
            )
        echo(f"Rehearsal deployment started: /deployments/{rehearsal.deployment_id}")
    _print_accounts(accounts, echo)


def _has_rehearsal(db: SessionFactory) -> bool:
    from lfr.db.governance import DeploymentRow

    with transaction(db) as session:
        return session.scalars(select(DeploymentRow.id)).first() is not None


def _print_accounts(accounts: dict[str, DemoAccount], echo: Callable[[str], None]) -> None:
    echo("\nDemo accounts (development only; passwords are known by design):")
    for account in accounts.values():
        factor = f"  TOTP secret {account.totp_secret}" if account.totp_secret else ""
        echo(f"  {account.username:<14} {account.password}{factor}")
    echo("Current second-factor codes: `lfr demo-codes`. The operator sees alerts at /console.")


def current_codes(db: SessionFactory) -> dict[str, str]:
    """The TOTP codes of the demo accounts now (for `lfr demo-codes`)."""
    with transaction(db) as session:
        users = session.scalars(select(User).where(User.username.in_(list(DEMO_ACCOUNTS))))
        return {
            u.username: pyotp.TOTP(u.totp_secret.decode()).now() for u in users if u.totp_secret
        }
