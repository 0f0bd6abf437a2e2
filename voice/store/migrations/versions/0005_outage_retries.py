"""Calls and alerts through a Plivo or Slack outage.

- `legs.retrying_since`: Plivo failed the call's create-call in a way that
  certainly placed nothing (a 5xx, no connection, a 429) since then; it is
  tried again for as long as the call is useful, and the channel says so.
- `alerts.links`: the links of an alert's chain as they were typed, for an
  alert whose numbers were called before Slack could look its people up
  (their links are filled in later); NULL: as many as its targets name.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("legs", sa.Column("retrying_since", sa.DateTime(timezone=True)))
    op.add_column("alerts", sa.Column("links", sa.Integer))


def downgrade() -> None:
    op.drop_column("alerts", "links")
    op.drop_column("legs", "retrying_since")
