"""Plivo XML as Plivo checks it: a document in, a list of problems out (empty = valid).

Pure, so the simulator and its tests share one definition of "valid". The rules
come from Plivo's element pages (https://www.plivo.com/docs/voice/xml/overview,
.../xml/speak, .../xml/getdigits…): the root is <Response>, names are
case-sensitive, each element allows certain attributes and children, a <Speak>
holds at most 3000 characters and a document at most 100 KB, and its voice
speaks its language (voice/speech/voices.py, the table plivo-java checks pairs against:
https://github.com/plivo/plivo-java/blob/master/src/main/java/com/plivo/api/util/Utils.java).
A document with any problem ends a real call with cause 8011 (8012 for an action).
"""

from __future__ import annotations

import re
from typing import Callable
from xml.etree import ElementTree as ET

from voice.speech.voices import (
    DEFAULT_LANGUAGE,
    DEFAULT_VOICE,
    is_voice,
    speaks,
    unaccented,
    voices_for,
)

MAX_DOCUMENT_BYTES = 100 * 1024
MAX_SPEAK_CHARS = 3000

# What a callee can hear or press: the elements allowed directly in <Response>.
VERBS = (
    "Speak", "Play", "Wait", "GetDigits", "GetInput", "Hangup", "Redirect", "PreAnswer",
    "Dial", "Record", "Conference", "DTMF", "Message", "Stream", "MultiPartyCall",
)
SSML = ("break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w")
_AUDIO = ("Speak", "Play", "Wait")

#: Allowed children of each element.
CHILDREN: dict[str, tuple[str, ...]] = {
    "Response": VERBS,
    "GetDigits": _AUDIO,
    "GetInput": _AUDIO,
    "PreAnswer": _AUDIO,
    "Dial": ("Number", "User"),
    "Speak": SSML,
    **{tag: SSML for tag in ("emphasis", "lang", "p", "prosody", "s", "w")},
}

_CALLBACK = ("action", "method", "redirect", "log")
#: Known attributes of each element; None means "not checked" (SSML and elements we do not simulate).
ATTRIBUTES: dict[str, tuple[str, ...] | None] = {
    "Response": (),
    "Speak": ("voice", "language", "loop"),
    "Play": ("loop",),
    "Wait": ("length", "silence", "minSilence", "beep"),
    "GetDigits": _CALLBACK + ("timeout", "digitTimeout", "finishOnKey", "numDigits", "retries",
                              "playBeep", "validDigits", "invalidDigitsSound"),
    "GetInput": _CALLBACK + ("inputType", "executionTimeout", "digitEndTimeout", "speechEndTimeout",
                             "finishOnKey", "numDigits", "speechModel", "hints", "language",
                             "interimSpeechResultsCallback", "interimSpeechResultsCallbackMethod",
                             "profanityFilter"),
    "Hangup": ("reason", "schedule"),
    "Redirect": ("method",),
    "PreAnswer": (),
    "Dial": ("action", "method", "hangupOnStar", "timeLimit", "timeout", "callerId", "callerName",
             "confirmSound", "confirmKey", "dialMusic", "callbackUrl", "callbackMethod", "redirect",
             "digitsMatch", "digitsMatchBLeg", "sipHeaders"),
    "Number": ("sendDigits", "sendOnPreanswer"),
    "User": ("sendDigits", "sendOnPreanswer", "sipHeaders"),
    "Record": ("action", "method", "fileFormat", "redirect", "timeout", "maxLength", "playBeep",
               "finishOnKey", "recordSession", "startOnDialAnswer", "transcriptionType",
               "transcriptionUrl", "transcriptionMethod", "callbackUrl", "callbackMethod"),
    "DTMF": ("async",),
    # https://www.plivo.com/docs/voice/xml/conference
    "Conference": ("muted", "enterSound", "exitSound", "startConferenceOnEnter", "endConferenceOnExit",
                   "stayAlone", "waitSound", "maxMembers", "record", "recordFileFormat", "recordWhenAlone",
                   "timeLimit", "hangupOnStar", "action", "method", "callbackUrl", "callbackMethod",
                   "digitsMatch", "floorEvent", "redirect", "relayDTMF", "transcriptionType",
                   "transcriptionUrl", "transcriptionMethod"),
    "Message": None,
    "Stream": None,
    "MultiPartyCall": None,
    **{tag: None for tag in SSML},
}


