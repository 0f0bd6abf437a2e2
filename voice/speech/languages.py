"""Which language and voice a call speaks, and the sentences it says.

The sentences live in phrases.toml, beside this file, for translators. Which
voices speak which Plivo language is voice/speech/voices.py's table, from
https://www.plivo.com/docs/voice/xml/speak and plivo-java's Utils.java
(https://github.com/plivo/plivo-java/blob/master/src/main/java/com/plivo/api/util/Utils.java).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import phonenumbers

from voice.speech.voices import gender_of, polly_voice, unaccented, voices_for

PHRASE_KEYS = ("intro", "press_key", "your_code", "again", "repeat", "no_key", "goodbye", "not_valid", "try_later",
               "one_moment")
#: The sentences of alert calls, the voice bridge and the test call; some take {fields}.
ALERT_PHRASE_KEYS = (
    "alert_from_channel", "alert_from", "alert_menu", "alert_pass_option", "alert_invalid_key", "alert_acknowledged",
    "alert_bridge_offer", "alert_taken", "alert_cancelled", "alert_passed_on", "alert_no_input", "alert_try_again",
    "alert_try_later", "someone", "number_ending", "bridge_connecting", "bridge_unreachable", "bridge_requester",
    "bridge_joining", "bridge_alone", "test_call", "alert_from_monitoring", "alert_bridge_offer_team", "bridge_team",
    "hotline_not_in_service", "hotline_refused", "hotline_greeting", "hotline_connecting", "hotline_still_trying",
    "hotline_voicemail", "hotline_no_message", "hotline_thanks", "hotline_incoming", "hotline_withheld",
    "hotline_menu", "hotline_to_caller", "hotline_taken", "hotline_gone", "hotline_calling_back",
    "hotline_calling_you_back", "hotline_no_answer",
)


# Plivo `language` values we speak; voice/speech/voices.py has the voices of each.
VARIANTS: tuple[str, ...] = (
    "en-US", "en-GB", "en-AU", "en-IN", "es-ES", "es-US", "fr-FR", "fr-CA", "de-DE", "pt-BR", "pt-PT", "it-IT",
    "hi-IN",
)

# Tags people write that Plivo speaks under another name.
# (es-MX has only Polly.Mia; es-US has both basic voices too.)
_ALIASES = {"es-MX": "es-US", "es-419": "es-US", "es-LA": "es-US", "en-CA": "en-US"}

# Our phrase languages and the variant each speaks by default.
LANGUAGES: dict[str, str] = {
    "en": "en-US", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "pt": "pt-BR", "it": "it-IT", "hi": "hi-IN",
}

# The language a number's country hears, where it is not English.
_COUNTRY_LANGUAGE = {
    **dict.fromkeys(["ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CU", "BO", "DO", "HN", "PY",
                     "SV", "NI", "CR", "PA", "UY", "PR"], "es"),
    **dict.fromkeys(["FR", "BE", "LU", "MC", "SN", "CI", "CM", "MG", "ML", "BF", "NE", "TN", "MA", "DZ"], "fr"),
    **dict.fromkeys(["DE", "AT", "CH", "LI"], "de"),
    **dict.fromkeys(["BR", "PT", "AO", "MZ", "CV"], "pt"),
    **dict.fromkeys(["IT", "SM", "VA"], "it"),
    "IN": "hi",
}
_COUNTRY_VARIANT = {"GB": "en-GB", "AU": "en-AU", "PT": "pt-PT",
                    **dict.fromkeys(["MX", "AR", "CO", "CL", "PE", "VE", "PR"], "es-US")}


class UnknownLanguage(ValueError):
    pass


@dataclass(frozen=True)
class Speech:
    """How a call speaks: phrase language, Plivo language attribute and voice."""

    code: str
    plivo_language: str
    voice: str

    @property
    def ssml(self) -> bool:
        # Plivo's SSML (pauses, say-as) works only with Amazon Polly voices.
        return self.voice.startswith("Polly.")


def supported_languages() -> tuple[str, ...]:
    return tuple(LANGUAGES)


# A language and an optional region: es, es-MX, pt_BR, es-419.
_TAG = re.compile(r"([A-Za-z]{2})(?:[-_]([A-Za-z]{2}|[0-9]{3}))?")


def parse_language_tag(tag: str) -> str:
    """Check a `lang=` tag (es, es-MX, pt-PT…); the normalised tag or UnknownLanguage."""
    match = _TAG.fullmatch(tag)
    if not match or match.group(1).lower() not in LANGUAGES:
        raise UnknownLanguage(tag)
    primary, region = match.group(1).lower(), match.group(2)
    return f"{primary}-{region.upper()}" if region else primary


def choose_speech(region: str | None, tag: str | None, voice_setting: str) -> Speech:
    """The speech for a call to `region`, unless `tag` (already parsed) says otherwise."""
    if tag:
        code = tag.split("-")[0]
        tag = _ALIASES.get(tag, tag)
        variant = tag if tag in VARIANTS else LANGUAGES[code]
    else:
        code = _COUNTRY_LANGUAGE.get(region or "", "en")
        variant = _COUNTRY_VARIANT.get(region or "", LANGUAGES[code])
        if not variant.startswith(code):
            variant = LANGUAGES[code]
    return Speech(code, variant, voice_for(variant, voice_setting))


def voice_for(language: str, voice_setting: str) -> str:
    """A voice that speaks the Plivo `language`, as close to `voice_setting` as Plivo has.

    Plivo refuses a voice with a language it does not speak (plivo-java checks
    every pair), so: the configured voice if it speaks this very variant (Joanna
    speaks en-US, not en-GB); else a Polly voice of the variant, of the configured
    voice's gender if there is one (SSML keeps working); else the other basic voice.
    """
    voices = voices_for(language)
    if voices is None:
        raise UnknownLanguage(language)
    polly = polly_voice(unaccented(voice_setting))
    configured = polly.name if polly else voice_setting
    if configured in voices.basic or any(voice.name == configured for voice in voices.polly):
        return configured
    gender = gender_of(configured)
    if voices.polly:
        return next((voice.name for voice in voices.polly if voice.gender == gender), voices.polly[0].name)
    return sorted(voices.basic, key=lambda voice: (gender_of(voice) != gender, voice))[0]


@lru_cache(maxsize=1)
def _phrases() -> dict[str, dict[str, str]]:
    with open(Path(__file__).with_name("phrases.toml"), "rb") as file:
        return tomllib.load(file)


def phrase(code: str, key: str, **fields: str) -> str:
    """One sentence in a language, its {fields} filled in; English for a missing or broken translation."""
    table = _phrases()
    text = table.get(code, {}).get(key) or table["en"][key]
    if not fields:
        return text
    try:
        return text.format_map(fields)
    except (KeyError, IndexError, ValueError):
        return table["en"][key].format_map(fields)


def speech_of_language(tag: str | None, region: str | None, voice_setting: str) -> Speech:
    """How to speak to someone: `tag` (a Slack locale or `lang=`) when we speak it, else the
    language of the number's country; never an error, English at worst."""
    if tag:
        try:
            return choose_speech(region, parse_language_tag(tag), voice_setting)
        except UnknownLanguage:
            return choose_speech(None, "en", voice_setting)
    return choose_speech(region, None, voice_setting)


@lru_cache(maxsize=4096)
def speech_for_number(number: str, tag: str | None, voice_setting: str) -> Speech:
    """speech_of_language for a call to `number` (E.164). Pure, and asked again at every request
    of a call: parsing the number is what costs."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        region = None
    return speech_of_language(tag, region, voice_setting)
