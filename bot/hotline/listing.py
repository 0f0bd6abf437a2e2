"""`/voicealert hotlines`: the hotline numbers ROUTING_FILE defines, whom each phones and where its calls are
shown. Pure."""

from __future__ import annotations

import re
from typing import Sequence

from bot.mrkdwn import Markup, slack_text
from voice.alerts.recipients import recipient_label
from voice.calls.numbers import display_number
from voice.hotline.models import HotlineDef

_WORD = re.compile(r"\s*hotlines\s*", re.IGNORECASE)


def is_hotlines(text: str | None) -> bool:
    return bool(_WORD.fullmatch(text or ""))


def hotlines_text(hotlines: Sequence[HotlineDef]) -> str:
    if not hotlines:
        return slack_text(":telephone: No hotline yet. A hotline is a Plivo number whose calls reach whoever is on "
                          "call: add one under `hotlines:` in ROUTING_FILE (see the README, A hotline).")
    lines = [slack_text(f":telephone: {len(hotlines)} hotline{'s' if len(hotlines) != 1 else ''} "
                        "(defined in ROUTING_FILE):")]
    for line in hotlines:
        chain = " &gt; ".join(" ".join(recipient_label(ref.kind, ref.value) for ref in stage) for stage in line.stages)
        lines.append(slack_text("• ", Markup("*"), line.name, Markup("*"), " — ", display_number(line.number),
                                " → ", Markup(chain), ", shown in ", Markup(f"<#{line.channel}>")))
    return "\n".join(lines)
