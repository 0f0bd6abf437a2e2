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
from sqlalchemy import desc, func, select

from bot.installs import SealedInstallationStore
from voice.work import GiveUp

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
        """The workspace's bot, whether installed in an Enterprise Grid organisation or not.
        Without a workspace (the HTTP API's audit channel), the one workspace installed, if only one is."""
        bots = self._store.bots
        query = select(bots).where(bots.c.client_id == self._store.client_id, bots.c.bot_token.is_not(None))
        if team_id:
            query = query.where(bots.c.team_id == team_id)
        else:
            with self._store.engine.connect() as conn:
                teams = conn.execute(select(func.count(func.distinct(bots.c.team_id))).where(
                    bots.c.client_id == self._store.client_id, bots.c.bot_token.is_not(None))).scalar()
            if teams != 1:
                return None
        with self._store.engine.connect() as conn:
            row = conn.execute(query.order_by(desc(bots.c.installed_at), desc(bots.c.id)).limit(1)).mappings().first()
        return self._store.opened(self._store.build_bot_entity(row)) if row else None

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
