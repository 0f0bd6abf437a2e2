"""Report progress in Slack: one status message, posted once, then updated.

Where the bot cannot post in the channel (a private channel it is not in, a
DM) the command's response_url carries the message instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.messages import status_blocks, status_text
from voice.models import CallRecord, Requester

log = logging.getLogger(__name__)

# chat.postMessage errors that mean "not here, try the response_url".
_CANNOT_POST = {
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

#: Slack accepts a response_url 5 times within 30 minutes
#: (https://docs.slack.dev/interactivity/handling-user-interaction#message_responses).
REPLY_URL_USES = 5
#: Uses kept back from the states along the way: one for the final state, one
#: for a late correction of it (the cost Plivo reports after the hangup).
REPLY_URL_RESERVE = 2


@dataclass(frozen=True)
class Place:
    """Where a status message lives."""

    via: str | None  # VIA_CHAT, VIA_REPLY_URL, or None before it is posted
    channel: str | None = None
    ts: str | None = None


class StatusMessages:
    """Posting and updating one message, through chat.* or a response_url."""

    def __init__(self, client: WebClient):
        self._client = client

    def post(self, channel_id: str, reply_url: str | None, text: str, blocks: list[dict]) -> Place | None:
        """Post the message; where it went, or None if nowhere would take it."""
        try:
            response = self._client.chat_postMessage(channel=channel_id, text=text, blocks=blocks, unfurl_links=False)
        except SlackApiError as error:
            code = error.response.get("error")
            if code not in _CANNOT_POST:
                raise
            log.info("cannot post in %s (%s); using the response_url", channel_id, code)
            return Place(VIA_REPLY_URL) if self.reply(reply_url, text, blocks, replace=False) else None
        return Place(VIA_CHAT, response["channel"], response["ts"])

    def update(self, place: Place, reply_url: str | None, text: str, blocks: list[dict]) -> None:
        if place.via == VIA_CHAT:
            self._client.chat_update(channel=place.channel, ts=place.ts, text=text, blocks=blocks)
        elif place.via == VIA_REPLY_URL:
            self.reply(reply_url, text, blocks, replace=True)

    def follow_up(self, place: Place, reply_url: str | None, text: str) -> None:
        """A new message under the status message: edits notify nobody, this does."""
        if place.via == VIA_CHAT:
            self._client.chat_postMessage(channel=place.channel, thread_ts=place.ts, text=text)
        elif place.via == VIA_REPLY_URL:
            self.reply(reply_url, text, None, replace=False)

    def reply(self, url: str | None, text: str, blocks: list[dict] | None, *, replace: bool) -> bool:
        if not url:
            log.warning("no response_url to report through")
            return False
        response = WebhookClient(url, timeout=10).send_dict(
            {"response_type": "in_channel", "replace_original": replace, "text": text, "blocks": blocks}
        )
        if response.status_code != 200:
            # Slack's response_url allows 5 uses in 30 minutes.
            log.warning("response_url refused a report: HTTP %s", response.status_code)
            return False
        return True


class SlackReporter:
    """A voice code call's status message."""

    def __init__(
        self,
        client: WebClient,
        lookup: Callable[[str], CallRecord | None],
        attach: Callable[..., None],
        spend_reply_use: Callable[[str, int], bool] = lambda token, limit: True,
    ):
        self._messages = StatusMessages(client)
        self._lookup = lookup  # the latest state of a call, by token
        self._attach = attach  # remember where the status message went
        self._spend_reply_use = spend_reply_use  # take one use of the response_url, if below a limit

    def publish(self, token: str) -> None:
        """Bring the call's status message up to date with its stored state."""
        call = self._lookup(token)
        if call is None or not (call.requester.channel_id or call.requester.reply_url):
            return  # nowhere to report (an API call with no audit channel)
        place = Place(call.message_via, call.message_channel, call.message_ts)
        text, blocks = status_text(call), status_blocks(call)
        try:
            if place.via == VIA_REPLY_URL and not self._may_reply(call):
                log.info("call %s: a state along the way is not sent, to keep response_url uses for the final one",
                         token[:6])
            elif place.via:
                self._messages.update(place, call.requester.reply_url, text, blocks)
            elif posted := self._messages.post(call.requester.channel_id, call.requester.reply_url, text, blocks):
                self._attach(call.token, posted.via, posted.channel, posted.ts,
                             reply_uses=1 if posted.via == VIA_REPLY_URL else 0)
        except Exception:  # a reporting failure must not break the call itself
            log.exception("could not report call %s in Slack", token[:6])

    def _may_reply(self, call: CallRecord) -> bool:
        """Whether this state may take one of the response_url's few uses: the final state
        may take any left; a state along the way leaves REPLY_URL_RESERVE for it."""
        limit = REPLY_URL_USES if call.ended else REPLY_URL_USES - REPLY_URL_RESERVE
        return self._spend_reply_use(call.token, limit)

    def announce(self, requester: Requester, text: str) -> None:
        """Post a one-off message in the requester's channel (or through the response_url)."""
        try:
            self._messages.post(requester.channel_id, requester.reply_url, text, None)
        except Exception:
            log.exception("could not announce in %s", requester.channel_id)
