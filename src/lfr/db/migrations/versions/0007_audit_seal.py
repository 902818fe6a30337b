"""Audit seal, a guarded chain head (AUD-1) and role grants awaiting a second person.

Each audit entry gains ``mac``: HMAC-SHA256 of its hash under a key kept off the database
(LFR_AUDIT_CHAIN_KEY), so an edited entry whose hashes were recomputed has no valid seal.
Entries written before this migration carry none; every later one must.

The chain head (``audit_head``) was an ordinary row: someone deleting the last entries
could move it back and the log looked whole. The database now refuses to insert or delete
a head row, and lets the head move only one entry forward, onto an entry it holds. Someone
with the database owner's rights can drop this guard; the seal and the published signed
checkpoints still catch what they change.

``role_grant`` holds requests to grant roles that read biometrics until a second
administrator approves them (two-person rule).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "the audit chain head only moves forward onto a stored entry (AUD-1)"
FORWARD = (
    "NEW.id = OLD.id AND NEW.sequence = OLD.sequence + 1 AND EXISTS (SELECT 1 FROM "
    "audit_entry WHERE audit_entry.sequence = NEW.sequence AND audit_entry.hash = NEW.hash)"
)


def upgrade() -> None:
    _role_grant_table()
    # Plain ALTER (not a batch copy): SQLite keeps the table and its append-only triggers.
    op.execute("ALTER TABLE audit_entry ADD COLUMN mac VARCHAR(64)")
    if op.get_bind().dialect.name == "postgresql":
        _postgres_guard()
        return
    op.execute(
        f"CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head WHEN NOT ({FORWARD}) "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )
    for event in ("INSERT", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_head_no_{event.lower()} BEFORE {event} ON audit_head "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def _role_grant_table() -> None:
    op.create_table(
        "role_grant",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("roles", sa.String(400), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_role_grant_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grant")),
    )
    op.create_index(op.f("ix_role_grant_user_id"), "role_grant", ["user_id"])


def _postgres_guard() -> None:
    op.execute(
        "CREATE FUNCTION lfr_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'UPDATE' THEN IF {FORWARD} THEN RETURN NEW; END IF; END IF; "
        f"RAISE EXCEPTION '{MESSAGE}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_head_forward BEFORE INSERT OR UPDATE OR DELETE ON audit_head "
        "FOR EACH ROW EXECUTE FUNCTION lfr_audit_head_forward()"
    )
    op.execute(
        "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
        "FOR EACH STATEMENT EXECUTE FUNCTION lfr_audit_head_forward()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_head_no_truncate ON audit_head")
        op.execute("DROP TRIGGER audit_head_forward ON audit_head")
        op.execute("DROP FUNCTION lfr_audit_head_forward()")
    else:
        for name in ("forward", "no_insert", "no_delete"):
            op.execute(f"DROP TRIGGER audit_head_{name}")
    op.execute("ALTER TABLE audit_entry DROP COLUMN mac")
    op.drop_index(op.f("ix_role_grant_user_id"), table_name="role_grant")
    op.drop_table("role_grant")
