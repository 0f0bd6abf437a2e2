"""Which bot token speaks for which Slack workspace.

One workspace (SLACK_BOT_TOKEN): one client for everything. Installs in many
workspaces (SLACK_CLIENT_ID / SLACK_CLIENT_SECRET): each workspace's bot token
comes from its installation, kept by slack_sdk's SQLAlchemy installation store
in our database, so the workers post, update and look people up in the
workspace a call or alert came from, with that workspace's token.
https://docs.slack.dev/authentication/installing-with-oauth
"""

from __future__ import annotations

import logging
from typing import Protocol

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.models.bot import Bot
from sqlalchemy import desc, select

from bot.installs.oauth import SealedInstallationStore
from voice.queue.work import GiveUp

log = logging.getLogger(__name__)


class Workspaces(Protocol):
    def client(self, team_id: str) -> WebClient:
        """The Web API client of workspace `team_id` ("" where a report belongs to no workspace).
        Raises GiveUp when the app is not installed there."""


class OneWorkspace:
    """SLACK_BOT_TOKEN: every workspace the app hears from is the one it was given a token for."""

    def __init__(self, client: WebClient):
        self._client = client

    def client(self, team_id: str) -> WebClient:
        return self._client


class InstalledWorkspaces:
    """Each workspace's bot token, from its installation (the newest one that has a bot token)."""

    def __init__(self, store: SealedInstallationStore, base_url: str, timeout: int = 10):
        self._store = store
        self._base_url = base_url
        self._timeout = timeout
        self._clients: dict[str, WebClient] = {}  # by token: a reinstall's new token gets a new client

    def bot(self, team_id: str) -> Bot | None:
        """The workspace's bot: installed in the workspace, else in its Enterprise Grid organisation (an
        org-wide install, when there is one). Without a workspace (the HTTP API's audit channel), the one
        workspace installed, if only one is. None too when its token cannot be opened (a new OTP_HASH_KEY)."""
        bots = self._store.bots
        installed = select(bots).where(bots.c.client_id == self._store.client_id, bots.c.bot_token.is_not(None))
        newest = (desc(bots.c.installed_at), desc(bots.c.id))
        with self._store.engine.connect() as conn:
            if team_id:
                row = conn.execute(installed.where(bots.c.team_id == team_id).order_by(*newest).limit(1)) \
                    .mappings().first() or self._only(conn, installed.where(bots.c.is_enterprise_install.is_(True)))
            else:
                row = self._only(conn, installed)
        if row is None or not self._store.allows(row["team_id"], row["enterprise_id"]):
            return None
        bot = self._store.opened(self._store.build_bot_entity(row))
        if not bot.bot_token:
            log.error("the bot token of Slack workspace %s cannot be opened (was OTP_HASH_KEY changed?); install "
                      "the app in it again", row["team_id"] or row["enterprise_id"])
            return None
        return bot

    def _only(self, conn, query):
        """The newest row of `query` when it covers a single workspace or organisation; else None."""
        bots = self._store.bots
        rows = conn.execute(query.order_by(desc(bots.c.installed_at), desc(bots.c.id))).mappings().all()
        owners = {(row["enterprise_id"], row["team_id"]) for row in rows}
        return rows[0] if len(owners) == 1 else None

    def client(self, team_id: str) -> WebClient:
        bot = self.bot(team_id)
        if bot is None:
            if team_id:
                raise GiveUp(f"the app is not installed in the Slack workspace {team_id}")
            raise GiveUp("a report that belongs to no workspace (the HTTP API's OTP_AUDIT_CHANNEL) needs the app "
                         "installed in exactly one workspace")
        client = self._clients.get(bot.bot_token)
        if client is None:
            # No retries inside slack_sdk: a retried chat.postMessage could post twice; the work queue decides.
            client = self._clients[bot.bot_token] = WebClient(token=bot.bot_token, base_url=self._base_url,
                                                              timeout=self._timeout, retry_handlers=[])
        return client


class StoredBotAuthorize(Authorize):
    """Bolt's authorize for installs: the workspace's bot from the installation store, and no
    auth.test round trip to Slack before a command is acknowledged (Bolt's default makes one)."""

    def __init__(self, workspaces: InstalledWorkspaces):
        self._workspaces = workspaces

    def __call__(self, *, context, enterprise_id, team_id, user_id, **_actor) -> AuthorizeResult | None:
        bot = self._workspaces.bot(team_id) if team_id else None
        if bot is None:
            log.warning("a request from workspace %s, where the app is not installed", team_id or "(none)")
            return None
        return AuthorizeResult(enterprise_id=bot.enterprise_id, team_id=bot.team_id, bot_id=bot.bot_id,
                               bot_user_id=bot.bot_user_id, bot_token=bot.bot_token, bot_scopes=bot.bot_scopes)
