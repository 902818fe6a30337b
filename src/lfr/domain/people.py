"""Who is who: ranks, roles and the acting person (SPEC "People and roles").

Pure values, no I/O. Every rule that asks "may this person do that?" receives an `Actor`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Rank(IntEnum):
    """Police ranks, ordered so that comparisons read naturally (rank >= SUPERINTENDENT).

    The Metropolitan Police's chief-officer ranks sit above Chief Superintendent; other
    forces' equivalents (Assistant Chief Constable, Deputy Chief Constable, Chief Constable)
    share their places.
    """

    STAFF = 0  # police staff without a warranted rank (operators, engineers, auditors)
    CONSTABLE = 1
    SERGEANT = 2
    INSPECTOR = 3
    CHIEF_INSPECTOR = 4
    SUPERINTENDENT = 5
    CHIEF_SUPERINTENDENT = 6
    COMMANDER = 7  # Assistant Chief Constable elsewhere: NPCC rank
    DEPUTY_ASSISTANT_COMMISSIONER = 8
    ASSISTANT_COMMISSIONER = 9  # Deputy Chief Constable elsewhere
    DEPUTY_COMMISSIONER = 10
    COMMISSIONER = 11  # Chief Constable elsewhere

    @property
    def is_chief_officer(self) -> bool:
        """NPCC (chief-officer) ranks: Commander / Assistant Chief Constable and above."""
        return self >= Rank.COMMANDER


class Role(StrEnum):
    """The roles of SPEC's table. A person may hold several; none grants itself."""

    APPLICANT = "applicant"
    AUTHORISING_OFFICER = "authorising_officer"
    CHIEF_OFFICER = "chief_officer"
    GOLD = "gold"
    SILVER = "silver"
    BRONZE = "bronze"
    OPERATOR = "operator"
    ENGAGEMENT_OFFICER = "engagement_officer"
    ENGINEER = "engineer"
    REVIEWER = "reviewer"
    OVERSIGHT = "oversight"
    ADMINISTRATOR = "administrator"


@dataclass(frozen=True, slots=True)
class Actor:
    """The person acting, as the rules and the audit log see them.

    `name` and `roles` are copied into audit entries as text, so an entry still reads
    correctly after the account is renamed or removed (AUD-1).
    """

    user_id: str
    name: str
    rank: Rank
    roles: frozenset[Role] = field(default_factory=frozenset)

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def roles_text(self) -> str:
        return ",".join(sorted(role.value for role in self.roles))


BIOMETRIC_ROLES = frozenset(
    {
        Role.APPLICANT,  # compiles the watchlist: its images
        Role.OPERATOR,  # alert probes and watchlist images side by side
        Role.ENGAGEMENT_OFFICER,  # the probe of an alert referred to them
        Role.BRONZE,
        Role.SILVER,
        Role.GOLD,  # the deployment's command: its alerts
        Role.REVIEWER,  # every alert and watchlist, after the event
    }
)
"""Roles that read biometric images (SPEC's role table; services/access.py decides each
read). Granting one needs a second administrator (two-person rule), and their holders
sign in with a second factor: a password alone never shows a face."""

TWO_PERSON_ROLES = BIOMETRIC_ROLES | {Role.ADMINISTRATOR}
"""Roles granted, and whose holders' passwords and second factors are reset, only with a
second administrator's approval: an administrator could otherwise make a second
administrator (or take over a reviewer's account) and satisfy the two-person rule alone."""


SYSTEM_ACTOR = Actor(user_id="system", name="lfr (automatic)", rank=Rank.STAFF)
"""Acts for scheduled work (retention runs, lapses); never decides about a person."""
