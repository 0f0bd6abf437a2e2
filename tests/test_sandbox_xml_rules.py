"""The sandbox checks Plivo XML as Plivo does: each class of mistake is caught."""

from __future__ import annotations

import pytest

from answer_server.plivo.xml import (
    alert_document,
    alert_intro,
    code_document,
    goodbye_document,
    into_room_document,
    key_gate_document,
    menu_document,
    sentence_document,
    still_trying_document,
    voicemail_document,
    waiting_room_document,
)
from answer_server.sandbox.plivo_script import Gather, Hangup, Speak, Wait, parse_script
from answer_server.sandbox.plivo_xml_rules import document_problems
from tests.test_languages import every_speech
from voice.speech.languages import ALERT_PHRASE_KEYS, PHRASE_KEYS, phrase
from voice.speech.voices import VOICES

MENU = b"""<?xml version="1.0" encoding="utf-8"?>
<Response>
  <Speak voice="Polly.Joanna" language="en-US">Your code is <say-as interpret-as="digits">12</say-as><break time="500ms"/> ok</Speak>
  <GetDigits action="https://voice.example.test/plivo/keys/t0k3n?a=1&amp;b=2" method="POST" numDigits="1"
             timeout="7" retries="2" validDigits="14*" log="false" redirect="true">
    <Speak>Press 1 to hear it again.</Speak>
    <Wait length="1"/>
  </GetDigits>
  <Speak loop="2">No key. Goodbye.</Speak>
  <Redirect method="GET">https://voice.example.test/next</Redirect>
  <Hangup reason="busy" schedule="30"/>
</Response>"""


SPEECHES = sorted(every_speech(), key=lambda speech: (speech.plivo_language, speech.voice))


@pytest.mark.parametrize("speech", SPEECHES, ids=[f"{s.plivo_language}-{s.voice}" for s in SPEECHES])
def test_every_document_the_app_builds_in_every_language_and_voice_is_valid(speech):
    action = "https://voice.example.test/plivo/key/t0k3n"
    documents = [
        key_gate_document(speech, action),
        code_document("483920", speech, action),
        code_document("4839", speech, action, intro=True),
        *(goodbye_document(speech, key) for key in PHRASE_KEYS),
        sentence_document(phrase(speech.code, "goodbye"), speech),
        # Alert calls speak every language too.
        alert_document(alert_intro("Ana", "ops", speech), "DB down", "https://v.test/m/tok", speech),
        menu_document(action, action, before=[phrase(speech.code, "alert_invalid_key")], speech=speech,
                      pass_on=True),
        *(sentence_document(phrase(speech.code, key, name="Ana", sender="Ana", channel="ops", digits="1, 2",
                                   caller="4 1 5 5 5 5 0 1 2 3"), speech)
          for key in ALERT_PHRASE_KEYS),
        # The hotline's: the caller's waiting room and its wait sound, voicemail, and the taker into the room.
        waiting_room_document("You have reached Backend.", "hotline-abc", "https://v.test/plivo/hotline/hold/t0k",
                              "https://v.test/plivo/hotline/conference/t0k", speech),
        still_trying_document(speech),
        voicemail_document("https://v.test/plivo/hotline/recorded/t0k", "https://v.test/plivo/hotline/transcribed/t0k",
                           speech),
        into_room_document("hotline-abc", "https://v.test/plivo/alert/conference/t0k", speech),
        menu_document(action, action, speech=speech, pass_on=True, menu_key="hotline_menu"),
    ]
    for document in documents:
        assert document_problems(document) == [], document.decode()


def test_the_alert_documents_are_valid():
    assert document_problems(alert_document(alert_intro("Ana", "ops"), "DB down", "https://v.test/m/tok")) == []
    assert document_problems(menu_document("https://v.test/k/tok", "https://v.test/s/tok",
                                           before=["Sorry, that key is not valid."])) == []
    assert document_problems(goodbye_document()) == [] and document_problems(sentence_document("Bye.")) == []


def speak(attributes: str) -> bytes:
    return f"<Response><Speak {attributes}>Hello</Speak></Response>".encode()


@pytest.mark.parametrize(("voice", "language"), [
    (voice, language) for language, voices in VOICES.items()
    for voice in [*sorted(voices.basic), *(polly.name for polly in voices.polly)]
])
def test_every_voice_plivo_has_for_a_language_is_accepted(voice, language):
    assert document_problems(speak(f'voice="{voice}" language="{language}"')) == []


