"""The hotline: its inbound calls, and the alerts that place their call-outs.

- `hotline_calls`: one row per call to a hotline number (Plivo's CallUUID, unique): who called, where it
  stands (waiting, connected, voicemail, ended, refused), its waiting room, the alert placing its call-outs,
  who took it, the voicemail's recording and transcript, and its message in Slack.
- `alerts.hotline_call`: the hotline call an alert's calls are for.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotline_calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("call_uuid", sa.String(64), nullable=False, unique=True),
        sa.Column("hotline", sa.String(20), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("caller", sa.String(20)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("team_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("alert_id", sa.Integer),
        sa.Column("voicemail_reason", sa.String(16)),
        sa.Column("taker", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("recording_url", sa.Text),
        sa.Column("recording_seconds", sa.Integer),
        sa.Column("transcript", sa.Text),
        sa.Column("callback_by", sa.String(32)),
        sa.Column("message_via", sa.String(16)),
        sa.Column("message_channel", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("reply_uses", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message_digest", sa.String(16)),
    )
    op.create_index("ix_hotline_calls_caller_created_at", "hotline_calls", ["caller", "created_at"])
    op.add_column("alerts", sa.Column("hotline_call", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("hotline_call")
    op.drop_table("hotline_calls")
