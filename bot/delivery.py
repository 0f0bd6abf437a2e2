"""Getting a message to Slack: post it, update it, or use the command's response_url.

Runs in the workers, never on a request path. A failure Slack says may pass
(a 5xx, a network error) becomes `RetryLater`, so the work queue tries again
when Slack allows; a refusal that cannot pass (revoked token, a deleted
message) becomes `GiveUp`, logged. Slack's pace (a 429 with Retry-After, or
the channel's next posting slot still far off) makes a message wait its turn
(`Deferred`): it uses up none of its attempts, so a busy channel or workspace
can delay a message's last state but never make it give up on it.
https://docs.slack.dev/apis/web-api/rate-limits

What every status message shares is here too (each capability's report is its own: bot/codes/reports.py,
bot/alerts/reports.py), and `NOTICE` work: any other message, or an ephemeral note to whoever acted.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import socket
import time
import urllib.error
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.installs.workspaces import Workspaces
from bot.messages import API_PREFIX, pace_notice
from voice import metrics
from voice.calls.models import Requester
from voice.queue.ratelimit import SlotLimiter, WaitingForSlot
from voice.queue.work import Deferred, GiveUp, RetryLater, WorkItem
from voice.queue.workers import Policy, Registry

log = logging.getLogger(__name__)

# chat.postMessage errors that mean "not here, try the response_url".
CANNOT_POST = {
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "ekm_access_denied",
    "team_access_not_granted",
}

VIA_CHAT = "chat"
VIA_REPLY_URL = "reply_url"

#: Uses of a response_url (Slack allows REPLY_URL_USES, voice/calls/models.py) kept back from the states along the
#: way: one for the final state, one for a late correction of it (the cost Plivo reports after the hangup).
REPLY_URL_RESERVE = 2

_NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException)


@dataclass(frozen=True)
class Place:
    """Where a status message lives."""

    via: str | None  # VIA_CHAT, VIA_REPLY_URL, or None before it is posted
    channel: str | None = None
    ts: str | None = None


class SlackLimited(RetryLater):
    """Slack answered 429: too fast for it, try again after `after` seconds (its Retry-After)."""


class ChannelBacklog(Deferred):
    """A new message waits for its channel's posting slot, `late` seconds off, `ahead` messages on."""

    def __init__(self, waiting: WaitingForSlot, *, late: float, ahead: int):
        super().__init__(str(waiting), until=waiting.until, payload=waiting.payload)
        self.late = late
        self.ahead = ahead


@contextmanager
def slack_failures(what: str) -> Iterator[None]:
    """Turn what Slack (or the network) answered into RetryLater (SlackLimited for a 429) or GiveUp."""
    try:
        yield
    except SlackApiError as error:
        status = error.response.status_code
        metrics.SLACK_ERRORS.labels(metrics.status_label(status)).inc()
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        if status == 429 or code == "ratelimited":
            raise SlackLimited(f"Slack limited {what}", after=_retry_after(error)) from None
        if status >= 500:
            raise RetryLater(f"Slack failed {what} (HTTP {status})") from None
        raise GiveUp(f"Slack refused {what}: {code or status}") from None
    except _NETWORK_ERRORS as error:
        metrics.SLACK_ERRORS.labels("network").inc()
        raise RetryLater(f"Slack could not be reached for {what}: {type(error).__name__}") from None


@contextmanager
def waiting_for_slack() -> Iterator[None]:
    """Slack's 429 as the queue's Deferred: the message waits its turn, without using an attempt."""
    try:
        yield
    except SlackLimited as limited:
        raise Deferred(str(limited), until=time.time() + (limited.after or 1.0)) from None


