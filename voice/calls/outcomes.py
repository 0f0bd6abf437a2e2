"""How a call ended: Plivo's hangup statuses and causes mapped to our outcomes.

One table, so Plivo's quirks are normalised here and nowhere else.
Statuses: https://docs.plivo.com/docs/voice/xml/request
Causes: https://docs.plivo.com/docs/voice/troubleshooting/hangup-causes
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    ANSWERED = "answered"  # a person (or machine) picked up and the script played
    BUSY = "busy"  # the line was busy or the callee declined
    NO_ANSWER = "no_answer"  # it rang out
    FAILED = "failed"  # the call could not be made or connected; `cause` says why
    CANCELLED = "cancelled"  # hung up by us (API) before it was answered
    # An answering machine picked up (Plivo's machine detection said so). For
    # an alert this is not an acknowledgement, so it is retried like no answer.
    VOICEMAIL = "voicemail"


# Plivo's final CallStatus values on the hangup URL.
_STATUS_OUTCOMES = {
    "completed": Outcome.ANSWERED,
    "busy": Outcome.BUSY,
    "no-answer": Outcome.NO_ANSWER,
    "timeout": Outcome.NO_ANSWER,
    "cancel": Outcome.CANCELLED,
    "failed": Outcome.FAILED,
}

# Hangup cause codes in words a person understands.
CAUSES: dict[int, str] = {
    1000: "cancelled before it was answered",
    1010: "the Plivo account is out of credit",
    1020: "Plivo's limit of simultaneous calls was reached",
    2000: "the number does not exist (invalid destination)",
    2010: "the number is out of service",
    2020: "the destination is not registered",
    2030: "calls to this country are barred on the Plivo account",
    2040: "calls to this number are barred on the Plivo account",
    2060: "the call looped back on itself",
    3000: "the callee's network did not connect the call",
    3010: "the line was busy",
    3020: "the callee rejected the call",
    3030: "the callee's phone did not answer",
    3040: "the callee's network is unreachable",
    4000: "normal hangup",
    4010: "the call script ended",
    5030: "the concurrent call limit was reached",
    7011: "Plivo could not reach this server's answer URL",
    7012: "Plivo could not reach this server's action URL",
    8011: "this server answered with invalid call XML",
    8012: "this server answered an action with invalid call XML",
}

# Causes that say more than the status Plivo attached to them.
_CAUSE_OUTCOMES = {
    1000: Outcome.CANCELLED,
    3010: Outcome.BUSY,
    3020: Outcome.BUSY,
}


@dataclass(frozen=True)
class Ending:
    outcome: Outcome
    cause: str | None  # words, for a failure; None otherwise


def classify_hangup(
    call_status: str,
    cause_code: int | None,
    cause_name: str | None,
    answered: bool,
) -> Ending:
    """The outcome of a call from the fields of Plivo's hangup callback."""
    if answered:
        # The script was served, so the callee heard it, whatever the final
        # leg status says.
        return Ending(Outcome.ANSWERED, None)
    outcome = _STATUS_OUTCOMES.get(call_status.lower(), Outcome.FAILED)
    if cause_code in _CAUSE_OUTCOMES:
        outcome = _CAUSE_OUTCOMES[cause_code]
    elif outcome is Outcome.ANSWERED:
        # Connected, but this server never served the script (7011, 8011…).
        outcome = Outcome.FAILED
    cause = describe_cause(cause_code, cause_name) if outcome is Outcome.FAILED else None
    return Ending(outcome, cause)


def describe_cause(cause_code: int | None, cause_name: str | None) -> str:
    if cause_code in CAUSES:
        return CAUSES[cause_code]
    if cause_name:
        return cause_name.replace("_", " ").lower()
    return "an unknown reason"
