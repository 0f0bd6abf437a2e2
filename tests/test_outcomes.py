"""Plivo's hangup fields → our outcome, in one table."""

import pytest

from voice.calls.outcomes import Ending, Outcome, classify_hangup


@pytest.mark.parametrize(
    ("status", "code", "name", "answered", "expected"),
    [
        ("completed", 4000, "Normal Hangup", True, Ending(Outcome.ANSWERED, None)),
        ("busy", 3010, "Busy Line", False, Ending(Outcome.BUSY, None)),
        ("failed", 3020, "Rejected", False, Ending(Outcome.BUSY, None)),
        ("no-answer", None, None, False, Ending(Outcome.NO_ANSWER, None)),
        ("timeout", None, None, False, Ending(Outcome.NO_ANSWER, None)),
        ("cancel", 1000, "Canceled", False, Ending(Outcome.CANCELLED, None)),
        ("failed", 2000, "Invalid Destination Address", False,
         Ending(Outcome.FAILED, "the number does not exist (invalid destination)")),
        ("failed", 2030, None, False, Ending(Outcome.FAILED, "calls to this country are barred on the Plivo account")),
        ("failed", 9999, "SOMETHING_ODD", False, Ending(Outcome.FAILED, "something odd")),
        ("failed", None, None, False, Ending(Outcome.FAILED, "an unknown reason")),
        ("weird-status", None, None, False, Ending(Outcome.FAILED, "an unknown reason")),
    ],
)
def test_each_hangup_maps_to_one_outcome(status, code, name, answered, expected):
    assert classify_hangup(status, code, name, answered) == expected


def test_a_call_whose_script_was_served_counts_as_answered_whatever_the_leg_status():
    assert classify_hangup("failed", 3010, "Busy Line", answered=True).outcome is Outcome.ANSWERED


def test_a_connected_call_that_never_fetched_the_script_is_a_failure():
    ending = classify_hangup("completed", 7011, "Error Reaching Answer URL", answered=False)
    assert ending == Ending(Outcome.FAILED, "Plivo could not reach this server's answer URL")
