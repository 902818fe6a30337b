"""Two-person account administration and sessions that record their second factor.

``account_reset`` holds requests to reset the password or second factor of someone holding
a role that reads biometrics (or the administrator role) until a second administrator
approves. ``user_account.created_by`` records who created an account (filled from the
audit log for existing accounts), since that person knew its first password and must not
approve its roles or resets. ``web_sessions.second_factor`` records whether a browser
passed the second-factor step; sessions from before this migration did not (their
holders sign in again to regain the roles that need one).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_reset",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_account_reset_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_reset")),
    )
    op.create_index(op.f("ix_account_reset_user_id"), "account_reset", ["user_id"])
    # Plain ALTERs (not batch copies): the tables keep their rows and constraints.
    op.execute("ALTER TABLE user_account ADD COLUMN created_by VARCHAR(64)")
    op.execute(
        "UPDATE user_account SET created_by = (SELECT audit_entry.actor_id FROM audit_entry "
        "WHERE audit_entry.object_type = 'user' AND audit_entry.object_id = user_account.id "
        "AND audit_entry.action = 'user.create' ORDER BY audit_entry.sequence LIMIT 1)"
    )
    op.execute("ALTER TABLE web_sessions ADD COLUMN second_factor BOOLEAN NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE web_sessions DROP COLUMN second_factor")
    op.execute("ALTER TABLE user_account DROP COLUMN created_by")
    op.drop_index(op.f("ix_account_reset_user_id"), table_name="account_reset")
    op.drop_table("account_reset")
