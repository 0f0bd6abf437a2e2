"""Every word `/voicealert integrations` says, and its blocks. Pure.

Each answer is for the person who typed the command alone (ephemeral). A token appears only in the
blocks of the answer to `add` or `rotate`, never in its notification text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bot.messages import Act
from bot.mrkdwn import (
    Markup,
    channel,
    date,
    escape,
    escape_within,
    group,
    mention,
    slack_text,
)
from voice.calls.numbers import display_number
from voice.incidents.models import FILE, Integration
from voice.routing.models import GROUP, USER, RecipientRef

MANAGE = Act("manage integrations", "Integrations cannot be managed", "Nothing was shown or changed.")

EXAMPLE = "/voicealert integrations add backend-prod @oncall > @lead"

INTEGRATIONS_USAGE = escape(
    "Integrations turn alerts from monitoring (Alertmanager, Grafana, any script, Opsgenie or PagerDuty "
    "clients) into calls, as /voicealert places them.\n"
    "• `/voicealert integrations`: list them.\n"
    f"• `{EXAMPLE}`, typed in the channel that should get its alerts: a new one, phoning those people "
    "(as /voicealert's: @people, @user-groups, numbers with +, `>` between the links of a chain, `lang=es`). "
    "Only you see the answer: the URLs for your monitoring and the integration's token, shown once.\n"
    "• `/voicealert integrations rotate <name>`: a new token; the old one stops working at once.\n"
    "• `/voicealert integrations remove <name>`: it takes no more alerts; its incidents stay.\n"
    "Names: 1 to 40 lowercase letters, digits and dashes."
)

#: Integrations shown one by one; more are named in one line (a message holds at most 50 blocks).
LISTED_MAX = 40
# A section's text holds at most 3000 characters (Block Kit).
_SECTION_MAX = 2900


def usage_reply(problem: str | None = None) -> str:
    return f"{slack_text(':warning: ', problem)}\n{INTEGRATIONS_USAGE}" if problem else INTEGRATIONS_USAGE


@dataclass(frozen=True)
class Endpoints:
    """Where monitoring sends an integration's alerts, under PUBLIC_URL."""

    alertmanager: str
    generic: str
    opsgenie: str  # Alertmanager's opsgenie_configs api_url: it appends v2/alerts itself
    pagerduty: str

    @classmethod
    def under(cls, public_url: str) -> Endpoints:
        base = public_url.rstrip("/")
        return cls(alertmanager=f"{base}/integrations/alertmanager", generic=f"{base}/integrations/generic",
                   opsgenie=f"{base}/opsgenie/", pagerduty=f"{base}/pagerduty/v2/enqueue")


def ephemeral(text: str, blocks: list[dict] | None = None) -> dict:
    """What the command's acknowledgement carries: seen only by who typed it."""
    return {"text": text, "response_type": "ephemeral"} | ({"blocks": blocks} if blocks else {})


# -- listing -----------------------------------------------------------------------------------


def listing_reply(found: Sequence[Integration]) -> dict:
    if not found:
        text = slack_text(":electric_plug: No integrations yet. Monitoring (Alertmanager, Grafana, a script, Opsgenie "
                          "or PagerDuty clients) phones people through one: type `", EXAMPLE,
                          "` in the channel that should get its alerts, or define it in ROUTING_FILE.")
        return ephemeral(text, [_section(text)])
    head = slack_text(f":electric_plug: *{len(found)} integration{'s' if len(found) != 1 else ''}*")
    blocks = [_section(head)] + [_section(_described(item)) for item in found[:LISTED_MAX]]
    if len(found) > LISTED_MAX:
        more = ", ".join(item.name for item in found[LISTED_MAX:])
        blocks.append(_context(slack_text(f"And {len(found) - LISTED_MAX} more: ")
                               + escape_within(more, _SECTION_MAX)))
    blocks.append(_context(slack_text(f"Add one: `{EXAMPLE}` in the channel that should get its alerts. "
                                      "`rotate <name>` gives one a new token, `remove <name>` removes it.")))
    names = ", ".join(item.name for item in found)
    return ephemeral(slack_text(f"{len(found)} integration{'s' if len(found) != 1 else ''}: ")
                     + escape_within(names, 300), blocks)


def _described(item: Integration) -> str:
    last = (date(item.last_alert_at, "{date_short_pretty} at {time}", f"{item.last_alert_at:%Y-%m-%d %H:%M} UTC")
            if item.last_alert_at else "none yet")
    if item.defined_in == FILE:
        origin = slack_text("defined in ROUTING_FILE")
    else:
        origin = slack_text("added by ", mention(item.created_by) if item.created_by else "someone", " on ",
                            date(item.created_at, "{date_short_pretty}", f"{item.created_at:%Y-%m-%d}"))
    lines = [
        slack_text("*", item.name, "* · posts in ", channel(item.channel_id)),
        slack_text("Phones ", phones_label(item.stages, item.lang)),
        slack_text("Severities that phone: ", severities_label(item.phone)),
        slack_text("Last alert: ", last, " · ", Markup(origin)),
    ]
    return "\n".join(lines)


