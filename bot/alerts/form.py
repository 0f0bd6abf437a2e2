"""The alert form: `/voicealert` with nothing after it, and the "Phone someone about this" shortcut. Pure.

The form asks who (Slack users, user groups, numbers), how (all at once, or
one after another in the order given) and the message. What it was opened
from (the channel, the command's response_url, a message's link) travels in
the view's `private_metadata`, signed with a key derived from the signing
secret, so a submission can only raise an alert where we opened the form.
https://docs.slack.dev/surfaces/modals
https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Sequence

from bot.alerts.commands import MESSAGE_MAX, AlertRequest
from bot.app import sign_metadata, verified_metadata
from bot.directory import GROUP, NUMBER, SCHEDULE, USER, Recipient
from bot.messages import input_block as _input
from bot.messages import option as _option
from bot.messages import plain_text as _plain
from bot.mrkdwn import escape
from voice.calls.numbers import InvalidPhoneNumber, parse_phone_number
from voice.speech.text import is_blank, printable

CALLBACK_ID = "voicealert_form"
SHORTCUT_ID = "phone_about_message"

# Block and action IDs of the form's fields; errors are reported on the blocks.
USERS, GROUPS, NUMBERS, HOW, MESSAGE = "who_users", "who_groups", "who_numbers", "how", "message"
SCHEDULES = "who_schedules"
AT_ONCE, IN_ORDER = "at_once", "in_order"
_ACTION = "value"

_SLACK_ID = re.compile(r"[A-Z0-9]{2,20}")
_SCHEDULE_NAME = re.compile(r"[a-z0-9-]{1,40}")
_LIST = re.compile(r"[\s,;]+")
#: Slack's limit on a modal's private_metadata.
METADATA_MAX = 3000


@dataclass(frozen=True)
class Origin:
    """Where the form was opened from, and where the alert reports."""

    channel_id: str
    user_id: str
    team_id: str = ""
    channel_name: str | None = None  # spoken; None where Slack gives none
    reply_url: str | None = None  # the command's or shortcut's response_url
    link: str | None = None  # the message the shortcut was used on


@dataclass(frozen=True)
class FormErrors:
    """What is wrong, by block: Slack shows each under its field (`response_action: errors`)."""

    errors: dict[str, str]


# -- the view -----------------------------------------------------------------------------------


def alert_form(origin: Origin, secret: str, *, groups: list[tuple[str, str]] = (), message: str = "",
               schedules: Sequence[str] = ()) -> dict:
    """The modal: who, how, what. `groups` are the workspace's user groups (id, handle), `schedules` its
    on-call schedules' names, `message` a message to start from (a shortcut's, shortened to fit)."""
    blocks = [
        _input(USERS, "People", {"type": "multi_users_select", "action_id": _ACTION,
                                 "placeholder": _plain("Choose people")}, optional=True,
               hint="Each is called at the number in their Slack profile."),
    ]
    if schedules:
        blocks.append(_input(SCHEDULES, "Whoever is on call", {
            "type": "multi_static_select", "action_id": _ACTION, "placeholder": _plain("Choose schedules"),
            "options": [_option(name[:75], name) for name in list(schedules)[:100]],
        }, optional=True, hint="The person each schedule has on call when the alert is raised."))
    if groups:
        blocks.append(_input(GROUPS, "User groups", {
            "type": "multi_static_select", "action_id": _ACTION, "placeholder": _plain("Choose user groups"),
            "options": [_option(f"@{handle}"[:75], group_id) for group_id, handle in groups[:100]],
        }, optional=True, hint="Every member is called."))
    blocks += [
        _input(NUMBERS, "Phone numbers", {"type": "plain_text_input", "action_id": _ACTION,
                                          "placeholder": _plain("+14155550123, +442071838750")},
               optional=True, hint="With + and the country code, separated by spaces or commas."),
        _input(HOW, "How", {"type": "radio_buttons", "action_id": _ACTION, "initial_option": _option(
            "All at once", AT_ONCE), "options": [_option("All at once", AT_ONCE), _option(
                "One after another, in the order given: the next only if nobody acknowledged", IN_ORDER)]}),
        _input(MESSAGE, "Message", {"type": "plain_text_input", "action_id": _ACTION, "multiline": True,
                                    "max_length": MESSAGE_MAX, **({"initial_value": fitted(message)} if message else {})},
               hint="Read out to each person, who presses 1 to acknowledge."),
    ]
    return {
        "type": "modal", "callback_id": CALLBACK_ID, "title": _plain("Phone people"),
        "submit": _plain("Call"), "close": _plain("Cancel"), "blocks": blocks,
        "private_metadata": sign_origin(origin, secret),
    }


def fitted(text: str) -> str:
    """A message to start the form from, shortened to the form's limit."""
    text = printable(text or "").strip()
    return text if len(text) <= MESSAGE_MAX else text[:MESSAGE_MAX - 1].rstrip() + "…"


