"""On-call schedules and their overrides.

- `schedules`: one row per schedule (ROUTING_FILE's, rewritten whenever it is read, and those made in
  Slack): time zone, members, shift, hand-off, start, the user group and channel it keeps informed, the
  calendar feed's salt, members seen deactivated, and who was last announced as on call.
- `schedule_overrides`: someone on call instead, for a period.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40), nullable=False, unique=True),
        sa.Column("team_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("members", sa.Text, nullable=False),
        sa.Column("shift", sa.String(8), nullable=False),
        sa.Column("handoff", sa.String(16), nullable=False),
        sa.Column("start", sa.String(10), nullable=False),
        sa.Column("user_group", sa.String(32)),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("defined_in", sa.String(8), nullable=False),
        sa.Column("created_by", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feed_salt", sa.String(64)),
        sa.Column("inactive", sa.Text, nullable=False, server_default="[]"),
        sa.Column("announced_user", sa.String(32)),
        sa.Column("announced_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "schedule_overrides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("schedule", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_schedule_overrides_schedule_end_at", "schedule_overrides", ["schedule", "end_at"])


def downgrade() -> None:
    op.drop_table("schedule_overrides")
    op.drop_table("schedules")
