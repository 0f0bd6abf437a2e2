"""Alerts from monitoring: integrations, and incidents as alerts.

- `integrations`: one row per integration (ROUTING_FILE's, rewritten whenever it is read, and those
  added in Slack): its channel, whom it phones, the SHA-256 of its token, when it last alerted and
  phoned, and the alert storm under way.
- `alerts` gain what an incident carries: its integration and source, the source's dedup key, a
  unique `open_key` while the source has not resolved it, severity, details, how often it fired and
  when last, and when (and by which source) it was resolved.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40), nullable=False, unique=True),
        sa.Column("team_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("call", sa.Text, nullable=False),
        sa.Column("stages", sa.Text, nullable=False),
        sa.Column("lang", sa.String(16)),
        sa.Column("phone", sa.Text),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("defined_in", sa.String(8), nullable=False),
        sa.Column("created_by", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_alert_at", sa.DateTime(timezone=True)),
        sa.Column("last_call_out_at", sa.DateTime(timezone=True)),
        sa.Column("storm_started_at", sa.DateTime(timezone=True)),
        sa.Column("storm_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("storm_channel", sa.String(32)),
        sa.Column("storm_ts", sa.String(32)),
        sa.Column("storm_digest", sa.String(16)),
    )
    # Plain ADD COLUMNs: SQLite rebuilding `alerts` would trip over the legs that refer to it.
    for column in (
        sa.Column("integration", sa.String(40)),
        sa.Column("source", sa.String(16)),
        sa.Column("dedup_key", sa.Text),
        sa.Column("open_key", sa.String(64)),
        sa.Column("severity", sa.String(32)),
        sa.Column("details", sa.Text),
        sa.Column("fire_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_fired_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("closed_source", sa.String(16)),
    ):
        op.add_column("alerts", column)
    op.create_index("uq_alerts_open_key", "alerts", ["open_key"], unique=True)
    op.create_index("ix_alerts_integration_created_at", "alerts", ["integration", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_integration_created_at", "alerts")
    op.drop_index("uq_alerts_open_key", "alerts")
    with op.batch_alter_table("alerts") as batch:
        for column in ("closed_source", "closed_at", "last_fired_at", "fire_count", "details", "severity",
                       "open_key", "dedup_key", "source", "integration"):
            batch.drop_column(column)
    op.drop_table("integrations")
