"""Installing the app in a workspace: Slack's OAuth flow, as Bolt runs it, with our pages.

GET /slack/install shows an "Add to Slack" link (and sets the state cookie);
Slack sends the installer back to GET /slack/oauth_redirect, where Bolt
checks the state, exchanges the code (oauth.v2.access) and saves the
installation in our database. A forged, reused or expired state installs
nothing and gets a page that says so.

The install page is public, so it writes nothing: its state is signed (an
expiry and a random part, under a key derived from SLACK_CLIENT_SECRET), not
stored, and bound to the browser by Bolt's cookie. A state is marked used
(voice/store/once.py) only once Slack's code has been exchanged, that is, by a real
install. A workspace outside ALLOWED_SLACK_TEAMS is only known once the code
has been exchanged: the token it got is revoked at once (auth.revoke).
https://docs.slack.dev/authentication/installing-with-oauth
https://docs.slack.dev/tools/bolt-python/concepts/authenticating-oauth
https://docs.slack.dev/reference/methods/auth.revoke
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import html
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from slack_bolt.authorization.authorize import Authorize
from slack_bolt.error import BoltError
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_flow import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

from voice.store.once import INSTALL_STATE, UsedOnce
from voice.store.sealing import VERSION as SEALED_VERSION
from voice.store.sealing import SecretBox

log = logging.getLogger(__name__)

SEALED = SEALED_VERSION + "."

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
#: The bot scopes of manifest.yml (tests/test_manifest.py keeps the two the same).
BOT_SCOPES = ("commands", "chat:write", "chat:write.public", "users:read", "usergroups:read", "usergroups:write")
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
    #: What must happen between Slack's code exchanged and the installation saved (InstallFlow).
    used: UsedOnce

    def flow(self, client: WebClient) -> "InstallFlow":
        """The install flow, speaking to Slack's Web API with `client` (no token: Bolt's own)."""
        return InstallFlow(client=client, settings=self.settings, used=self.used)


#: What a sealed token is bound to (voice/store/sealing.py): a token sealed here opens nowhere else.
_TOKEN_CONTEXT = "slack installation token"
_TOKENS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")


class TeamNotAllowed(BoltError):
    """A workspace outside ALLOWED_SLACK_TEAMS tried to install the app (a BoltError: Bolt's flow turns it
    into the failure page)."""


class StateUsed(BoltError):
    """An install link that completed an install already, used again."""


class SignedStates(OAuthStateStore):
    """Install links' states, signed instead of stored: "<expiry>.<random>.<HMAC-SHA256>", good until the
    expiry on any instance that shares SLACK_CLIENT_SECRET. Issuing one writes nothing, so the public install
    page cannot fill the database; Bolt's cookie binds it to the browser that opened the page. A state that
    completed an install is remembered until it expires (`mark_used`) and good no more."""

    def __init__(self, client_secret: str, used: UsedOnce, clock: Callable[[], datetime],
                 expiration_seconds: int = STATE_SECONDS):
        self._key = hmac.new(client_secret.encode(), b"voicebridge/install-state/v1", hashlib.sha256).digest()
        self._used = used
        self._clock = clock
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    def issue(self, *args, **kwargs) -> str:
        signed = f"{int(self._clock().timestamp()) + self.expiration_seconds}.{secrets.token_urlsafe(16)}"
        return f"{signed}.{self._mac(signed)}"

    def consume(self, state: str) -> bool:
        """Signed here, not expired, and not used by an install yet (a read: `mark_used` decides)."""
        return self._valid(state) and not self._used.used(INSTALL_STATE, state)

    def mark_used(self, state: str) -> bool:
        """Record that `state` completed an install; False when one did already (two redirects at once)."""
        return self._used.first_use(INSTALL_STATE, state, timedelta(seconds=self.expiration_seconds))

    def _valid(self, state: str) -> bool:
        parts = state.split(".") if isinstance(state, str) and len(state) <= 128 else []
        if len(parts) != 3 or not parts[0].isascii() or not parts[0].isdigit():
            return False
        signed = f"{parts[0]}.{parts[1]}"
        return hmac.compare_digest(self._mac(signed), parts[2]) and int(parts[0]) > self._clock().timestamp()

    def _mac(self, signed: str) -> str:
        digest = hmac.new(self._key, signed.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class InstallFlow(OAuthFlow):
    """Bolt's install flow; once Slack's code has been exchanged and before the installation is saved, the
    link is marked used (once), and a workspace ALLOWED_SLACK_TEAMS does not name loses the token it got."""

    def __init__(self, *, client: WebClient, settings: OAuthSettings, used: UsedOnce):
        super().__init__(client=client, logger=logging.getLogger("slack_bolt"), settings=settings)
        self.used = used

    def store_installation(self, request, installation) -> None:
        state = (request.query.get("state") or [""])[0]
        if not self.settings.state_store.mark_used(state):
            log.warning("refused an install whose link completed another install already")
            raise StateUsed("the install link was used already")
        store = self.settings.installation_store
        if not store.allows(installation.team_id, installation.enterprise_id):
            revoked = self._revoke(installation)
            log.warning("refused an install in Slack workspace %s, which ALLOWED_SLACK_TEAMS does not name; "
                        "%s", installation.team_id or installation.enterprise_id,
                        "the token it got is revoked" if revoked else "its token could NOT be revoked: remove the "
                        "app from that workspace in Slack")
            raise TeamNotAllowed(installation.team_id or installation.enterprise_id)
        super().store_installation(request, installation)

    def _revoke(self, installation) -> bool:
        """auth.revoke each token the exchange gave (bot, and the installer's if any); whether all are gone.
        Safe to repeat, so slack_sdk retries a failed connection, a 5xx and a 429."""
        tokens = [token for token in (installation.bot_token, installation.user_token) if token]
        revoked = True
        for token in tokens:
            client = WebClient(token=token, base_url=self.client.base_url, timeout=self.client.timeout,
                               retry_handlers=[*default_retry_handlers(), ServerErrorRetryHandler(max_retry_count=2),
                                               RateLimitErrorRetryHandler(max_retry_count=1)])
            try:
                revoked &= bool(client.auth_revoke().get("revoked"))
            except (SlackApiError, OSError) as error:
                log.error("auth.revoke failed: %s", type(error).__name__)
                revoked = False
        return revoked


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
    # The tables are made by migration 0003 (voice/store/migrations), not by the store's create_tables().
    return SealedInstallationStore(client_id=client_id, engine=engine, box=box, allowed_teams=allowed_teams)


def oauth_settings(*, client_id: str, client_secret: str, public_url: str, used: UsedOnce,
                   clock: Callable[[], datetime], store: SQLAlchemyInstallationStore) -> OAuthSettings:
    return OAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=store,
        state_store=SignedStates(client_secret, used, clock),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        redirect_uri=public_url + REDIRECT_PATH,
        callback_options=CallbackOptions(success=installed_page, failure=not_installed_page),
    )


def forget_expired_states(engine: Engine) -> int:
    """Delete the install links that expired unused from slack_sdk's state table, which the releases before
    signed states wrote at each visit to /slack/install (none is written now); how many."""
    states = SQLAlchemyOAuthStateStore.build_oauth_states_table(MetaData(), "slack_oauth_states")
    now = datetime.now(timezone.utc).replace(tzinfo=None)  # slack_sdk keeps them naive, in UTC
    with engine.begin() as conn:
        return conn.execute(states.delete().where(states.c.expire_at < now)).rowcount


def installed_page(args: SuccessArgs) -> BoltResponse:
    team = args.installation.team_name or args.installation.team_id or "your workspace"
    body = _page("VoiceBridge is installed",
                 f"VoiceBridge is installed in {html.escape(team)}. In Slack, try <code>/voiceotp help</code> "
                 "or <code>/voicealert help</code>.")
    return _response(200, body, args.settings)


def not_installed_page(args: FailureArgs) -> BoltResponse:
    if isinstance(args.error, StateUsed):  # said as Bolt's own check of the state says it
        args = FailureArgs(request=args.request, reason="invalid_state", error=args.error, suggested_status_code=401,
                           settings=args.settings, default=args.default)
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
