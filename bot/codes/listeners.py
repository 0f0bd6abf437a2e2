"""Bolt's listener for `/voiceotp`: parse, check who may call, record the code and its call, answer.

The code, its call, and the work of placing and reporting it are written in
one transaction before the acknowledgement; a check of a typed-back code
answers with its result (and, when it is right, announces it in the channel).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt import App

from bot.app import Access, requester_of
from bot.codes.commands import CheckRequest, OtpRequest, parse_voiceotp
from bot.codes.messages import (
    USAGE,
    calling_reply,
    check_reply,
    usage_reply,
    verified_announcement,
)
from bot.delivery import NOTICE, notice_payload
from bot.messages import (
    CommandError,
    HelpRequest,
    failure_reply,
    rate_limit_reply,
    refusal_reply,
)
from voice.calls.models import Requester
from voice.codes.service import CodeOrder, OtpService, Refused
from voice.queue.work import WorkQueue
from voice.store.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BotServices:
    otp: OtpService
    queue: WorkQueue
    access: Access


def register_code_listeners(app: App, services: BotServices) -> None:
    app.command("/voiceotp")(_voiceotp(services))


def order_of(request: OtpRequest, command: dict) -> CodeOrder:
    return CodeOrder(
        number=request.number,
        requester=requester_of(command),
        source="slack",
        code=request.code,
        language=request.language,
        request_id=command.get("trigger_id"),
    )


def _voiceotp(services: BotServices):
    def voiceotp(ack, command) -> None:
        """Answer at once: the usage, a specific refusal, a check's result, or "Calling …"."""
        request = parse_voiceotp(command.get("text", ""))
        if isinstance(request, HelpRequest):
            return ack(USAGE)
        if isinstance(request, CommandError):
            return ack(usage_reply(request.problem))
        requester = requester_of(command)
        denied = services.access.refusal(requester.user_id, requester.channel_id)
        if denied:
            kind, reply = denied
            services.otp.refuse(source="slack", requester=requester, number=request.number.e164, kind=kind,
                                reason=reply)
            return ack(reply)
        if isinstance(request, CheckRequest):
            return ack(_check(services, request, requester))
        try:
            # The code, its call, and the work of placing and reporting it, in one transaction.
            services.otp.request(order_of(request, command))
        except Refused as refused:
            return ack(_refusal_reply(services, refused))
        except Exception:
            log.exception("storing a voice code request failed")
            return ack(failure_reply("Something went wrong on our side and no call was placed. "
                                              "Please try again."))
        ack(calling_reply(request.number, len(request.code) if request.code else None))

    return voiceotp


def _check(services: BotServices, request: CheckRequest, requester: Requester) -> str:
    result = services.otp.check(request.number, request.code, requester.team_id)
    if result.valid:
        text = verified_announcement(request.number, requester.user_id, len(request.code))
        with transaction(services.queue.engine) as conn:
            services.queue.enqueue(conn, NOTICE, requester.channel_id, payload=notice_payload(
                text, channel=requester.channel_id, reply_url=requester.reply_url, team=requester.team_id))
    return check_reply(request.number, result)


def _refusal_reply(services: BotServices, refused: Refused) -> str:
    if refused.frees_at is not None:
        return rate_limit_reply(str(refused), refused.frees_at, services.otp.clock())
    return refusal_reply(str(refused))
