"""Things good once: Plivo's request nonces and install links' states.

- `used_once`: the SHA-256 digest of each thing that may be used only once,
  until it could no longer be used anyway (`expires_at`): the V3 nonce of each
  Plivo request that serves a call script, so a captured request sent again is
  refused; the state of each install link that completed an install, so a link
  installs once (issuing a link writes nothing: its state is signed).
- `slack_oauth_states` is kept as it is (slack_sdk's table; its last rows expire
  within 10 minutes and the hourly sweep forgets them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_once",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("used_once")
