"""Call scripts: exact documents, and text that stays text."""

from xml.etree import ElementTree as ET

from answer_server.plivo_xml import (
    DIGIT_ACK,
    DIGIT_REPEAT,
    alert_document,
    alert_intro,
    empty_document,
    goodbye_document,
    menu_document,
    number_as_name,
    otp_document,
    spell_digits,
)

HEADER = "<?xml version='1.0' encoding='utf-8'?>\n"
SPEAK = '<Speak voice="WOMAN" language="en-US">'


def test_the_code_is_spelled_digit_by_digit():
    assert spell_digits("483920") == "4, 8, 3, 9, 2, 0."
    assert spell_digits("0007") == "0, 0, 0, 7."


def test_the_otp_script_introduces_the_call_then_reads_the_code_three_times():
    assert otp_document("483920").decode() == HEADER + (
        "<Response>"
        '<Wait length="1" />'
        f"{SPEAK}Hello. Here is your verification code.</Speak>"
        '<Wait length="1" />'
        f"{SPEAK}4, 8, 3, 9, 2, 0.</Speak>"
        '<Wait length="2" />'
        f"{SPEAK}Again: 4, 8, 3, 9, 2, 0.</Speak>"
        '<Wait length="2" />'
        f"{SPEAK}Once more: 4, 8, 3, 9, 2, 0.</Speak>"
        '<Wait length="1" />'
        f"{SPEAK}Goodbye.</Speak>"
        "<Hangup />"
        "</Response>"
    )


def test_every_script_is_a_response_document_plivo_accepts():
    for document in (otp_document("1234567890"), goodbye_document(), empty_document()):
        root = ET.fromstring(document)
        assert root.tag == "Response"
        assert {child.tag for child in root} <= {"Speak", "Wait", "Hangup"}
        assert all(len(speak.text or "") <= 3000 for speak in root.iter("Speak"))


def test_a_goodbye_reads_one_sentence_and_hangs_up():
    root = ET.fromstring(goodbye_document("Sorry. Goodbye."))
    assert [child.tag for child in root] == ["Speak", "Hangup"]
    assert root[0].text == "Sorry. Goodbye."


def test_markup_in_spoken_text_stays_text():
    document = goodbye_document('Tom & Jerry <Hangup/> "quoted"')
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
        'validDigits="1234567890*#" redirect="true">'
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
