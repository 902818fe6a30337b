"""Who may READ what: one permission check per resource, shared by pages, API and CLI.

Changes are checked by the use-cases themselves (authorisations, watchlists, deployments,
alerts); reading needs its own rule, because a URL with another person's id must not show
what that person's role would not (no IDOR). Each `readable_*` function returns the row or
raises `NotFound`, so a refused reader cannot even learn that the object exists.

Opening a biometric image (an alert's probe, a watchlist image) is itself an action the
audit records (AUD-1, DP-2): `record_image_view`, once the read was allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.db.governance import (
    AlertRow,
    ApplicationRow,
    DeploymentRow,
    WatchlistEntryRow,
    WatchlistImageRow,
    WatchlistRow,
)
from lfr.db.session import SessionFactory, reading, transaction
from lfr.domain.alerts import AlertState
from lfr.domain.authorisation import ApplicationStatus
from lfr.domain.deployment import COMMAND_ROLES
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import NotFound

DRAFT_READERS = frozenset({Role.REVIEWER, Role.OVERSIGHT})
"""Besides the applicant, who may read an application still in draft (to audit it)."""

SUBMITTED_READERS = DRAFT_READERS | {
    Role.AUTHORISING_OFFICER,
    Role.CHIEF_OFFICER,
    Role.GOLD,
    Role.SILVER,
}
"""Who may read an application once submitted: those who decide, consult, command it."""

ALERT_REVIEWERS = frozenset({Role.REVIEWER})
"""Who may read any alert (post-deployment review); others only their deployment's."""


def may_read_application(actor: Actor, row: ApplicationRow) -> bool:
    if row.applicant_id == actor.user_id:
        return True
    readers = DRAFT_READERS if row.status is ApplicationStatus.DRAFT else SUBMITTED_READERS
    return bool(actor.roles & readers)


def readable_application(session: Session, actor: Actor, application_id: str) -> ApplicationRow:
    row = session.get(ApplicationRow, application_id)
    if row is None or not may_read_application(actor, row):
        raise NotFound("application", application_id)
    return row


def readable_applications(session: Session, actor: Actor) -> list[ApplicationRow]:
    rows = session.scalars(select(ApplicationRow).order_by(ApplicationRow.created_at.desc()))
    return [row for row in rows if may_read_application(actor, row)]


def assigned_deployment_ids(session: Session, actor: Actor, roles: Iterable[Role]) -> set[str]:
    """Deployments where the actor is assigned in one of `roles`."""
    from lfr.db.governance import AssignmentRow

    wanted = list(roles)
    statement = select(AssignmentRow.deployment_id).where(
        AssignmentRow.user_id == actor.user_id, AssignmentRow.role.in_(wanted)
    )
    return set(session.scalars(statement))


def may_read_alert(session: Session, actor: Actor, row: AlertRow) -> bool:
    if actor.roles & ALERT_REVIEWERS:
        return True
    deployment = session.get(DeploymentRow, row.deployment_id)
    return deployment is not None and any(
        a.user_id == actor.user_id for a in deployment.assignments
    )


def readable_alert(session: Session, actor: Actor, alert_id: str) -> AlertRow:
    row = session.get(AlertRow, alert_id)
    if row is None or not may_read_alert(session, actor, row):
        raise NotFound("alert", alert_id)
    return row


def readable_alerts(
    session: Session,
    actor: Actor,
    *,
    state: AlertState | None = None,
    deployment_id: str | None = None,
    limit: int = 200,
) -> list[AlertRow]:
    """The alerts this person may read (reviewers: every one; others: those of the
    deployments they are assigned to), newest first, optionally of one state or deployment."""
    statement = select(AlertRow).order_by(AlertRow.created_at.desc()).limit(limit)
    if not actor.roles & ALERT_REVIEWERS:
        statement = statement.where(
            AlertRow.deployment_id.in_(assigned_deployment_ids(session, actor, Role))
        )
    if state is not None:
        statement = statement.where(AlertRow.state == state)
    if deployment_id is not None:
        statement = statement.where(AlertRow.deployment_id == deployment_id)
    return list(session.scalars(statement))


def may_read_watchlist(session: Session, actor: Actor, watchlist: WatchlistRow) -> bool:
    """The compiling applicant and reviewers; the biometrics inside follow `entry_image`."""
    return watchlist.created_by == actor.user_id or bool(actor.roles & {Role.REVIEWER})


def readable_watchlists(session: Session, actor: Actor) -> list[WatchlistRow]:
    """The watchlists this person may read, newest first."""
    rows = session.scalars(select(WatchlistRow).order_by(WatchlistRow.created_at.desc()))
    return [row for row in rows if may_read_watchlist(session, actor, row)]


