"""The Bolt app: slash-command listeners, wired to the call domain.

Each command is split the Bolt way: an `ack` function that parses and replies
within milliseconds, and a lazy function that does the slow work after Slack
has its acknowledgement.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.commands import CommandError, HelpRequest, OtpRequest, parse_voiceotp
from bot.messages import USAGE, calling_reply, failure_reply, refusal_reply, usage_reply
from bot.reporter import SlackReporter
from voice.calls import CallService
from voice.models import Requester

log = logging.getLogger(__name__)


def create_bolt_app(
    *,
    signing_secret: str,
    bot_token: str,
    client: WebClient,
    calls: CallService,
    reporter: SlackReporter,
    listener_executor: Executor | None = None,
) -> App:
    app = App(
        signing_secret=signing_secret,
        client=client,
        # A fixed single-workspace token: no auth.test call, so start-up and
        # the first request need no round trip to Slack.
        authorize=lambda enterprise_id, team_id: AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token
        ),
        listener_executor=listener_executor,
        logger=logging.getLogger("slack_bolt"),
    )
    app.command("/voiceotp")(ack=_acker(calls), lazy=[_placer(calls, reporter)])
    app.error(_on_error)
    return app


def _acker(calls: CallService):
    def ack_voiceotp(ack, command) -> None:
        """Answer at once: the usage, a specific refusal, or "Calling …" with the code masked."""
        request = parse_voiceotp(command.get("text", ""))
        if isinstance(request, HelpRequest):
            ack(USAGE)
        elif isinstance(request, CommandError):
            ack(usage_reply(request.problem))
        elif refusal := calls.refusal_for(request.number):
            ack(refusal_reply(refusal))
        else:
            ack(calling_reply(request.number, len(request.code)))

    return ack_voiceotp


def _placer(calls: CallService, reporter: SlackReporter):
    def place_voiceotp(command, respond) -> None:
        """After the ack: store the call, post its status message, then dial."""
        request = parse_voiceotp(command.get("text", ""))
        if not isinstance(request, OtpRequest) or calls.refusal_for(request.number):
            return  # lazy listeners run even when the ack refused the input
        requester = Requester(
            user_id=command["user_id"],
            channel_id=command["channel_id"],
            team_id=command.get("team_id", ""),
            reply_url=command.get("response_url"),
        )
        call = None
        try:
            call = calls.open_otp_call(
                request.number, request.code, requester, request_id=command.get("trigger_id")
            )
            if call is None:
                return  # the same command delivered twice
            # Synchronous, so the status message exists before Plivo can call back.
            reporter.publish(call.token)
            calls.dial(call)
        except Exception:
            log.exception("placing a voice code call failed")
            if call is not None:
                calls.abandon(call.token, "an error on our side stopped the call")
            respond(
                text=failure_reply("Something went wrong on our side and no call was placed. Please try again."),
                response_type="ephemeral",
            )

    return place_voiceotp


def _on_error(error, body, logger) -> None:
    # Bolt answers the request itself; we only make sure the failure is logged
    # without the payload (which may hold a code).
    logger.error("Slack request failed: %s", type(error).__name__)
