"""Which carrier issued a tracking number: patterns plus check digits, most specific first.

Detection is a fallback: the carrier the supplier names wins, and the owner can correct it.
A number whose check digit is wrong matches nothing rather than the wrong carrier.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from connectors.carriers import checksums
from connectors.carriers.registry import (
    CARRIERS,
    POSTAL_OPERATOR_BY_COUNTRY,
    Carrier,
    by_name,
)
from core.countries import is_country_code


@dataclass(frozen=True)
class Detection:
    number: str
    carrier: Carrier | None
    tracking_url: str

    @property
    def carrier_id(self) -> str:
        return self.carrier.id if self.carrier else "unknown"

    @property
    def shopify_company(self) -> str:
        return (self.carrier.shopify_company or "") if self.carrier else ""


def normalize_number(raw: str) -> str:
    """Upper-case, without the spaces and dashes people and PDFs put into numbers."""
    return re.sub(r"[\s\-]", "", raw).upper()


def _s10(number: str) -> str | None:
    match = re.fullmatch(r"[A-Z]{2}(\d{8})(\d)([A-Z]{2})", number)
    if not match or checksums.s10_check_digit(match[1]) != int(match[2]):
        return None
    if not is_country_code(match[3]):
        return None
    return POSTAL_OPERATOR_BY_COUNTRY.get(match[3], "upu_post")


def _ups(number: str) -> str | None:
    match = re.fullmatch(r"1Z([A-Z0-9]{15})(\d)", number)
    valid = match and checksums.mod10_check_digit(match[1], odds_multiplier=2) == int(match[2])
    return "ups" if valid else None


def _usps_impb(number: str) -> str | None:
    # Intelligent Mail package barcode: 9[2-5]... 22 digits (26/30/34 with the 420+ZIP prefix).
    match = re.fullmatch(r"(?:420\d{5}(?:\d{4})?)?(9[2-5]\d{19,25})", number)
    if not match:
        return None
    serial, check = match[1][:-1], int(match[1][-1])
    valid = checksums.mod10_check_digit(serial, evens_multiplier=3, reverse=True) == check
    return "usps" if valid else None


def _usps_legacy(number: str) -> str | None:
    match = re.fullmatch(r"(?:420\d{5}(?:\d{4})?)?((?:91)?\d{20})", number)
    if not match or len(match[1]) not in (20, 22):
        return None
    serial, check = match[1][:-1], int(match[1][-1])
    # 20-digit numbers are checked as printed and, as older labels were, behind a "91".
    candidates = {serial, serial if serial.startswith("91") else "91" + serial}
    valid = any(checksums.mod10_check_digit(c, evens_multiplier=3) == check for c in candidates)
    return "usps" if valid else None


def _fedex_96(number: str) -> str | None:
    match = re.fullmatch(r"96\d{5}(\d{14})(\d)", number)
    valid = match and checksums.mod10_check_digit(match[1], odds_multiplier=3) == int(match[2])
    return "fedex" if valid else None


def _fedex_12(number: str) -> str | None:
    match = re.fullmatch(r"(\d{11})(\d)", number)
    valid = match and checksums.fedex_12_check_digit(match[1]) == int(match[2])
    return "fedex" if valid else None


def _fedex_ground_15(number: str) -> str | None:
    match = re.fullmatch(r"(\d{14})(\d)", number)
    valid = match and checksums.mod10_check_digit(match[1], odds_multiplier=3) == int(match[2])
    return "fedex" if valid else None


def _dhl_express(number: str) -> str | None:
    match = re.fullmatch(r"(\d{9,10})(\d)", number)
    valid = match and checksums.mod7_check_digit(match[1]) == int(match[2])
    return "dhl_express" if valid else None


def _pattern(carrier_id: str, regex: str) -> Callable[[str], str | None]:
    compiled = re.compile(regex)
    return lambda number: carrier_id if compiled.fullmatch(number) else None


# Most specific first: prefixed formats, then long numeric ones, then short numeric ones,
# whose check digits still leave some overlap (the supplier's carrier settles those).
RULES: tuple[Callable[[str], str | None], ...] = (
    _ups,
    _pattern("yunexpress", r"YT\d{16}"),
    _pattern("4px", r"4PX\d{10,15}(?:CN)?"),
    _pattern("cainiao", r"LP\d{14}|CNUSUP\d{11}|CAINIAO\d{8,14}"),
    _pattern("amazon", r"TB[ACM]\d{12}"),
    _pattern("dhl_ecommerce", r"GM\d{16,18}"),
    _s10,
    _fedex_96,
    _usps_impb,
    _usps_legacy,
    _fedex_ground_15,
    _fedex_12,
    _dhl_express,
)


def detect(raw_number: str, stated_carrier: str | None = None) -> Detection:
    """The carrier and tracking URL for a number; a carrier the supplier stated wins."""
    number = normalize_number(raw_number)
    if len(set(number)) <= 1:  # "000000000000" passes some check digits but is no parcel
        return Detection(number, None, "")
    stated = by_name(stated_carrier) if stated_carrier else None
    if stated is not None:
        return Detection(number, stated, stated.tracking_url(number))
    for rule in RULES:
        carrier_id = rule(number)
        if carrier_id is None:
            continue
        found = CARRIERS[carrier_id]
        return Detection(number, found, found.tracking_url(number))
    return Detection(number, None, "")
