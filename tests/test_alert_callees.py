"""/voicealert for the people it wakes: their language and the configured voice.

Golden documents pin what Plivo receives, in English and in Spanish; the flow
tests drive the whole app as test_voicealert_flow.py does.
"""

from __future__ import annotations

import re
from dataclasses import replace
from string import Formatter

import pytest

from answer_server.plivo.xml import (
    alert_document,
    alert_intro,
    menu_document,
    sentence_document,
)
from bot.alerts.commands import parse_voicealert
from bot.messages import CommandError
from tests import test_voicealert_flow as flow
from tests.conftest import callback_path, send
from tests.test_voicealert_flow import alert, callee, clocked_app, speech
from voice.speech.languages import (
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
        from voice.speech.languages import _phrases

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
    assert speech(alicia.press(menu, "1")) == ["Confirmado. Gracias.", "Pulse 9 para hablar ahora con Ana, o cuelgue.",
                                               "Adiós."]


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


# -- a second ring -------------------------------------------------------------------------------

BOB = "+14155550102"


@pytest.fixture
def redial_app(settings, plivo_api, clock):
    app = clocked_app(replace(settings, alert_redial_delay=60, alert_retries=0), clock)
    yield app
    app.extensions["voicebridge"]["close"]()


def test_a_busy_or_unanswered_call_rings_once_more_before_the_chain_goes_on(
        redial_app, slack, plivo, plivo_rest, fake_slack, clock):
    client_ = redial_app.test_client()
    run_due = redial_app.extensions["voicebridge"]["workers"].drain
    alert(client_, slack, fake_slack, plivo_rest, "<@U1> &gt; <@U2> Primary is down")
    callee(client_, plivo, plivo_rest, ALICE).hang_up("no-answer", 3030, "No Answer", 0)
    flow.alert_message(fake_slack, "1. <@U1> :repeat: no answer — calling again", "2. <@U2> :double_vertical_bar:")
    clock.advance(seconds=59)
    run_due()
    assert [body["to"] for body in plivo_rest.created] == [ALICE]  # not before ALERT_REDIAL_DELAY
    clock.advance(seconds=1)
    run_due()
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    assert [body["to"] for body in plivo_rest.created] == [ALICE, ALICE]
    # The second ring is missed too: now the next link, at once, and no third ring.
    callee(client_, plivo, plivo_rest, ALICE, 1).hang_up("busy", 3010, "Busy Line", 0)
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 3)
    assert [body["to"] for body in plivo_rest.created] == [ALICE, ALICE, BOB]
    flow.alert_message(fake_slack, "1. <@U1> :no_entry_sign: busy")
    clock.advance(minutes=10)
    run_due()
    assert len(plivo_rest.to(ALICE)) == 2


def test_voicemail_and_a_refused_number_ring_only_once(redial_app, slack, plivo, plivo_rest, fake_slack, clock):
    client_ = redial_app.test_client()
    alert(client_, slack, fake_slack, plivo_rest, "<@U1> &gt; <@U2> Primary is down")
    alice = callee(client_, plivo, plivo_rest, ALICE)
    alice.answer()
    alice.machine()
    alice.hang_up()
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    assert [body["to"] for body in plivo_rest.created] == [ALICE, BOB]
    clock.advance(minutes=5)
    redial_app.extensions["voicebridge"]["workers"].drain()
    assert len(plivo_rest.to(ALICE)) == 1


def test_acknowledging_meanwhile_cancels_the_second_ring(redial_app, slack, plivo, plivo_rest, fake_slack, clock):
    client_ = redial_app.test_client()
    alert(client_, slack, fake_slack, plivo_rest, "<@U1> <@U2> Disk full", calls=2)
    callee(client_, plivo, plivo_rest, ALICE).hang_up("no-answer", 3030, "No Answer", 0)
    bob = callee(client_, plivo, plivo_rest, BOB)
    bob.press(bob.follow(bob.answer()), "1")
    clock.advance(seconds=61)
    redial_app.extensions["voicebridge"]["workers"].drain()
    assert len(plivo_rest.to(ALICE)) == 1
    flow.alert_message(fake_slack, "*Acknowledged*", "<@U1> :no_bell: no answer")


def test_alert_redial_delay_is_read_and_bounded():
    from tests.test_installs import BASE
    from voice.settings import SettingsError, load_settings

    assert load_settings(BASE | {"SLACK_BOT_TOKEN": "xoxb-1"}).alert_redial_delay == 60
    assert load_settings(BASE | {"SLACK_BOT_TOKEN": "xoxb-1", "ALERT_REDIAL_DELAY": "0"}).alert_redial_delay == 0
    with pytest.raises(SettingsError, match="ALERT_REDIAL_DELAY"):
        load_settings(BASE | {"SLACK_BOT_TOKEN": "xoxb-1", "ALERT_REDIAL_DELAY": "601"})


