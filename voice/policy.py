"""Which destinations the product may call: checked before every call it places.

Toll fraud works by making a victim's system dial numbers that pay the
attacker: premium-rate and shared-cost ranges, or countries nobody meant to
call. So we refuse by country and by number type before Plivo is ever asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from voice.numbers import PhoneNumber

# Number types we never call, and why, in words for the refusal.
_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate numbers",
    PhoneNumberType.SHARED_COST: "shared-cost numbers",
    # UK 070 "personal numbers" are billed like premium rate and are a classic toll-fraud target.
    PhoneNumberType.PERSONAL_NUMBER: "personal (follow-me) numbers, which are billed like premium rate",
    PhoneNumberType.UNKNOWN: "numbers of an unknown type",
}


@dataclass(frozen=True)
class DestinationPolicy:
    #: ISO 3166 region codes we may call; None allows every country.
    allowed_countries: frozenset[str] | None
    #: Our own caller ID: calling it would loop back to us.
    own_number: str


def refusal_for(number: PhoneNumber, policy: DestinationPolicy) -> str | None:
    """Why `number` must not be called, as a sentence; None if it may be."""
    if number.e164 == policy.own_number:
        return f"{number.display} is this app's own caller ID; it cannot call itself."
    kind = phonenumbers.number_type(phonenumbers.parse(number.e164, None))
    if kind in _REFUSED_TYPES:
        return f"{number.display} is refused: this app never calls {_REFUSED_TYPES[kind]}."
    if policy.allowed_countries is not None and number.region not in policy.allowed_countries:
        allowed = ", ".join(sorted(policy.allowed_countries)) or "none"
        return (
            f"{number.display} is in {_country_name(number.region)}, which this workspace does not call "
            f"(allowed: {allowed}). An admin can change ALLOWED_COUNTRIES."
        )
    return None


def _country_name(region: str | None) -> str:
    if not region:
        return "an unknown country"
    names = {"US": "the United States", "GB": "the United Kingdom", "CA": "Canada", "FR": "France",
             "DE": "Germany", "ES": "Spain", "IT": "Italy", "PT": "Portugal", "BR": "Brazil",
             "IN": "India", "MX": "Mexico", "NL": "the Netherlands", "AU": "Australia"}
    return names.get(region, f"region {region}")
