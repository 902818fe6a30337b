"""Web application: sessions, sign-in throttle, second-factor steps, one-time passwords,
camera sources.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_index(op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"])
    op.create_table(
        "web_sign_in_throttle",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_web_sign_in_throttle")),
    )
    op.create_table(
        "web_second_factor_steps",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("pending_secret", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_web_second_factor_steps")),
    )
    op.create_table(
        "web_one_time_passwords",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_web_one_time_passwords")),
    )
    op.create_table(
        "camera_source",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("source", sa.String(2000), nullable=False),
        sa.Column("configured_by", sa.String(200), nullable=False),
        sa.Column("configured_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_camera_source")),
    )


def downgrade() -> None:
    op.drop_table("camera_source")
    op.drop_table("web_one_time_passwords")
    op.drop_table("web_second_factor_steps")
    op.drop_table("web_sign_in_throttle")
    op.drop_index(op.f("ix_web_sessions_expires_at"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
