"""Which language and voice a call speaks, and the translations shipped for it."""

import phonenumbers
import pytest

from voice.speech.languages import (
    LANGUAGES,
    PHRASE_KEYS,
    VARIANTS,
    Speech,
    UnknownLanguage,
    choose_speech,
    parse_language_tag,
    phrase,
)
from voice.speech.voices import gender_of, polly_voices, speaks, unaccented, voices_for

#: Every VOICE setting: the basic voices, every Polly voice Plivo offers, and accented spellings.
VOICE_SETTINGS = ("WOMAN", "MAN", *(voice.name for voice in polly_voices()),
                  "Polly.Céline", "Polly.Léa", "Polly.Inês", "Polly.Vitória", "Polly.Penélope")

#: Every call we can place, as (region, parsed lang= tag): each country with no tag, and every tag
#: parse_language_tag accepts (each language alone and with each region, 419 and 001) to a US number.
CALLS = (
    [(region, None) for region in sorted(phonenumbers.SUPPORTED_REGIONS)] + [(None, None)]
    + [("US", parse_language_tag(tag)) for tag in sorted({
        *LANGUAGES, *VARIANTS,
        *(f"{code}-{region}" for code in LANGUAGES for region in [*phonenumbers.SUPPORTED_REGIONS, "419", "001"]),
    })]
)


def every_speech() -> set[Speech]:
    """Each distinct way a call can speak, over every call and VOICE setting."""
    return {choose_speech(region, tag, voice) for voice in VOICE_SETTINGS for region, tag in CALLS}


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
        ("IN", None, "MAN", ("hi", "hi-IN", "Polly.Aditi")),  # nor a male Polly voice
        ("PT", None, "WOMAN", ("pt", "pt-PT", "Polly.Ines")),  # only MAN speaks pt-PT
        ("PT", None, "MAN", ("pt", "pt-PT", "MAN")),
        ("JP", None, "WOMAN", ("en", "en-US", "WOMAN")),  # no translation: English
        ("ES", "en", "WOMAN", ("en", "en-US", "WOMAN")),  # lang= wins over the country
        ("US", "es-MX", "MAN", ("es", "es-US", "MAN")),
        ("US", None, "Polly.Joanna", ("en", "en-US", "Polly.Joanna")),
        ("FR", None, "Polly.Joanna", ("fr", "fr-FR", "Polly.Celine")),  # Joanna does not speak French
        ("FR", None, "Polly.Matthew", ("fr", "fr-FR", "Polly.Mathieu")),
        ("FR", None, "Polly.Lea", ("fr", "fr-FR", "Polly.Lea")),
        ("FR", None, "Polly.Céline", ("fr", "fr-FR", "Polly.Celine")),  # the spelling Plivo's SDKs know
        ("GB", None, "Polly.Joanna", ("en", "en-GB", "Polly.Amy")),  # Joanna speaks en-US only
        ("GB", None, "Polly.Matthew", ("en", "en-GB", "Polly.Brian")),
        ("GB", None, "Polly.Emma", ("en", "en-GB", "Polly.Emma")),
        ("AU", None, "Polly.Joanna", ("en", "en-AU", "Polly.Nicole")),
        ("AU", None, "Polly.Joey", ("en", "en-AU", "Polly.Russell")),
        ("US", "en-GB", "Polly.Joanna", ("en", "en-GB", "Polly.Amy")),
        ("US", "en-AU", "Polly.Matthew", ("en", "en-AU", "Polly.Russell")),
        ("US", "en-IN", "WOMAN", ("en", "en-IN", "Polly.Raveena")),  # Indian English: Polly voices only
        ("US", "en-IN", "MAN", ("en", "en-IN", "Polly.Raveena")),  # no male one: the first
        ("US", "en-IN", "Polly.Aditi", ("en", "en-IN", "Polly.Aditi")),
        ("US", "en-IN", "Polly.Joanna", ("en", "en-IN", "Polly.Raveena")),
        ("GB", None, "Polly.Aditi", ("en", "en-GB", "Polly.Amy")),
        ("GB", "hi", "Polly.Brian", ("hi", "hi-IN", "Polly.Aditi")),
        ("US", "pt-PT", "WOMAN", ("pt", "pt-PT", "Polly.Ines")),
        ("US", "pt-PT", "Polly.Ricardo", ("pt", "pt-PT", "Polly.Cristiano")),
        ("BR", None, "Polly.Ines", ("pt", "pt-BR", "Polly.Vitoria")),
        ("MX", None, "Polly.Joanna", ("es", "es-US", "Polly.Penelope")),
        ("MX", None, "Polly.Penélope", ("es", "es-US", "Polly.Penelope")),
        ("ES", None, "Polly.Joanna", ("es", "es-ES", "Polly.Lucia")),
        ("US", "fr-CA", "WOMAN", ("fr", "fr-CA", "WOMAN")),
        ("US", "fr-CA", "MAN", ("fr", "fr-CA", "Polly.Chantal")),  # MAN does not speak fr-CA
        ("DE", None, "Polly.Brian", ("de", "de-DE", "Polly.Hans")),
    ],
)
def test_the_speech_follows_the_country_unless_told(region, tag, voice, expected):
    speech = choose_speech(region, tag, voice)
    assert (speech.code, speech.plivo_language, speech.voice) == expected
    assert speech.ssml == speech.voice.startswith("Polly.")


@pytest.mark.parametrize("voice_setting", VOICE_SETTINGS)
def test_every_call_gets_a_voice_that_speaks_its_plivo_language(voice_setting):
    configured = unaccented(voice_setting)
    for region, tag in CALLS:
        speech = choose_speech(region, tag, voice_setting)
        voices = voices_for(speech.plivo_language)
        # What Plivo receives: a pair it has, spelt as its SDKs spell it, in the phrases' language.
        assert speaks(speech.voice, speech.plivo_language), (region, tag, speech)
        assert speech.voice.isascii(), speech
        assert speech.code in LANGUAGES and speech.plivo_language.split("-")[0] == speech.code, speech
        # The language does not depend on the voice; the configured voice is kept where it can be,
        # else one of its gender where the language has one.
        assert speech.plivo_language == choose_speech(region, tag, "WOMAN").plivo_language
        if speaks(configured, speech.plivo_language):
            assert speech.voice == configured, (region, tag, speech)
        elif any(voice.gender == gender_of(configured) for voice in voices.polly):
            assert gender_of(speech.voice) == gender_of(configured), (region, tag, speech)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_plivo_language_we_speak_has_voices_and_a_translation(variant):
    voices = voices_for(variant)
    assert voices is not None and voices.polly, variant
    assert variant.split("-")[0] in LANGUAGES


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