def message_link(team_domain: str | None, channel_id: str, ts: str) -> str | None:
    """A message's permalink, in Slack's documented form (https://<domain>.slack.com/archives/<C>/p<ts>)."""
    if not (team_domain and re.fullmatch(r"[a-z0-9-]{1,64}", team_domain) and _SLACK_ID.fullmatch(channel_id or "")
            and re.fullmatch(r"[0-9]{1,12}\.[0-9]{1,8}", ts or "")):
        return None
    return f"https://{team_domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"


# -- a submission ---------------------------------------------------------------------------------


def read_submission(values: dict) -> AlertRequest | FormErrors:
    """The alert a submitted form asks for, or what is wrong with it, field by field."""
    users = _selected(values, USERS, "selected_users")
    groups = _selected(values, GROUPS, "selected_options")
    schedules = [name for name in _selected(values, SCHEDULES, "selected_options") if _SCHEDULE_NAME.fullmatch(name)]
    typed = str(_field(values, NUMBERS).get("value") or "")
    errors: dict[str, str] = {}
    numbers: list[Recipient] = []
    for written in (part for part in _LIST.split(typed) if part):
        try:
            number = parse_phone_number(written)
        except InvalidPhoneNumber as error:
            errors[NUMBERS] = f"“{written[:40]}”: {error.reason}"
            break
        numbers.append(Recipient(NUMBER, number.e164, number.display))
    people = [Recipient(USER, user, f"<@{user}>") for user in users if _SLACK_ID.fullmatch(user)]
    people += [Recipient(GROUP, group, f"<!subteam^{group}>") for group in groups if _SLACK_ID.fullmatch(group)]
    people += [Recipient(SCHEDULE, name, f"schedule:{name}") for name in schedules]
    everyone = list(dict.fromkeys(people + numbers))
    if not everyone and NUMBERS not in errors:
        errors[USERS] = "Choose someone to call: people, a user group, a schedule or a phone number."
    message = printable(str(_field(values, MESSAGE).get("value") or "")).strip()
    if is_blank(message):
        errors[MESSAGE] = "Write the message to read out."
    elif len(message) > MESSAGE_MAX:
        errors[MESSAGE] = f"The message is {len(message)} characters long; the limit is {MESSAGE_MAX}."
    if errors:
        return FormErrors(errors)
    in_order = (_field(values, HOW).get("selected_option") or {}).get("value") == IN_ORDER
    stages = tuple((recipient,) for recipient in everyone) if in_order else (tuple(everyone),)
    # The message is plain text (Slack does not escape a form's input): escape it as a command's is.
    return AlertRequest(stages=stages, message=escape(message))


def _field(values: dict, block: str) -> dict:
    field = (values.get(block) or {}).get(_ACTION)
    return field if isinstance(field, dict) else {}


def _selected(values: dict, block: str, key: str) -> list[str]:
    chosen = _field(values, block).get(key) or []
    if key == "selected_options":
        chosen = [option.get("value") for option in chosen if isinstance(option, dict)]
    return [value for value in chosen if isinstance(value, str)]


# -- the signed origin -------------------------------------------------------------------------------


def sign_origin(origin: Origin, secret: str) -> str:
    signed = sign_metadata(asdict(origin), secret, _PURPOSE)
    if len(signed) > METADATA_MAX:
        # Too long for Slack (an odd response URL or link): the channel is what the alert needs.
        return sign_origin(Origin(origin.channel_id, origin.user_id, origin.team_id, origin.channel_name), secret)
    return signed


def verified_origin(metadata: str, secret: str) -> Origin | None:
    """The origin we wrote, or None for anything we did not sign."""
    fields = verified_metadata(metadata, secret, _PURPOSE)
    try:
        return Origin(**fields) if fields is not None else None
    except TypeError:
        return None


_PURPOSE = "voicebridge form origin"
