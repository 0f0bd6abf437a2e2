"""Plivo XML documents (the call scripts), built with ElementTree.

Never string formatting: whatever text goes in stays text.
https://www.plivo.com/docs/voice/xml/overview
"""

from __future__ import annotations

from typing import Sequence
from xml.etree import ElementTree as ET

VOICE = "WOMAN"
LANGUAGE = "en-US"

INTRO = "Hello. Here is your verification code."
REPEAT_PREFIXES = ("", "Again: ", "Once more: ")
GOODBYE = "Goodbye."
NOT_VALID = "Sorry, this call is no longer valid. Goodbye."
TRY_LATER = "Sorry, we cannot read your code right now. Please try again later. Goodbye."

# The alert menu. Keys are named here and only here.
DIGIT_ACK = "1"
DIGIT_REPEAT = "2"
# Every key reaches our action URL, so a wrong one gets our sentence rather
# than Plivo's silence (validDigits would swallow it).
ANY_KEY = "1234567890*#"
MENU_TIMEOUT = 7  # seconds to press a key once the menu has been said
MENU = f"Press {DIGIT_ACK} to acknowledge. Press {DIGIT_REPEAT} to hear the message again."
INVALID_KEY = "Sorry, that key is not valid."
ACKNOWLEDGED = "Acknowledged. Thank you."
NO_INPUT = "No key was pressed, so the alert is still not acknowledged. Goodbye."
ALERT_TRY_LATER = "Sorry, something went wrong on our side. Goodbye."


def spell_digits(code: str) -> str:
    """'483920' -> '4, 8, 3, 9, 2, 0.': commas make the voice pause between digits."""
    return ", ".join(code) + "."


def otp_document(code: str, *, readings: int = len(REPEAT_PREFIXES)) -> bytes:
    """Introduce the call, then read the code digit by digit `readings` times."""
    response = ET.Element("Response")
    _wait(response, 1)  # the first words are lost while the phone is brought to the ear
    _speak(response, INTRO)
    for index in range(readings):
        _wait(response, 1 if index == 0 else 2)
        _speak(response, REPEAT_PREFIXES[min(index, len(REPEAT_PREFIXES) - 1)] + spell_digits(code))
    _wait(response, 1)
    _speak(response, GOODBYE)
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def goodbye_document(sentence: str = NOT_VALID) -> bytes:
    """Say one sentence and hang up: for unknown, ended or failing calls."""
    response = ET.Element("Response")
    _speak(response, sentence)
    ET.SubElement(response, "Hangup")
    return _serialize(response)


def alert_intro(sender: str, channel: str | None) -> str:
    """Who sent the alert and from where, said before the message."""
    place = f"the Slack channel {channel}" if channel else "Slack"
    return f"This is an alert from {sender}, sent from {place}."


def already_acknowledged(name: str) -> str:
    return f"This alert was already acknowledged by {name}. Goodbye."


def cancelled_by(name: str) -> str:
    return f"This alert was cancelled by {name}. Goodbye."


def number_as_name(e164: str) -> str:
    """A person known only by their number: 'the number ending in 0, 1, 0, 0'."""
    return f"the number ending in {spell_digits(e164[-4:])[:-1]}"


def alert_document(intro: str, message: str, next_url: str) -> bytes:
    """Who sent it, then the message, spoken once, then on to `next_url` (the menu).

    The menu comes from another request so that an answering machine, which
    Plivo reports while the message plays, records the message and no menu.
    """
    response = ET.Element("Response")
    _wait(response, 1)
    _speak(response, intro)
    _speak(response, message)
    _redirect(response, next_url)
    return _serialize(response)


def menu_document(keys_url: str, silence_url: str, *, before: Sequence[str] = ()) -> bytes:
    """Say `before`, then the menu, waiting for one key; no key goes to `silence_url`."""
    response = ET.Element("Response")
    for sentence in before:
        _speak(response, sentence)
    digits = ET.SubElement(
        response, "GetDigits",
        action=keys_url, method="POST", numDigits="1", timeout=str(MENU_TIMEOUT),
        retries="1", validDigits=ANY_KEY, redirect="true",
    )
    _speak(digits, MENU)
    # Plivo goes on to the next element only when no key came.
    _redirect(response, silence_url)
    return _serialize(response)


def empty_document() -> bytes:
    """The acknowledgement for ring and hangup callbacks, whose body Plivo ignores."""
    return _serialize(ET.Element("Response"))


def _speak(parent: ET.Element, sentence: str) -> None:
    ET.SubElement(parent, "Speak", voice=VOICE, language=LANGUAGE).text = sentence


def _redirect(parent: ET.Element, url: str) -> None:
    ET.SubElement(parent, "Redirect", method="POST").text = url


def _wait(parent: ET.Element, seconds: int) -> None:
    ET.SubElement(parent, "Wait", length=str(seconds))


def _serialize(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