def _retry_after(error: SlackApiError) -> float:
    headers = {name.lower(): value for name, value in (error.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        return 1.0


class StatusMessages:
    """Posting and updating one message, through chat.* or a response_url.

    `client_of` gives the Web API client of the message's workspace when chat.* is
    used; a response_url needs no token, so it works even where that fails."""

    def __init__(self, client_of: Callable[[], WebClient], post_limiter: "PostLimiter"):
        self._client_of = client_of
        self._post_limiter = post_limiter

    @property
    def _client(self) -> WebClient:
        return self._client_of()

    def post(self, channel_id: str, reply_url: str | None, text: str, blocks: list[dict] | None) -> Place | None:
        """Post the message; where it went, or None if nowhere would take it. Raises ChannelBacklog
        while the channel's posting slot is far off."""
        if channel_id:
            self._post_limiter.wait(channel_id)
            try:
                with waiting_for_slack(), slack_failures("a new message"):
                    response = self._client.chat_postMessage(channel=channel_id, text=text, blocks=blocks,
                                                             unfurl_links=False)
                return Place(VIA_CHAT, response["channel"], response["ts"])
            except GiveUp as refused:
                if not any(code in str(refused) for code in CANNOT_POST):
                    raise
                log.info("cannot post in %s (%s); using the response_url", channel_id, refused)
        return Place(VIA_REPLY_URL) if self.reply(reply_url, text, blocks, replace=False) else None

    def update(self, place: Place, reply_url: str | None, text: str, blocks: list[dict] | None) -> None:
        if place.via == VIA_CHAT:
            with waiting_for_slack(), slack_failures("an update"):
                self._client.chat_update(channel=place.channel, ts=place.ts, text=text, blocks=blocks)
        elif place.via == VIA_REPLY_URL:
            self.reply(reply_url, text, blocks, replace=True)

    def follow_up(self, place: Place, reply_url: str | None, text: str) -> None:
        """A new message under the status message: edits notify nobody, this does."""
        if place.via == VIA_CHAT:
            self._post_limiter.wait(place.channel)
            with waiting_for_slack(), slack_failures("a reply in the thread"):
                self._client.chat_postMessage(channel=place.channel, thread_ts=place.ts, text=text)
        elif place.via == VIA_REPLY_URL:
            self.reply(reply_url, text, None, replace=False)

    def reply(self, url: str | None, text: str, blocks: list[dict] | None, *, replace: bool,
              ephemeral: bool = False) -> bool:
        """Post through a response_url; whether Slack took it."""
        if not url:
            log.warning("no response_url to report through")
            return False
        try:
            response = WebhookClient(url, timeout=10).send_dict({
                "response_type": "ephemeral" if ephemeral else "in_channel",
                "replace_original": replace, "text": text, "blocks": blocks,
            })
        except _NETWORK_ERRORS as error:
            raise RetryLater(f"Slack's response_url could not be reached: {type(error).__name__}") from None
        if response.status_code == 429:  # Slack's pace: wait a turn, as for the Web API's 429
            raise Deferred("Slack limited a response_url", until=time.time() + 1.0)
        if response.status_code >= 500:
            raise RetryLater(f"Slack's response_url answered HTTP {response.status_code}")
        if response.status_code != 200:
            # Slack's response_url allows 5 uses in 30 minutes; after that, or when it expired, it is gone.
            log.warning("response_url refused a report: HTTP %s", response.status_code)
            return False
        return True

    def tell(self, channel_id: str, user_id: str, text: str) -> bool:
        """A line only `user_id` sees, in the channel (chat.postEphemeral); whether Slack took it.
        Best effort: a note about a message must never hold that message up, nor use its attempts."""
        try:
            with slack_failures("an ephemeral note"):
                self._client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
        except Exception as error:  # the note is dropped; the message goes on
            log.info("an ephemeral note in %s was not delivered: %s", channel_id, error)
            return False
        return True


class WorkspaceMessages:
    """Status messages in the workspace each call or alert came from, with that workspace's token."""

    def __init__(self, workspaces: Workspaces, post_limiter: "PostLimiter"):
        self._workspaces = workspaces
        self._post_limiter = post_limiter

    def of(self, team_id: str) -> StatusMessages:
        return StatusMessages(lambda: self._workspaces.client(team_id), self._post_limiter)


#: A post waits for its channel's slot in its thread up to this long; longer, it comes back later.
POST_WAIT = 0.5


class PostLimiter:
    """About one new message per second per channel, across every process (Slack's posting limit)."""

    def __init__(self, engine, per_second: float = 1.0):
        self._engine = engine
        self._per_second = per_second
        self._limiters: dict[str, SlotLimiter] = {}

    def wait(self, channel_id: str | None) -> None:
        """Wait for the channel's next slot; ChannelBacklog (Deferred) when it is far off (a burst of
        posts in one channel must not hold every worker thread, or use up its retries, while Slack's
        pace lets them through)."""
        if not channel_id:
            return
        limiter = self._limiters.get(channel_id)
        if limiter is None:
            limiter = self._limiters[channel_id] = SlotLimiter(self._engine, f"slack.post:{channel_id}",
                                                               self._per_second)
        try:
            limiter.take(POST_WAIT)
        except WaitingForSlot as waiting:
            late = max(0.0, waiting.slot - limiter.now())
            raise ChannelBacklog(waiting, late=late, ahead=max(1, int(late / limiter.interval))) from None


# -- status messages and notices: what every capability's reports share --------------------------

#: A message about something else (an announcement, an ephemeral note for whoever acted).
NOTICE = "slack.notice"
#: The least time between two updates of one message (Slack allows about one a second).
MESSAGE_PACE = 1.0
#: A new message whose channel slot is further off than this (seconds) tells its requester, once.
PACE_NOTICE_AFTER = 5.0
#: In a report's payload: its requester was told that the message waits for Slack's pace.
PACE_TOLD = "pace_told"


def report_retries(pace: float) -> Policy:
    """How a status message's report is retried: Slack down for a while, it keeps trying for about half an
    hour before giving up on the message; `pace` apart at least."""
    return Policy(attempts=25, backoff=1.0, max_backoff=120.0, rest=pace)


def post_status(item: WorkItem, messages: StatusMessages, requester: Requester, text: str,
                blocks: list[dict] | None, about: tuple[str, str]) -> Place | None:
    """Post a status message; while Slack's pace holds it back for long, say so once to whoever
    asked (only them: nobody else's channel fills up with it)."""
    try:
        return messages.post(requester.channel_id, requester.reply_url, text, blocks)
    except ChannelBacklog as backlog:
        told = (item.payload or {}).get(PACE_TOLD)
        if backlog.late > PACE_NOTICE_AFTER and not told and _a_person(requester):
            messages.tell(requester.channel_id, requester.user_id, pace_notice(*about, backlog.late,
                                                                               backlog.ahead))
            backlog.payload = {**(backlog.payload or {}), PACE_TOLD: True}  # kept while it waits
        raise


class Notices:
    def __init__(self, messages: WorkspaceMessages):
        self.messages = messages

    def register(self, registry: Registry) -> None:
        registry.add(NOTICE, self.notice, Policy(attempts=10, backoff=1.0, max_backoff=60.0))

    def notice(self, item: WorkItem) -> None:
        """One message, to a channel or (ephemeral) to whoever acted, or in place of the ephemeral message they
        acted on: payload {text, blocks, channel, reply_url, ephemeral, replace, team}."""
        payload = item.payload or {}
        text, blocks = payload.get("text", ""), payload.get("blocks")
        messages = self.messages.of(payload.get("team") or "")
        if payload.get("ephemeral"):
            messages.reply(payload.get("reply_url"), text, blocks, replace=bool(payload.get("replace")),
                           ephemeral=True)
        else:
            messages.post(payload.get("channel") or "", payload.get("reply_url"), text, blocks)


def _a_person(requester: Requester) -> bool:
    """Whether a Slack user asked (not a Workflow with nobody behind it, nor an API key)."""
    return bool(requester.user_id) and not requester.user_id.startswith(API_PREFIX)


def message_digest(text: str, blocks: list[dict] | None) -> str:
    """A short fingerprint of what a message shows."""
    return hashlib.sha256(json.dumps([text, blocks], sort_keys=True).encode()).hexdigest()[:16]


def notice_payload(text: str, *, channel: str | None = None, reply_url: str | None = None,
                   ephemeral: bool = False, team: str = "", blocks: list[dict] | None = None,
                   replace: bool = False) -> dict:
    """`replace`: an ephemeral reply takes the place of the message whose button gave `reply_url`."""
    payload = {"text": text, "channel": channel, "reply_url": reply_url, "ephemeral": ephemeral, "team": team}
    return payload | ({"blocks": blocks} if blocks else {}) | ({"replace": True} if replace else {})
