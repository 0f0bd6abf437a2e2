"""Plivo XML documents (the call scripts), built with ElementTree.

Never string formatting: whatever text goes in stays text.
https://www.plivo.com/docs/voice/xml/overview
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence
from xml.etree import ElementTree as ET

from voice.speech.languages import Speech, phrase
from voice.speech.text import printable

ENGLISH = Speech("en", "en-US", "WOMAN")

#: How long the callee has to press the first key, and how often we ask.
KEY_TIMEOUT = 7
KEY_RETRIES = 2
#: Polly pause between digits: long enough to write each one down.
DIGIT_PAUSE = "600ms"

# The alert menu. Keys are named here and only here.
DIGIT_ACK = "1"
DIGIT_REPEAT = "2"
DIGIT_PASS = "3"  # pass the alert on to the next link of the chain
DIGIT_BRIDGE = "9"  # after acknowledging: the voice bridge to whoever raised the alert
# Every key reaches our action URL, so a wrong one gets our sentence rather
# than Plivo's silence (validDigits would swallow it).
ANY_KEY = "1234567890*#"
MENU_TIMEOUT = 7  # seconds to press a key once the menu has been said
BRIDGE_OFFER_TIMEOUT = 10  # seconds to press 9 after "Acknowledged"
#: While the database is out: seconds of silence before the call asks again (hold_document).
HOLD_WAIT = 4
# The English sentences, by name (voice/speech/phrases.toml has every language).
MENU = phrase("en", "alert_menu")
INVALID_KEY = phrase("en", "alert_invalid_key")
ACKNOWLEDGED = phrase("en", "alert_acknowledged")
NO_INPUT = phrase("en", "alert_no_input")
ALERT_TRY_LATER = phrase("en", "alert_try_later")
GOODBYE = phrase("en", "goodbye")


def spell_digits(code: str) -> str:
    """'483920' -> '4, 8, 3, 9, 2, 0.': commas make a basic voice pause between digits."""
    return ", ".join(code) + "."


@lru_cache(maxsize=1024)  # the same call's answer asked again (Plivo retries) costs nothing; no secret in it
def key_gate_document(speech: Speech, action_url: str) -> bytes:
    """The voicemail guard: nothing secret until someone presses a key."""
    response = ET.Element("Response")
    _wait(response, 1)  # the first words are lost while the phone is brought to the ear
    gate = _get_digits(response, action_url, timeout=KEY_TIMEOUT, retries=KEY_RETRIES)
    _speak(gate, speech, f"{phrase(speech.code, 'intro')} {phrase(speech.code, 'press_key')}")
    _speak(response, speech, phrase(speech.code, "no_key"))
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def code_document(code: str, speech: Speech, action_url: str, *, intro: bool = False) -> bytes:
    """Read the code digit by digit, twice, then offer to repeat it."""
    response = ET.Element("Response")
    if intro:
        _wait(response, 1)
        _speak(response, speech, phrase(speech.code, "intro"))
    _speak_code(response, speech, phrase(speech.code, "your_code"), code)
    _wait(response, 1)
    _speak_code(response, speech, phrase(speech.code, "again"), code)
    menu = _get_digits(response, action_url, timeout=5, retries=1, valid_digits="1")
    _speak(menu, speech, phrase(speech.code, "repeat"))
    _speak(response, speech, phrase(speech.code, "goodbye"))
    ET.SubElement(response, "Hangup")
    return _serialize(response)


@lru_cache(maxsize=256)  # a handful of languages × reasons; the same bytes every time
def goodbye_document(speech: Speech = ENGLISH, key: str = "not_valid") -> bytes:
    """Say one sentence and hang up: for unknown, ended or failing calls."""
    response = ET.Element("Response")
    _speak(response, speech, phrase(speech.code, key))
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def sentence_document(sentence: str, speech: Speech = ENGLISH) -> bytes:
    """Say `sentence` and hang up (the alert calls' endings)."""
    response = ET.Element("Response")
    _speak(response, speech, sentence)
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def alert_intro(sender: str, channel: str | None, speech: Speech = ENGLISH, *, monitoring: bool = False) -> str:
    """Who sent the alert and from where, said before the message (`monitoring`: an integration sent it)."""
    if monitoring:
        return phrase(speech.code, "alert_from_monitoring", sender=sender)
    if channel:
        return phrase(speech.code, "alert_from_channel", sender=sender, channel=channel)
    return phrase(speech.code, "alert_from", sender=sender)


def already_acknowledged(name: str, speech: Speech = ENGLISH) -> str:
    return phrase(speech.code, "alert_taken", name=name)


def cancelled_by(name: str, speech: Speech = ENGLISH) -> str:
    return phrase(speech.code, "alert_cancelled", name=name)


def number_as_name(e164: str, speech: Speech = ENGLISH) -> str:
    """A person known only by their number: 'the number ending in 0, 1, 0, 0'."""
    return phrase(speech.code, "number_ending", digits=spell_digits(e164[-4:])[:-1])


def alert_document(intro: str, message: str, next_url: str, speech: Speech = ENGLISH) -> bytes:
    """Who sent it, then the message (read as typed), spoken once, then on to `next_url` (the menu).

    The menu comes from another request so that an answering machine, which
    Plivo reports while the message plays, records the message and no menu.
    """
    response = ET.Element("Response")
    _wait(response, 1)
    _speak(response, speech, intro)
    if message:  # a hotline's call-out has its caller in the intro, and no message
        _speak(response, speech, message)
    _redirect(response, next_url)
    return _serialize(response)


def menu_document(keys_url: str, silence_url: str, *, before: Sequence[str] = (), speech: Speech = ENGLISH,
                  pass_on: bool = False, menu_key: str = "alert_menu") -> bytes:
    """Say `before`, then the menu (with "press 3 to pass it on" when `pass_on`), waiting for one key;
    no key goes to `silence_url`. `menu_key`: the menu's phrase (a hotline's call-out has its own)."""
    response = ET.Element("Response")
    for sentence in before:
        _speak(response, speech, sentence)
    digits = _menu_digits(response, keys_url, MENU_TIMEOUT)
    menu = phrase(speech.code, menu_key)
    _speak(digits, speech, f"{menu} {phrase(speech.code, 'alert_pass_option')}" if pass_on else menu)
    # Plivo goes on to the next element only when no key came.
    _redirect(response, silence_url)
    return _serialize(response)


def bridge_offer_document(keys_url: str, requester: str | None, speech: Speech = ENGLISH) -> bytes:
    """"Acknowledged", then the offer of the voice bridge: press 9 within a few seconds, or the call ends.
    `requester` None: nobody raised it in person (monitoring): the bridge is for the team, from Slack."""
    response = ET.Element("Response")
    _speak(response, speech, phrase(speech.code, "alert_acknowledged"))
    digits = _menu_digits(response, keys_url, BRIDGE_OFFER_TIMEOUT)
    offer = phrase(speech.code, "alert_bridge_offer", name=requester) if requester else \
        phrase(speech.code, "alert_bridge_offer_team")
    _speak(digits, speech, offer)
    _speak(response, speech, phrase(speech.code, "goodbye"))
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def conference_document(room: str, events_url: str, sentence: str, speech: Speech = ENGLISH, *,
                        time_limit: int) -> bytes:
    """Say `sentence`, then into the conference `room` (the voice bridge) until the call hangs up,
    `time_limit` seconds pass, or the last other member leaves; `events_url` hears each enter and exit.
    https://www.plivo.com/docs/voice/xml/conference"""
    response = ET.Element("Response")
    _speak(response, speech, sentence)
    conference = ET.SubElement(response, "Conference", {
        "callbackUrl": events_url,
        "callbackMethod": "POST",
        "startConferenceOnEnter": "true",
        "endConferenceOnExit": "false",
        "stayAlone": "true",
        "timeLimit": str(time_limit),
        "enterSound": "beep:1",
        "exitSound": "beep:2",
    })
    conference.text = room
    return _serialize(response)


# -- the hotline: what its caller hears ------------------------------------------------------------------

#: The waiting room's "still trying" comes every this many seconds (the wait sound is played in a loop).
STILL_TRYING_EVERY = 20
#: A voicemail is at most this long; this much silence ends it.
VOICEMAIL_SECONDS = 180
VOICEMAIL_SILENCE = 15
#: The longest talk between a caller and whoever took the call.
HOTLINE_TIME_LIMIT = 4 * 3600


def waiting_room_document(greeting: str, room: str, hold_url: str, events_url: str, speech: Speech = ENGLISH) -> bytes:
    """The greeting, "connecting you", then the waiting room: the caller hears `hold_url` until whoever takes
    the call joins (their entry starts the conference); when the caller leaves, the room ends.
    https://www.plivo.com/docs/voice/xml/conference"""
    response = ET.Element("Response")
    _speak(response, speech, greeting)
    _speak(response, speech, phrase(speech.code, "hotline_connecting"))
    conference = ET.SubElement(response, "Conference", {
        "callbackUrl": events_url,
        "callbackMethod": "POST",
        "startConferenceOnEnter": "false",
        "endConferenceOnExit": "true",
        "stayAlone": "true",
        "waitSound": hold_url,
        "maxMembers": "5",
        "timeLimit": str(HOTLINE_TIME_LIMIT),
    })
    conference.text = room
    _speak(response, speech, phrase(speech.code, "goodbye"))
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def still_trying_document(speech: Speech = ENGLISH) -> bytes:
    """The waiting room's wait sound (played in a loop): "still trying", then a pause. Speak and Wait
    only, as a wait sound's document must be."""
    response = ET.Element("Response")
    _wait(response, STILL_TRYING_EVERY)
    _speak(response, speech, phrase(speech.code, "hotline_still_trying"))
    return _serialize(response)


def voicemail_document(recorded_url: str, transcribed_url: str | None, speech: Speech = ENGLISH) -> bytes:
    """"Nobody could take your call", the tone, and up to VOICEMAIL_SECONDS of message (# ends it).
    https://www.plivo.com/docs/voice/xml/record"""
    response = ET.Element("Response")
    _speak(response, speech, phrase(speech.code, "hotline_voicemail"))
    record = {"action": recorded_url, "method": "POST", "fileFormat": "mp3", "maxLength": str(VOICEMAIL_SECONDS),
              "timeout": str(VOICEMAIL_SILENCE), "finishOnKey": "#", "playBeep": "true", "redirect": "true"}
    if transcribed_url:
        record |= {"transcriptionType": "auto", "transcriptionUrl": transcribed_url, "transcriptionMethod": "POST"}
    ET.SubElement(response, "Record", record)
    _speak(response, speech, phrase(speech.code, "hotline_no_message"))
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def into_room_document(room: str, events_url: str, speech: Speech = ENGLISH, *, sentence: str | None = None,
                       time_limit: int = HOTLINE_TIME_LIMIT) -> bytes:
    """Whoever took a hotline call, into its room: their entry starts it, their leaving ends it. Also either
    side of a callback (`sentence`: what they hear first), a room of two that ends when one leaves."""
    response = ET.Element("Response")
    _speak(response, speech, sentence or phrase(speech.code, "hotline_to_caller"))
    conference = ET.SubElement(response, "Conference", {
        "callbackUrl": events_url,
        "callbackMethod": "POST",
        "startConferenceOnEnter": "true",
        "endConferenceOnExit": "true",
        "stayAlone": "true",
        "timeLimit": str(time_limit),
        "enterSound": "beep:1",
    })
    conference.text = room
    _speak(response, speech, phrase(speech.code, "goodbye"))
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def test_call_document(keys_url: str, speech: Speech = ENGLISH) -> bytes:
    """The App Home's test call: "This is a test call from VoiceBridge. Press 1 to confirm.", twice at
    most, then goodbye."""
    response = ET.Element("Response")
    _wait(response, 1)
    digits = ET.SubElement(response, "GetDigits", action=keys_url, method="POST", numDigits="1",
                           timeout=str(MENU_TIMEOUT), retries="2", validDigits=ANY_KEY, finishOnKey="none",
                           redirect="true")
    _speak(digits, speech, phrase(speech.code, "test_call"))
    _speak(response, speech, phrase(speech.code, "goodbye"))
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def _menu_digits(parent: ET.Element, keys_url: str, timeout: int) -> ET.Element:
    return ET.SubElement(
        parent, "GetDigits",
        action=keys_url, method="POST", numDigits="1", timeout=str(timeout),
        retries="1", validDigits=ANY_KEY, finishOnKey="none", redirect="true",
    )


def hold_document(again_url: str, speech: Speech = ENGLISH, *, first: bool = True) -> bytes:
    """Our database is out for a moment: "One moment, please." (the first time), a short silence, then the
    same request again (`again_url`): the call goes on, and is served as soon as the database is back."""
    response = ET.Element("Response")
    if first:
        _speak(response, speech, phrase(speech.code, "one_moment"))
    _wait(response, HOLD_WAIT)
    _redirect(response, again_url)
    return _serialize(response)


@lru_cache(maxsize=1)
def empty_document() -> bytes:
    """The acknowledgement for ring, machine and hangup callbacks, whose body Plivo ignores."""
    return _serialize(ET.Element("Response"))


def _speak_code(parent: ET.Element, speech: Speech, lead: str, code: str) -> None:
    if not speech.ssml:
        _speak(parent, speech, f"{lead} {spell_digits(code)}")
        return
    # Polly voices take SSML: a measured pause after every digit.
    speak = _speak(parent, speech, f"{lead} ")
    for digit in code:
        ET.SubElement(speak, "say-as", {"interpret-as": "digits"}).text = digit
        ET.SubElement(speak, "break", time=DIGIT_PAUSE)


def _get_digits(parent: ET.Element, action_url: str, *, timeout: int, retries: int,
                valid_digits: str = "0123456789*#") -> ET.Element:
    return ET.SubElement(parent, "GetDigits", {
        "action": action_url,
        "method": "POST",
        "numDigits": "1",
        "timeout": str(timeout),
        "retries": str(retries),
        "validDigits": valid_digits,
        "finishOnKey": "none",  # so # and * count as "any key" too
        "log": "false",
        "redirect": "true",
    })


def _speak(parent: ET.Element, speech: Speech, sentence: str) -> ET.Element:
    element = ET.SubElement(parent, "Speak", voice=speech.voice, language=speech.plivo_language)
    # Whatever a person typed (a message, a name) may hold characters XML cannot carry.
    element.text = printable(sentence)
    return element


def _redirect(parent: ET.Element, url: str) -> None:
    ET.SubElement(parent, "Redirect", method="POST").text = url


def _wait(parent: ET.Element, seconds: int) -> None:
    ET.SubElement(parent, "Wait", length=str(seconds))


_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"


def _serialize(root: ET.Element) -> bytes:
    # The same bytes as ET.tostring(root, encoding="utf-8", xml_declaration=True), in two thirds of the time.
    return _DECLARATION + ET.tostring(root, encoding="unicode").encode("utf-8")
