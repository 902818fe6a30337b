"""Accounts and training records (SPEC "People and roles", TRN-1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lfr.crypto import EncryptedBytes
from lfr.db.base import Base, IntEnumInteger, StrEnumText, UTCDateTime, new_id, utcnow
from lfr.domain.people import Rank, Role


class User(Base):
    """A person who signs in. Roles are rows of ``user_role``; training of ``training_record``."""

    __tablename__ = "user_account"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    rank: Mapped[Rank] = mapped_column(IntEnumInteger(Rank))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[bytes | None] = mapped_column(EncryptedBytes("user_account.totp_secret"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    held_two_person_role: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    """Has held a role of `TWO_PERSON_ROLES`: resets of its sign-in stay two-person after its
    roles are removed (one administrator could otherwise remove them, reset the account alone
    and have a routine grant restore them to an account they now sign in to)."""
    """Who created the account: they knew its first password, so they never approve its
    roles or resets (two-person rule)."""

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(row.role for row in self.role_rows)


class UserRole(Base):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(StrEnumText(Role))

    user: Mapped[User] = relationship(back_populates="role_rows")


class TrainingRecord(Base):
    """A completed course for one role, valid until ``expires_at`` (TRN-1)."""

    __tablename__ = "training_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(StrEnumText(Role))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TwoPersonRequest:
    """What every request awaiting a second administrator holds: whose account, why, who
    asked and when, and the decision (`lfr.services.people` decides them alike)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(2000))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved: Mapped[bool | None] = mapped_column(Boolean)


class RoleGrant(TwoPersonRequest, Base):
    """A request to grant roles that read biometrics, awaiting a second administrator
    (two-person rule): nothing is granted until someone other than the requester approves."""

    __tablename__ = "role_grant"

    roles: Mapped[str] = mapped_column(String(400))
    """The roles to add, comma-separated (role values)."""

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(value) for value in self.roles.split(",") if value)


class AccountReset(TwoPersonRequest, Base):
    """A request to reset the password or second factor of someone holding a two-person
    role, awaiting a second administrator: the one-time password is issued only on approval,
    to the approver, so no single administrator can take over such an account."""

    __tablename__ = "account_reset"

    kind: Mapped[str] = mapped_column(String(20))
    """``password`` or ``second_factor`` (`lfr.services.people.ResetKind`)."""
