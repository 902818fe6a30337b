"""Deciding applications (AUTH-2, AUTH-3, AUTH-5), chief-officer consultation (AUTH-4) and
confirming urgent authorities (AUTH-3): the pages' forms and the JSON API. Every change
goes through `lfr.services.authorisations`, after the one permission check
`lfr.services.access.readable_application` (no IDOR)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from lfr.db.governance import AuthorityRow
from lfr.db.session import transaction
from lfr.domain.authorisation import (
    Conditions,
    ConsultationOutcome,
    DecisionKind,
)
from lfr.domain.people import Actor
from lfr.domain.refusal import NotFound
from lfr.services import authorisations
from lfr.services.access import readable_application
from lfr.web import schemas
from lfr.web.application_forms import conditions_from_form, form_choice, form_text
from lfr.web.deps import Context
from lfr.web.forms import shown_on_form
from lfr.web.routes.applications import (
    ChiefOfficer,
    Decider,
    authority_answer,
    change_and_show,
    change_application,
    in_thread,
)

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/applications", tags=["applications"])


@pages.post("/applications/{application_id}/decide")
@shown_on_form()
async def decide(
    request: Request, context: Context, viewer: Decider, application_id: str
) -> Response:
    actor = viewer.actor
    form = await request.form()
    kind = form_choice(DecisionKind, form_text(form, "kind"), "kind")
    conditions = (
        conditions_from_form(form) if kind is DecisionKind.APPROVE_WITH_CONDITIONS else None
    )

    def run() -> None:
        with transaction(context.db) as db:
            readable_application(db, actor, application_id)
            authorisations.decide_application(
                db,
                actor,
                application_id,
                kind,
                form_text(form, "reasons"),
                conditions,
                model_version=context.settings.evaluated_model_version,
                engine_threshold=context.settings.engine.alert_threshold,
                threshold_justification=form_text(form, "threshold_justification") or None,
            )

    await in_thread(run)
    return RedirectResponse(f"/applications/{application_id}", status_code=303)


@pages.post("/applications/{application_id}/consult")
@shown_on_form()
async def consult(
    request: Request, context: Context, viewer: ChiefOfficer, application_id: str
) -> Response:
    actor = viewer.actor
    form = await request.form()
    outcome = form_choice(ConsultationOutcome, form_text(form, "outcome"), "outcome")
    comments = form_text(form, "comments")
    return await change_and_show(
        context,
        actor,
        application_id,
        lambda db: authorisations.consult_chief_officer(
            db, actor, application_id, outcome, comments, policy=context.policy
        ),
    )


@pages.post("/authorities/{authority_id}/confirm")
def confirm(context: Context, viewer: Decider, authority_id: str) -> Response:
    """A Superintendent confirms an urgent authority, which then no longer lapses (AUTH-3)."""
    confirmed = _confirm(context, viewer.actor, authority_id)
    return RedirectResponse(f"/applications/{confirmed.application_id}", status_code=303)


@api.post(
    "/{application_id}/decision",
    status_code=201,
    response_model=schemas.ApplicationOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="decide_application",
)
def api_decide(
    context: Context,
    viewer: Decider,
    application_id: str,
    body: schemas.DecisionIn,
    response: Response,
) -> schemas.ApplicationOut:
    """Approve, approve with conditions, or refuse, with reasons (AUTH-2, AUTH-3); an
    approval freezes the Written Authority Document (AUTH-5)."""
    actor = viewer.actor
    conditions = (
        Conditions.from_json(body.conditions.model_dump(mode="json")) if body.conditions else None
    )
    answer = change_application(
        context,
        actor,
        application_id,
        lambda db: authorisations.decide_application(
            db,
            actor,
            application_id,
            body.kind,
            body.reasons,
            conditions,
            model_version=context.settings.evaluated_model_version,
            engine_threshold=context.settings.engine.alert_threshold,
            threshold_justification=body.threshold_justification,
        ),
    )
    response.headers["Location"] = f"/api/applications/{application_id}"
    return answer


@api.post(
    "/{application_id}/consultations",
    status_code=201,
    response_model=schemas.ConsultationOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="consult_chief_officer",
)
def api_consult(
    context: Context,
    viewer: ChiefOfficer,
    application_id: str,
    body: schemas.ConsultationIn,
    response: Response,
) -> schemas.ConsultationOut:
    """A chief officer's view (AUTH-4): no objection, mitigation required, or a veto."""
    actor = viewer.actor
    with transaction(context.db) as db:
        readable_application(db, actor, application_id)
        row = authorisations.consult_chief_officer(
            db, actor, application_id, body.outcome, body.comments, policy=context.policy
        )
        answer = schemas.consultation_out(row)
    response.headers["Location"] = f"/api/applications/{application_id}"
    return answer


authorities_api = APIRouter(prefix="/api/authorities", tags=["applications"])


@authorities_api.post(
    "/{authority_id}/confirmation",
    response_model=schemas.AuthorityOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="confirm_urgent_authority",
)
def api_confirm(context: Context, viewer: Decider, authority_id: str) -> schemas.AuthorityOut:
    """A Superintendent confirms an Inspector's urgent authority before it lapses (AUTH-3)."""
    return _confirm(context, viewer.actor, authority_id)


def _confirm(context: Context, actor: Actor, authority_id: str) -> schemas.AuthorityOut:
    with transaction(context.db) as db:
        authority = db.get(AuthorityRow, authority_id)
        if authority is None:
            raise NotFound("authority", authority_id)
        readable_application(db, actor, authority.application_id)
        confirmed = authorisations.confirm_urgent_authority(
            db, actor, authority_id, policy=context.policy
        )
        return authority_answer(confirmed, context.policy)