def phones_label(stages: Sequence[Sequence[RecipientRef]], lang: str | None) -> Markup:
    """`@oncall > @lead > +1 415-555-0100`, as Slack shows mentions; `>` between the links of the chain."""
    links = [slack_text(*_joined([_recipient(ref) for ref in stage], ", ")) for stage in stages]
    text = slack_text(*_joined([Markup(link) for link in links], " > "))
    return Markup(text + (slack_text(f" (every call in {lang})") if lang else ""))


def severities_label(phone: Sequence[str] | None) -> str:
    if phone is None:
        return "all but the informational ones (warning, info, none; Opsgenie's P4, P5)"
    if not phone:
        return "none (its alerts are posted without calls)"
    return ", ".join(phone)


def _recipient(ref: RecipientRef) -> str:
    if ref.kind == USER:
        return mention(ref.value)
    if ref.kind == GROUP:
        return group(ref.value)
    return display_number(ref.value)


def _joined(parts: list[str], separator: str) -> list[str]:
    joined: list[str] = []
    for index, part in enumerate(parts):
        joined += [separator, part] if index else [part]
    return joined


# -- a token, shown once -----------------------------------------------------------------------


def token_reply(item: Integration, token: str, endpoints: Endpoints, *, rotated: bool) -> dict:
    """The integration's token, once, with where its senders send it; only in the blocks."""
    if rotated:
        head = slack_text(f":key: *{item.name}* has a new token. The old one stopped working just now: "
                          "give this one to every sender.")
        text = slack_text(f":key: {item.name} has a new token, shown this once.")
    else:
        head = slack_text(f":white_check_mark: *{item.name}* added. Its alerts are posted in ", channel(item.channel_id),
                          " and phone ", phones_label(item.stages, item.lang), ".")
        text = slack_text(f":white_check_mark: Integration {item.name} added; its token is shown this once.")
    where = "\n".join([
        slack_text("*Where monitoring sends its alerts*"),
        slack_text("• Alertmanager or Grafana, webhook: `", endpoints.alertmanager, "` with the header "
                   f"`Authorization: Bearer {token}`"),
        slack_text("• A script: `", endpoints.generic, "` (the same header, or `?token=`)"),
        slack_text("• Opsgenie's API (Alertmanager's `opsgenie_configs`): `api_url: ", endpoints.opsgenie,
                   "` with the token as `api_key` (its `GenieKey`)"),
        slack_text("• PagerDuty's Events API v2: `", endpoints.pagerduty, "` with the token as `routing_key`"),
    ])
    snippet = "\n".join([
        "receivers:",
        f"  - name: {item.name}",
        "    webhook_configs:",
        f"      - url: {endpoints.alertmanager}",
        "        http_config:",
        "          authorization:",
        f"            credentials: {token}",
    ])
    blocks = [
        _section(head),
        _section(slack_text(":closed_lock_with_key: Its token, shown this once: only its SHA-256 is kept.")
                 + f"\n```{escape(token)}```"),
        _section(where),
        _section(slack_text("*Alertmanager* (`alertmanager.yml`):") + f"\n```{escape(snippet)}```"),
        _context(slack_text(f"Lost it? `/voicealert integrations rotate {item.name}` makes a new one. In a private "
                            "channel, `/invite` the app so that it can post there.")),
    ]
    return ephemeral(text, blocks)


# -- the rest ----------------------------------------------------------------------------------


def removed_reply(item: Integration) -> dict:
    return ephemeral(slack_text(f":wastebasket: *{item.name}* removed: its token no longer works (its senders get "
                                "401). Its incidents and their messages in ", channel(item.channel_id),
                                " stay, with their buttons."))


def file_defined_reply(name: str) -> dict:
    return ephemeral(slack_text(f":no_entry: *{name}* is defined in ROUTING_FILE; change it there."))


def file_name_reply(name: str) -> dict:
    return ephemeral(slack_text(f":no_entry: *{name}* is the name of an integration defined in ROUTING_FILE; "
                                "choose another. Nothing was added."))


def taken_reply(name: str, ours: Integration | None) -> dict:
    """The name is taken: where, if by this workspace; by whom else is not said."""
    if ours is None:
        return ephemeral(slack_text(f":no_entry: The name *{name}* is taken; choose another. Nothing was added."))
    return ephemeral(slack_text(f":no_entry: There is already an integration named *{name}*, posting in ",
                                channel(ours.channel_id), f". Choose another name, or `/voicealert integrations "
                                f"rotate {name}` for a new token. Nothing was added."))


def unknown_reply(name: str) -> dict:
    return ephemeral(slack_text(f":warning: This workspace has no integration named *{name}*. "
                                "`/voicealert integrations` lists them."))


def no_channel_reply() -> dict:
    return ephemeral(slack_text(":warning: Type this in the channel that should get the integration's alerts: "
                                "a direct message cannot. Nothing was added."))


def not_callable_reply(reasons: Sequence[tuple[str, str]]) -> dict:
    """Numbers no call may go to (the policy every call follows): the integration would never reach them."""
    lines = [slack_text(f"• {number}: {reason}") for number, reason in reasons]
    return ephemeral("\n".join([slack_text(":no_entry: These numbers cannot be called, so nothing was added:"),
                                *lines]))


def failure_reply() -> dict:
    return ephemeral(slack_text(":x: Something went wrong on our side and nothing was changed. Please try again."))


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
