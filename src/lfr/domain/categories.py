"""The categories of person a watchlist may hold (College of Policing APP on LFR; WL-3).

Kept in a module of its own because both the authority (which categories it allows,
AUTH-1/AUTH-2) and the watchlist (each entry's category, WL-3/WL-4) speak of them.
"""

from __future__ import annotations

from enum import StrEnum


class WatchlistCategory(StrEnum):
    WANTED_BY_COURTS = "wanted_by_courts"
    SUSPECTED_OF_OFFENCE = "suspected_of_offence"
    BAIL_CONDITIONS = "bail_conditions"
    MISSING_AT_RISK = "missing_at_risk"
    RISK_OF_HARM = "risk_of_harm"
    ASSOCIATE = "associate"
    WITNESS = "witness"
    VICTIM = "victim"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    WatchlistCategory.WANTED_BY_COURTS: "wanted by the courts",
    WatchlistCategory.SUSPECTED_OF_OFFENCE: "suspected of having committed an offence",
    WatchlistCategory.BAIL_CONDITIONS: "subject to bail conditions or another order",
    WatchlistCategory.MISSING_AT_RISK: "missing person at increased risk",
    WatchlistCategory.RISK_OF_HARM: "presents a risk of harm to themselves or others",
    WatchlistCategory.ASSOCIATE: "close associate of a person in another category",
    WatchlistCategory.WITNESS: "witness whose evidence is sought",
    WatchlistCategory.VICTIM: "victim of an offence",
}