# -- passing it on -------------------------------------------------------------------------------

PASS = "Press 3 to pass this alert on."


def test_pressing_3_passes_the_alert_to_the_next_link_at_once(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> &gt; <@U2> Primary is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    menu = alice.follow(alice.answer())
    assert speech(menu) == [f"{flow.MENU} {PASS}"]
    passed = alice.press(menu, "3")
    assert speech(passed) == ["The alert is passed on to the next person. Goodbye."] and passed[-1].tag == "Hangup"
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
    assert plivo_rest.created[1]["to"] == BOB
    flow.alert_message(fake_slack, "1. <@U1> :arrow_heading_down: passed on")
    alice.hang_up()
    # Bob, the last link, is not offered 3, and pressing it is "not valid".
    bob = callee(client, plivo, plivo_rest, BOB)
    bob_menu = bob.follow(bob.answer())
    assert speech(bob_menu) == [flow.MENU]
    assert speech(bob.press(bob_menu, "3")) == ["Sorry, that key is not valid.", flow.MENU]
    assert speech(bob.press(bob_menu, "1"))[0] == "Acknowledged. Thank you."
    flow.alert_message(fake_slack, "*Acknowledged* by <@U2> by phone")
    assert len(plivo_rest.created) == 2


def test_a_key_after_someone_else_acknowledged_says_who(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> <@U2> &gt; +14155550103 Disk full", calls=2)
    alice, bob = callee(client, plivo, plivo_rest, ALICE), callee(client, plivo, plivo_rest, BOB)
    alice_menu, bob_menu = alice.follow(alice.answer()), bob.follow(bob.answer())
    alice.press(alice_menu, "1")
    late = bob.press(bob_menu, "3")
    assert speech(late) == ["This alert was already acknowledged by Alice. Goodbye."]
    assert len(plivo_rest.created) == 2  # nobody passed anything on


# -- the voice bridge ----------------------------------------------------------------------------

ANA = "+14155550199"  # the requester's profile number
CAROL_ = "+14155550103"


def conference_of(document):
    conference = document.find("Conference")
    assert conference is not None, [e.tag for e in document]
    return conference


def enter(client_, plivo, call: "flow.Callee", conference, action="enter"):
    send(client_, plivo.conference(callback_path(conference.get("callbackUrl")), call_uuid=call.call_uuid,
                                   room=conference.text, action=action))
    flow.settle(client_)


def waits_then_ends(client_, clock, plivo_rest, call) -> None:
    """The call waits alone on the bridge for ALONE_LIMIT (300 s), and not a second longer."""
    clock.advance(seconds=299)
    flow.settle(client_)
    assert ("Call", call.call_uuid) not in plivo_rest.stopped
    clock.advance(seconds=2)
    flow.settle(client_)
    assert ("Call", call.call_uuid) in plivo_rest.stopped


def bridge_callee(client_, plivo, plivo_rest, number, nth=0):
    return callee(client_, plivo, plivo_rest, number, nth)


def test_pressing_9_after_acknowledging_connects_the_requester_and_the_channel_can_join(
        client, slack, plivo, plivo_rest, fake_slack, clock):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Primary is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    offer = alice.press(alice.follow(alice.answer()), "1")
    assert speech(offer)[1] == "Press 9 to be connected to Ana now, or hang up."
    bridged = alice.press(offer, "9")
    assert speech(bridged) == ["Connecting you to Ana. Please stay on the line."]
    room = conference_of(bridged)
    assert room.text.startswith("vb-alert-") and "Ana" not in room.text
    assert room.get("timeLimit") == "3600" and "/plivo/alert/conference/" in room.get("callbackUrl")
    enter(client, plivo, alice, room)

    # The requester's profile number is called into the same room.
    fake_slack.wait_for(lambda: plivo_rest.to(ANA))
    call = plivo_rest.to(ANA)[0]
    assert "/plivo/bridge/answer/" in call["answer_url"] and "machine_detection" not in call
    ana = bridge_callee(client, plivo, plivo_rest, ANA)
    heard = ana.answer()
    assert speech(heard) == ["Alice acknowledged your alert and is waiting on the line."]
    assert conference_of(heard).text == room.text
    enter(client, plivo, ana, conference_of(heard))
    posted = flow.alert_message(fake_slack, "*Voice bridge*: <@U1>, <@U0ANA>")
    assert flow.buttons(posted) == ["alert_join"]

    # Bob joins from Slack; Carol has no number in her profile and is told so, only her.
    join = lambda user, name: send(client, slack.action("alert_join", posted.blocks[-1]["elements"][0]["value"],  # noqa: E731
                                                        message={"ts": posted.ts, "text": posted.text,
                                                                 "blocks": posted.blocks},
                                                        user_id=user, username=name,
                                                        response_url=fake_slack.response_url(name)))
    join("U2", "bob")
    join("U3", "carol")
    flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.to(BOB))
    bob = bridge_callee(client, plivo, plivo_rest, BOB)
    joined = bob.answer()
    assert speech(joined) == ["You are joining the call about the alert from Ana."]
    enter(client, plivo, bob, conference_of(joined))
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(fake_slack.response_url("carol")))
    assert told["response_type"] == "ephemeral" and "has no phone number" in told["text"]
    assert not plivo_rest.to(CAROL_)
    flow.alert_message(fake_slack, "*Voice bridge*: <@U1>, <@U0ANA>, <@U2>")

    # Everyone leaves: the bridge ends, and the button goes.
    clock.advance(minutes=7)
    for person in (alice, ana, bob):
        enter(client, plivo, person, room, action="exit")
        person.hang_up()
    ended = flow.alert_message(fake_slack, "*Voice bridge* ended", "after 7 min")
    assert flow.buttons(ended) == []


