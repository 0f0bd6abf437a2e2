"""Call scripts: exact documents, languages, SSML, and text that stays text."""

from xml.etree import ElementTree as ET

import pytest

from answer_server.plivo.xml import (
    DIGIT_ACK,
    DIGIT_REPEAT,
    ENGLISH,
    alert_document,
    alert_intro,
    code_document,
    empty_document,
    goodbye_document,
    key_gate_document,
    menu_document,
    number_as_name,
    sentence_document,
    spell_digits,
)
from voice.speech.languages import Speech

HEADER = "<?xml version='1.0' encoding='utf-8'?>\n"
SPEAK = '<Speak voice="WOMAN" language="en-US">'
ACTION = "https://voice.example.test/plivo/key/tok"


def get_digits(timeout, retries, valid):
    return (f'<GetDigits action="{ACTION}" method="POST" numDigits="1" timeout="{timeout}" retries="{retries}" '
            f'validDigits="{valid}" finishOnKey="none" log="false" redirect="true">')


def test_the_code_is_spelled_digit_by_digit():
    assert spell_digits("483920") == "4, 8, 3, 9, 2, 0."
    assert spell_digits("0007") == "0, 0, 0, 7."


def test_the_voicemail_guard_asks_for_a_key_and_says_nothing_secret():
    assert key_gate_document(ENGLISH, ACTION).decode() == HEADER + (
        "<Response>"
        '<Wait length="1" />'
        + get_digits(7, 2, "0123456789*#")
        + f"{SPEAK}Hello. This is an automated call with your verification code. "
        "Press any key to hear your code.</Speak>"
        "</GetDigits>"
        f"{SPEAK}We did not hear a key press. Goodbye.</Speak>"
        "<Hangup />"
        "</Response>"
    )


def test_after_the_key_the_code_is_read_twice_then_offered_again():
    assert code_document("483920", ENGLISH, ACTION).decode() == HEADER + (
        "<Response>"
        f"{SPEAK}Your code is: 4, 8, 3, 9, 2, 0.</Speak>"
        '<Wait length="1" />'
        f"{SPEAK}Again: 4, 8, 3, 9, 2, 0.</Speak>"
        + get_digits(5, 1, "1")
        + f"{SPEAK}Press 1 to hear it again.</Speak>"
        "</GetDigits>"
        f"{SPEAK}Goodbye.</Speak>"
        "<Hangup />"
        "</Response>"
    )


def test_without_the_guard_the_call_introduces_itself_first():
    root = ET.fromstring(code_document("4839", ENGLISH, ACTION, intro=True))
    texts = [speak.text for speak in root.iter("Speak")]
    assert texts[0] == "Hello. This is an automated call with your verification code."
    assert texts[1] == "Your code is: 4, 8, 3, 9."


def test_a_polly_voice_reads_each_digit_with_an_ssml_pause():
    speech = Speech("es", "es-ES", "Polly.Lucia")
    root = ET.fromstring(code_document("4839", speech, ACTION))
    first = root.find("Speak")
    assert first.attrib == {"voice": "Polly.Lucia", "language": "es-ES"}
    assert first.text == "Su código es: "
    assert [(child.tag, child.text) for child in first if child.tag == "say-as"] == [
        ("say-as", "4"), ("say-as", "8"), ("say-as", "3"), ("say-as", "9")]
    assert [child.attrib["time"] for child in first if child.tag == "break"] == ["600ms"] * 4


@pytest.mark.parametrize(("code", "sentence"), [("es", "Pulse cualquier tecla"), ("fr", "Appuyez sur une touche"),
                                               ("de", "Drücken Sie eine beliebige Taste"), ("hi", "कोई भी बटन दबाएँ")])
def test_the_guard_speaks_the_calls_language(code, sentence):
    document = key_gate_document(Speech(code, "x", "WOMAN"), ACTION).decode()
    assert sentence in document


