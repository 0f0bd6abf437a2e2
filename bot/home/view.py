"""The App Home tab: whether calls can reach you, a test call, your next on-call shifts, and your recent calls.
Pure.

Never a code: the history says what happened to each call, not what it read.
https://docs.slack.dev/surfaces/app-home
"""

from __future__ import annotations

from bot.mrkdwn import date, mention, slack_text
from voice.alerts.models import RequesterPhone
from voice.calls.models import Leg
from voice.calls.numbers import display_number
from voice.testcall.calls import Recent, test_outcome

TEST_CALL_ACTION = "home_test_call"
_KINDS = {"otp": "Voice code", "test": "Test call", "alert": "Alert"}


def masked(e164: str) -> str:
    """A number as the tab shows it: its country code and last four digits (+1 •••-•••-0101)."""
    country, _, rest = display_number(e164).partition(" ")
    if not rest:
        return country[:3] + "•" * max(len(country) - 7, 0) + country[-4:]
    keep = sum(ch.isdigit() for ch in rest) - 4
    hidden, seen = [], 0
    for ch in rest:
        if ch.isdigit():
            seen += 1
            hidden.append("•" if seen <= keep else ch)
        else:
            hidden.append(ch)
    return f"{country} {''.join(hidden)}"


def home_view(user_id: str, phone: RequesterPhone, recent: list[Recent], latest_test: Leg | None,
              note: str | None = None, shifts: str | None = None) -> dict:
    """`shifts`: the viewer's next on-call shifts, for someone in a schedule (bot.oncall.texts)."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "VoiceBridge"}},
        _section(_reach(user_id, phone)),
    ]
    if phone.number:
        blocks.append({"type": "actions", "block_id": "home_actions", "elements": [{
            "type": "button", "action_id": TEST_CALL_ACTION, "value": "test", "style": "primary",
            "text": {"type": "plain_text", "text": "Test call to me"}}]})
    if latest_test is not None:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(
            "Last test call: ", test_outcome(latest_test), " · ",
            date(latest_test.created_at, "{date_short_pretty} {time}", f"{latest_test.created_at:%Y-%m-%d %H:%M} UTC"))}]})
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(":warning: ", note)}]})
    if shifts:
        blocks += [{"type": "divider"}, _section(shifts)]
    blocks.append({"type": "divider"})
    blocks.append(_section(slack_text("*Your recent calls*")))
    if recent:
        blocks.append(_section("\n".join(_line(item) for item in recent)))
    else:
        blocks.append(_section(slack_text("Nothing yet: /voiceotp and /voicealert calls you place show here.")))
    return {"type": "home", "blocks": blocks}


def _reach(user_id: str, phone: RequesterPhone) -> str:
    if phone.number:
        return slack_text(":white_check_mark: Alerts reach you at ", masked(phone.number),
                          ", the number in your Slack profile.")
    # The directory's reasons speak of the person: "<@U1> has no phone number in their Slack profile".
    return slack_text(":warning: Alerts cannot reach you: ", mention(user_id), " ", phone.problem or
                      "has no usable number", ". In Slack, open your profile, choose Edit, and put your number in "
                      "Phone, with + and the country code (e.g. +1 415 555 0101).")


def _line(item: Recent) -> str:
    when = date(item.at, "{date_short_pretty} {time}", f"{item.at:%Y-%m-%d %H:%M} UTC")
    number = f" to {masked(item.number)}" if item.number else ""
    return slack_text("• ", when, f" · {_KINDS.get(item.kind, item.kind)}{number}: {item.outcome}")


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
