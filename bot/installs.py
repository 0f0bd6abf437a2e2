"""Installing the app in a workspace: Slack's OAuth flow, as Bolt runs it, with our pages.

GET /slack/install shows an "Add to Slack" link (and sets the state cookie);
Slack sends the installer back to GET /slack/oauth_redirect, where Bolt
checks the state, exchanges the code (oauth.v2.access) and saves the
installation in our database. A forged, reused or expired state installs
nothing and gets a page that says so.
https://docs.slack.dev/authentication/installing-with-oauth
https://docs.slack.dev/tools/bolt-python/concepts/authenticating-oauth
"""

from __future__ import annotations

import copy
import html
from dataclasses import dataclass
from datetime import datetime, timezone

from slack_bolt.authorization.authorize import Authorize
from slack_bolt.error import BoltError
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy.engine import Engine

from voice.sealing import VERSION as SEALED_VERSION
from voice.sealing import SecretBox

SEALED = SEALED_VERSION + "."

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
#: The bot scopes of manifest.yml (tests/test_manifest.py keeps the two the same).
BOT_SCOPES = ("commands", "chat:write", "chat:write.public", "users:read", "usergroups:read")
#: How long an install link stays good between "Add to Slack" and Slack's redirect back.
STATE_SECONDS = 600

#: Why an installation did not complete, for the installer (Bolt's failure reasons).
_REASONS = {
    "invalid_state": "this installation link is not one this server started, or it was used already or has "
                     "expired",
    "invalid_browser": "the installation finished in another browser than the one it started in",
    "access_denied": "the installation was cancelled in Slack",
    "missing_code": "Slack's answer carried no authorization code",
    "invalid_code": "Slack refused the authorization code",
    "storage_error": "the installation could not be saved on this server",
}


@dataclass(frozen=True)
class Installs:
    """What Bolt needs to serve the install flow and to find each workspace's token."""

    settings: OAuthSettings
    authorize: Authorize


#: What a sealed token is bound to (voice/sealing.py): a token sealed here opens nowhere else.
_TOKEN_CONTEXT = "slack installation token"
_TOKENS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")


class TeamNotAllowed(BoltError):
    """A workspace outside ALLOWED_SLACK_TEAMS tried to install the app (a BoltError: Bolt's flow turns it
    into the failure page)."""


class SealedInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy installation store, with every token sealed at rest (AES-GCM under the
    key derived from OTP_HASH_KEY, as the codes are): a copy of the database holds no usable token.
    With `allowed_teams`, only those workspaces' installations are kept (the install link is public)."""

    def __init__(self, client_id: str, engine: Engine, box: SecretBox, allowed_teams: frozenset[str] = frozenset()):
        super().__init__(client_id=client_id, engine=engine)
        self._box = box
        self.allowed_teams = allowed_teams

    def allows(self, team_id: str | None, enterprise_id: str | None = None) -> bool:
        return not self.allowed_teams or bool({team_id, enterprise_id} & self.allowed_teams)

    def save(self, installation):
        if not self.allows(installation.team_id, installation.enterprise_id):
            raise TeamNotAllowed(installation.team_id or installation.enterprise_id)
        super().save(self._with_tokens(installation, self._seal))  # also saves its bot, sealed already

    def save_bot(self, bot):
        super().save_bot(self._with_tokens(bot, self._seal))

    def find_bot(self, **kwargs):
        return self.opened(super().find_bot(**kwargs))

    def find_installation(self, **kwargs):
        return self.opened(super().find_installation(**kwargs))

    def opened(self, found):
        """An installation or bot as read from the database, its tokens usable."""
        return self._with_tokens(found, self._open) if found is not None else None

    def _seal(self, token: str) -> str:
        return token if token.startswith(SEALED) else self._box.seal(token, _TOKEN_CONTEXT)

    def _open(self, token: str) -> str | None:
        return self._box.open(token, _TOKEN_CONTEXT) if token.startswith(SEALED) else token

    @staticmethod
    def _with_tokens(found, change):
        copied = copy.copy(found)
        for name in _TOKENS:
            value = getattr(copied, name, None)
            if isinstance(value, str) and value:
                setattr(copied, name, change(value))
        return copied


def installation_store(engine: Engine, client_id: str, box: SecretBox,
                       allowed_teams: frozenset[str] = frozenset()) -> SealedInstallationStore:
    # The tables are made by migration 0003 (voice/migrations), not by the store's create_tables().
    return SealedInstallationStore(client_id=client_id, engine=engine, box=box, allowed_teams=allowed_teams)


def oauth_settings(*, client_id: str, client_secret: str, public_url: str, engine: Engine,
                   store: SQLAlchemyInstallationStore) -> OAuthSettings:
    return OAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=store,
        state_store=SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        redirect_uri=public_url + REDIRECT_PATH,
        callback_options=CallbackOptions(success=installed_page, failure=not_installed_page),
    )


def forget_expired_states(settings: OAuthSettings) -> int:
    """Delete the install links that expired unused (each visit to /slack/install made one); how many."""
    store = settings.state_store
    now = datetime.now(timezone.utc).replace(tzinfo=None)  # slack_sdk keeps them naive, in UTC
    with store.engine.begin() as conn:
        return conn.execute(store.oauth_states.delete().where(store.oauth_states.c.expire_at < now)).rowcount


def installed_page(args: SuccessArgs) -> BoltResponse:
    team = args.installation.team_name or args.installation.team_id or "your workspace"
    body = _page("VoiceBridge is installed",
                 f"VoiceBridge is installed in {html.escape(team)}. In Slack, try <code>/voiceotp help</code> "
                 "or <code>/voicealert help</code>.")
    return _response(200, body, args.settings)


def not_installed_page(args: FailureArgs) -> BoltResponse:
    reason = _REASONS.get(args.reason, f"Slack answered {args.reason}")
    if isinstance(args.error, TeamNotAllowed):
        reason = "this server takes installs only from the workspaces its operator allows (ALLOWED_SLACK_TEAMS)"
        return _response(403, _page("VoiceBridge was not installed",
                                    f"The installation did not complete: {html.escape(reason)}. Nothing was "
                                    "installed."), args.settings)
    install = html.escape(args.settings.install_path, quote=True)
    body = _page("VoiceBridge was not installed",
                 f"The installation did not complete: {html.escape(reason)}. Nothing was installed. "
                 f'<a href="{install}">Start again</a>.')
    return _response(args.suggested_status_code or 400, body, args.settings)


def _response(status: int, body: str, settings: OAuthSettings) -> BoltResponse:
    return BoltResponse(status=status, body=body, headers={
        "Content-Type": "text/html; charset=utf-8",
        # The state cookie has done its job, whichever way it went.
        "Set-Cookie": settings.state_utils.build_set_cookie_for_deletion(),
    })


def _page(title: str, text: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body><h1>{html.escape(title)}</h1><p>{text}</p></body></html>")
