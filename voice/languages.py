"""Which language and voice a call speaks, and the sentences it says.

The sentences live in phrases.toml, beside this file, for translators.
Voices and languages: https://plivo.com/docs/voice/xml/audio-output and
../shared/reference/plivo.md §5 (Polly voices per language).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PHRASE_KEYS = ("intro", "press_key", "your_code", "again", "repeat", "no_key", "goodbye", "not_valid", "try_later")


@dataclass(frozen=True)
class Variant:
    basic_voices: frozenset[str]  # which of Plivo's WOMAN/MAN voices speak it
    polly_voice: str  # the Amazon Polly voice used otherwise


_BOTH = frozenset({"WOMAN", "MAN"})

# Plivo `language` values we speak, with their voices (plivo.md §5).
VARIANTS: dict[str, Variant] = {
    "en-US": Variant(_BOTH, "Polly.Joanna"),
    "en-GB": Variant(_BOTH, "Polly.Amy"),
    "en-AU": Variant(_BOTH, "Polly.Nicole"),
    "es-ES": Variant(_BOTH, "Polly.Lucia"),
    "es-US": Variant(_BOTH, "Polly.Penélope"),
    "fr-FR": Variant(_BOTH, "Polly.Céline"),
    "fr-CA": Variant(frozenset({"WOMAN"}), "Polly.Chantal"),
    "de-DE": Variant(_BOTH, "Polly.Vicki"),
    "pt-BR": Variant(_BOTH, "Polly.Vitória"),
    "pt-PT": Variant(frozenset({"MAN"}), "Polly.Inês"),
    "it-IT": Variant(_BOTH, "Polly.Carla"),
    "hi-IN": Variant(frozenset(), "Polly.Aditi"),
}

# Tags people write that Plivo speaks under another name.
_ALIASES = {"es-MX": "es-US", "es-419": "es-US", "en-CA": "en-US", "en-IN": "en-GB"}

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

# Polly voice → the language it speaks (the voices Plivo offers).
_POLLY_LANGUAGE = {
    "Joanna": "en", "Salli": "en", "Kendra": "en", "Kimberly": "en", "Ivy": "en", "Matthew": "en",
    "Justin": "en", "Joey": "en", "Amy": "en", "Emma": "en", "Brian": "en", "Nicole": "en", "Russell": "en",
    "Raveena": "en", "Conchita": "es", "Lucia": "es", "Enrique": "es", "Mia": "es", "Penelope": "es",
    "Penélope": "es", "Miguel": "es", "Celine": "fr", "Céline": "fr", "Lea": "fr", "Léa": "fr", "Mathieu": "fr",
    "Chantal": "fr", "Vicki": "de", "Hans": "de", "Vitoria": "pt", "Vitória": "pt", "Ricardo": "pt",
    "Ines": "pt", "Inês": "pt", "Cristiano": "pt", "Carla": "it", "Giorgio": "it", "Aditi": "hi",
}


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
_TAG = re.compile(r"^([A-Za-z]{2})(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$")


def parse_language_tag(tag: str) -> str:
    """Check a `lang=` tag (es, es-MX, pt-PT…); the normalised tag or UnknownLanguage."""
    match = _TAG.match(tag)
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
    return Speech(code, variant, _voice_for(code, VARIANTS[variant], voice_setting))


def _voice_for(code: str, variant: Variant, voice_setting: str) -> str:
    if voice_setting in variant.basic_voices:
        return voice_setting
    if voice_setting.startswith("Polly.") and _POLLY_LANGUAGE.get(voice_setting.removeprefix("Polly.")) == code:
        return voice_setting
    # The configured voice does not speak this language: use one that does.
    return variant.polly_voice


@lru_cache(maxsize=1)
def _phrases() -> dict[str, dict[str, str]]:
    with open(Path(__file__).with_name("phrases.toml"), "rb") as file:
        return tomllib.load(file)


def phrase(code: str, key: str) -> str:
    """One sentence in a language, falling back to English for a missing translation."""
    table = _phrases()
    return table.get(code, {}).get(key) or table["en"][key]