def test_a_requester_without_a_usable_number_is_said_and_the_wait_is_bounded(
        client, slack, plivo, plivo_rest, fake_slack, clock):
    fake_slack.add_user("U0ANA", "Ana Lopez", "")
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Primary is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    bridged = alice.press(alice.press(alice.follow(alice.answer()), "1"), "9")
    assert speech(bridged) == ["Ana could not be reached. Stay on the line, or hang up."]
    enter(client, plivo, alice, conference_of(bridged))
    posted = flow.alert_message(fake_slack, "*Voice bridge*: <@U1>", "<@U0ANA> could not be called")
    assert flow.buttons(posted) == ["alert_join"]  # the channel may still join
    assert len(plivo_rest.created) == 1
    # Nobody joins: five minutes later the wait ends.
    waits_then_ends(client, clock, plivo_rest, alice)


def test_a_9_pressed_before_slack_could_give_the_requesters_number_calls_them_once_slack_answers(
        client, slack, plivo, plivo_rest, fake_slack, clock):
    fake_slack.outage(503)
    alert(client, slack, fake_slack, plivo_rest, "+14155550101 Primary is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    offer = alice.press(alice.follow(alice.answer()), "1")
    assert speech(offer)[1] == "Press 9 to be connected to ana now, or hang up."  # the handle, for now
    bridged = alice.press(offer, "9")
    assert speech(bridged) == ["Connecting you to ana. Please stay on the line."]
    enter(client, plivo, alice, conference_of(bridged))
    assert not plivo_rest.to(ANA)
    fake_slack.outage(None)
    for _ in range(3):
        clock.advance(seconds=30)
        flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.to(ANA))
    ana = bridge_callee(client, plivo, plivo_rest, ANA)
    assert speech(ana.answer()) == ["the number ending in 0, 1, 0, 1 acknowledged your alert and is waiting on "
                                    "the line."]
    clock.advance(minutes=5)
    flow.settle(client)
    assert len(plivo_rest.to(ANA)) == 1