def readable_watchlist(session: Session, actor: Actor, watchlist_id: str) -> WatchlistRow:
    row = session.get(WatchlistRow, watchlist_id)
    if row is None or not may_read_watchlist(session, actor, row):
        raise NotFound("watchlist", watchlist_id)
    return row


def entry_image(session: Session, actor: Actor, entry_id: str) -> bytes:
    """A watchlist entry's first image (DP-2, by role only): its compiler, reviewers, and
    the operators and engagement officers of the deployment it is listed for (to compare an
    alert's probe with it, ADJ-1)."""
    entry = session.get(WatchlistEntryRow, entry_id)
    if entry is None:
        raise NotFound("watchlist entry", entry_id)
    allowed = may_see_entry_image(session, actor, entry)
    image = session.scalars(
        select(WatchlistImageRow)
        .where(WatchlistImageRow.entry_id == entry_id)
        .order_by(WatchlistImageRow.id)
    ).first()
    if not allowed or image is None:
        raise NotFound("watchlist image", entry_id)
    return image.image


def may_see_entry_image(session: Session, actor: Actor, entry: WatchlistEntryRow) -> bool:
    """`entry_image`'s rule alone, so a page offers only the images its reader may open."""
    watchlist = entry.watchlist
    return may_read_watchlist(session, actor, watchlist) or _adjudicates_for(
        session, actor, watchlist.authority_id
    )


def view_entry_image(factory: SessionFactory, actor: Actor, entry_id: str) -> bytes:
    """`entry_image`, and the record that this person opened it (AUD-1)."""
    return view_biometric(
        factory,
        actor,
        lambda session: entry_image(session, actor, entry_id),
        object_type="watchlist_entry",
        object_id=entry_id,
        what="watchlist image",
    )


def view_biometric(
    factory: SessionFactory,
    actor: Actor,
    read: Callable[[Session], bytes],
    *,
    object_type: str,
    object_id: str,
    what: str,
) -> bytes:
    """Read a biometric image (`read` applies the access rules) and record the view
    (AUD-1): the read holds no write lock; the record follows in its own short
    transaction, only once the read was allowed."""
    with reading(factory) as session:
        data = read(session)
    with transaction(factory) as session:
        record_image_view(session, actor, object_type=object_type, object_id=object_id, what=what)
    return data


def record_image_view(
    session: Session, actor: Actor, *, object_type: str, object_id: str, what: str
) -> None:
    """AUD-1: who opened which biometric image, and when (never the image itself). Called
    after the read was allowed, in its own short transaction: a reading page holds no
    write lock, and a refused read records nothing the refusal has not already said."""
    record(
        session,
        actor=actor,
        action="biometric.viewed",
        object_type=object_type,
        object_id=object_id,
        summary=f"{what} viewed",
    )


def _adjudicates_for(session: Session, actor: Actor, authority_id: str) -> bool:
    deployment = session.scalars(
        select(DeploymentRow).where(DeploymentRow.authority_id == authority_id)
    ).one_or_none()
    roles = {Role.OPERATOR, Role.ENGAGEMENT_OFFICER, Role.SILVER, Role.GOLD}
    return deployment is not None and any(
        a.user_id == actor.user_id and a.role in roles for a in deployment.assignments
    )


CAMERA_WATCHERS = frozenset({Role.ENGINEER})
"""Besides the deployment's own staff, who may watch its (blurred) camera view."""


def watchable_deployment(session: Session, actor: Actor, deployment_id: str) -> DeploymentRow:
    """The live camera view of a deployment: its assigned staff and engineers (REC-5)."""
    row = session.get(DeploymentRow, deployment_id)
    allowed = row is not None and (
        bool(actor.roles & CAMERA_WATCHERS)
        or any(a.user_id == actor.user_id for a in row.assignments)
    )
    if row is None or not allowed:
        raise NotFound("deployment", deployment_id)
    return row


def commanded_deployment(session: Session, actor: Actor, deployment_id: str) -> DeploymentRow:
    """A deployment's dashboard: the Gold, Silver and Bronze assigned to it command it,
    and nobody else sees its alerts gathered in one place (DEP-2)."""
    row = session.get(DeploymentRow, deployment_id)
    if row is None or not commands(actor, row):
        raise NotFound("deployment", deployment_id)
    return row


def commands(actor: Actor, row: DeploymentRow) -> bool:
    """Whether this person is assigned to the deployment as its Gold, Silver or Bronze."""
    return any(a.user_id == actor.user_id and a.role in COMMAND_ROLES for a in row.assignments)
