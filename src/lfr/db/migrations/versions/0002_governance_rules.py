"""Governance rules: applications, authorities (WAD), consultations, watchlists and their
images, the blue list, deployments and assignments, alerts and their probes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "application",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("applicant_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_kind", sa.String(40), nullable=True),
        sa.Column("decision_reasons", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["applicant_id"],
            ["user_account.id"],
            name=op.f("fk_application_applicant_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["user_account.id"], name=op.f("fk_application_decided_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
    )
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_applicant_id"), ["applicant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_application_status"), ["status"], unique=False)

    op.create_table(
        "authority",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("wad", sa.LargeBinary(), nullable=False),
        sa.Column("wad_sha256", sa.String(length=64), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by", sa.String(length=36), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_authority_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by"],
            ["user_account.id"],
            name=op.f("fk_authority_confirmed_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority")),
        sa.UniqueConstraint("application_id", name=op.f("uq_authority_application_id")),
    )
    with op.batch_alter_table("authority", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authority_window_end"), ["window_end"], unique=False)

    op.create_table(
        "consultation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("comments", sa.Text(), nullable=False),
        sa.Column("consulted_by", sa.String(length=36), nullable=False),
        sa.Column("consulted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_consultation_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["consulted_by"],
            ["user_account.id"],
            name=op.f("fk_consultation_consulted_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation")),
    )
    with op.batch_alter_table("consultation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "deployment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("authority_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("places", sa.Text(), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=False),
        sa.Column("alert_threshold", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=36), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("halted_by", sa.String(length=36), nullable=True),
        sa.Column("halted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("halt_reason", sa.Text(), nullable=True),
        sa.Column("finished_by", sa.String(length=36), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["authority.id"], name=op.f("fk_deployment_authority_id_authority")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_deployment_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["finished_by"],
            ["user_account.id"],
            name=op.f("fk_deployment_finished_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["halted_by"], ["user_account.id"], name=op.f("fk_deployment_halted_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["started_by"], ["user_account.id"], name=op.f("fk_deployment_started_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment")),
        sa.UniqueConstraint("authority_id", name=op.f("uq_deployment_authority_id")),
    )
    with op.batch_alter_table("deployment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployment_status"), ["status"], unique=False)

    op.create_table(
        "watchlist",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("authority_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("biometrics_destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["authority.id"], name=op.f("fk_watchlist_authority_id_authority")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_watchlist_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist")),
        sa.UniqueConstraint("authority_id", name=op.f("uq_watchlist_authority_id")),
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("camera", sa.String(length=200), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("list_kind", sa.String(40), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("factors", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("emitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("claimed_by", sa.String(length=36), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("referred_by", sa.String(length=36), nullable=True),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("outcome_identity", sa.String(40), nullable=True),
        sa.Column("outcome_actions", sa.String(length=200), nullable=True),
        sa.Column("outcome_notes", sa.Text(), nullable=True),
        sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_by", sa.String(length=36), nullable=True),
        sa.Column("hold_reason", sa.Text(), nullable=True),
        sa.Column("hold_review_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["claimed_by"], ["user_account.id"], name=op.f("fk_alert_claimed_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["user_account.id"], name=op.f("fk_alert_decided_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployment.id"], name=op.f("fk_alert_deployment_id_deployment")
        ),
        sa.ForeignKeyConstraint(
            ["hold_by"], ["user_account.id"], name=op.f("fk_alert_hold_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["referred_by"], ["user_account.id"], name=op.f("fk_alert_referred_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint("event_id", name=op.f("uq_alert_event_id")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_deployment_id"), ["deployment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "blue_list_entry",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("watchlist_id", sa.String(length=36), nullable=False),
        sa.Column("staff_user_id", sa.String(length=36), nullable=False),
        sa.Column("consent_statement", sa.Text(), nullable=False),
        sa.Column("image_source", sa.Text(), nullable=False),
        sa.Column("enrolled_by", sa.String(length=36), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("template", sa.LargeBinary(), nullable=True),
        sa.Column("model_id", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolled_by"],
            ["user_account.id"],
            name=op.f("fk_blue_list_entry_enrolled_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["user_account.id"],
            name=op.f("fk_blue_list_entry_staff_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlist.id"],
            name=op.f("fk_blue_list_entry_watchlist_id_watchlist"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blue_list_entry")),
        sa.UniqueConstraint(
            "watchlist_id",
            "staff_user_id",
            name=op.f("uq_blue_list_entry_watchlist_id_staff_user_id"),
        ),
    )
    with op.batch_alter_table("blue_list_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_blue_list_entry_watchlist_id"), ["watchlist_id"], unique=False
        )

    op.create_table(
        "deployment_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("assigned_by", sa.String(length=36), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by"],
            ["user_account.id"],
            name=op.f("fk_deployment_assignment_assigned_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployment.id"],
            name=op.f("fk_deployment_assignment_deployment_id_deployment"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_deployment_assignment_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_assignment")),
        sa.UniqueConstraint(
            "deployment_id",
            "user_id",
            "role",
            name=op.f("uq_deployment_assignment_deployment_id_user_id_role"),
        ),
    )
    with op.batch_alter_table("deployment_assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployment_assignment_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "watchlist_entry",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("watchlist_id", sa.String(length=36), nullable=False),
        sa.Column("subject_reference", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("image_source", sa.Text(), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("under_18_justification", sa.Text(), nullable=True),
        sa.Column("attested_by", sa.String(length=36), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attested_by"],
            ["user_account.id"],
            name=op.f("fk_watchlist_entry_attested_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlist.id"],
            name=op.f("fk_watchlist_entry_watchlist_id_watchlist"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_entry")),
        sa.UniqueConstraint(
            "watchlist_id",
            "subject_reference",
            name=op.f("uq_watchlist_entry_watchlist_id_subject_reference"),
        ),
    )
    with op.batch_alter_table("watchlist_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watchlist_entry_watchlist_id"), ["watchlist_id"], unique=False
        )

    op.create_table(
        "alert_probe",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_alert_probe_alert_id_alert"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert_probe")),
    )
    op.create_table(
        "watchlist_image",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("template", sa.LargeBinary(), nullable=False),
        sa.Column("model_id", sa.String(length=80), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["watchlist_entry.id"],
            name=op.f("fk_watchlist_image_entry_id_watchlist_entry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_image")),
    )
    with op.batch_alter_table("watchlist_image", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watchlist_image_entry_id"), ["entry_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("watchlist_image", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_image_entry_id"))

    op.drop_table("watchlist_image")
    op.drop_table("alert_probe")
    with op.batch_alter_table("watchlist_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_entry_watchlist_id"))

    op.drop_table("watchlist_entry")
    with op.batch_alter_table("deployment_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_assignment_deployment_id"))

    op.drop_table("deployment_assignment")
    with op.batch_alter_table("blue_list_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blue_list_entry_watchlist_id"))

    op.drop_table("blue_list_entry")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_subject_id"))
        batch_op.drop_index(batch_op.f("ix_alert_state"))
        batch_op.drop_index(batch_op.f("ix_alert_deployment_id"))
        batch_op.drop_index(batch_op.f("ix_alert_created_at"))

    op.drop_table("alert")
    op.drop_table("watchlist")
    with op.batch_alter_table("deployment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_status"))

    op.drop_table("deployment")
    with op.batch_alter_table("consultation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_application_id"))

    op.drop_table("consultation")
    with op.batch_alter_table("authority", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authority_window_end"))

    op.drop_table("authority")
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_status"))
        batch_op.drop_index(batch_op.f("ix_application_applicant_id"))

    op.drop_table("application")
