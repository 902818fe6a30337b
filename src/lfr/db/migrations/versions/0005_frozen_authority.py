"""Frozen authorities: the database refuses to change a stored Written Authority Document.

An authority row is written once, when an application is approved (AUTH-5): its WAD, the
WAD's hash and the columns copied from it for queries never change afterwards, and the
row is never deleted (nor the table truncated). Only the urgent confirmation
(`confirmed_by`, `confirmed_at`) is filled in later, once. The WAD's hash already catches
an edit whenever the WAD is read, and `lfr audit check` compares the copied columns; this
guard stops the edit itself, as the audit tables' guard does (0001). Someone with the
database owner's rights can drop it; the hash still catches what they change.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROZEN_COLUMNS = (
    "id",
    "application_id",
    "wad",
    "wad_sha256",
    "urgent",
    "window_start",
    "window_end",
    "created_at",
)
CONFIRMATION_COLUMNS = ("confirmed_by", "confirmed_at")
"""Filled in once, when an urgent authority is confirmed (AUTH-3); never changed after."""
MESSAGE = "a Written Authority Document is frozen once approved (AUTH-5)"
"""No apostrophe: it sits inside a quoted SQL string."""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        changed = _changed("NEW.{c} IS DISTINCT FROM OLD.{c}")
        # TRUNCATE has neither NEW nor OLD: it is refused by its operation alone.
        op.execute(
            "CREATE FUNCTION lfr_frozen_authority() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP IN ('DELETE', 'TRUNCATE') OR {changed} "
            f"THEN RAISE EXCEPTION '{MESSAGE}'; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER authority_frozen BEFORE UPDATE OR DELETE ON authority "
            "FOR EACH ROW EXECUTE FUNCTION lfr_frozen_authority()"
        )
        op.execute(
            "CREATE TRIGGER authority_no_truncate BEFORE TRUNCATE ON authority "
            "FOR EACH STATEMENT EXECUTE FUNCTION lfr_frozen_authority()"
        )
        return
    changed = _changed("NEW.{c} IS NOT OLD.{c}")
    op.execute(
        f"CREATE TRIGGER authority_frozen BEFORE UPDATE ON authority WHEN {changed} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )
    op.execute(
        "CREATE TRIGGER authority_no_delete BEFORE DELETE ON authority "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )


def _changed(differs: str) -> str:
    """The SQL condition of a forbidden update, given how the dialect says "differs": a
    frozen column changed, or a confirmation already made is changed or undone."""
    frozen = [differs.format(c=c) for c in FROZEN_COLUMNS]
    confirmation = " OR ".join(differs.format(c=c) for c in CONFIRMATION_COLUMNS)
    return " OR ".join([*frozen, f"(OLD.confirmed_at IS NOT NULL AND ({confirmation}))"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER authority_no_truncate ON authority")
        op.execute("DROP TRIGGER authority_frozen ON authority")
        op.execute("DROP FUNCTION lfr_frozen_authority()")
        return
    op.execute("DROP TRIGGER authority_no_delete")
    op.execute("DROP TRIGGER authority_frozen")
