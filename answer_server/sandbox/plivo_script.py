"""A valid Plivo XML document as a list of steps the call driver plays. Pure.

Defaults are Plivo's (https://www.plivo.com/docs/voice/xml/overview and each
element's page), so a document that leaves an attribute out behaves here as
it would on a real call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from answer_server.sandbox.plivo_xml_rules import speech_text


@dataclass(frozen=True)
class Speak:
    text: str
    loop: int = 1  # 0: until the call ends


@dataclass(frozen=True)
class Play:
    url: str
    loop: int = 1


@dataclass(frozen=True)
class Wait:
    seconds: int = 1


@dataclass(frozen=True)
class Gather:
    """<GetDigits>, or <GetInput> taking keys: a prompt, then keys until a limit."""

    action: str | None
    method: str = "POST"
    prompt: tuple = ()
    timeout: float = 5  # seconds to wait for the first key
    digit_timeout: float = 2  # seconds between keys
    finish_on_key: str = "#"
    num_digits: int = 99
    attempts: int = 1  # Plivo's `retries`: how many times the prompt is played and keys awaited
    valid_digits: str = "1234567890*#"
    redirect: bool = True
    input_type: str | None = None  # set for <GetInput>: its action gets InputType and Speech too

    @property
    def takes_keys(self) -> bool:
        return self.input_type is None or "dtmf" in self.input_type


@dataclass(frozen=True)
class Hangup:
    reason: str | None = None
    schedule: int = 0  # seconds; 0 = now


@dataclass(frozen=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True)
class PreAnswer:
    steps: tuple = ()


@dataclass(frozen=True)
class Conference:
    """<Conference>: into a named room until the call ends, `time_limit` passes, the conference ends (a
    member with endConferenceOnExit left) or (stay_alone off) the others leave; enter and exit are posted to
    `callback_url`. Until a member with startConferenceOnEnter enters, the others hear `wait_sound`."""

    room: str
    callback_url: str | None = None
    callback_method: str = "POST"
    time_limit: int = 14400  # Plivo's default: 4 hours
    action: str | None = None
    method: str = "POST"
    stay_alone: bool = True
    starts: bool = True  # startConferenceOnEnter
    ends: bool = False  # endConferenceOnExit
    wait_sound: str | None = None  # a URL whose document (Speak, Play, Wait) is played while waiting


@dataclass(frozen=True)
class Record:
    """<Record>: a beep, then what the caller says until finishOnKey, `timeout` seconds of silence or
    `max_length`; the recording is posted to `action` (https://www.plivo.com/docs/voice/xml/record)."""

    action: str | None = None
    method: str = "POST"
    max_length: int = 60
    timeout: int = 15  # seconds of silence that end it
    finish_on_key: str = "1234567890*#"
    play_beep: bool = True
    redirect: bool = True
    file_format: str = "mp3"
    transcription_url: str | None = None


@dataclass(frozen=True)
class Unsupported:
    """A valid Plivo element the sandbox does not simulate (<Dial>, <DTMF>…)."""

    tag: str


@dataclass(frozen=True)
class Script:
    steps: tuple = field(default_factory=tuple)


def parse_script(document: bytes) -> Script:
    """Steps of a document that plivo_xml_rules found valid."""
    return Script(tuple(_step(element) for element in ET.fromstring(document)))


def _step(element: ET.Element):
    tag, a = element.tag, element.attrib
    if tag == "Speak":
        return Speak(speech_text(element), int(a.get("loop", 1)))
    if tag == "Play":
        return Play((element.text or "").strip(), int(a.get("loop", 1)))
    if tag == "Wait":
        return Wait(int(a.get("length", 1)))
    if tag == "GetDigits":
        return Gather(
            action=a.get("action"),
            method=a.get("method", "POST"),
            prompt=tuple(_step(child) for child in element),
            timeout=float(a.get("timeout", 5)),
            digit_timeout=float(a.get("digitTimeout", 2)),
            finish_on_key=_finish_key(a.get("finishOnKey", "#")),
            num_digits=int(a.get("numDigits", 99)),
            attempts=max(1, int(a.get("retries", 1))),
            valid_digits=a.get("validDigits", "1234567890*#"),
            redirect=a.get("redirect", "true") == "true",
        )
    if tag == "GetInput":
        end = a.get("digitEndTimeout", "auto")
        return Gather(
            action=a.get("action"),
            method=a.get("method", "POST"),
            prompt=tuple(_step(child) for child in element),
            timeout=float(a.get("executionTimeout", 15)),
            digit_timeout=float(end) if end.isdigit() else 2,
            finish_on_key=_finish_key(a.get("finishOnKey", "#")),
            num_digits=int(a.get("numDigits", 32)),
            redirect=a.get("redirect", "true") == "true",
            input_type=a.get("inputType", "dtmf"),
        )
    if tag == "Hangup":
        return Hangup(a.get("reason"), int(a.get("schedule", 0)))
    if tag == "Redirect":
        return Redirect((element.text or "").strip(), a.get("method", "POST"))
    if tag == "PreAnswer":
        return PreAnswer(tuple(_step(child) for child in element))
    if tag == "Conference":
        return Conference(
            room=(element.text or "").strip(),
            callback_url=a.get("callbackUrl"),
            callback_method=a.get("callbackMethod", "POST"),
            time_limit=int(a.get("timeLimit", 14400)),
            action=a.get("action"),
            method=a.get("method", "POST"),
            stay_alone=a.get("stayAlone", "true") == "true",
            starts=a.get("startConferenceOnEnter", "true") == "true",
            ends=a.get("endConferenceOnExit", "false") == "true",
            wait_sound=a.get("waitSound") or None,
        )
    if tag == "Record":
        return Record(
            action=a.get("action"),
            method=a.get("method", "POST"),
            max_length=int(a.get("maxLength", 60)),
            timeout=int(a.get("timeout", 15)),
            finish_on_key=_finish_key(a.get("finishOnKey", "1234567890*#")),
            play_beep=a.get("playBeep", "true") == "true",
            redirect=a.get("redirect", "true") == "true",
            file_format=a.get("fileFormat", "mp3"),
            transcription_url=a.get("transcriptionUrl") or None,
        )
    return Unsupported(tag)


def _finish_key(value: str) -> str:
    # "none" and "" both mean: no key ends the input early.
    return "" if value in ("", "none") else value
