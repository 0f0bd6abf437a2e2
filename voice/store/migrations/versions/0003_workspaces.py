"""Installs in many workspaces: Slack's installations and OAuth states, and voice codes kept per workspace.

- `slack_installations`, `slack_bots` and `slack_oauth_states` are the tables
  of slack_sdk's SQLAlchemy installation and state stores
  (slack_sdk.oauth.installation_store.sqlalchemy, …state_store.sqlalchemy),
  written out here as they are in slack-sdk 3.48 so that this migration stays
  what it was whatever a later slack_sdk does; a test compares them with the
  stores' own tables. Bot tokens live in `slack_bots`, sealed (bot/installs.py).
- `otp_codes.team_id`: the workspace a code was sent from ("" for the HTTP
  API). One live code per number *per workspace*, so a code sent from one
  workspace is neither replaced nor checked from another. Codes already
  stored take the workspace of their call.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _create_slack_tables()
    _keep_codes_per_workspace()


def downgrade() -> None:
    raise NotImplementedError("codes of several workspaces cannot share one live number; restore a backup")


def _bot_columns() -> list[sa.Column]:
    """What slack_sdk keeps of a workspace's bot, in both its tables."""
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.String(200)),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.String(200)),
        sa.Column("bot_token_expires_at", sa.DateTime),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
        sa.Column("installed_at", sa.DateTime, nullable=False),
    ]


def _create_slack_tables() -> None:
    op.create_table(
        "slack_installations",
        *_bot_columns(),
        sa.Column("enterprise_url", sa.String(200)),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("user_token", sa.String(200)),
        sa.Column("user_scopes", sa.String(1000)),
        sa.Column("user_refresh_token", sa.String(200)),
        sa.Column("user_token_expires_at", sa.DateTime),
        sa.Column("incoming_webhook_url", sa.String(200)),
        sa.Column("incoming_webhook_channel", sa.String(200)),
        sa.Column("incoming_webhook_channel_id", sa.String(200)),
        sa.Column("incoming_webhook_configuration_url", sa.String(200)),
        sa.Column("token_type", sa.String(32)),
    )
    op.create_index("slack_installations_idx", "slack_installations",
                    ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"])
    op.create_table("slack_bots", *_bot_columns())
    op.create_index("slack_bots_idx", "slack_bots", ["client_id", "enterprise_id", "team_id", "installed_at"])
    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("state", sa.String(200), nullable=False),
        sa.Column("expire_at", sa.DateTime, nullable=False),
    )


def _keep_codes_per_workspace() -> None:
    team = sa.Column("team_id", sa.String(32), nullable=False, server_default="")
    if op.get_context().dialect.name == "sqlite":
        # SQLite changes a constraint by rebuilding the table; the first release left the unique
        # constraint on live_number unnamed, so the convention names it for the rebuild.
        with op.batch_alter_table("otp_codes", recreate="always",
                                  naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}) as batch:
            batch.add_column(team)
            batch.drop_constraint("uq_otp_codes_live_number", type_="unique")
            batch.create_unique_constraint("uq_otp_codes_team_live", ["team_id", "live_number"])
    else:
        op.add_column("otp_codes", team)
        op.drop_constraint("otp_codes_live_number_key", "otp_codes", type_="unique")
        op.create_unique_constraint("uq_otp_codes_team_live", "otp_codes", ["team_id", "live_number"])
    op.execute(
        "UPDATE otp_codes SET team_id = COALESCE("
        "(SELECT legs.team_id FROM legs WHERE legs.code_id = otp_codes.id AND legs.team_id IS NOT NULL LIMIT 1), '')"
    )
