"""/voicealert for the people it wakes: their language and the configured voice.

Golden documents pin what Plivo receives, in English and in Spanish; the flow
tests drive the whole app as test_voicealert_flow.py does.
"""

from __future__ import annotations

import re
from dataclasses import replace
from string import Formatter

import pytest

from answer_server.plivo_xml import (
    alert_document,
    alert_intro,
    menu_document,
    sentence_document,
)
from bot.alert_commands import parse_voicealert
from bot.commands import CommandError
from tests import test_voicealert_flow as flow
from tests.test_voicealert_flow import alert, callee, clocked_app, speech
from voice.languages import (
    ALERT_PHRASE_KEYS,
    LANGUAGES,
    choose_speech,
    phrase,
    speech_of_language,
)

# The alert flow's fixtures: an app on a clock with its workers, Slack's sender, the workspace's people.
alert_app, client, slack, people = flow.alert_app, flow.client, flow.slack, flow.people

SPANISH = choose_speech(None, "es", "WOMAN")
ALICE = "+14155550101"


# -- the phrases --------------------------------------------------------------------------------


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_every_language_says_every_alert_sentence_with_the_same_blanks(code):
    for key in ALERT_PHRASE_KEYS:
        text = phrase(code, key, **dict.fromkeys(_fields(phrase("en", key)), "X"))
        assert text and "{" not in text, (code, key)
        from voice.languages import _phrases

        assert key in _phrases()[code], f"{code} has no {key}"
        assert _fields(_phrases()[code][key]) == _fields(_phrases()["en"][key]), (code, key)


def test_a_language_without_phrases_falls_back_to_english():
    assert phrase("xx", "alert_taken", name="Ana") == "This alert was already acknowledged by Ana. Goodbye."


@pytest.mark.parametrize("tag, region, expected", [
    ("es-ES", "US", ("es", "es-ES")),  # a Slack locale wins over the number's country
    ("fr-CA", None, ("fr", "fr-CA")),
    ("ja-JP", "JP", ("en", "en-US")),  # a locale we have no phrases for: English, never silence
    ("es-LA", None, ("es", "es-US")),  # Slack's "Español (Latinoamérica)"
    (None, "ES", ("es", "es-ES")),  # a bare number: its country's language
    (None, "US", ("en", "en-US")),
])
def test_the_callee_hears_their_locale_else_their_numbers_country(tag, region, expected):
    speech_ = speech_of_language(tag, region, "WOMAN")
    assert (speech_.code, speech_.plivo_language) == expected


# -- golden documents ---------------------------------------------------------------------------

GOLDEN_ALERT_ES = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<Response><Wait length="1" />'
    '<Speak voice="WOMAN" language="es-ES">Esta es una alerta de Ana, enviada desde el canal de Slack ops.</Speak>'
    '<Speak voice="WOMAN" language="es-ES">DB down</Speak>'
    '<Redirect method="POST">https://v.test/plivo/alert/menu/tok</Redirect></Response>'
)
GOLDEN_MENU_EN = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<Response><GetDigits action="https://v.test/k/tok" method="POST" numDigits="1" timeout="7" retries="1" '
    'validDigits="1234567890*#" finishOnKey="none" redirect="true">'
    '<Speak voice="WOMAN" language="en-US">Press 1 to acknowledge. Press 2 to hear the message again.</Speak>'
    '</GetDigits><Redirect method="POST">https://v.test/s/tok</Redirect></Response>'
)
GOLDEN_MENU_ES = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<Response><Speak voice="WOMAN" language="es-ES">Lo sentimos, esa tecla no es válida.</Speak>'
    '<GetDigits action="https://v.test/k/tok" method="POST" numDigits="1" timeout="7" retries="1" '
    'validDigits="1234567890*#" finishOnKey="none" redirect="true">'
    '<Speak voice="WOMAN" language="es-ES">Pulse 1 para confirmar. Pulse 2 para escuchar el mensaje de nuevo.'
    '</Speak></GetDigits><Redirect method="POST">https://v.test/s/tok</Redirect></Response>'
)


def test_golden_alert_document_in_spanish():
    document = alert_document(alert_intro("Ana", "ops", SPANISH), "DB down", "https://v.test/plivo/alert/menu/tok",
                              SPANISH)
    assert document.decode() == GOLDEN_ALERT_ES


def test_golden_menu_in_english_and_spanish():
    assert menu_document("https://v.test/k/tok", "https://v.test/s/tok").decode() == GOLDEN_MENU_EN
    spanish = menu_document("https://v.test/k/tok", "https://v.test/s/tok", speech=SPANISH,
                            before=[phrase("es", "alert_invalid_key")])
    assert spanish.decode() == GOLDEN_MENU_ES


