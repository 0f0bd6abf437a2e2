"""Limits on phoning from alerts, and voice codes kept per API key.

- `alert_numbers`: the numbers a person typed into an alert, one row per alert
  and number, written with the alert: what ALERT_LIMIT_NUMBER_HOUR counts
  (with the calls with a code and the test calls to the number). An alert's
  own rounds and second rings are its one row.
- `ix_alerts_requester_created_at`: ALERT_LIMIT_REQUESTER_HOUR counts a
  person's recent alerts; `ix_legs_to_number_created_at`: the limits count a
  number's recent calls.
- `otp_codes.team_id` is now the code's owner: the Slack workspace, as before,
  or for a code asked through the HTTP API the key that asked for it ("api:"
  and the key's fingerprint, as the code's requester ID already says; never the
  key). One live code per number and owner, so one key's code is neither
  checked nor replaced by another. Codes already stored through the API take
  their requester's key.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_numbers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_alert_numbers_number_created_at", "alert_numbers", ["number", "created_at"])
    op.create_index("ix_alerts_requester_created_at", "alerts", ["team_id", "requester_id", "created_at"])
    op.create_index("ix_legs_to_number_created_at", "legs", ["to_number", "created_at"])
    # Before, every API key's codes shared the owner "": at most one of them was live per number, so
    # giving each its key cannot put two live codes under one owner.
    otp_codes = sa.table("otp_codes", sa.column("team_id", sa.String), sa.column("requester_id", sa.String),
                         sa.column("source", sa.String))
    op.execute(otp_codes.update().where(otp_codes.c.source == "api", otp_codes.c.team_id == "")
               .values(team_id=otp_codes.c.requester_id))


def downgrade() -> None:
    raise NotImplementedError("codes of several API keys cannot share one live number; restore a backup")
