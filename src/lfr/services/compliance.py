"""Compliance checks (AUD-2): authorities in force, watchlist currency and composition,
training; plus what retention should already have deleted (DP-1, WL-6).

Read-only: it reports, it never repairs. `lfr audit check` prints the findings and exits 1
when any is a failure, so a scheduler or an auditor's script can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.governance import AlertRow, AuthorityRow, DeploymentRow
from lfr.domain import deployment as deployment_rules
from lfr.domain.authorisation import authority_problems, read_wad, scope_of, urgent_lapse_time
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.refusal import Refusal, Unmet
from lfr.domain.watchlist import compiled_at, composition_problems, currency_problems
from lfr.services import retention
from lfr.services._rows import moment
from lfr.services.authorisations import authority_of
from lfr.services.deployments import start_context
from lfr.services.policy import GovernancePolicy
from lfr.services.watchlists import listed_entries


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.level.value:<8} {self.rule:<6} {self.subject}: {self.detail}"


def _from(unmet: Unmet, level: Level, subject: str) -> Finding:
    where = f" ({unmet.field})" if unmet.field else ""
    return Finding(level, unmet.rule, subject, f"{unmet.reason}{where}")


def check_compliance(
    session: Session, *, now: datetime | None = None, policy: GovernancePolicy
) -> list[Finding]:
    """Every finding at `now`: failures first; an empty list means nothing to look at."""
    at, chosen = moment(now), policy
    findings = _authority_findings(session, at, chosen)
    findings += _deployment_findings(session, at, chosen)
    findings += _retention_findings(session, at, chosen)
    order = {Level.FAILURE: 0, Level.WARNING: 1, Level.OK: 2}
    return sorted(findings, key=lambda f: order[f.level])


def _authority_findings(session: Session, at: datetime, policy: GovernancePolicy) -> list[Finding]:
    findings: list[Finding] = []
    current = session.scalars(select(AuthorityRow).where(AuthorityRow.window_end > at))
    for row in current:
        subject = f"authority {row.id} ({row.application.title})"
        try:
            authority = authority_of(row)
        except Refusal as refusal:
            findings.append(_from(refusal.unmet[0], Level.FAILURE, subject))
            continue
        findings += _wad_columns(row, subject)
        problems = authority_problems(authority, at, policy.urgent_validity)
        findings += [_from(p, Level.WARNING, subject) for p in problems]
        lapse = urgent_lapse_time(authority, policy.urgent_validity)
        if lapse is not None and lapse > at:
            findings.append(
                Finding(
                    Level.WARNING,
                    "AUTH-3",
                    subject,
                    f"urgent authority awaiting a Superintendent; lapses {lapse.isoformat()}",
                )
            )
        if not problems:
            findings.append(Finding(Level.OK, "AUTH-2", subject, "in force"))
    return findings


def _wad_columns(row: AuthorityRow, subject: str) -> list[Finding]:
    """The query columns copied from the WAD still say what the WAD says (AUTH-5)."""
    application, decision = read_wad(row.wad)
    window = scope_of(application, decision.conditions).window
    if (row.window_start, row.window_end) != (window.start, window.end):
        return [Finding(Level.FAILURE, "AUTH-5", subject, "window columns differ from the WAD")]
    return []


def _deployment_findings(session: Session, at: datetime, policy: GovernancePolicy) -> list[Finding]:
    findings: list[Finding] = []
    active = (DeploymentStatus.PLANNED, DeploymentStatus.RUNNING, DeploymentStatus.HALTED)
    for row in session.scalars(select(DeploymentRow).where(DeploymentRow.status.in_(active))):
        subject = f"deployment {row.id} ({row.status.value})"
        if row.status is DeploymentStatus.RUNNING:
            findings += _running_findings(session, row, at, policy, subject)
        elif row.status is DeploymentStatus.PLANNED:
            context, _ = start_context(session, row, at, policy)
            not_yet_open = at < context.authority.scope.window.start
            unmet = [
                p
                for p in deployment_rules.start_problems(context, at)
                if not (not_yet_open and p.field == "window")  # waiting is not a problem
            ]
            findings += [_from(p, Level.WARNING, subject + ": not ready") for p in unmet]
    return findings


def _running_findings(
    session: Session,
    row: DeploymentRow,
    at: datetime,
    policy: GovernancePolicy,
    subject: str,
) -> list[Finding]:
    """A running deployment must still meet DEP-1 now, except the sealing itself; its
    watchlist must have been current when it started (WL-2)."""
    context, watchlist = start_context(session, row, at, policy)
    started = row.started_at or at
    scope = context.authority.scope
    problems = authority_problems(context.authority, at, policy.urgent_validity)
    if not scope.window.contains(at):
        problems.append(Unmet("DEP-1", "running outside the authorised window", "window"))
    entries = listed_entries(watchlist) if watchlist else []
    problems += composition_problems(entries, scope)
    problems += currency_problems(compiled_at(entries), started, policy.currency_limit)
    problems += deployment_rules.staffing_problems(
        context.assignments, context.people, context.trained
    )
    if not problems:
        return [Finding(Level.OK, "DEP-1", subject, "authority, watchlist and staff in order")]
    return [_from(p, Level.FAILURE, subject) for p in problems]


def _last_run(session: Session) -> Finding:
    """When retention last ran (DP-1): the overdue findings say whether it ran often enough."""
    last = retention.last_retention_run(session)
    when = f"last ran {last:%Y-%m-%d %H:%M} UTC" if last else "has not run yet"
    return Finding(Level.OK, "DP-1", "retention", when)


def _retention_findings(session: Session, at: datetime, policy: GovernancePolicy) -> list[Finding]:
    findings = [_last_run(session)] + [
        Finding(
            Level.FAILURE,
            "WL-6",
            f"watchlist {w.id}",
            "images and templates overdue for destruction: run `lfr retention run`",
        )
        for w in retention.due_watchlists(session, at, policy)
    ]
    overdue = len(retention.due_alerts(session, at, policy))
    if overdue:
        findings.append(
            Finding(
                Level.FAILURE,
                "DP-1",
                "alerts",
                f"{overdue} overdue for deletion: run `lfr retention run`",
            )
        )
    lapsed_holds = session.scalars(
        select(AlertRow.id).where(AlertRow.hold_review_on <= at.date())
    ).all()
    findings += [
        Finding(Level.WARNING, "DP-3", f"alert {alert_id}", "investigation hold due for review")
        for alert_id in lapsed_holds
    ]
    return findings
