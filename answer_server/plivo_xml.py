"""Plivo XML documents (the call scripts), built with ElementTree.

Never string formatting: whatever text goes in stays text.
https://www.plivo.com/docs/voice/xml/overview
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

VOICE = "WOMAN"
LANGUAGE = "en-US"

INTRO = "Hello. Here is your verification code."
REPEAT_PREFIXES = ("", "Again: ", "Once more: ")
GOODBYE = "Goodbye."
NOT_VALID = "Sorry, this call is no longer valid. Goodbye."
TRY_LATER = "Sorry, we cannot read your code right now. Please try again later. Goodbye."


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


def empty_document() -> bytes:
    """The acknowledgement for ring and hangup callbacks, whose body Plivo ignores."""
    return _serialize(ET.Element("Response"))


def _speak(parent: ET.Element, sentence: str) -> None:
    ET.SubElement(parent, "Speak", voice=VOICE, language=LANGUAGE).text = sentence


def _wait(parent: ET.Element, seconds: int) -> None:
    ET.SubElement(parent, "Wait", length=str(seconds))


def _serialize(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
