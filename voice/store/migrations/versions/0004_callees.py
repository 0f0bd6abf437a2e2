"""A second ring, passing an alert on, and the voice bridge.

- `legs.attempt`: 0 for a target's call at a position, 1 for its second ring
  (ALERT_REDIAL_DELAY after a busy or unanswered first one); a target is
  called once per position and attempt.
- `legs.passed_at`: the callee pressed 3 and passed the alert on to the next link.
- `alerts.redial_delay`: ALERT_REDIAL_DELAY when the alert was raised; 0 (no
  second ring) for alerts raised before this release.
- The voice bridge: `alerts.bridge_room` (the Plivo conference, once the
  acknowledger pressed 9), when it started and ended; the requester's number
  as their profile gave it (or why it cannot be called) and their Slack
  locale, read when the alert opened; `legs.bridge_joined_at` and
  `bridge_left_at`, when each call entered and left the conference, and
  `bridge_member`, its member ID there (to speak to it alone).
- `alerts.source_link`: the Slack message an alert was raised about, from the
  "Phone someone about this" shortcut.
- `legs.confirmed_at`: the App Home's test call, confirmed with a key.
- `workflow_steps`: Workflow Builder steps waiting for their alert or call to
  end, with each step's bot token sealed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_steps",
        sa.Column("execution_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
    )
    op.add_column("alerts", sa.Column("redial_delay", sa.Integer, nullable=False, server_default="0"))
    for column in (sa.Column("requester_number", sa.String(20)), sa.Column("requester_problem", sa.Text),
                   sa.Column("requester_locale", sa.String(16)), sa.Column("bridge_room", sa.String(64)),
                   sa.Column("bridge_started_at", sa.DateTime(timezone=True)),
                   sa.Column("bridge_ended_at", sa.DateTime(timezone=True)), sa.Column("source_link", sa.Text)):
        op.add_column("alerts", column)
    joined = sa.Column("bridge_joined_at", sa.DateTime(timezone=True))
    left = sa.Column("bridge_left_at", sa.DateTime(timezone=True))
    member = sa.Column("bridge_member", sa.String(32))
    confirmed = sa.Column("confirmed_at", sa.DateTime(timezone=True))
    attempt = sa.Column("attempt", sa.Integer, nullable=False, server_default="0")
    passed = sa.Column("passed_at", sa.DateTime(timezone=True))
    if op.get_context().dialect.name == "sqlite":
        # SQLite changes a constraint by rebuilding the table (nothing refers to legs, so it may be
        # rebuilt); release 0002 left the constraint unnamed, so the convention names it.
        with op.batch_alter_table("legs", recreate="always",
                                  naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}) as batch:
            batch.add_column(attempt)
            batch.add_column(passed)
            batch.add_column(joined)
            batch.add_column(left)
            batch.add_column(member)
            batch.add_column(confirmed)
            batch.drop_constraint("uq_legs_alert_id", type_="unique")
            batch.create_unique_constraint("uq_legs_call_of_target", ["alert_id", "position", "target", "attempt"])
    else:
        op.add_column("legs", attempt)
        op.add_column("legs", passed)
        op.add_column("legs", joined)
        op.add_column("legs", left)
        op.add_column("legs", member)
        op.add_column("legs", confirmed)
        op.drop_constraint("legs_alert_id_position_target_key", "legs", type_="unique")
        op.create_unique_constraint("uq_legs_call_of_target", "legs", ["alert_id", "position", "target", "attempt"])


def downgrade() -> None:
    raise NotImplementedError("a second ring cannot be kept in the older schema; restore a backup")