@pytest.mark.parametrize(("attributes", "problem"), [
    ('voice="Polly.Joanna" language="en-GB"',
     "<Speak voice='Polly.Joanna' language='en-GB'>: Polly.Joanna does not speak en-GB"),
    ('voice="Polly.Matthew" language="en-AU"',
     "<Speak voice='Polly.Matthew' language='en-AU'>: Polly.Matthew does not speak en-AU"),
    ('voice="WOMAN" language="pt-PT"', "<Speak voice='WOMAN' language='pt-PT'>: WOMAN does not speak pt-PT"),
    ('voice="MAN" language="hi-IN"', "<Speak voice='MAN' language='hi-IN'>: MAN does not speak hi-IN"),
    ('voice="WOMAN" language="en-IN"', "<Speak voice='WOMAN' language='en-IN'>: WOMAN does not speak en-IN"),
    ('language="hi-IN"', "<Speak language='hi-IN'>: WOMAN does not speak hi-IN"),
    ('voice="Polly.Amy"', "<Speak voice='Polly.Amy'>: Polly.Amy does not speak en-US (Plivo's default)"),
    ('voice="Polly.Céline" language="fr-FR"',
     "<Speak voice='Polly.Céline' language='fr-FR'>: Polly.Céline is spelt with accents; "
     "Plivo's SDKs know it only as Polly.Celine"),
    ('voice="Polly.Inês" language="pt-PT"',
     "<Speak voice='Polly.Inês' language='pt-PT'>: Polly.Inês is spelt with accents; "
     "Plivo's SDKs know it only as Polly.Ines"),
    ('voice="Polly.Foo" language="en-US"',
     "<Speak voice='Polly.Foo' language='en-US'>: Polly.Foo is not a Plivo voice "
     "(WOMAN, MAN or an Amazon Polly voice Plivo offers)"),
    ('voice="woman"', "<Speak voice='woman'>: woman is not a Plivo voice (WOMAN, MAN or an Amazon Polly voice"),
    ('voice="WOMAN" language="en"', "<Speak voice='WOMAN' language='en'>: Plivo has no voice for the language en"),
])
def test_a_voice_that_does_not_speak_its_language_or_is_misspelt_is_refused(attributes, problem):
    problems = document_problems(speak(attributes))
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_a_speak_without_voice_or_language_is_plivos_woman_in_american_english():
    assert document_problems(b"<Response><Speak>Hello</Speak></Response>") == []
    assert document_problems(speak('voice="Polly.Joanna"')) == []
    assert document_problems(speak('language="en-GB"')) == []


def test_a_menu_with_ssml_nested_prompts_and_every_attribute_is_valid():
    assert document_problems(MENU) == []


@pytest.mark.parametrize("document, problem", [
    (b"<Response><Speak>Hello</Speak>", "not well-formed"),
    (b"<Response><Speak>Tom & Jerry</Speak></Response>", "not well-formed"),
    (b"", "empty"),
    (b"<Document><Speak>Hi</Speak></Document>", "root element is <Document>"),
    (b"<response><Speak>Hi</Speak></response>", "root element is <response>"),
    (b"<Response><Say>Hi</Say></Response>", "<Say> is not a Plivo XML element"),
    (b"<Response><speak>Hi</speak></Response>", "<speak> is not a Plivo XML element"),
    (b'<Response><Speak volume="11">Hi</Speak></Response>', "<Speak> has no attribute volume"),
    (b'<Response><GetDigits action="https://x.test/a"><Hangup/></GetDigits></Response>',
     "<Hangup> is not allowed inside <GetDigits>"),
    (b"<Response><Speak>Hi<Wait/></Speak></Response>", "<Wait> is not allowed inside <Speak>"),
    (b'<Response><Wait length="soon"/></Response>', "<Wait length='soon'> is not a valid value"),
    (b'<Response><Hangup reason="bored"/></Response>', "<Hangup reason='bored'> is not a valid value"),
    (b"<Response><Redirect>/relative</Redirect></Response>", "<Redirect> must contain an http(s) URL"),
    (b"<Response><Speak>  </Speak></Response>", "<Speak> has no text"),
    (b"<Response><GetInput><Speak>Hi</Speak></GetInput></Response>", "<GetInput> needs the attribute action"),
])
def test_each_kind_of_invalid_document_is_named(document, problem):
    problems = document_problems(document)
    assert any(problem in p for p in problems), problems


def test_a_speak_over_3000_characters_is_refused_and_3000_is_accepted():
    assert document_problems(f"<Response><Speak>{'a' * 3000}</Speak></Response>".encode()) == []
    problems = document_problems(f"<Response><Speak>{'a' * 3001}</Speak></Response>".encode())
    assert problems == ["<Speak> holds 3001 characters; Plivo speaks at most 3000"]


def test_a_document_over_100_kb_is_refused_whole():
    speaks = "".join(f"<Speak>{'b' * 1000}</Speak>" for _ in range(103))
    document = f"<Response>{speaks}</Response>".encode()
    assert len(document) > 100 * 1024
    assert document_problems(document)[0].startswith(f"the document is {len(document)} bytes")


def test_a_valid_document_becomes_steps_with_plivos_defaults():
    script = parse_script(MENU)
    speak, gather, after = script.steps[0], script.steps[1], script.steps[2]
    assert speak == Speak("Your code is 12 ok")
    assert isinstance(gather, Gather)
    assert (gather.action, gather.num_digits, gather.timeout, gather.attempts, gather.valid_digits) == (
        "https://voice.example.test/plivo/keys/t0k3n?a=1&b=2", 1, 7, 2, "14*")
    assert gather.digit_timeout == 2 and gather.finish_on_key == "#" and gather.redirect
    assert gather.prompt == (Speak("Press 1 to hear it again."), Wait(1))
    assert after == Speak("No key. Goodbye.", loop=2)
    assert script.steps[4] == Hangup("busy", 30)


def test_the_voice_bridge_documents_are_valid_and_a_bad_conference_is_caught():
    from answer_server.plivo.xml import bridge_offer_document, conference_document

    assert document_problems(bridge_offer_document("https://v.test/k/tok", "Ana")) == []
    good = conference_document("vb-alert-1-abc", "https://v.test/plivo/alert/conference/tok", "Connecting you.",
                               time_limit=3600)
    assert document_problems(good) == []
    bad = good.replace(b'timeLimit="3600"', b'timeLimit="forever"').replace(b"vb-alert-1-abc</", b"</")
    assert document_problems(bad) == ["<Conference timeLimit='forever'> is not a valid value",
                                      "<Conference> must name its room (its text), in at most 128 characters"]
    assert document_problems(good.replace(b"stayAlone", b"stayalone")) == ["<Conference> has no attribute stayalone"]