def _integer(low: int, high: int | None = None) -> Callable[[str], bool]:
    return lambda v: v.strip().isdigit() and int(v) >= low and (high is None or int(v) <= high)


def _one_of(*values: str) -> Callable[[str], bool]:
    return lambda v: v in values


_BOOL = _one_of("true", "false")
_METHOD = _one_of("GET", "POST")
_URL = re.compile(r"^https?://\S+$")

#: Value checks for the attributes whose values the simulator relies on.
VALUES: dict[tuple[str, str], Callable[[str], bool]] = {
    ("Speak", "loop"): _integer(0),
    ("Play", "loop"): _integer(0),
    ("Wait", "length"): _integer(1),
    ("Wait", "silence"): _BOOL,
    ("Wait", "beep"): _BOOL,
    ("GetDigits", "method"): _METHOD,
    ("GetDigits", "timeout"): _integer(1),
    ("GetDigits", "digitTimeout"): _integer(1),
    ("GetDigits", "numDigits"): _integer(1),
    ("GetDigits", "retries"): _integer(1),
    ("GetDigits", "redirect"): _BOOL,
    ("GetDigits", "playBeep"): _BOOL,
    ("GetDigits", "log"): _BOOL,
    ("GetDigits", "action"): lambda v: bool(_URL.match(v)),
    ("GetInput", "method"): _METHOD,
    ("GetInput", "action"): lambda v: bool(_URL.match(v)),
    ("GetInput", "inputType"): _one_of("dtmf", "speech", "dtmf speech"),
    ("GetInput", "executionTimeout"): _integer(5, 60),
    ("GetInput", "numDigits"): _integer(1, 32),
    ("GetInput", "redirect"): _BOOL,
    ("GetInput", "log"): _BOOL,
    ("Hangup", "reason"): _one_of("rejected", "busy"),
    ("Hangup", "schedule"): _integer(1),
    ("Redirect", "method"): _METHOD,
    **{("Conference", name): _BOOL for name in ("muted", "startConferenceOnEnter", "endConferenceOnExit",
                                                 "stayAlone", "record", "hangupOnStar", "redirect", "relayDTMF",
                                                 "floorEvent", "recordWhenAlone")},
    ("Conference", "timeLimit"): _integer(1, 86400),
    ("Conference", "maxMembers"): _integer(2, 200),
    ("Conference", "callbackUrl"): lambda v: bool(_URL.match(v)),
    ("Conference", "callbackMethod"): _METHOD,
    ("Conference", "action"): lambda v: bool(_URL.match(v)),
    ("Conference", "method"): _METHOD,
    # A beep ("beep:1", "beep:2"), a sound's URL, or nothing.
    ("Conference", "enterSound"): lambda v: v in ("", "beep:1", "beep:2") or bool(_URL.match(v)),
    ("Conference", "exitSound"): lambda v: v in ("", "beep:1", "beep:2") or bool(_URL.match(v)),
    ("Conference", "waitSound"): lambda v: bool(_URL.match(v)),
    # https://www.plivo.com/docs/voice/xml/record
    ("Record", "action"): lambda v: bool(_URL.match(v)),
    ("Record", "method"): _METHOD,
    ("Record", "fileFormat"): _one_of("mp3", "wav"),
    ("Record", "redirect"): _BOOL,
    ("Record", "timeout"): _integer(1),
    ("Record", "maxLength"): _integer(1),
    ("Record", "playBeep"): _BOOL,
    ("Record", "recordSession"): _BOOL,
    ("Record", "startOnDialAnswer"): _BOOL,
    ("Record", "transcriptionType"): _one_of("auto", "hybrid"),
    ("Record", "transcriptionUrl"): lambda v: bool(_URL.match(v)),
    ("Record", "transcriptionMethod"): _METHOD,
    ("Record", "callbackUrl"): lambda v: bool(_URL.match(v)),
    ("Record", "callbackMethod"): _METHOD,
}

