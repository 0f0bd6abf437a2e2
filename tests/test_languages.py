"""Which language and voice a call speaks, and the translations shipped for it."""

import pytest

from voice.languages import LANGUAGES, PHRASE_KEYS, UnknownLanguage, choose_speech, parse_language_tag, phrase


@pytest.mark.parametrize(
    ("region", "tag", "voice", "expected"),
    [
        ("US", None, "WOMAN", ("en", "en-US", "WOMAN")),
        ("GB", None, "MAN", ("en", "en-GB", "MAN")),
        ("ES", None, "WOMAN", ("es", "es-ES", "WOMAN")),
        ("MX", None, "WOMAN", ("es", "es-US", "WOMAN")),
        ("FR", None, "WOMAN", ("fr", "fr-FR", "WOMAN")),
        ("DE", None, "WOMAN", ("de", "de-DE", "WOMAN")),
        ("BR", None, "WOMAN", ("pt", "pt-BR", "WOMAN")),
        ("IT", None, "WOMAN", ("it", "it-IT", "WOMAN")),
        ("IN", None, "WOMAN", ("hi", "hi-IN", "Polly.Aditi")),  # no basic voice speaks Hindi
        ("PT", None, "WOMAN", ("pt", "pt-PT", "Polly.Inês")),  # only MAN speaks pt-PT
        ("PT", None, "MAN", ("pt", "pt-PT", "MAN")),
        ("JP", None, "WOMAN", ("en", "en-US", "WOMAN")),  # no translation: English
        ("ES", "en", "WOMAN", ("en", "en-US", "WOMAN")),  # lang= wins over the country
        ("US", "es-MX", "MAN", ("es", "es-US", "MAN")),
        ("US", None, "Polly.Joanna", ("en", "en-US", "Polly.Joanna")),
        ("FR", None, "Polly.Joanna", ("fr", "fr-FR", "Polly.Céline")),  # Joanna does not speak French
    ],
)
def test_the_speech_follows_the_country_unless_told(region, tag, voice, expected):
    speech = choose_speech(region, tag, voice)
    assert (speech.code, speech.plivo_language, speech.voice) == expected
    assert speech.ssml == speech.voice.startswith("Polly.")


@pytest.mark.parametrize(("tag", "parsed"), [("es", "es"), ("ES", "es"), ("pt_pt", "pt-PT"), ("fr-ca", "fr-CA"),
                                           ("es-419", "es-419")])
def test_language_tags_are_normalised(tag, parsed):
    assert parse_language_tag(tag) == parsed


@pytest.mark.parametrize("tag", ["", "xx", "klingon", "en-US-x-private", "-", "en-abcdefghij", "es-1", "e"])
def test_unknown_language_tags_are_refused(tag):
    with pytest.raises(UnknownLanguage):
        parse_language_tag(tag)


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_language_has_every_sentence_translated(code):
    english = [phrase("en", key) for key in PHRASE_KEYS]
    for key in PHRASE_KEYS:
        text = phrase(code, key)
        assert text.strip()
        if code != "en":
            assert text not in english, f"{code}.{key} is still English"


def test_the_shipped_languages_include_those_promised():
    assert {"en", "es", "fr", "de", "pt", "it", "hi"} <= set(LANGUAGES)
