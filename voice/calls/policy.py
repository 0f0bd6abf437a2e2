"""Which destinations the product may call: checked before every call it places.

Toll fraud works by making a victim's system dial numbers that pay the
attacker: premium-rate and shared-cost ranges, pagers and other ranges that
share their revenue, satellite and other international networks billed by
the minute at many times a phone's rate, or countries nobody meant to call.
So only what people answer (fixed lines and mobiles) is called by default,
by country and by number type (libphonenumber's metadata), before Plivo is
ever asked.
https://github.com/google/libphonenumber/blob/master/FAQ.md
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import COUNTRY_CODES_FOR_NON_GEO_REGIONS, PhoneNumberType

from voice.calls.numbers import PhoneNumber

#: Types an admin may allow (ALLOWED_NUMBER_TYPES), by the name written there: the type, and how a
#: refusal says one such number and many.
NAMED_TYPES: dict[str, tuple[int, str, str]] = {
    "FIXED_LINE": (PhoneNumberType.FIXED_LINE, "a fixed-line number", "fixed lines"),
    "MOBILE": (PhoneNumberType.MOBILE, "a mobile number", "mobiles"),
    "TOLL_FREE": (PhoneNumberType.TOLL_FREE, "a toll-free number", "toll-free numbers"),
    "VOIP": (PhoneNumberType.VOIP, "a VoIP number", "VoIP numbers"),
    # UK 055 and 03: corporate and "UK-wide" numbers, which route anywhere the owner likes.
    "UAN": (PhoneNumberType.UAN, "a corporate (UAN) number", "corporate numbers"),
    # UK 076 pagers are a known revenue-share range.
    "PAGER": (PhoneNumberType.PAGER, "a pager number", "pagers"),
    "VOICEMAIL": (PhoneNumberType.VOICEMAIL, "a voicemail access number", "voicemail access numbers"),
}
#: Called unless ALLOWED_NUMBER_TYPES says otherwise: phones people answer.
DEFAULT_NUMBER_TYPES = frozenset({"FIXED_LINE", "MOBILE"})

# Types never called, whatever the settings, and why, in words for the refusal.
_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate numbers",
    PhoneNumberType.SHARED_COST: "shared-cost numbers",
    # UK 070 "personal numbers" are billed like premium rate and are a classic toll-fraud target.
    PhoneNumberType.PERSONAL_NUMBER: "personal (follow-me) numbers, which are billed like premium rate",
    PhoneNumberType.UNKNOWN: "numbers of an unknown type",
}
#: The names of the types above, which ALLOWED_NUMBER_TYPES refuses to name.
NEVER_TYPES = ("PREMIUM_RATE", "SHARED_COST", "PERSONAL_NUMBER", "UNKNOWN")

#: Country calling codes of international networks rather than countries (libphonenumber's
#: region "001"): called only when ALLOWED_COUNTRIES names them ("+881"), even with "*".
INTERNATIONAL_NETWORKS = frozenset(COUNTRY_CODES_FOR_NON_GEO_REGIONS)
# What each is, for the refusal.
_NETWORK_NAMES = {
    800: "international freephone",
    808: "international shared-cost numbers",
    870: "Inmarsat satellite phones",
    878: "universal personal numbers",
    881: "satellite phones such as Iridium and Globalstar",
    882: "satellite, in-flight and maritime networks",
    883: "international networks",
    888: "UN humanitarian numbers",
    979: "international premium-rate numbers",
}


@dataclass(frozen=True)
class DestinationPolicy:
    #: ISO 3166 region codes we may call; None allows every country (but no international network).
    allowed_countries: frozenset[str] | None
    #: Our own caller ID: calling it would loop back to us.
    own_number: str
    #: Names of the number types we may call (keys of NAMED_TYPES).
    allowed_types: frozenset[str] = DEFAULT_NUMBER_TYPES
    #: Country calling codes of the international networks we may call (keys of INTERNATIONAL_NETWORKS).
    allowed_networks: frozenset[int] = frozenset()


def refusal_for(number: PhoneNumber, policy: DestinationPolicy) -> str | None:
    """Why `number` must not be called, as a sentence; None if it may be."""
    if number.e164 == policy.own_number:
        return f"{number.display} is this app's own caller ID; it cannot call itself."
    parsed = phonenumbers.parse(number.e164, None)
    kind = phonenumbers.number_type(parsed)
    if kind in _REFUSED_TYPES:
        return f"{number.display} is refused: this app never calls {_REFUSED_TYPES[kind]}."
    place = _network_refusal(number, parsed.country_code, policy) if parsed.country_code in INTERNATIONAL_NETWORKS \
        else _country_refusal(number, policy)
    return place or _type_refusal(number, kind, policy.allowed_types)


def _network_refusal(number: PhoneNumber, code: int, policy: DestinationPolicy) -> str | None:
    if code in policy.allowed_networks:
        return None
    return (f"{number.display} is on an international network (+{code}: "
            f"{_NETWORK_NAMES.get(code, 'not a country')}), which "
            f"this workspace does not call. An admin can add +{code} to ALLOWED_COUNTRIES.")


def _country_refusal(number: PhoneNumber, policy: DestinationPolicy) -> str | None:
    if policy.allowed_countries is None or number.region in policy.allowed_countries:
        return None
    allowed = ", ".join(sorted(policy.allowed_countries)) or "none"
    return (
        f"{number.display} is in {_country_name(number.region)}, which this workspace does not call "
        f"(allowed: {allowed}). An admin can change ALLOWED_COUNTRIES."
    )


def _type_refusal(number: PhoneNumber, kind: int, allowed: frozenset[str]) -> str | None:
    described = _described(kind)
    if described is None:  # a type libphonenumber added after this list: unknown to us, so not called
        return f"{number.display} is refused: this app never calls {_REFUSED_TYPES[PhoneNumberType.UNKNOWN]}."
    names, one, many = described
    if names & allowed:
        return None
    return (f"{number.display} is {one}; calls to {many} are not allowed. "
            "An admin can allow them in ALLOWED_NUMBER_TYPES.")


def _described(kind: int) -> tuple[frozenset[str], str, str] | None:
    """The ALLOWED_NUMBER_TYPES names that allow `kind`, and how to say one such number and many."""
    if kind == PhoneNumberType.FIXED_LINE_OR_MOBILE:
        # Where libphonenumber cannot tell them apart (the US, Canada), either allowed will do.
        return frozenset({"FIXED_LINE", "MOBILE"}), "a fixed-line or mobile number", "fixed lines and mobiles"
    for name, (value, one, many) in NAMED_TYPES.items():
        if value == kind:
            return frozenset({name}), one, many
    return None


def _country_name(region: str | None) -> str:
    if not region:
        return "an unknown country"
    names = {"US": "the United States", "GB": "the United Kingdom", "CA": "Canada", "FR": "France",
             "DE": "Germany", "ES": "Spain", "IT": "Italy", "PT": "Portugal", "BR": "Brazil",
             "IN": "India", "MX": "Mexico", "NL": "the Netherlands", "AU": "Australia"}
    return names.get(region, f"region {region}")
