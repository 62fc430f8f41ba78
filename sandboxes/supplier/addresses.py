"""Recipient address rules: what the supplier's label system refuses before anything ships.

Every problem is reported per field (``recipient.<field>``) under one ``invalid_address``
error. Codes: ``invalid_country``, ``missing_postcode``, ``invalid_postcode`` (shape wrong for
the country), ``missing_province`` (US/CA/AU) and ``missing_house_number`` (no house, unit or
PO box number in the street lines; DropTrack shows it as an incomplete address).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["POSTCODE_PATTERNS", "FieldProblem", "address_problems", "normalise_postcode"]

POSTCODE_PATTERNS: Mapping[str, re.Pattern[str]] = {
    country: re.compile(pattern)
    for country, pattern in {
        "US": r"\d{5}(-?\d{4})?",
        "CA": r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d",
        "GB": r"(GIR ?0AA|[A-PR-UWYZ]([0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPS-UW]"
              r"|[A-HK-Y][0-9][ABEHMNPRV-Y]) ?[0-9][ABD-HJLNP-UW-Z]{2})",
        "DE": r"\d{5}",
        "FR": r"\d{5}",
        "ES": r"(0[1-9]|[1-4]\d|5[0-2])\d{3}",
        "IT": r"\d{5}",
        "NL": r"[1-9]\d{3} ?[A-Z]{2}",
        "BE": r"[1-9]\d{3}",
        "AT": r"[1-9]\d{3}",
        "CH": r"[1-9]\d{3}",
        "DK": r"\d{4}",
        "NO": r"\d{4}",
        "SE": r"\d{3} ?\d{2}",
        "PL": r"\d{2}-\d{3}",
        "AU": r"\d{4}",
        "NZ": r"\d{4}",
        "JP": r"\d{3}-?\d{4}",
        "BR": r"\d{5}-?\d{3}",
        "MX": r"\d{5}",
    }.items()
}
"""Postcode shapes (after upper-casing and trimming) for the countries the supplier ships to."""

COUNTRIES_WITHOUT_POSTCODES = frozenset({"HK", "AE", "IE", "QA"})
"""Countries where a missing postcode is fine (Ireland's Eircode is optional on labels)."""

STATE_REQUIRED = frozenset({"US", "CA", "AU"})

_HOUSE_NUMBER = re.compile(r"\d")
_PO_BOX = re.compile(r"\b(p\.?\s*o\.?\s*box|postfach|boite postale)\b", re.IGNORECASE)


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


def normalise_postcode(postcode: str) -> str:
    return " ".join(postcode.upper().split())


def _text(recipient: Mapping[str, Any], key: str) -> str:
    value = recipient.get(key)
    return value.strip() if isinstance(value, str) else ""


def address_problems(recipient: Mapping[str, Any]) -> list[FieldProblem]:
    """Why a carrier label cannot be made for ``recipient`` (empty when it can).

    Required-field and type errors are the request validator's job; this only judges the
    address of an otherwise well-formed recipient.
    """
    problems: list[FieldProblem] = []
    country = _text(recipient, "country").upper()
    postcode = normalise_postcode(_text(recipient, "postcode"))
    lines = " ".join(_text(recipient, key) for key in ("address1", "address2"))

    if not re.fullmatch(r"[A-Z]{2}", country):
        problems.append(FieldProblem("recipient.country", "invalid_country",
                                     "country must be an ISO 3166-1 alpha-2 code"))
        return problems

    pattern = POSTCODE_PATTERNS.get(country)
    if not postcode:
        if country not in COUNTRIES_WITHOUT_POSTCODES:
            problems.append(FieldProblem("recipient.postcode", "missing_postcode",
                                         f"a postcode is required for {country}"))
    elif pattern is not None and not pattern.fullmatch(postcode):
        problems.append(FieldProblem("recipient.postcode", "invalid_postcode",
                                     f"{postcode!r} is not a valid postcode for {country}"))

    if country in STATE_REQUIRED and not _text(recipient, "province"):
        problems.append(FieldProblem("recipient.province", "missing_province",
                                     f"a state or province is required for {country}"))

    if not _HOUSE_NUMBER.search(lines) and not _PO_BOX.search(lines):
        problems.append(FieldProblem(
            "recipient.address1", "missing_house_number",
            "the street address has no house or unit number",
        ))
    return problems
