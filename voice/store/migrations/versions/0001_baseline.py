"""The schema of the first release (calls, alerts and their legs, scheduled jobs, codes, refusals).

A database that release made with create_all has these tables and no
alembic_version: voice/migrate.py stamps it with this revision, then
upgrades it.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _requester() -> list[sa.Column]:
    return [
        sa.Column("requester_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("reply_url", sa.Text),
    ]


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("to_number", sa.String(20), nullable=False),
        *_requester(),
        sa.Column("request_id", sa.String(128), unique=True),
        sa.Column("secret", sa.String(16)),
        sa.Column("code_length", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_via", sa.String(16)),
        sa.Column("message_channel", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("request_uuid", sa.String(64), index=True),
        sa.Column("call_uuid", sa.String(64)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("cause", sa.Text),
        sa.Column("duration", sa.Integer),
        sa.Column("cost", sa.String(16)),
        sa.Column("code_id", sa.String(64), index=True),
        sa.Column("language", sa.String(8)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("code_read_at", sa.DateTime(timezone=True)),
        sa.Column("machine_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "otp_codes",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("number", sa.String(20), nullable=False, index=True),
        sa.Column("live_number", sa.String(20), unique=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checks_left", sa.Integer, nullable=False),
        sa.Column("requester_id", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("call_token", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "refusals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("requester_id", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("number", sa.String(32)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.String(128), unique=True),
        *_requester(),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("channel_name", sa.String(200)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("targets", sa.Text, nullable=False),
        sa.Column("skipped", sa.Text, nullable=False),
        sa.Column("rounds", sa.Integer, nullable=False),
        sa.Column("retry_delay", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_via", sa.String(8)),
        sa.Column("resolved_by", sa.String(32)),
        sa.Column("resolved_name", sa.String(200)),
        sa.Column("resolved_number", sa.String(20)),
        sa.Column("resolved_leg", sa.Integer),
        sa.Column("message_via", sa.String(16)),
        sa.Column("message_channel", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "alert_legs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False, index=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("target", sa.Integer, nullable=False),
        sa.Column("to_number", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("machine", sa.Boolean, nullable=False),
        sa.Column("stop_requested", sa.Boolean, nullable=False),
        sa.Column("permanent", sa.Boolean, nullable=False),
        sa.Column("silences", sa.Integer, nullable=False),
        sa.Column("request_uuid", sa.String(64)),
        sa.Column("call_uuid", sa.String(64)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("cause", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("alert_id", "position", "target"),
    )
    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("scheduled_jobs", "alert_legs", "alerts", "refusals", "otp_codes", "calls"):
        op.drop_table(table)
