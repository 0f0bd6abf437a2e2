"""Test numbers: the last digits of a destination choose what happens. Pure.

Like Twilio's magic test numbers, so every outcome can be tried on purpose.
The README's table is this one; keep them together.
"""

from __future__ import annotations

from dataclasses import dataclass

HUMAN = "human"
BUSY = "busy"
NO_ANSWER = "no-answer"
FAILED = "failed"
MACHINE = "machine"


@dataclass(frozen=True)
class Destination:
    kind: str  # one of the constants above
    ring_seconds: float  # how long it rings before the outcome (simulated seconds)
    description: str


HUMAN_ANSWERS = Destination(HUMAN, 1.0, "a person answers after about 1 s of ringing")

#: Number ending → what happens. Any other number: HUMAN_ANSWERS.
ENDINGS: dict[str, Destination] = {
    "0001": Destination(BUSY, 0.0, "busy (3010 Busy Line)"),
    "0002": Destination(NO_ANSWER, 8.0, "rings out: no answer after 8 s, or ring_timeout if shorter"),
    "0003": Destination(FAILED, 0.0, "fails: invalid destination (2000)"),
    "0004": Destination(MACHINE, 2.0, "voicemail: an answering machine picks up and never presses a key"),
    "0005": Destination(HUMAN, 6.0, "slow answer: rings about 6 s, then a person answers"),
}


def destination_for(number: str) -> Destination:
    """What a call to `number` (with or without +, or a sip: URI) does."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return ENDINGS.get(digits[-4:], HUMAN_ANSWERS) if not number.startswith("sip:") else HUMAN_ANSWERS
