"""The one table of what Plivo speaks: spelt as Plivo's SDKs spell it, and true to Plivo's pages."""

import pytest

from voice.speech.voices import (
    BASIC_VOICES,
    FEMALE,
    MALE,
    VOICES,
    gender_of,
    is_voice,
    polly_voice,
    polly_voices,
    speaks,
    unaccented,
    voices_for,
)


def test_every_voice_name_is_plain_ascii_as_plivo_ruby_knows_it():
    for voice in polly_voices():
        assert voice.name.isascii() and voice.name.startswith("Polly."), voice
        assert unaccented(voice.name) == voice.name


def test_every_language_has_a_voice_and_only_woman_or_man_as_basic_voices():
    for language, voices in VOICES.items():
        assert voices.basic or voices.polly, language
        assert voices.basic <= set(BASIC_VOICES), language
        assert all(voice.gender in (FEMALE, MALE) for voice in voices.polly), language
        assert len({voice.name for voice in voices.polly}) == len(voices.polly), language


def test_a_polly_voice_has_one_gender_wherever_it_speaks():
    # Aditi speaks en-IN and hi-IN.
    for language, voices in VOICES.items():
        for voice in voices.polly:
            assert polly_voice(voice.name) == voice, (language, voice)


@pytest.mark.parametrize(("language", "basic"), [
    ("en-US", {"WOMAN", "MAN"}), ("en-GB", {"WOMAN", "MAN"}), ("pl-PL", {"WOMAN", "MAN"}),
    ("da-DK", {"WOMAN"}), ("fr-CA", {"WOMAN"}), ("ru-RU", {"WOMAN"}), ("sv-SE", {"WOMAN"}),
    ("pt-PT", {"MAN"}), ("hi-IN", set()), ("en-IN", set()), ("es-MX", set()),
])
def test_the_basic_voices_speak_the_languages_plivo_lists_for_them(language, basic):
    assert voices_for(language).basic == basic


@pytest.mark.parametrize(("language", "names"), [
    ("en-GB", ["Amy", "Emma", "Brian"]),
    ("en-IN", ["Raveena", "Aditi"]),
    ("fr-FR", ["Celine", "Lea", "Mathieu"]),
    ("pt-PT", ["Ines", "Cristiano"]),
    ("pt-BR", ["Vitoria", "Ricardo"]),
    ("es-US", ["Penelope", "Miguel"]),
    ("hi-IN", ["Aditi"]),
])
def test_the_polly_voices_of_a_language_are_plivo_javas(language, names):
    assert [voice.name for voice in voices_for(language).polly] == [f"Polly.{name}" for name in names]


def test_joanna_speaks_american_english_only():
    assert speaks("Polly.Joanna", "en-US")
    assert [language for language in VOICES if speaks("Polly.Joanna", language)] == ["en-US"]
    assert not speaks("Polly.Joanna", "en-GB") and not speaks("WOMAN", "hi-IN") and not speaks("WOMAN", "xx-XX")


def test_an_accented_name_is_not_the_voice_until_its_accents_are_removed():
    assert not is_voice("Polly.Céline") and not speaks("Polly.Céline", "fr-FR")
    assert unaccented("Polly.Céline") == "Polly.Celine" and speaks("Polly.Celine", "fr-FR")
    assert [unaccented(name) for name in ("Polly.Inês", "Polly.Vitória", "Polly.Penélope", "Polly.Léa")] == [
        "Polly.Ines", "Polly.Vitoria", "Polly.Penelope", "Polly.Lea"]


def test_genders_follow_amazon_polly_and_the_basic_voices_their_names():
    assert (gender_of("WOMAN"), gender_of("MAN")) == (FEMALE, MALE)
    assert (gender_of("Polly.Joanna"), gender_of("Polly.Brian"), gender_of("Polly.Aditi")) == (FEMALE, MALE, FEMALE)
    assert gender_of("Polly.Foo") is None
