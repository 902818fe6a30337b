"""The control outbox, node acknowledgements, node status and enrolled nodes (DEP-2);
late alerts.

A halt is written to `control_outbox` in the transaction that halts the deployment and is
re-sent until every node serving it acknowledged it (`control_ack`); nodes report their
state (`node_status`). An alert captured while its deployment ran but arriving after the
halt is stored as `late`; one captured after is refused and counted on the deployment.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "control_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("nodes", sa.Text(), nullable=False),
        sa.Column("published_at", _WHEN, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployment.id"],
            name=op.f("fk_control_outbox_deployment_id_deployment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_outbox")),
    )
    op.create_index(op.f("ix_control_outbox_deployment_id"), "control_outbox", ["deployment_id"])
    op.create_index(op.f("ix_control_outbox_delivered_at"), "control_outbox", ["delivered_at"])
    op.create_table(
        "control_ack",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.String(length=36), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("acked_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["control_outbox.id"],
            name=op.f("fk_control_ack_outbox_id_control_outbox"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_ack")),
        sa.UniqueConstraint("outbox_id", "node", name=op.f("uq_control_ack_outbox_id_node")),
    )
    op.create_index(op.f("ix_control_ack_outbox_id"), "control_ack", ["outbox_id"])
    op.create_table(
        "node_status",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=False),
        sa.Column("outbox_depth", sa.Integer(), nullable=True),
        sa.Column("reported_at", _WHEN, nullable=False),
        sa.Column("last_seen", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_node_status")),
    )
    op.create_index(op.f("ix_node_status_last_seen"), "node_status", ["last_seen"])
    op.create_table(
        "enrolled_node",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=200), nullable=False),
        sa.Column("enrolled_by", sa.String(length=200), nullable=False),
        sa.Column("enrolled_at", _WHEN, nullable=False),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_enrolled_node")),
    )
    with op.batch_alter_table("alert") as batch_op:
        batch_op.add_column(
            sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("deployment") as batch_op:
        batch_op.add_column(
            sa.Column("refused_alerts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("deployment") as batch_op:
        batch_op.drop_column("refused_alerts")
    with op.batch_alter_table("alert") as batch_op:
        batch_op.drop_column("late")
    op.drop_table("enrolled_node")
    op.drop_table("node_status")
    op.drop_table("control_ack")
    op.drop_table("control_outbox")