#: Attributes without which an element means nothing.
REQUIRED: dict[str, tuple[str, ...]] = {"GetInput": ("action",)}
#: Elements whose text must be a URL.
URL_TEXT = ("Play", "Redirect")
#: A conference is named by its text (Plivo's conference names are account-wide).
_ROOM = re.compile(r"\S.{0,127}", re.DOTALL)


def document_problems(document: bytes) -> list[str]:
    """Everything Plivo would reject in `document`, one sentence each."""
    if len(document) > MAX_DOCUMENT_BYTES:
        return [f"the document is {len(document)} bytes; Plivo accepts at most {MAX_DOCUMENT_BYTES}"]
    if not document.strip():
        return ["the document is empty"]
    try:
        root = ET.fromstring(document)
    except ET.ParseError as error:
        return [f"the document is not well-formed XML ({error})"]
    if root.tag != "Response":
        return [f"the root element is <{root.tag}>, not <Response>"]
    problems: list[str] = []
    _check(root, problems)
    return problems


def _check(element: ET.Element, problems: list[str]) -> None:
    tag = element.tag
    problems.extend(_attribute_problems(element))
    if tag == "Speak":
        problems.extend(_voice_problems(element))
        length = len(speech_text(element))
        if length > MAX_SPEAK_CHARS:
            problems.append(f"<Speak> holds {length} characters; Plivo speaks at most {MAX_SPEAK_CHARS}")
        elif length == 0:
            problems.append("<Speak> has no text")
    if tag in URL_TEXT and not _URL.match((element.text or "").strip()):
        problems.append(f"<{tag}> must contain an http(s) URL")
    if tag == "Conference" and not _ROOM.fullmatch((element.text or "").strip()):
        problems.append("<Conference> must name its room (its text), in at most 128 characters")
    allowed = CHILDREN.get(tag, ())
    for child in element:
        if child.tag not in ATTRIBUTES:
            problems.append(f"<{child.tag}> is not a Plivo XML element")
        elif child.tag not in allowed:
            problems.append(f"<{child.tag}> is not allowed inside <{tag}>")
        else:
            _check(child, problems)


def _attribute_problems(element: ET.Element) -> list[str]:
    tag, known = element.tag, ATTRIBUTES.get(element.tag)
    problems = [f"<{tag}> needs the attribute {name}" for name in REQUIRED.get(tag, ()) if name not in element.attrib]
    for name, value in element.attrib.items():
        if known is not None and name not in known:
            problems.append(f"<{tag}> has no attribute {name}")
        elif (tag, name) in VALUES and not VALUES[(tag, name)](value):
            problems.append(f"<{tag} {name}={value!r}> is not a valid value")
    return problems


def _voice_problems(speak: ET.Element) -> list[str]:
    """Whether Plivo has this <Speak>'s voice for its language (WOMAN and en-US when left out)."""
    shown = " ".join(f"{name}={speak.attrib[name]!r}" for name in ("voice", "language") if name in speak.attrib)
    where = f"<Speak {shown}>" if shown else "<Speak>"
    voice, language = speak.get("voice", DEFAULT_VOICE), speak.get("language", DEFAULT_LANGUAGE)
    if voices_for(language) is None:
        return [f"{where}: Plivo has no voice for the language {language}"]
    if unaccented(voice) != voice and is_voice(unaccented(voice)):
        return [f"{where}: {voice} is spelt with accents; Plivo's SDKs know it only as {unaccented(voice)}"]
    if not is_voice(voice):
        return [f"{where}: {voice} is not a Plivo voice (WOMAN, MAN or an Amazon Polly voice Plivo offers)"]
    if not speaks(voice, language):
        default = " (Plivo's default)" if "language" not in speak.attrib else ""
        return [f"{where}: {voice} does not speak {language}{default}"]
    return []


def speech_text(speak: ET.Element) -> str:
    """What a <Speak> says, SSML tags removed and whitespace collapsed."""
    return " ".join("".join(speak.itertext()).split())
