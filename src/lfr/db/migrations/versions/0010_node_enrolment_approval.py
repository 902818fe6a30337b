"""A node's enrolment needs a second administrator's approval.

``enrolled_node`` gains who asked (``requested_by_id``) and who approved, when
(``approved_by``, ``approved_at``): a node enrolled by one administrator is trusted with
nothing (no message accepted, no watchlist released, no bus access) until another approves.
Nodes enrolled before this migration count as approved by whoever enrolled them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (not batch copies): the table keeps its rows and constraints.
    op.add_column("enrolled_node", sa.Column("requested_by_id", sa.String(64), nullable=True))
    op.add_column("enrolled_node", sa.Column("approved_by", sa.String(200), nullable=True))
    op.add_column(
        "enrolled_node", sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE enrolled_node SET approved_by = enrolled_by, approved_at = enrolled_at")


def downgrade() -> None:
    for column in ("approved_at", "approved_by", "requested_by_id"):
        op.drop_column("enrolled_node", column)
