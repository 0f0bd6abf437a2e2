"""Slack's text format: plain text escaped once, and the control sequences we mean.

Slack reads `&`, `<` and `>` in any text as the start of a control sequence
(a mention, a link, a date), so every piece of plain text, ours or a
person's, is escaped exactly once, from its unescaped form; only the
sequences built here (`<@U…>`, `<!date^…>`) are written as they are.
Shortening happens on the plain text, before escaping, so an escape is
never cut in half.
https://docs.slack.dev/messaging/formatting-message-text#escaping
"""

from __future__ import annotations

import re
from datetime import datetime

from voice.speech.text import printable

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}

# Slack's markup in a command's text (`should_escape: true`), the first group the ID or the number:
# <@U123>, <@U123|ana>, <!subteam^S123|@oncall>, and a number Slack made a link of,
# <tel:+14155550123|+1 415 555 0123>. https://docs.slack.dev/interactivity/implementing-slash-commands
USER_MARKUP = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
GROUP_MARKUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
TEL_MARKUP = re.compile(r"<tel:([^|>]*)(?:\|[^>]*)?>")
#: Any markup: <@U1>, <#C1|ops>, <!here>, <https://x|label>.
ANY_MARKUP = re.compile(r"<([^<>]*)>")


def escape(text: str) -> str:
    """Plain text as Slack must receive it: unfit characters gone, `& < >` escaped, so it cannot mention or link."""
    return "".join(_ESCAPES.get(ch, ch) for ch in printable(text))


def escape_within(text: str, limit: int, ellipsis: str = "…") -> str:
    """`escape(text)`, shortened to at most `limit` characters by cutting the plain text, never an escape."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    pieces, used = [], len(ellipsis)
    for ch in printable(text):
        piece = _ESCAPES.get(ch, ch)
        if used + len(piece) > limit:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces) + ellipsis


def unescape(text: str) -> str:
    """Slack's text as the person typed it: Slack always sends `& < >` as entities, even in
    a command's text (https://docs.slack.dev/interactivity/implementing-slash-commands)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class Markup(str):
    """A control sequence we mean (a mention, a date), kept as it is by `slack_text`."""


_SLACK_ID = re.compile(r"[A-Z0-9]{2,20}")


def mention(user_id: str) -> Markup:
    """<@U123>: Slack shows the person's name, and notifies them."""
    if not _SLACK_ID.fullmatch(user_id):
        return Markup(escape("@" + user_id))  # not an ID Slack gave us: shown, never interpreted
    return Markup(f"<@{user_id}>")


def group(group_id: str) -> Markup:
    """<!subteam^S123>: Slack shows the user group's handle."""
    if not _SLACK_ID.fullmatch(group_id):
        return Markup(escape("@" + group_id))
    return Markup(f"<!subteam^{group_id}>")


def channel(channel_id: str) -> Markup:
    """<#C123>: Slack shows the channel's name, as a link to it, to whoever may see it."""
    if not _SLACK_ID.fullmatch(channel_id):
        return Markup(escape("#" + channel_id))
    return Markup(f"<#{channel_id}>")


def date(moment: datetime, token: str, fallback: str) -> Markup:
    """<!date^…>: Slack shows the time in each reader's own time zone; `fallback` where it cannot."""
    return Markup(f"<!date^{int(moment.timestamp())}^{token}|{escape(fallback)}>")


_HTTPS = re.compile(r"https://[A-Za-z0-9.-]+\.slack\.com/[A-Za-z0-9/._-]*")


def link(url: str, label: str) -> Markup:
    """<url|label>, for a Slack URL we built (a message's permalink); anything else is shown as text."""
    if not _HTTPS.fullmatch(url):
        return Markup(escape(label))
    return Markup(f"<{url}|{escape(label)}>")


_WEB_URL = re.compile(r"https?://[^\s<>|]{1,2040}")


def web_link(url: str, label: str) -> Markup:
    """<url|label> for a link a sender gave (a dashboard, a runbook): http(s) only, nothing in it that
    would end the link early; anything else is shown as its label alone."""
    if not _WEB_URL.fullmatch(url):
        return Markup(escape(label))
    return Markup(f"<{escape(url)}|{escape(label or url)}>")


def slack_text(*parts: str) -> str:
    """Plain parts escaped, Markup parts as they are: the one way a message is put together."""
    return "".join(part if isinstance(part, Markup) else escape(part) for part in parts)
