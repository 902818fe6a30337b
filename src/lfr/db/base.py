"""Declarative base, naming convention and column types shared by every table.

The naming convention gives every constraint a predictable name, so Alembic migrations can
alter or drop them on SQLite (batch mode) and PostgreSQL alike.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import TypeVar

from sqlalchemy import DateTime, Dialect, Integer, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every ORM model in lfr."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind of datetime lfr stores)."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random identifier for a new row (UUID4 text: unguessable in URLs, mergeable)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC and made aware again on reading. Naive datetimes are refused on the way in:
    a time without a zone is ambiguous, and ambiguity in an audit log is a defect.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


S = TypeVar("S", bound=StrEnum)
N = TypeVar("N", bound=IntEnum)


class StrEnumText(TypeDecorator[S]):
    """Stores a text enum member by its value (``Role.OPERATOR`` -> "operator").

    Text rather than a native enum type: adding a member needs no migration, and the value
    reads the same in a raw dump as in the audit log.
    """

    impl = String(40)
    cache_ok = True

    def __init__(self, enum_type: type[S]) -> None:
        super().__init__()
        self.enum_type = enum_type

    def process_bind_param(self, value: S | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> S | None:
        return None if value is None else self.enum_type(value)


class IntEnumInteger(TypeDecorator[N]):
    """Stores an ordered enum (``Rank``) as its integer, so SQL can compare ranks."""

    impl = Integer
    cache_ok = True

    def __init__(self, enum_type: type[N]) -> None:
        super().__init__()
        self.enum_type = enum_type

    def process_bind_param(self, value: N | None, dialect: Dialect) -> int | None:
        return None if value is None else int(self.enum_type(value))

    def process_result_value(self, value: int | None, dialect: Dialect) -> N | None:
        return None if value is None else self.enum_type(value)