def test_9_is_not_valid_before_acknowledging_nor_for_anyone_but_the_acknowledger(
        client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> <@U2> Disk full", calls=2)
    alice, bob = callee(client, plivo, plivo_rest, ALICE), callee(client, plivo, plivo_rest, BOB)
    alice_menu, bob_menu = alice.follow(alice.answer()), bob.follow(bob.answer())
    assert speech(alice.press(alice_menu, "9"))[0] == "Sorry, that key is not valid."
    alice.press(alice_menu, "1")
    assert speech(bob.press(bob_menu, "9")) == ["This alert was already acknowledged by Alice. Goodbye."]
    assert len(plivo_rest.created) == 2  # nobody was called into a bridge


def test_a_second_9_does_not_call_the_requester_twice(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Primary is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    offer = alice.press(alice.follow(alice.answer()), "1")
    first, again = alice.press(offer, "9"), alice.press(offer, "9")  # Plivo retried the keypress
    assert conference_of(first).text == conference_of(again).text
    flow.settle(client)
    assert len(plivo_rest.to(ANA)) == 1


def test_a_requester_who_does_not_answer_is_said_to_the_waiting_acknowledger_whose_wait_is_bounded(
        client, slack, plivo, plivo_rest, fake_slack, clock):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Primary is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    bridged = alice.press(alice.press(alice.follow(alice.answer()), "1"), "9")
    room = conference_of(bridged)
    send(client, plivo.conference(callback_path(room.get("callbackUrl")), call_uuid=alice.call_uuid, room=room.text,
                                  action="enter", member_id="17"))
    flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.to(ANA))
    bridge_callee(client, plivo, plivo_rest, ANA).hang_up("no-answer", 3030, "No Answer", 0)
    fake_slack.wait_for(lambda: plivo_rest.spoken)
    [(conference, member, body)] = plivo_rest.spoken
    assert (conference, member) == (room.text, "17")
    assert body["text"] == "Ana could not be reached. Stay on the line, or hang up."
    assert (body["voice"], body["language"]) == ("WOMAN", "en-US")
    flow.alert_message(fake_slack, "*Voice bridge*: <@U1>", "<@U0ANA> :no_bell: no answer")
    waits_then_ends(client, clock, plivo_rest, alice)  # nobody came: the wait ends


# -- golden documents of passing on and the bridge ----------------------------------------------------

DECL = "<?xml version='1.0' encoding='utf-8'?>\n"


@pytest.mark.parametrize("speech_, offer, said", [
    (choose_speech(None, "en", "WOMAN"), "Press 9 to be connected to Ana now, or hang up.",
     ("Acknowledged. Thank you.", "Goodbye.")),
    (SPANISH, "Pulse 9 para hablar ahora con Ana, o cuelgue.", ("Confirmado. Gracias.", "Adiós.")),
])
def test_golden_bridge_offer(speech_, offer, said):
    from answer_server.plivo.xml import bridge_offer_document

    voice = f'voice="WOMAN" language="{speech_.plivo_language}"'
    assert bridge_offer_document("https://v.test/k/tok", "Ana", speech_).decode() == (
        f'{DECL}<Response><Speak {voice}>{said[0]}</Speak>'
        '<GetDigits action="https://v.test/k/tok" method="POST" numDigits="1" timeout="10" retries="1" '
        'validDigits="1234567890*#" finishOnKey="none" redirect="true">'
        f'<Speak {voice}>{offer}</Speak></GetDigits><Speak {voice}>{said[1]}</Speak><Hangup /></Response>')


@pytest.mark.parametrize("speech_, sentence", [
    (choose_speech(None, "en", "WOMAN"), "Connecting you to Ana. Please stay on the line."),
    (SPANISH, "Le conectamos con Ana. No cuelgue, por favor."),
])
def test_golden_conference(speech_, sentence):
    from answer_server.plivo.xml import conference_document

    document = conference_document("vb-alert-7-0a1b2c", "https://v.test/plivo/alert/conference/tok",
                                   phrase(speech_.code, "bridge_connecting", name="Ana"), speech_, time_limit=3600)
    assert document.decode() == (
        f'{DECL}<Response><Speak voice="WOMAN" language="{speech_.plivo_language}">{sentence}</Speak>'
        '<Conference callbackUrl="https://v.test/plivo/alert/conference/tok" callbackMethod="POST" '
        'startConferenceOnEnter="true" endConferenceOnExit="false" stayAlone="true" timeLimit="3600" '
        'enterSound="beep:1" exitSound="beep:2">vb-alert-7-0a1b2c</Conference></Response>')


def test_golden_menu_with_passing_on_in_spanish():
    menu = menu_document("https://v.test/k/tok", "https://v.test/s/tok", speech=SPANISH, pass_on=True)
    assert ('<Speak voice="WOMAN" language="es-ES">Pulse 1 para confirmar. Pulse 2 para escuchar el mensaje de '
            'nuevo. Pulse 3 para pasar esta alerta a la siguiente persona.</Speak>') in menu.decode()
    assert sentence_document(phrase("es", "alert_passed_on"), SPANISH).decode() == (
        f'{DECL}<Response><Speak voice="WOMAN" language="es-ES">La alerta pasa a la siguiente persona. Adiós.'
        '</Speak><Hangup /></Response>')


# -- the bridge under out-of-order callbacks, retries and long talks ---------------------------------


def bridged_alice(client_, slack_, plivo, plivo_rest, fake_slack):
    """An alert acknowledged by Alice, who pressed 9 and is in the bridge; the room."""
    alert(client_, slack_, fake_slack, plivo_rest, "<@U1> Primary is down")
    alice = callee(client_, plivo, plivo_rest, ALICE)
    room = conference_of(alice.press(alice.press(alice.follow(alice.answer()), "1"), "9"))
    return alice, room


def bridge_of(client_):
    return client_.application.extensions["voicebridge"]["alerts"].get(1)


def test_a_long_talk_on_the_bridge_is_not_closed_as_lost(client, slack, plivo, plivo_rest, fake_slack, clock):
    alice, room = bridged_alice(client, slack, plivo, plivo_rest, fake_slack)
    enter(client, plivo, alice, room)
    fake_slack.wait_for(lambda: plivo_rest.to(ANA))
    ana = bridge_callee(client, plivo, plivo_rest, ANA)
    enter(client, plivo, ana, conference_of(ana.answer()))
    clock.advance(minutes=15)  # well past the 10 minutes after which a call with no report is closed
    flow.settle(client)
    legs = client.application.extensions["voicebridge"]["legs"].of_alert(1)
    assert not any(leg.ended for leg in legs) and bridge_of(client).bridge_open


def test_a_requester_who_fails_before_the_acknowledger_is_in_leaves_the_bridge_open_and_is_said(
        client, slack, plivo, plivo_rest, fake_slack):
    alice, room = bridged_alice(client, slack, plivo, plivo_rest, fake_slack)
    fake_slack.wait_for(lambda: plivo_rest.to(ANA))
    bridge_callee(client, plivo, plivo_rest, ANA).hang_up("busy", 3010, "Busy Line", 0)
    assert bridge_of(client).bridge_open  # Alice is on her way in
    send(client, plivo.conference(callback_path(room.get("callbackUrl")), call_uuid=alice.call_uuid, room=room.text,
                                  action="enter", member_id="5"))
    flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.spoken)
    assert plivo_rest.spoken[0][2]["text"] == "Ana could not be reached. Stay on the line, or hang up."


