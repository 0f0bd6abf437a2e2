"""The Bolt app, for one workspace or many, and what every listener asks first: who asked, and may they.

Every listener only records: it parses and checks the command, writes what
must happen (the code, its call, the work of placing and reporting it) in
one transaction, and acknowledges, all before the HTTP response goes back
(`process_before_response`): nothing waits on Plivo, on Slack's Web API or
on a thread pool, so a slow Plivo or a burst of commands never delays an
acknowledgement. The work itself runs in the workers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.installs.oauth import Installs
from bot.messages import (
    CALL,
    Act,
    not_allowed_channel_reply,
    not_allowed_user_reply,
    not_allowed_without_channel_reply,
)
from voice.calls.models import Requester

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Access:
    """Who may act (place calls, or take an alert), and from where; empty sets mean everyone, everywhere.

    The command, the form, and every button and Home-tab action ask the same question."""

    users: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    def refusal(self, user_id: str, channel_id: str | None, act: Act = CALL) -> tuple[str, str] | None:
        """(kind, reply) when this user may not do `act` from this channel.

        `channel_id` None is a surface with no channel (the Home tab): where ALLOWED_SLACK_CHANNELS says calls
        come only from some channels, only the people ALLOWED_SLACK_USERS names one by one may act there."""
        if self.users and user_id not in self.users:
            return "not_allowed_user", not_allowed_user_reply(act)
        if self.channels and channel_id is None and user_id not in self.users:
            return "not_allowed_channel", not_allowed_without_channel_reply(act)
        if self.channels and channel_id is not None and channel_id not in self.channels:
            return "not_allowed_channel", not_allowed_channel_reply(act)
        return None


def create_bolt_app(*, signing_secret: str, client: WebClient, bot_token: str = "",
                    installs: Installs | None = None) -> App:
    """One workspace on `bot_token`, or, with `installs`, Slack's install flow and each workspace's own token."""
    with _environment_without("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        app = _installed_app(signing_secret, client, installs) if installs else \
            _bolt_app(signing_secret, bot_token, client)
    if installs:
        # Uninstalled, or its tokens revoked: the workspace's installation is deleted, so no work uses it.
        app.enable_token_revocation_listeners()
    else:
        for event in ("app_uninstalled", "tokens_revoked"):
            app.event(event)(_note_uninstall)
    app.error(_on_error)
    return app


def _note_uninstall(event, body) -> None:
    log.warning("Slack says %s for workspace %s; remove SLACK_BOT_TOKEN from the settings",
                event.get("type"), body.get("team_id"))


@contextmanager
def _environment_without(*names: str):
    # Bolt reads SLACK_BOT_TOKEN and the OAuth variables from the environment even when it is
    # given what to use, then warns, or switches to OAuth on its own; our settings say already.
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _installed_app(signing_secret: str, client: WebClient, installs: Installs) -> App:
    return App(
        signing_secret=signing_secret,
        # Token-less: Bolt gives each request its workspace's token, and uses this one for oauth.v2.access.
        client=WebClient(base_url=client.base_url, timeout=client.timeout),
        authorize=installs.authorize,
        oauth_flow=installs.flow(WebClient(base_url=client.base_url, timeout=client.timeout)),
        logger=logging.getLogger("slack_bolt"),
        request_verification_enabled=False,  # as below: answer_server checks every signature first
        process_before_response=True,
    )


def _bolt_app(signing_secret: str, bot_token: str, client: WebClient) -> App:
    return App(
        signing_secret=signing_secret,
        # Bolt takes the token from `authorize` for each request; a client that
        # carried one too would only earn a warning at every start.
        client=WebClient(base_url=client.base_url, timeout=client.timeout),
        # A fixed single-workspace token: no auth.test call, so start-up and
        # the first request need no round trip to Slack.
        authorize=lambda enterprise_id, team_id: AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token
        ),
        logger=logging.getLogger("slack_bolt"),
        # answer_server checks every signature before Bolt sees the request
        # (answer_server/slack_requests.py, signed_by_slack): Bolt's check logs the body.
        request_verification_enabled=False,
        # Listeners run in the request's own thread and the response leaves when they
        # return: they only record, so that takes milliseconds, and no ack ever waits
        # for a free thread in a pool shared with slow work.
        process_before_response=True,
    )


def requester_of(command: dict) -> Requester:
    return Requester(
        user_id=command["user_id"],
        channel_id=command["channel_id"],
        team_id=command.get("team_id", ""),
        reply_url=command.get("response_url"),
    )


def sign_metadata(fields: dict, secret: str, purpose: str) -> str:
    """`fields` for a modal's `private_metadata`, signed with a key derived from the signing secret and what
    it is for, so that a submission is believed only about a form we opened (and only for that kind of form).
    https://docs.slack.dev/reference/views"""
    payload = base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode()
    return f"{payload}.{_metadata_mac(payload, secret, purpose)}"


def verified_metadata(metadata: str, secret: str, purpose: str) -> dict | None:
    """The fields we signed for `purpose`, or None for anything else."""
    payload, _, mac = (metadata or "").partition(".")
    if not payload or not hmac.compare_digest(mac.encode(), _metadata_mac(payload, secret, purpose).encode()):
        return None
    try:
        fields = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None


def _metadata_mac(payload: str, secret: str, purpose: str) -> str:
    key = hashlib.sha256(purpose.encode() + b"\x00" + secret.encode()).digest()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


def _on_error(error, body, logger) -> None:
    # Bolt answers the request itself; we only make sure the failure is logged
    # without the payload (which may hold a code).
    logger.error("Slack request failed: %s", type(error).__name__)
