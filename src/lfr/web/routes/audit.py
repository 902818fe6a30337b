"""The audit browser and its verification (AUD-1): reviewers, oversight, administrators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from lfr.audit import AuditEntry, verify
from lfr.db.session import reading
from lfr.domain.people import Role
from lfr.web import schemas
from lfr.web.access import Admit, Viewer
from lfr.web.deps import Context
from lfr.web.rendering import render

AUDIT_READERS = Admit(Role.REVIEWER, Role.OVERSIGHT, Role.ADMINISTRATOR)
AuditReader = Annotated[Viewer, Depends(AUDIT_READERS)]
PAGE_SIZE = 100
MAX_SEQUENCE = 2**62
"""Bound on sequence numbers in queries (a larger one overflowed the database's integer)."""

FREE_TEXT_READERS = frozenset({Role.REVIEWER, Role.OVERSIGHT})
"""Who reads entries' summaries and reasons: they carry subject references, watchlist
reasons and adjudication notes. An administrator sees who did what to which object, not
what was written about a person (separation of duties)."""

pages = APIRouter(include_in_schema=False, dependencies=[Depends(AUDIT_READERS)])
api = APIRouter(prefix="/api/audit", tags=["audit"], dependencies=[Depends(AUDIT_READERS)])


def _entries(
    context: Context, before: int | None, object_type: str | None, object_id: str | None
) -> list[AuditEntry]:
    statement = select(AuditEntry).order_by(AuditEntry.sequence.desc()).limit(PAGE_SIZE)
    if before is not None:
        statement = statement.where(AuditEntry.sequence < before)
    if object_type:
        statement = statement.where(AuditEntry.object_type == object_type)
    if object_id:
        statement = statement.where(AuditEntry.object_id == object_id)
    with reading(context.db) as db:
        entries = list(db.scalars(statement))
        db.expunge_all()  # kept loaded for the template after the read transaction ends
    return entries


Before = Annotated[
    int | None,
    Query(ge=1, le=MAX_SEQUENCE, description="Show entries before this sequence."),
]
ObjectType = Annotated[str | None, Query(max_length=80)]
ObjectId = Annotated[str | None, Query(max_length=80)]


@pages.get("/audit")
def audit_page(
    request: Request,
    context: Context,
    viewer: AuditReader,
    before: Before = None,
    object_type: ObjectType = None,
    object_id: ObjectId = None,
) -> Response:
    entries = _entries(context, before, object_type, object_id)
    full = _reads_free_text(viewer)
    return render(
        request,
        "audit/index.html",
        {
            "entries": [_entry_shown(e, full) for e in entries],
            "older": entries[-1].sequence if len(entries) == PAGE_SIZE else None,
            "object_type": object_type or "",
            "object_id": object_id or "",
            "title": "Audit",
        },
    )


@pages.get("/audit/verify")
def verify_page(request: Request, context: Context) -> Response:
    with reading(context.db) as db:
        report = verify(db)
    return render(request, "audit/verify.html", {"report": report, "title": "Audit verification"})


def _reads_free_text(viewer: Viewer) -> bool:
    return bool(viewer.actor.roles & FREE_TEXT_READERS)


def _entry_shown(entry: AuditEntry, full: bool) -> dict[str, Any]:
    """An entry as this reader may see it: without its free text unless ``full``."""
    return {
        "sequence": entry.sequence,
        "time": entry.time,
        "actor_name": entry.actor_name,
        "actor_rank": entry.actor_rank,
        "actor_roles": entry.actor_roles,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "summary": entry.summary if full else entry.action.replace("_", " ").replace(".", ": "),
        "reason": entry.reason if full else None,
        "request_id": entry.request_id,
        "hash": entry.hash,
    }


@api.get(
    "/entries",
    response_model=list[schemas.AuditEntryOut],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_audit_entries",
)
def api_entries(
    context: Context,
    viewer: AuditReader,
    before: Before = None,
    object_type: ObjectType = None,
    object_id: ObjectId = None,
) -> list[dict[str, Any]]:
    """The newest audit entries (a page of them), optionally of one object; without their
    free text for an administrator."""
    full = _reads_free_text(viewer)
    shown = [_entry_shown(e, full) for e in _entries(context, before, object_type, object_id)]
    return [_as_json(entry) for entry in shown]


def _as_json(shown: dict[str, Any]) -> dict[str, Any]:
    out = dict(shown)
    out["actor"] = out.pop("actor_name")
    out["time"] = out["time"].isoformat()
    return out


@api.get(
    "/verify",
    response_model=schemas.AuditVerification,
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="verify_audit_log",
)
def api_verify(context: Context) -> schemas.AuditVerification:
    """Check the hash chain from the first entry (AUD-1)."""
    with reading(context.db) as db:
        report = verify(db)
    return schemas.AuditVerification(
        ok=report.ok,
        entries_checked=report.entries_checked,
        last_sequence=report.last_sequence,
        head_hash=report.head_hash,
        problems=[str(problem) for problem in report.problems],
    )
