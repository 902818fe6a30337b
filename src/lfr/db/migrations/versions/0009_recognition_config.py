"""One resolved recognition configuration per deployment; each alert's calibration.

``deployment.recognition`` holds the configuration a deployment recognises with (the
threshold and its false-match rate, the rule, the describers, the calibration's SHA-256:
`lfr.reports.recognition.RecognitionConfig` as JSON) and ``deployment.calibration`` the
text of that calibration. Each alert records the false-match rate of its score and the
SHA-256 of the calibration that gave it.

Deployments stored before this migration are given the configuration the shipped engine
resolves for them (their authority's threshold, else the default they ran at, 0.946, with
the shipped calibration); their alerts have no recorded rate.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deployment", sa.Column("recognition", sa.Text(), nullable=True))
    op.add_column("deployment", sa.Column("calibration", sa.Text(), nullable=True))
    op.add_column("alert", sa.Column("false_match_rate", sa.Float(), nullable=True))
    op.add_column("alert", sa.Column("calibration_sha256", sa.String(64), nullable=True))
    _backfill_deployments()


def _backfill_deployments() -> None:
    from lfr.reports.recognition import RecognitionSettings, resolve_recognition
    from lfr.vision.engine_config import EngineConfig

    deployment = sa.table(
        "deployment",
        sa.column("id", sa.String),
        sa.column("alert_threshold", sa.Float),
        sa.column("recognition", sa.Text),
        sa.column("calibration", sa.Text),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(deployment.c.id, deployment.c.alert_threshold)).all()
    # The shipped engine, at the default threshold of the time these deployments ran
    # (0.946 until the walk-by benchmark moved it): a later default must not rewrite it.
    shipped = RecognitionSettings(EngineConfig(alert_threshold=0.946))
    for deployment_id, threshold in rows:
        resolved = resolve_recognition(shipped, threshold)
        bind.execute(
            deployment.update()
            .where(deployment.c.id == deployment_id)
            .values(
                recognition=resolved.config.model_dump_json(),
                calibration=resolved.calibration_text,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("calibration_sha256")
        batch.drop_column("false_match_rate")
    with op.batch_alter_table("deployment") as batch:
        batch.drop_column("calibration")
        batch.drop_column("recognition")
