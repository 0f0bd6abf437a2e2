"""The Bolt app: slash-command listeners, wired to the call domain.

Each command is split the Bolt way: an `ack` function that parses, checks and
replies within milliseconds, and a lazy function that does the slow work
after Slack has its acknowledgement.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Callable

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot import messages
from bot.commands import CheckRequest, CommandError, HelpRequest, OtpRequest, parse_voiceotp
from bot.reporter import SlackReporter
from voice.calls import CallService
from voice.models import Requester
from voice.otp import CodeOrder, OtpService, Refused

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Access:
    """Who may place calls, and from where; empty sets mean everyone, everywhere."""

    users: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    def refusal(self, user_id: str, channel_id: str) -> tuple[str, str] | None:
        """(kind, reply) when this user may not call from this channel."""
        if self.users and user_id not in self.users:
            return "not_allowed_user", messages.not_allowed_user_reply()
        if self.channels and channel_id not in self.channels:
            return "not_allowed_channel", messages.not_allowed_channel_reply()
        return None


@dataclass(frozen=True)
class BotServices:
    calls: CallService
    otp: OtpService
    reporter: SlackReporter
    access: Access
    #: Runs Slack work off the request path (the report executor).
    defer: Callable[[Callable[[], None]], None]


def create_bolt_app(
    *,
    signing_secret: str,
    bot_token: str,
    client: WebClient,
    services: BotServices,
    listener_executor: Executor | None = None,
) -> App:
    app = App(
        signing_secret=signing_secret,
        # Bolt takes the token from `authorize` for each request; a client that
        # carried one too would only earn a warning at every start.
        client=WebClient(base_url=client.base_url, timeout=client.timeout),
        # A fixed single-workspace token: no auth.test call, so start-up and
        # the first request need no round trip to Slack.
        authorize=lambda enterprise_id, team_id: AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token
        ),
        listener_executor=listener_executor,
        logger=logging.getLogger("slack_bolt"),
        # answer_server checks every signature before Bolt sees the request
        # (bot/slack_request.py, signed_by_slack): Bolt's check logs the body.
        request_verification_enabled=False,
    )
    app.command("/voiceotp")(ack=_acker(services), lazy=[_placer(services)])
    app.error(_on_error)
    return app


def requester_of(command: dict) -> Requester:
    return Requester(
        user_id=command["user_id"],
        channel_id=command["channel_id"],
        team_id=command.get("team_id", ""),
        reply_url=command.get("response_url"),
    )


def order_of(request: OtpRequest, command: dict) -> CodeOrder:
    return CodeOrder(
        number=request.number,
        requester=requester_of(command),
        source="slack",
        code=request.code,
        language=request.language,
        request_id=command.get("trigger_id"),
    )


def _acker(services: BotServices):
    def ack_voiceotp(ack, command) -> None:
        """Answer at once: the usage, a specific refusal, a check's result, or "Calling …"."""
        request = parse_voiceotp(command.get("text", ""))
        if isinstance(request, HelpRequest):
            return ack(messages.USAGE)
        if isinstance(request, CommandError):
            return ack(messages.usage_reply(request.problem))
        requester = requester_of(command)
        denied = services.access.refusal(requester.user_id, requester.channel_id)
        if denied:
            kind, reply = denied
            number = request.number.e164
            services.otp.refuse(source="slack", requester=requester, number=number, kind=kind, reason=reply)
            return ack(reply)
        if isinstance(request, CheckRequest):
            return ack(_check(services, request, requester))
        try:
            services.otp.screen(order_of(request, command))
        except Refused as refused:
            return ack(_refusal_reply(services, refused))
        ack(messages.calling_reply(request.number, len(request.code) if request.code else None))

    return ack_voiceotp


def _check(services: BotServices, request: CheckRequest, requester: Requester) -> str:
    result = services.otp.check(request.number, request.code)
    if result.valid:
        text = messages.verified_announcement(request.number, requester.user_id, len(request.code))
        services.defer(lambda: services.reporter.announce(requester, text))
    return messages.check_reply(request.number, result)


def _refusal_reply(services: BotServices, refused: Refused) -> str:
    if refused.frees_at is not None:
        return messages.rate_limit_reply(str(refused), refused.frees_at, services.otp.clock())
    return messages.refusal_reply(str(refused))


def _placer(services: BotServices):
    def place_voiceotp(command, respond) -> None:
        """After the ack: store the code and its call, post the status message, then dial."""
        request = parse_voiceotp(command.get("text", ""))
        requester = requester_of(command)
        if not isinstance(request, OtpRequest) or services.access.refusal(requester.user_id, requester.channel_id):
            return  # lazy listeners run even when the ack refused the input
        order = order_of(request, command)
        if services.otp.refusal(order):
            return  # the ack said why
        call = None
        try:
            opened = services.otp.request(order)
            if opened is None:
                return  # the same command delivered twice
            _, call = opened
            # Synchronous, so the status message exists before Plivo can call back.
            services.reporter.publish(call.token)
            services.calls.dial(call)
        except Refused as refused:
            # Screened in the ack already; this is the rare race the reservation caught.
            respond(text=_refusal_reply(services, refused), response_type="ephemeral")
        except Exception:
            log.exception("placing a voice code call failed")
            if call is not None:
                services.calls.abandon(call.token, "an error on our side stopped the call")
            respond(
                text=messages.failure_reply("Something went wrong on our side and no call was placed. Please try again."),
                response_type="ephemeral",
            )

    return place_voiceotp


def _on_error(error, body, logger) -> None:
    # Bolt answers the request itself; we only make sure the failure is logged
    # without the payload (which may hold a code).
    logger.error("Slack request failed: %s", type(error).__name__)
