"""Report a call's progress in Slack: one status message, posted once, then updated.

Where the bot cannot post in the channel (a private channel it is not in, a
DM) the command's response_url carries the message instead.
"""

from __future__ import annotations

import logging
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


class SlackReporter:
    def __init__(
        self,
        client: WebClient,
        lookup: Callable[[str], CallRecord | None],
        attach: Callable[..., None],
    ):
        self._client = client
        self._lookup = lookup  # the latest state of a call, by token
        self._attach = attach  # remember where the status message went

    def publish(self, token: str) -> None:
        """Bring the call's status message up to date with its stored state."""
        call = self._lookup(token)
        if call is None or not (call.requester.channel_id or call.requester.reply_url):
            return  # nowhere to report (an API call with no audit channel)
        try:
            if call.message_via == VIA_CHAT:
                self._update(call)
            elif call.message_via == VIA_REPLY_URL:
                self._reply(call, replace=True)
            else:
                self._post(call)
        except Exception:  # a reporting failure must not break the call itself
            log.exception("could not report call %s in Slack", token[:6])

    def announce(self, requester: Requester, text: str) -> None:
        """Post a one-off message in the requester's channel (or through the response_url)."""
        try:
            self._client.chat_postMessage(channel=requester.channel_id, text=text, unfurl_links=False)
        except SlackApiError as error:
            if error.response.get("error") not in _CANNOT_POST or not requester.reply_url:
                log.warning("could not announce in %s: %s", requester.channel_id, error.response.get("error"))
                return
            WebhookClient(requester.reply_url, timeout=10).send_dict(
                {"response_type": "in_channel", "replace_original": False, "text": text}
            )

    def _post(self, call: CallRecord) -> None:
        try:
            response = self._client.chat_postMessage(
                channel=call.requester.channel_id,
                text=status_text(call),
                blocks=status_blocks(call),
                unfurl_links=False,
            )
        except SlackApiError as error:
            code = error.response.get("error")
            if code not in _CANNOT_POST:
                raise
            log.info("cannot post in %s (%s); using the response_url", call.requester.channel_id, code)
            if self._reply(call, replace=False):
                self._attach(call.token, VIA_REPLY_URL)
            return
        self._attach(call.token, VIA_CHAT, response["channel"], response["ts"])

    def _update(self, call: CallRecord) -> None:
        self._client.chat_update(
            channel=call.message_channel,
            ts=call.message_ts,
            text=status_text(call),
            blocks=status_blocks(call),
        )

    def _reply(self, call: CallRecord, *, replace: bool) -> bool:
        url = call.requester.reply_url
        if not url:
            log.warning("call %s has no response_url to report through", call.token[:6])
            return False
        response = WebhookClient(url, timeout=10).send_dict(
            {
                "response_type": "in_channel",
                "replace_original": replace,
                "text": status_text(call),
                "blocks": status_blocks(call),
            }
        )
        if response.status_code != 200:
            # Slack's response_url allows 5 uses in 30 minutes.
            log.warning("response_url refused a report for call %s: HTTP %s", call.token[:6], response.status_code)
            return False
        return True
