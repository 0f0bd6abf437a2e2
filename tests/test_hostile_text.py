"""Hostile text, as Slack and Plivo would take what we send from it.

Control characters must never make a call's document unreadable for Plivo;
Slack's escaping must be undone once and done once; shortening must cut the
plain text, never an escape; every message the app can build passes Slack's
own Block Kit models.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from answer_server.plivo.xml import (
    alert_document,
    alert_intro,
    menu_document,
    sentence_document,
)
from answer_server.sandbox.plivo_xml_rules import document_problems, speech_text
from bot.alerts.commands import AlertRequest, parse_voicealert, plain_message
from bot.alerts.messages import (
    ALERT_USAGE,
    alert_blocks,
    alert_text,
    alert_usage_reply,
    gave_up_text,
    not_called_reply,
    too_late_reply,
)
from bot.codes.commands import parse_voiceotp
from bot.codes.messages import (
    USAGE,
    calling_reply,
    status_blocks,
    status_text,
    usage_reply,
)
from bot.mrkdwn import escape, escape_within, unescape
from tests.fakes.slack_checks import (
    block_kit_problems,
    message_problems,
    mrkdwn_problems,
)
from tests.test_alert_messages import ALERT, NOW, leg
from tests.test_messages import CALL
from voice.alerts.models import (
    ACKNOWLEDGED,
    CANCELLED,
    EXHAUSTED,
    AlertView,
    Skipped,
    Target,
)
from voice.calls.models import ANSWERED, CALLING, ENDED, QUEUED, RINGING
from voice.calls.numbers import parse_phone_number
from voice.calls.outcomes import Outcome
from voice.speech.text import printable

URL = "https://voice.example.test/plivo/alert/menu/tok-aaaaaaaaaaaaaaaa"
# What Slack sends for text typed with &, < and > (it always escapes them).
HOSTILE_MESSAGES = [
    "DB\x00down", "bell\x07ring", "back\x08space", "esc\x1b[31mred", "nul at end\x00", "\x1b\x07 mixed \x08\x00",
    "tab\tand\nnewline", "lone \ud800 surrogate", "non-character \ufffe\uffff", "DEL\x7f and C1 \x85\x9b",
]


def spoken(document: bytes) -> list[str]:
    return [speech_text(speak) for speak in ET.fromstring(document).iter("Speak")]


def said(text: str) -> str:
    """What a person hears of `text`: its printable characters, whitespace as Plivo collapses it."""
    return " ".join(printable(text).split())


# -- Plivo: every document parses, and says the printable text ----------------------------


@pytest.mark.parametrize("message", HOSTILE_MESSAGES)
def test_control_characters_never_break_an_alert_call_document(message):
    document = alert_document(alert_intro("Ana\x1b", "ops\x00"), message, URL)
    assert document_problems(document) == []
    assert spoken(document) == ["This is an alert from Ana , sent from the Slack channel ops .", said(message)]


@given(st.text(min_size=1, max_size=1000).filter(lambda text: printable(text).strip()))
@hypothesis_settings(max_examples=300, deadline=None)
def test_for_any_message_every_alert_document_parses_and_says_its_printable_text(message):
    for document, sentence_index in ((alert_document("Intro.", message, URL), 1),
                                     (menu_document(URL, URL, before=[message]), 0),
                                     (sentence_document(message), 0)):
        assert document_problems(document) == []
        assert spoken(document)[sentence_index] == said(message)


@given(st.text(max_size=200))
@hypothesis_settings(max_examples=300, deadline=None)
def test_for_any_command_text_the_alert_message_is_speakable(typed):
    parsed = parse_voicealert("+14155550199 " + escape(typed))
    if isinstance(parsed, AlertRequest):
        message = plain_message(parsed.message)
        document = alert_document("Intro.", message, URL)
        assert document_problems(document) == []
        assert spoken(document)[1] == said(message)


def test_a_message_of_nothing_but_control_characters_is_refused():
    refused = parse_voicealert("+14155550199 \x00\x07\x1b")
    assert refused.problem == "The message is missing: put it after the people to call."


# Right-to-left overrides, isolates and marks, zero-width spaces and joiners, a byte-order mark.
SPOOFED = "Call \u202e0000 555 514 1+\u202c now\u200b: pay\u200d\u2060roll \u2066is\u2069 \u200fdown\ufeff\u061c!"
SPOOF_FREE = "Call 0000 555 514 1+ now: payroll is down!"
INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff\u061c"


def test_bidi_overrides_and_zero_width_characters_are_neither_spoken_nor_shown():
    document = alert_document(alert_intro("A\u202ena", "o\u200bps"), SPOOFED, URL)
    assert document_problems(document) == []
    assert spoken(document) == ["This is an alert from Ana, sent from the Slack channel ops.", SPOOF_FREE]
    shown = alert_text(AlertView(replace(ALERT, message=SPOOFED, sender_name="A\u202ena")))
    blocks = str(alert_blocks(AlertView(replace(ALERT, message=SPOOFED, sender_name="A\u202ena"))))
    for text in (shown, blocks):
        assert SPOOF_FREE in text and not any(ch in text for ch in INVISIBLE)


def test_a_message_of_nothing_but_invisible_characters_is_refused():
    refused = parse_voicealert("+14155550199 " + INVISIBLE)
    assert refused.problem == "The message is missing: put it after the people to call."


def test_every_format_character_is_removed_and_emoji_sequences_fall_apart_readably():
    import sys
    import unicodedata

    kept = [hex(code) for code in range(sys.maxunicode + 1)
            if unicodedata.category(chr(code)) == "Cf" and printable(f"a{chr(code)}b") != "ab"]
    assert kept == []
    # A family (man, ZWJ, woman, ZWJ, girl) shows as its three people; a flag with variation selector stays.
    assert printable("\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f3f3\ufe0f") == \
        "\U0001f468\U0001f469\U0001f467 \U0001f3f3\ufe0f"


# -- Slack: escaped once, from the text as typed ---------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # Slack sends "20<x>" as "20&lt;x&gt;"; the reply shows it as typed, escaped once.
        ("+1 20&lt;x&gt;", "“+1 20&lt;x&gt;” may contain only digits"),
        ("+14155550123 483920 lang=&lt;b&gt;", "“lang=&lt;b&gt;” is not a language I speak"),
        ("+14155550123 lang=a&amp;b", "“lang=a&amp;b” is not a language I speak"),
    ],
)
def test_a_voiceotp_error_shows_the_text_as_typed_escaped_once(typed, expected):
    problem = parse_voiceotp(typed).problem
    reply = usage_reply(problem)
    assert expected in reply
    assert "&amp;lt;" not in reply and "&amp;gt;" not in reply and "&amp;amp;" not in reply
    assert mrkdwn_problems(reply) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+1&lt;x&gt; The database is down", "“+1<x>”"),
        ("<tel:+1&amp;2|+1&amp;2> The database is down", "+1&2"),
    ],
)
def test_a_voicealert_error_shows_the_number_as_typed_escaped_once(typed, expected):
    problem = parse_voicealert(typed).problem
    assert expected in problem
    reply = alert_usage_reply(problem)
    assert escape(expected) in reply and "&amp;lt;" not in reply and "&amp;amp;" not in reply
    assert mrkdwn_problems(reply) == []


def test_the_bots_own_text_is_escaped_where_it_shows_angle_brackets():
    for text in (USAGE, ALERT_USAGE, usage_reply("x"), alert_usage_reply("x"),
                 calling_reply(parse_phone_number("+14155550124"), None)):
        assert mrkdwn_problems(text) == [], text
    assert "`/voiceotp check +14155550124 &lt;code&gt;`" in calling_reply(parse_phone_number("+14155550124"), None)
    assert "`/voicealert &lt;who&gt; &lt;message&gt;`" in ALERT_USAGE
    assert "`/voicealert @alice &gt; @bob &gt; +14155550199 The database is down`" in ALERT_USAGE


def test_slack_text_loses_its_control_characters():
    for message in HOSTILE_MESSAGES:
        text = alert_text(AlertView(replace(ALERT, message=message)))
        assert mrkdwn_problems(text) == []


# -- shortening cuts the plain text ----------------------------------------------------------


@given(st.text(alphabet=st.sampled_from("<>&ab \n"), max_size=400), st.integers(min_value=1, max_value=300))
@hypothesis_settings(max_examples=400, deadline=None)
def test_shortening_never_cuts_an_escape_in_half(text, limit):
    short = escape_within(text, limit)
    assert len(short) <= limit
    assert mrkdwn_problems(short) == []
    kept = short[:-1] if short.endswith("…") and short != escape(text) else short
    assert printable(text).startswith(unescape(kept))


@pytest.mark.parametrize("message", ["<" * 1000, "&" * 1000, ("a&b<c>" * 200)[:1000], "x\n" * 500])
def test_a_long_message_of_escapes_is_shortened_whole_in_every_text(message):
    view = AlertView(replace(ALERT, message=message))
    text = alert_text(view)
    assert mrkdwn_problems(text) == []
    assert not text.split(": ", 1)[1].split(" — ")[0].endswith(("&", "&a", "&am", "&amp", "&l", "&lt", "&g", "&gt"))
    assert message_problems({"text": text, "blocks": alert_blocks(view)}) == []


# -- every message the app can build passes Slack's Block Kit models ---------------------------


def _alert_views():
    long_reason = "no phone <number> & " * 40
    skipped = (Skipped("<@U3>", long_reason), Skipped("<!subteam^S9>", "has no members"),
               Skipped("+1 415-555-0100", "is this app's own caller ID"))
    base = replace(ALERT, skipped=skipped, message="DB <primary> & \x1b replica\n<!channel> down")
    legs = [leg(0), leg(0, ENDED, Outcome.VOICEMAIL, machine_at=NOW), leg(0, ENDED, Outcome.BUSY),
            leg(0, ENDED, Outcome.NO_ANSWER), leg(0, ENDED, Outcome.FAILED, cause="Plivo <said> & " * 50),
            leg(0, ANSWERED), leg(0, QUEUED), leg(0, CALLING), leg(0, ENDED, Outcome.CANCELLED, stop_requested=True)]
    for one in legs:
        yield AlertView(base, (one,))
    yield AlertView(replace(base, next_at=NOW + timedelta(seconds=60)), tuple(legs[1:2]))
    yield AlertView(replace(base, status=ACKNOWLEDGED, resolved_at=NOW, resolved_via="phone", resolved_by="U1",
                            resolved_leg=1), (leg(0, ENDED, Outcome.ANSWERED),))
    yield AlertView(replace(base, status=ACKNOWLEDGED, resolved_at=NOW, resolved_via="phone", resolved_by=None,
                            resolved_number="+14155550102"), ())
    yield AlertView(replace(base, status=CANCELLED, resolved_at=NOW, resolved_via="slack", resolved_by="U2"), ())
    yield AlertView(replace(base, status=EXHAUSTED, resolved_at=NOW), tuple(legs[1:3]))
    many = tuple(Target(f"+1415555{index:04d}", index % 3, f"U{index:04d}", None) for index in range(50))
    yield AlertView(replace(base, targets=many, skipped=skipped * 10), ())


@pytest.mark.parametrize("view", list(_alert_views()), ids=lambda view: f"{view.alert.status}-{len(view.legs)}")
def test_every_alert_message_passes_slacks_block_kit_models(view):
    payload = {"text": alert_text(view), "blocks": alert_blocks(view)}
    assert message_problems(payload) == []
    for text in (gave_up_text(view.alert), too_late_reply(view.alert),
                 not_called_reply(view.alert.skipped, nobody_left=True)):
        assert mrkdwn_problems(text) == [], text


@pytest.mark.parametrize("status", [QUEUED, CALLING, RINGING, ANSWERED, ENDED])
@pytest.mark.parametrize("outcome", [None, *Outcome])
def test_every_voice_code_message_passes_slacks_block_kit_models(status, outcome):
    call = replace(CALL, status=status, outcome=outcome if status == ENDED else None, cause="Plivo <said> & no",
                   duration=21, cost="0.0085")
    assert message_problems({"text": status_text(call), "blocks": status_blocks(call)}) == []
    api_call = replace(call, requester=replace(call.requester, user_id="api:1a2b3c4d"))
    assert message_problems({"text": status_text(api_call), "blocks": status_blocks(api_call)}) == []


def test_the_checks_themselves_catch_what_slack_would_refuse():
    assert block_kit_problems([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])
    assert block_kit_problems([{"type": "bogus"}])
    assert block_kit_problems([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}])
    assert mrkdwn_problems("a <b> c") and mrkdwn_problems("&amp;lt;") and mrkdwn_problems("a & b")
    assert mrkdwn_problems("bell\x07") and mrkdwn_problems("a > b")
    assert [problem.split(":")[0] for problem in mrkdwn_problems("<@U1> &lt; <!date^1^{time}|10:00> >quote")] == [
        "raw '>' outside a quote"]
    assert mrkdwn_problems("<@U1> &lt;\n>quote <!subteam^S1>") == []


# -- a fresh block_id for each version of the alert message ------------------------------------


def _actions_id(view: AlertView) -> str:
    return next(block["block_id"] for block in alert_blocks(view) if block["type"] == "actions")


def test_each_version_of_the_alert_message_gets_a_fresh_block_id():
    ringing = AlertView(ALERT, (leg(0),))
    answered = AlertView(ALERT, (leg(0, ANSWERED),))
    assert _actions_id(ringing) != _actions_id(answered)
    assert _actions_id(ringing) == _actions_id(AlertView(ALERT, (leg(0),)))  # the same version, the same id
    assert len(_actions_id(ringing)) <= 255
