"""Call scripts: exact documents, and text that stays text."""

from xml.etree import ElementTree as ET

from answer_server.plivo_xml import empty_document, goodbye_document, otp_document, spell_digits

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
