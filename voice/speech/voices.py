"""What Plivo speaks: the voices Plivo offers for each of its `language` values.

One table, read by the call's voice choice (voice/speech/languages.py), the VOICE
setting (voice/settings.py) and the sandbox's XML rules, so the three cannot
disagree about which (voice, language) pairs Plivo has.

- Plivo's basic voices, WOMAN and MAN, and the languages each speaks:
  https://www.plivo.com/docs/voice/xml/speak (and .../xml/audio-output).
- The Amazon Polly voices per language, as plivo-java hard-codes them
  (Utils.getLanguageVoices, which refuses any other pair):
  https://github.com/plivo/plivo-java/blob/master/src/main/java/com/plivo/api/util/Utils.java
- Genders: https://docs.aws.amazon.com/polly/latest/dg/available-voices.html

Names are written without accents (Polly.Celine, not Polly.Céline): plivo-ruby
knows only those spellings and plivo-java strips accents before comparing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

FEMALE = "female"
MALE = "male"

#: Plivo's basic voices and whom they sound like.
BASIC_VOICES: dict[str, str] = {"WOMAN": FEMALE, "MAN": MALE}
#: What Plivo uses for a <Speak> without voice= or language=.
DEFAULT_VOICE = "WOMAN"
DEFAULT_LANGUAGE = "en-US"


@dataclass(frozen=True)
class PollyVoice:
    name: str  # as Plivo's XML and SDKs spell it: "Polly.Joanna"
    gender: str  # FEMALE or MALE


@dataclass(frozen=True)
class LanguageVoices:
    """The voices of one Plivo language; `polly` in the order we prefer them."""

    basic: frozenset[str]  # which of WOMAN and MAN speak it
    polly: tuple[PollyVoice, ...]


def _female(name: str) -> PollyVoice:
    return PollyVoice(f"Polly.{name}", FEMALE)


def _male(name: str) -> PollyVoice:
    return PollyVoice(f"Polly.{name}", MALE)


_BOTH = frozenset({"WOMAN", "MAN"})
_WOMAN = frozenset({"WOMAN"})
_MAN = frozenset({"MAN"})
_NONE: frozenset[str] = frozenset()

# plivo-java's order, except that the voice a call falls back to comes first
# where we chose another (es-ES Lucia, fr-FR Celine): a call with no voice of its
# gender for the language gets the first one.
VOICES: dict[str, LanguageVoices] = {
    "arb": LanguageVoices(_NONE, (_female("Zeina"),)),
    "cmn-CN": LanguageVoices(_NONE, (_female("Zhiyu"),)),
    "da-DK": LanguageVoices(_WOMAN, (_female("Naja"), _male("Mads"))),
    "nl-NL": LanguageVoices(_BOTH, (_female("Lotte"), _male("Ruben"))),
    "en-AU": LanguageVoices(_BOTH, (_female("Nicole"), _male("Russell"))),
    "en-GB": LanguageVoices(_BOTH, (_female("Amy"), _female("Emma"), _male("Brian"))),
    "en-IN": LanguageVoices(_NONE, (_female("Raveena"), _female("Aditi"))),
    "en-US": LanguageVoices(_BOTH, (
        _female("Joanna"), _female("Salli"), _female("Kendra"), _female("Kimberly"), _female("Ivy"),
        _male("Matthew"), _male("Justin"), _male("Joey"))),
    "en-GB-WLS": LanguageVoices(_NONE, (_male("Geraint"),)),
    "fr-CA": LanguageVoices(_WOMAN, (_female("Chantal"),)),
    "fr-FR": LanguageVoices(_BOTH, (_female("Celine"), _female("Lea"), _male("Mathieu"))),
    "de-DE": LanguageVoices(_BOTH, (_female("Vicki"), _male("Hans"))),
    "hi-IN": LanguageVoices(_NONE, (_female("Aditi"),)),
    "is-IS": LanguageVoices(_NONE, (_female("Dora"), _male("Karl"))),
    "it-IT": LanguageVoices(_BOTH, (_female("Carla"), _male("Giorgio"))),
    "ja-JP": LanguageVoices(_NONE, (_female("Mizuki"), _male("Takumi"))),
    "ko-KR": LanguageVoices(_NONE, (_female("Seoyeon"),)),
    "nb-NO": LanguageVoices(_NONE, (_female("Liv"),)),
    "pl-PL": LanguageVoices(_BOTH, (_female("Ewa"), _female("Maja"), _male("Jacek"), _male("Jan"))),
    "pt-BR": LanguageVoices(_BOTH, (_female("Vitoria"), _male("Ricardo"))),
    "pt-PT": LanguageVoices(_MAN, (_female("Ines"), _male("Cristiano"))),
    "ro-RO": LanguageVoices(_NONE, (_female("Carmen"),)),
    "ru-RU": LanguageVoices(_WOMAN, (_female("Tatyana"), _male("Maxim"))),
    "es-ES": LanguageVoices(_BOTH, (_female("Lucia"), _female("Conchita"), _male("Enrique"))),
    "es-MX": LanguageVoices(_NONE, (_female("Mia"),)),
    "es-US": LanguageVoices(_BOTH, (_female("Penelope"), _male("Miguel"))),
    "sv-SE": LanguageVoices(_WOMAN, (_female("Astrid"),)),
    "tr-TR": LanguageVoices(_NONE, (_female("Filiz"),)),
    "cy-GB": LanguageVoices(_NONE, (_female("Gwyneth"),)),
}

# Every Polly voice once, in table order (Aditi speaks en-IN and hi-IN).
_POLLY: dict[str, PollyVoice] = {voice.name: voice for entry in VOICES.values() for voice in entry.polly}


def polly_voices() -> tuple[PollyVoice, ...]:
    """Every Amazon Polly voice Plivo offers, each once."""
    return tuple(_POLLY.values())


def unaccented(voice: str) -> str:
    """'Polly.Céline' -> 'Polly.Celine': the spelling Plivo's SDKs know."""
    decomposed = unicodedata.normalize("NFKD", voice)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def polly_voice(voice: str) -> PollyVoice | None:
    """The Polly voice named exactly `voice` (unaccented), or None."""
    return _POLLY.get(voice)


def is_voice(voice: str) -> bool:
    """Whether Plivo has a voice spelt exactly `voice`."""
    return voice in BASIC_VOICES or voice in _POLLY


def gender_of(voice: str) -> str | None:
    """FEMALE or MALE for a Plivo voice; None for a name Plivo does not have."""
    if voice in BASIC_VOICES:
        return BASIC_VOICES[voice]
    polly = _POLLY.get(voice)
    return polly.gender if polly else None


def voices_for(language: str) -> LanguageVoices | None:
    """The voices of a Plivo `language` value (en-GB, hi-IN…), or None if Plivo has none."""
    return VOICES.get(language)


def speaks(voice: str, language: str) -> bool:
    """Whether Plivo speaks `language` with `voice`, spelt exactly as given."""
    entry = VOICES.get(language)
    if entry is None:
        return False
    return voice in entry.basic or any(polly.name == voice for polly in entry.polly)
