"""Whether an account has ever held a two-person role: its sign-in resets stay two-person
after its roles are removed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TWO_PERSON_ROLES = (
    "administrator",
    "applicant",
    "bronze",
    "engagement_officer",
    "gold",
    "operator",
    "reviewer",
    "silver",
)
"""`lfr.domain.people.TWO_PERSON_ROLES` when this revision was written (kept here: a
migration must not change with the code)."""


def upgrade() -> None:
    with op.batch_alter_table("user_account") as table:
        table.add_column(
            sa.Column(
                "held_two_person_role", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    roles = sa.table("user_role", sa.column("user_id", sa.String), sa.column("role", sa.Text))
    accounts = sa.table(
        "user_account", sa.column("id", sa.String), sa.column("held_two_person_role", sa.Boolean)
    )
    holders = sa.select(roles.c.user_id).where(roles.c.role.in_(TWO_PERSON_ROLES))
    op.execute(
        accounts.update().where(accounts.c.id.in_(holders)).values(held_two_person_role=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("user_account") as table:
        table.drop_column("held_two_person_role")