def test_a_late_enter_after_the_exit_and_the_hangup_does_not_keep_the_bridge_open(
        client, slack, plivo, plivo_rest, fake_slack):
    alice, room = bridged_alice(client, slack, plivo, plivo_rest, fake_slack)
    fake_slack.wait_for(lambda: plivo_rest.to(ANA))
    bridge_callee(client, plivo, plivo_rest, ANA).hang_up("no-answer", 3030, "No Answer", 0)
    enter(client, plivo, alice, room, action="exit")
    alice.hang_up()
    enter(client, plivo, alice, room)  # Plivo's enter, arriving last
    flow.settle(client)
    assert not bridge_of(client).bridge_open


def test_a_double_click_on_join_calls_once_and_someone_not_allowed_is_told(
        settings, plivo_api, clock, slack, plivo, plivo_rest, fake_slack):
    app = clocked_app(replace(settings, allowed_slack_users=frozenset({"U0ANA", "U1", "U2"})), clock)
    try:
        client_ = app.test_client()
        alice, room = bridged_alice(client_, slack, plivo, plivo_rest, fake_slack)
        enter(client_, plivo, alice, room)
        posted = flow.alert_message(fake_slack, "*Voice bridge*")
        message = {"ts": posted.ts, "text": posted.text, "blocks": posted.blocks}
        for _ in range(2):
            send(client_, slack.action("alert_join", "1", message=message, user_id="U2", username="bob"))
        send(client_, slack.action("alert_join", "1", message=message, user_id="U3", username="carol",
                                   response_url=fake_slack.response_url("carol")))
        flow.settle(client_)
        fake_slack.wait_for(lambda: plivo_rest.to(BOB))
        flow.settle(client_)
        assert len(plivo_rest.to(BOB)) == 1
        [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(fake_slack.response_url("carol")))
        assert "not allowed" in told["text"] and not plivo_rest.to(CAROL_)
    finally:
        app.extensions["voicebridge"]["close"]()


def test_the_last_one_left_on_the_bridge_waits_a_bounded_time(client, slack, plivo, plivo_rest, fake_slack, clock):
    alice, room = bridged_alice(client, slack, plivo, plivo_rest, fake_slack)
    enter(client, plivo, alice, room)
    fake_slack.wait_for(lambda: plivo_rest.to(ANA))
    ana = bridge_callee(client, plivo, plivo_rest, ANA)
    ana_room = conference_of(ana.answer())
    enter(client, plivo, ana, ana_room)
    enter(client, plivo, ana, ana_room, action="exit")
    ana.hang_up()
    waits_then_ends(client, clock, plivo_rest, alice)


def test_a_retried_3_hears_the_goodbye_again(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> &gt; <@U2> Primary is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    menu = alice.follow(alice.answer())
    first, again = alice.press(menu, "3"), alice.press(menu, "3")
    assert speech(first) == speech(again) == ["The alert is passed on to the next person. Goodbye."]
    flow.settle(client)
    assert len(plivo_rest.to(BOB)) == 1
