"""The start checklist in words a commander acts on (DEP-1): for each unmet condition, who
fixes it and a link to where. The rules say what is missing; this says who and where."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from lfr.db.governance import AuthorityRow, DeploymentRow
from lfr.domain.deployment import DEPLOYMENT_ROLES
from lfr.domain.refusal import Unmet
from lfr.services.watchlists import watchlist_for_authority
from lfr.web.labels import field_label

ROLE_FIELDS = {role.value for role in DEPLOYMENT_ROLES}


@dataclass(frozen=True, slots=True)
class FixStep:
    """One unmet condition: what is wrong, in the page's words, who fixes it, and where."""

    what: str
    who: str
    where: str | None
    """A link to the page (or this page's form) where it is fixed; None: nowhere to go."""
    where_label: str
    rule: str


def _sentence(unmet: Unmet) -> str:
    reason = unmet.reason.replace("_", " ")
    label = field_label(unmet.field)
    return f"{label}: {reason}" if label else reason[:1].upper() + reason[1:]


def fix_steps(db: Session, row: DeploymentRow, unmet: list[Unmet]) -> list[FixStep]:
    """Each of `unmet` with who fixes it and where (DEP-1, TRN-1, WL-1..4, AUTH-4, REC-1/5)."""
    authority = db.get(AuthorityRow, row.authority_id)
    application = f"/applications/{authority.application_id}" if authority else None
    watchlist = watchlist_for_authority(db, row.authority_id)
    compile_at = f"/watchlists/{watchlist.id}" if watchlist is not None else application
    return [_step(u, application, compile_at) for u in unmet]


def _step(unmet: Unmet, application: str | None, compile_at: str | None) -> FixStep:
    what, rule, field = _sentence(unmet), unmet.rule, unmet.field or ""
    if rule.startswith("WL-"):
        return FixStep(
            what, "The applicant compiles the watchlist", compile_at, "the watchlist", rule
        )
    if rule == "AUTH-4":
        who = "The authorising officer has the chief officer consulted"
        return FixStep(what, who, application, "the application", rule)
    if rule == "TRN-1":
        who = "An administrator records the training"
        return FixStep(what, who, "/people", "People and training", rule)
    if rule in ("REC-1", "REC-5"):
        who = "The system engineer sets the camera's source"
        return FixStep(what, who, "/cameras", "Camera sources", rule)
    if field in ROLE_FIELDS or rule == "ADJ-2":
        who = "Silver or Gold assigns someone here"
        return FixStep(what, who, "#assignment", "the staffing form below", rule)
    if field in ("authority", "window") or rule.startswith("AUTH-"):
        who = "The authorising officer: a new authority is needed"
        return FixStep(what, who, application, "the application", rule)
    if field in ("place", "camera"):
        who = "The applicant: places and cameras come from the authority"
        return FixStep(what, who, application, "the application", rule)
    return FixStep(what, "Silver or Gold", None, "", rule)
