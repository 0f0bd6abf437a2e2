"""What the bot says alike wherever it is asked: refusals, limits, who may act, failures. Pure.

Each capability's own words are beside its listeners (bot/codes/messages.py,
bot/alerts/messages.py). Every text is put together by bot.mrkdwn.slack_text,
which escapes each plain piece once and keeps only the control sequences we mean.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from bot.mrkdwn import date, slack_text, unescape

#: A requester who is an API key, not a Slack user: "api:<key label>".
API_PREFIX = "api:"


# What a command's text comes to when it is not a request (each command's own parser returns them).
@dataclass(frozen=True)
class HelpRequest:
    pass


@dataclass(frozen=True)
class CommandError:
    """Input we refuse; `problem` says what was wrong, in a sentence."""

    problem: str


def refusal_reply(reason: str) -> str:
    """A valid request we will not carry out (policy): why, and that no call was placed."""
    return slack_text(f":no_entry: {reason} No call was placed.")


def rate_limit_reply(reason: str, frees_at: datetime, now: datetime) -> str:
    """A limit reached, and when it frees up, in each reader's own time zone."""
    return slack_text(f":no_entry: {reason} The next call is possible at ",
                      date(frees_at, "{time}", f"{frees_at:%H:%M} UTC"),
                      f" (in {_minutes_until(frees_at, now)} min). No call was placed.")


def rate_limit_text(reason: str, frees_at: datetime, now: datetime) -> str:
    """The same in plain text, where Slack shows no dates (a form's field, a workflow step's error): in UTC."""
    return (f"{reason} The next call is possible at {frees_at:%H:%M} UTC (in {_minutes_until(frees_at, now)} min). "
            "No call was placed.")


def pace_notice(what: str, meanwhile: str, late: float, ahead: int) -> str:
    """Told only to whoever asked, when Slack's pace holds their message back in a busy channel.
    Slack posts about one message a second per channel: https://docs.slack.dev/apis/web-api/rate-limits"""
    messages = f"{ahead} message{'s are' if ahead != 1 else ' is'}"
    return slack_text(f":hourglass_flowing_sand: This channel is busy: Slack lets an app post about one message a "
                      f"second here, and {messages} ahead of {what}. It will appear in about {max(1, round(late))} s; "
                      f"{meanwhile}.")


def _minutes_until(moment: datetime, now: datetime) -> int:
    return max(1, round((moment - now).total_seconds() / 60))


@dataclass(frozen=True)
class Act:
    """Something only some people may do (ALLOWED_SLACK_USERS, ALLOWED_SLACK_CHANNELS), as a refusal says it."""

    verb: str  # "place calls": "Sorry, you are not allowed to place calls with this app."
    passive: str  # "Calls cannot be placed": "… from this channel."
    consequence: str  # what did not happen: "No call was placed."


CALL = Act("place calls", "Calls cannot be placed", "No call was placed.")
ACKNOWLEDGE = Act("acknowledge alerts", "Alerts cannot be acknowledged", "The alert was not acknowledged.")
CANCEL = Act("cancel alerts", "Alerts cannot be cancelled", "The alert was not cancelled.")


def not_allowed_user_reply(act: Act = CALL) -> str:
    return slack_text(f":no_entry: Sorry, you are not allowed to {act.verb} with this app. "
                      f"An admin can add you to ALLOWED_SLACK_USERS. {act.consequence}")


def not_allowed_channel_reply(act: Act = CALL) -> str:
    return slack_text(f":no_entry: {act.passive} from this channel. "
                      f"An admin can add it to ALLOWED_SLACK_CHANNELS. {act.consequence}")


def other_workspace_reply(act: Act, what: str = "alert") -> str:
    """For a click on an alert (or a hotline `call`) of another Slack workspace (a channel shared with it)."""
    return slack_text(f":no_entry: This {what} belongs to another Slack workspace; only its own people may act on "
                      f"it here. {act.consequence}")


def plain_reply(reply: str) -> str:
    """A refusal reply as plain text, without its emoji, for where its place says what it is (a form field's
    error, the Home tab's note)."""
    return unescape(reply.replace(":no_entry: ", "").replace(":x: ", ""))


def not_allowed_without_channel_reply(act: Act = CALL) -> str:
    """Where there is no channel (the Home tab) and only some channels may be used."""
    return slack_text(f":no_entry: Here you may {act.verb} only from the channels an admin allows "
                      f"(ALLOWED_SLACK_CHANNELS), or once an admin adds you to ALLOWED_SLACK_USERS. "
                      f"{act.consequence}")


def failure_reply(problem: str) -> str:
    """Told to the requester when the call could not be started at all."""
    return slack_text(f":x: {problem}")


def fresh_block_id(prefix: str, blocks: list[dict]) -> str:
    """An id for a message's buttons that changes with every version of the message.

    Slack asks for a new block_id on each update of a message
    (https://docs.slack.dev/reference/block-kit/blocks/actions-block): the
    same content gives the same id, any change a new one.
    """
    digest = hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()[:12]
    return f"{prefix}-{digest}"


def format_duration(seconds: int | None) -> str:
    if seconds is None:
        return "duration unknown"
    minutes, seconds = divmod(max(seconds, 0), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


# -- Block Kit parts every form shares --------------------------------------------------------------------
# https://docs.slack.dev/reference/block-kit/blocks/input-block


def plain_text(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def option(text: str, value: str) -> dict:
    return {"text": plain_text(text), "value": value}


def input_block(block_id: str, label: str, element: dict, *, optional: bool = False,
                hint: str | None = None) -> dict:
    block = {"type": "input", "block_id": block_id, "label": plain_text(label), "element": element,
             "optional": optional}
    if hint:
        block["hint"] = plain_text(hint)
    return block
