"""Parsing `/voicealert` text as Slack sends it with should_escape: pure, no server."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.alerts.commands import (
    MESSAGE_MAX,
    AlertRequest,
    mentioned_users,
    parse_voicealert,
    plain_message,
)
from bot.directory import GROUP, NUMBER, USER, Recipient
from bot.messages import CommandError, HelpRequest

ALICE = Recipient(USER, "U1", "<@U1>")
BOB = Recipient(USER, "U2", "<@U2>")
ONCALL = Recipient(GROUP, "S1", "<!subteam^S1>")
NUMBER_100 = Recipient(NUMBER, "+14155550100", "+1 415-555-0100")


def stages(text):
    request = parse_voicealert(text)
    assert isinstance(request, AlertRequest), request
    return request.stages, request.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U1> DB down", ((ALICE,),)),
        ("<@U1|alice> DB down", ((ALICE,),)),
        ("<@U1> <@U2> DB down", ((ALICE, BOB),)),
        ("<@U1>,<@U2> DB down", ((ALICE, BOB),)),
        ("<@U1> , <@U2>, +14155550100 DB down", ((ALICE, BOB, NUMBER_100),)),
        ("<!subteam^S1|@oncall> DB down", ((ONCALL,),)),
        ("<!subteam^S1> DB down", ((ONCALL,),)),
        ("<tel:+14155550100|+1 415 555 0100> DB down", ((NUMBER_100,),)),
        ("+1(415)555-0100 DB down", ((NUMBER_100,),)),
        ("<@U1> <@U1> DB down", ((ALICE,),)),
    ],
)
def test_recipients_separated_by_spaces_or_commas_are_called_at_once(text, expected):
    assert stages(text) == (expected, "DB down")


@pytest.mark.parametrize(
    "text",
    [
        "<@U1> &gt; <@U2> &gt; +14155550100 DB down",  # as Slack escapes a typed >
        "<@U1> > <@U2> > +14155550100 DB down",
        "<@U1>&gt;<@U2>&gt;+14155550100 DB down",
    ],
)
def test_recipients_separated_by_greater_than_form_an_escalation_chain(text):
    assert stages(text) == (((ALICE,), (BOB,), (NUMBER_100,)), "DB down")


def test_a_stage_of_a_chain_can_hold_several_recipients():
    assert stages("<@U1>, <!subteam^S1> &gt; <@U2> DB down")[0] == ((ALICE, ONCALL), (BOB,))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<@U1> Call +14155550100 if DB down", "Call +14155550100 if DB down"),
        ("<@U1> DB down, <@U2> is on it", "DB down, <@U2> is on it"),
        ("<@U1> latency &gt; 5 s &gt; SLO", "latency &gt; 5 s &gt; SLO"),
        ("<@U1> payload=%7B%22x%22%3A1%7D rejected", "payload=%7B%22x%22%3A1%7D rejected"),
        ("<@U1> the payload service is down", "the payload service is down"),
        ("<@U1> +5% errors since the deploy", "+5% errors since the deploy"),
        ("<@U1> 3 > 2 and 4 > 3", "3 > 2 and 4 > 3"),
    ],
)
def test_the_message_starts_at_the_first_token_that_is_not_a_recipient(text, message):
    assert stages(text) == (((ALICE,),), message)


def test_a_message_of_exactly_the_limit_is_accepted_and_one_more_is_refused_with_the_limit():
    assert stages("<@U1> " + "x" * MESSAGE_MAX)[1] == "x" * MESSAGE_MAX
    refused = parse_voicealert("<@U1> " + "x" * (MESSAGE_MAX + 1))
    assert refused == CommandError("The message is 1001 characters long; the limit is 1000.")


def test_the_limit_counts_characters_as_read_not_slacks_escapes():
    assert isinstance(parse_voicealert("<@U1> " + "&amp;" * MESSAGE_MAX), AlertRequest)


@pytest.mark.parametrize("text", ["help", "HELP", "--help", "?"])
def test_it_recognises_a_request_for_help(text):
    assert parse_voicealert(text) == HelpRequest()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Tell me who to call and what to say."),
        ("  ", "Tell me who to call and what to say."),
        ("DB down", "Start with who to call"),
        ("@alice DB down", "Start with who to call"),
        ("<@U1>", "The message is missing: put it after the people to call."),
        ("<@U1>, <@U2> ", "The message is missing"),
        ("<@U1> <>", "The message is missing"),
        ("<@U1> &gt;", "Nothing follows the last “>”"),
        ("<@U1> &gt; DB down", "Nothing follows the last “>”"),
        ("&gt; <@U1> DB down", "“>” goes between two recipients"),
        ("<@U1> &gt; &gt; <@U2> DB down", "“>” goes between two recipients"),
        ("+1 415 555 0100 DB down", "Write each number without spaces, e.g. +14155550123."),
        ("<@U1> +15551234567 DB down", "“+15551234567” is not a valid number in its country's numbering plan."),
        ("+1415555 DB down", "“+1415555” is too short to be a phone number."),
        ("+14155550100x DB down", "may contain only digits"),
    ],
)
def test_bad_input_gets_a_specific_problem(text, problem):
    result = parse_voicealert(text)
    assert isinstance(result, CommandError), result
    assert problem in result.problem


def test_the_message_is_read_as_people_see_it():
    raw = ("<@U1> &amp; <@U2|bob> see &lt;b&gt; in <#C1|ops>: <!here> <!subteam^S1|@oncall> "
           "<https://status.example.com|status page> <https://x.example.com> <mailto:a@b.example|a@b.example>")
    assert plain_message(raw, {"U1": "Alice"}) == (
        "@Alice & @bob see <b> in #ops: @here @oncall status page https://x.example.com a@b.example")
    assert mentioned_users(raw) == ["U1"]


@given(st.text(max_size=120))
def test_any_text_gives_a_request_help_or_an_error(text):
    result = parse_voicealert(text)
    assert isinstance(result, (AlertRequest, HelpRequest, CommandError))
    if isinstance(result, AlertRequest):
        assert result.stages and all(result.stages)
        assert plain_message(result.message).strip() and len(plain_message(result.message)) <= MESSAGE_MAX
