"""The post-deployment review's life (REV-1): opened as its deployment ends, the
reviewer's assessment, sign-off. Each step is audited in the caller's transaction (AUD-1).

The figures themselves are computed by `lfr.reports.review`; the sign-off freezes them
(canonical JSON and its SHA-256) so that the published results and the review stay what
was signed even after the alerts' retention period deletes them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.canonical import canonical_json
from lfr.db.governance import AlertRow, AuthorityRow, DeploymentRow
from lfr.db.reports import DeploymentReviewRow, ReviewStatus
from lfr.domain.alerts import AlertState
from lfr.domain.people import SYSTEM_ACTOR, Actor, Role
from lfr.domain.refusal import Refusals, Unmet
from lfr.domain.rules import blank
from lfr.reports.review import compute_figures, review_for_deployment
from lfr.services._rows import locked, moment


def open_review(session: Session, deployment: DeploymentRow, at: datetime) -> DeploymentReviewRow:
    """Open the review of a deployment that has just halted or ended (REV-1); idempotent; audited
    as the system's act (no person decides that a review is owed)."""
    existing = review_for_deployment(session, deployment.id)
    if existing is not None:
        return existing
    row = DeploymentReviewRow(deployment_id=deployment.id, status=ReviewStatus.OPEN, opened_at=at)
    session.add(row)
    session.flush()
    record(
        session,
        actor=SYSTEM_ACTOR,
        action="review.open",
        object_type="deployment_review",
        object_id=row.id,
        summary=f"post-deployment review opened (deployment {deployment.id})",
        after={"deployment_id": deployment.id, "status": row.status},
    )
    return row


def _reviewer_problems(session: Session, actor: Actor, review: DeploymentReviewRow) -> list[Unmet]:
    """A reviewer who had no part in running the deployment (independence, [13, 16])."""
    problems: list[Unmet] = []
    if not actor.has(Role.REVIEWER):
        problems.append(Unmet("REV-1", "only a reviewer", "actor"))
    deployment = session.get(DeploymentRow, review.deployment_id)
    if deployment is not None and any(a.user_id == actor.user_id for a in deployment.assignments):
        problems.append(Unmet("REV-1", "a member of the deployment cannot review it", "actor"))
    authority = session.get(AuthorityRow, deployment.authority_id) if deployment else None
    if authority is not None and actor.user_id in (
        authority.application.applicant_id,
        authority.application.decided_by,
    ):
        problems.append(Unmet("REV-1", "its applicant or authorising officer cannot", "actor"))
    if review.status is ReviewStatus.SIGNED_OFF:
        problems.append(Unmet("REV-1", "the review is signed off", "status"))
    return problems


def _assessment(review: DeploymentReviewRow) -> dict[str, str | None]:
    return {
        "performance_assessment": review.performance_assessment,
        "safeguards_assessment": review.safeguards_assessment,
        "lessons": review.lessons,
    }


def update_assessment(
    session: Session,
    actor: Actor,
    review_id: str,
    *,
    performance: str,
    safeguards: str,
    lessons: str,
    now: datetime | None = None,
) -> DeploymentReviewRow:
    """The reviewer's assessment: performance against expectations, the safeguards'
    effectiveness, lessons (REV-1). Audited with before and after."""
    review = locked(session, DeploymentReviewRow, review_id, "deployment_review")
    problems = _reviewer_problems(session, actor, review)
    if problems:
        raise Refusals(problems)
    before = _assessment(review)
    review.performance_assessment = performance.strip() or None
    review.safeguards_assessment = safeguards.strip() or None
    review.lessons = lessons.strip() or None
    review.updated_by, review.updated_at = actor.user_id, moment(now)
    record(
        session,
        actor=actor,
        action="review.assess",
        object_type="deployment_review",
        object_id=review.id,
        summary="post-deployment review assessment written",
        before=before,
        after=_assessment(review),
    )
    return review


def _alert_awaiting_outcome(session: Session, deployment_id: str) -> bool:
    """Whether a real alert of the deployment still awaits its decision or outcome."""
    pending = session.scalars(
        select(AlertRow.id).where(
            AlertRow.deployment_id == deployment_id,
            AlertRow.is_test.is_(False),
            AlertRow.state.in_([AlertState.PENDING, AlertState.REFERRED, AlertState.ENGAGED]),
        )
    ).first()
    return pending is not None


def sign_off(
    session: Session,
    actor: Actor,
    review_id: str,
    *,
    now: datetime | None = None,
) -> DeploymentReviewRow:
    """Sign off: every assessment written, the deployment over; the figures are frozen
    with their SHA-256 and the sign-off audited (REV-1, AUD-1)."""
    review = locked(session, DeploymentReviewRow, review_id, "deployment_review")
    problems = _reviewer_problems(session, actor, review)
    for name, text in _assessment(review).items():
        if blank(text):
            problems.append(Unmet("REV-1", "write this part of the assessment first", name))
    if _alert_awaiting_outcome(session, review.deployment_id):
        problems.append(Unmet("REV-1", "an alert still awaits its decision or outcome", "alerts"))
    if problems:
        raise Refusals(problems)
    figures = compute_figures(session, review.deployment_id)
    text = canonical_json(figures)
    review.figures = text
    review.figures_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    review.status, review.signed_off_by, review.signed_off_at = (
        ReviewStatus.SIGNED_OFF,
        actor.user_id,
        moment(now),
    )
    record(
        session,
        actor=actor,
        action="review.sign_off",
        object_type="deployment_review",
        object_id=review.id,
        summary="post-deployment review signed off",
        after={"status": review.status, "figures_sha256": review.figures_sha256},
    )
    return review