def test_every_script_is_a_response_document_plivo_accepts():
    for document in (key_gate_document(ENGLISH, ACTION), code_document("1234567890", ENGLISH, ACTION),
                     goodbye_document(), empty_document()):
        root = ET.fromstring(document)
        assert root.tag == "Response"
        assert {child.tag for child in root} <= {"Speak", "Wait", "Hangup", "GetDigits"}
        assert all(len(ET.tostring(speak)) <= 3000 for speak in root.iter("Speak"))
        for gather in root.iter("GetDigits"):
            assert {child.tag for child in gather} == {"Speak"}


def test_a_goodbye_reads_one_sentence_and_hangs_up():
    root = ET.fromstring(goodbye_document(ENGLISH, "try_later"))
    assert [child.tag for child in root] == ["Speak", "Hangup"]
    assert root[0].text.startswith("Sorry, we cannot read your code right now.")


def test_markup_in_a_sentence_stays_text():
    speech = Speech("xx", "en-US", 'WOMAN" evil="1')
    document = goodbye_document(speech)
    speak = ET.fromstring(document)[0]
    assert speak.attrib["voice"] == 'WOMAN" evil="1' and "evil" not in speak.attrib


def test_a_sentence_document_keeps_markup_as_text():
    document = sentence_document('Tom & Jerry <Hangup/> "quoted"')
    assert b"<Hangup/>" not in document.split(b"</Speak>")[0]
    assert ET.fromstring(document)[0].text == 'Tom & Jerry <Hangup/> "quoted"'


# -- alert scripts ---------------------------------------------------------------

MENU_SENTENCE = "Press 1 to acknowledge. Press 2 to hear the message again."


def test_the_alert_script_says_who_and_where_then_the_message_then_goes_to_the_menu():
    document = alert_document(alert_intro("Ana", "ops"), "DB down", "https://v.test/plivo/alert/menu/tok")
    assert document.decode() == HEADER + (
        "<Response>"
        '<Wait length="1" />'
        f"{SPEAK}This is an alert from Ana, sent from the Slack channel ops.</Speak>"
        f"{SPEAK}DB down</Speak>"
        '<Redirect method="POST">https://v.test/plivo/alert/menu/tok</Redirect>'
        "</Response>"
    )


def test_the_menu_waits_for_one_key_and_goes_on_without_one():
    document = menu_document("https://v.test/k/tok", "https://v.test/s/tok", before=["Sorry, that key is not valid."])
    assert document.decode() == HEADER + (
        "<Response>"
        f"{SPEAK}Sorry, that key is not valid.</Speak>"
        '<GetDigits action="https://v.test/k/tok" method="POST" numDigits="1" timeout="7" retries="1" '
        'validDigits="1234567890*#" finishOnKey="none" redirect="true">'
        f"{SPEAK}{MENU_SENTENCE}</Speak>"
        "</GetDigits>"
        '<Redirect method="POST">https://v.test/s/tok</Redirect>'
        "</Response>"
    )
    assert (DIGIT_ACK, DIGIT_REPEAT) == ("1", "2")


def test_an_alert_with_markup_in_it_is_spoken_as_text():
    message = 'Error rate > 5% & p99 <2s; "quoted" and \'single\' <Hangup/> &amp;'
    for document in (alert_document(alert_intro("Tom & <Jerry>", None), message, "https://v.test/m?a=1&b=2"),
                     menu_document("https://v.test/k", "https://v.test/s", before=[message])):
        root = ET.fromstring(document)
        assert message in [speak.text for speak in root.iter("Speak")]
        assert [child.tag for child in root] != [] and "Hangup" not in [child.tag for child in root]
    root = ET.fromstring(alert_document(alert_intro("Tom & <Jerry>", None), message, "https://v.test/m?a=1&b=2"))
    assert root[1].text == "This is an alert from Tom & <Jerry>, sent from Slack."
    assert root.find("Redirect").text == "https://v.test/m?a=1&b=2"


def test_someone_known_only_by_their_number_is_named_by_its_last_digits():
    assert number_as_name("+14155550100") == "the number ending in 0, 1, 0, 0"
