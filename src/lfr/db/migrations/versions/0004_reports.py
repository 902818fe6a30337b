"""Reports: post-deployment reviews, camera statistics, publication delays, public
documents, model evaluations and their charts, threshold justifications, perceived groups.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_evaluation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("model_version", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("labels_sha256", sa.String(length=64), nullable=False),
        sa.Column("lowest_equitable_threshold", sa.Float(), nullable=True),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_evaluation")),
    )
    with op.batch_alter_table("model_evaluation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_evaluation_model_version"), ["model_version"], unique=False
        )

    op.create_table(
        "evaluation_chart",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["model_evaluation.id"],
            name=op.f("fk_evaluation_chart_evaluation_id_model_evaluation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_chart")),
        sa.UniqueConstraint(
            "evaluation_id", "name", name=op.f("uq_evaluation_chart_evaluation_id_name")
        ),
    )
    with op.batch_alter_table("evaluation_chart", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_chart_evaluation_id"), ["evaluation_id"], unique=False
        )

    op.create_table(
        "public_document",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=80), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=36), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["user_account.id"],
            name=op.f("fk_public_document_uploaded_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_document")),
    )
    op.create_table(
        "threshold_justification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("equitable_threshold", sa.Float(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=36), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_threshold_justification_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_threshold_justification_decided_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["model_evaluation.id"],
            name=op.f("fk_threshold_justification_evaluation_id_model_evaluation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threshold_justification")),
    )
    with op.batch_alter_table("threshold_justification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_threshold_justification_application_id"),
            ["application_id"],
            unique=False,
        )

    op.create_table(
        "publication_delay",
        sa.Column("authority_id", sa.String(length=36), nullable=False),
        sa.Column("publish_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=36), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authority.id"],
            name=op.f("fk_publication_delay_authority_id_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_publication_delay_decided_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("authority_id", name=op.f("pk_publication_delay")),
    )
    op.create_table(
        "camera_statistics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("camera", sa.String(length=200), nullable=False),
        sa.Column("base_frames", sa.Integer(), nullable=False),
        sa.Column("base_faces", sa.Integer(), nullable=False),
        sa.Column("base_errors", sa.Integer(), nullable=False),
        sa.Column("last_frames", sa.Integer(), nullable=False),
        sa.Column("last_faces", sa.Integer(), nullable=False),
        sa.Column("last_errors", sa.Integer(), nullable=False),
        sa.Column("downtime_seconds", sa.Float(), nullable=False),
        sa.Column("down_reports", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.String(length=40), nullable=False),
        sa.Column("first_report_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_report_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployment.id"],
            name=op.f("fk_camera_statistics_deployment_id_deployment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_statistics")),
        sa.UniqueConstraint(
            "deployment_id", "camera", name=op.f("uq_camera_statistics_deployment_id_camera")
        ),
    )
    with op.batch_alter_table("camera_statistics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_camera_statistics_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "deployment_review",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("performance_assessment", sa.Text(), nullable=True),
        sa.Column("safeguards_assessment", sa.Text(), nullable=True),
        sa.Column("lessons", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_off_by", sa.String(length=36), nullable=True),
        sa.Column("signed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("figures", sa.Text(), nullable=True),
        sa.Column("figures_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployment.id"],
            name=op.f("fk_deployment_review_deployment_id_deployment"),
        ),
        sa.ForeignKeyConstraint(
            ["signed_off_by"],
            ["user_account.id"],
            name=op.f("fk_deployment_review_signed_off_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_deployment_review_updated_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_review")),
        sa.UniqueConstraint("deployment_id", name=op.f("uq_deployment_review_deployment_id")),
    )
    with op.batch_alter_table("deployment_review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployment_review_status"), ["status"], unique=False)

    op.create_table(
        "alert_perceived_group",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("perceived_group", sa.String(length=40), nullable=False),
        sa.Column("recorded_by", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_alert_perceived_group_alert_id_alert"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_alert_perceived_group_recorded_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert_perceived_group")),
    )


def downgrade() -> None:
    op.drop_table("alert_perceived_group")
    with op.batch_alter_table("deployment_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_review_status"))

    op.drop_table("deployment_review")
    with op.batch_alter_table("camera_statistics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_camera_statistics_deployment_id"))

    op.drop_table("camera_statistics")
    op.drop_table("publication_delay")
    with op.batch_alter_table("threshold_justification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_threshold_justification_application_id"))

    op.drop_table("threshold_justification")
    op.drop_table("public_document")
    with op.batch_alter_table("evaluation_chart", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_chart_evaluation_id"))

    op.drop_table("evaluation_chart")
    with op.batch_alter_table("model_evaluation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_evaluation_model_version"))

    op.drop_table("model_evaluation")
