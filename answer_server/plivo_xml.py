"""Plivo XML documents (the call scripts), built with ElementTree.

Never string formatting: whatever text goes in stays text.
https://www.plivo.com/docs/voice/xml/overview
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from voice.languages import Speech, phrase

ENGLISH = Speech("en", "en-US", "WOMAN")

#: How long the callee has to press the first key, and how often we ask.
KEY_TIMEOUT = 7
KEY_RETRIES = 2
#: Polly pause between digits: long enough to write each one down.
DIGIT_PAUSE = "600ms"


def spell_digits(code: str) -> str:
    """'483920' -> '4, 8, 3, 9, 2, 0.': commas make a basic voice pause between digits."""
    return ", ".join(code) + "."


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


def goodbye_document(speech: Speech = ENGLISH, key: str = "not_valid") -> bytes:
    """Say one sentence and hang up: for unknown, ended or failing calls."""
    response = ET.Element("Response")
    _speak(response, speech, phrase(speech.code, key))
    ET.SubElement(response, "Hangup")
    return _serialize(response)


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
    element.text = sentence
    return element


def _wait(parent: ET.Element, seconds: int) -> None:
    ET.SubElement(parent, "Wait", length=str(seconds))


def _serialize(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
