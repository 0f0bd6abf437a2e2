"""The sandbox's hotline: the built-in "Sandbox on call" (a number of the sandbox's Plivo account, linked to
the app's hotline URLs; phones @alice, then @bob; its calls shown in #sandbox), and the console's caller.

The console's *Call the hotline* is someone phoning that number: the simulated Plivo fetches the app's real
answer URL (`/plivo/hotline/answer`, signed, Direction=inbound) and plays what it gets, so the waiting room,
the call-outs, the bridge, the transfer to voicemail and the recording are the app's own, as on a real call.
"""

from __future__ import annotations

import re
from dataclasses import replace

from voice.hotline.models import HotlineDef
from voice.routing.models import USER, RecipientRef
from voice.settings import Settings

NUMBER = "+14155550180"  # a number the sandbox's Plivo account rents, linked to the app's hotline application
NAME = "Sandbox on call"
CHANNEL = "C0SANDBOX"  # #sandbox
CALLS = ("U0ALICE", "U0BOB")  # @alice, then @bob
#: Who phones it from the console unless told otherwise: a made-up number, nobody in the workspace.
CALLER = "+14155550142"
#: What the console's caller says into the voicemail, unless told otherwise.
MESSAGE = "Hi, this is a customer of yours: checkout fails with an error since ten o'clock. Please call me back."
WITHHELD = "anonymous"  # what Plivo's From holds for a withheld number
_CALLER = re.compile(r"\+?[0-9]{6,15}")
ANSWER_PATH, HANGUP_PATH = "/plivo/hotline/answer", "/plivo/hotline/hangup"


def hotline() -> HotlineDef:
    return HotlineDef(number=NUMBER, name=NAME, stages=tuple((RecipientRef(USER, user),) for user in CALLS),
                      channel=CHANNEL)


def with_hotline(settings: Settings) -> Settings:
    """`settings` whose hotlines are ROUTING_FILE's, if any, and the sandbox's own."""
    routing = settings.routing
    return replace(settings, routing=replace(routing, hotlines=(*routing.hotlines, hotline())))


def caller_problem(number: str) -> str | None:
    """Why the console cannot phone from `number`: a number (+ and 6 to 15 digits) or "anonymous"."""
    if number == WITHHELD or _CALLER.fullmatch(number):
        return None
    return 'from is a phone number (+ and 6 to 15 digits), or "anonymous" for a withheld one'


def state() -> dict:
    """What the console shows: the built-in hotline, whom it phones, where, and the caller it offers."""
    return {"number": NUMBER, "name": NAME, "channel": CHANNEL, "calls": list(CALLS), "caller": CALLER,
            "message": MESSAGE}