def test_golden_endings_in_spanish():
    assert sentence_document(phrase("es", "alert_acknowledged"), SPANISH).decode() == (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<Response><Speak voice="WOMAN" language="es-ES">Confirmado. Gracias.</Speak><Hangup /></Response>')


# -- lang= on the command ------------------------------------------------------------------------


def test_lang_among_the_recipients_sets_every_calls_language():
    request = parse_voicealert("<@U1> lang=es > +14155550102 El servidor está caído")
    assert request.language == "es" and len(request.stages) == 2
    assert request.message == "El servidor está caído"
    assert parse_voicealert("<@U1> The lang=es flag is in the message").language is None


def test_an_unknown_lang_is_refused_with_the_choices():
    refused = parse_voicealert("lang=xx <@U1> down")
    assert isinstance(refused, CommandError) and "lang=xx" in refused.problem and "es" in refused.problem


# -- through the app ----------------------------------------------------------------------------


def test_a_slack_user_hears_the_alert_in_their_slack_language(client, slack, plivo, plivo_rest, fake_slack):
    fake_slack.add_user("U1", "Alicia Gómez", "(415) 555-0101", locale="es-ES")
    alert(client, slack, fake_slack, plivo_rest, "<@U1> La base de datos no responde")
    alicia = callee(client, plivo, plivo_rest, ALICE)
    document = alicia.answer()
    assert speech(document) == ["Esta es una alerta de Ana, enviada desde el canal de Slack ops.",
                                "La base de datos no responde"]
    assert {speak.get("language") for speak in document.iter("Speak")} == {"es-ES"}
    menu = alicia.follow(document)
    assert speech(menu) == ["Pulse 1 para confirmar. Pulse 2 para escuchar el mensaje de nuevo."]
    assert speech(alicia.press(menu, "7"))[0] == "Lo sentimos, esa tecla no es válida."
    assert speech(alicia.press(menu, "1")) == ["Confirmado. Gracias."]


def test_a_number_hears_its_countrys_language_and_lang_overrides_everyone(client, slack, plivo, plivo_rest,
                                                                         fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "+34612345678 <@U1> Disk full", calls=2)
    spain, alice = callee(client, plivo, plivo_rest, "+34612345678"), callee(client, plivo, plivo_rest, ALICE)
    assert speech(spain.answer())[0].startswith("Esta es una alerta de Ana")
    assert speech(alice.answer())[0].startswith("This is an alert from Ana")  # locale en-US

    alert(client, slack, fake_slack, plivo_rest, "lang=fr <@U1> +34612345678 Disque plein", calls=4)
    for number in (ALICE, "+34612345678"):
        said = speech(callee(client, plivo, plivo_rest, number, nth=1).answer())
        assert said == ["Ceci est une alerte de Ana, envoyée depuis le canal Slack ops.", "Disque plein"]


def test_a_locale_without_phrases_hears_english(client, slack, plivo, plivo_rest, fake_slack):
    fake_slack.add_user("U1", "Aiko Sato", "(415) 555-0101", locale="ja-JP")
    alert(client, slack, fake_slack, plivo_rest, "<@U1> down")
    document = callee(client, plivo, plivo_rest, ALICE).answer()
    assert speech(document)[0] == "This is an alert from Ana, sent from the Slack channel ops."


def test_the_configured_voice_speaks_alerts_too(settings, plivo_api, clock, slack, plivo, plivo_rest, fake_slack):
    fake_slack.add_user("U1", "Alicia Gómez", "(415) 555-0101", locale="es-ES")
    app = clocked_app(replace(settings, voice="Polly.Joanna"), clock)
    try:
        client_ = app.test_client()
        alert(client_, slack, fake_slack, plivo_rest, "<@U1> <@U2> down", calls=2)
        bob = callee(client_, plivo, plivo_rest, "+14155550102").answer()
        alicia = callee(client_, plivo, plivo_rest, ALICE).answer()
        assert {s.get("voice") for s in bob.iter("Speak")} == {"Polly.Joanna"}
        # Joanna does not speak Spanish: a Spanish Polly voice of her gender does.
        voices = {s.get("voice") for s in alicia.iter("Speak")}
        assert len(voices) == 1 and re.fullmatch(r"Polly\.\w+", voices.pop()) and "Joanna" not in voices
    finally:
        app.extensions["voicebridge"]["close"]()
