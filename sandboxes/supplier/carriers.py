"""Carriers the reference supplier ships with, and tracking numbers in their real formats.

Every generated number passes the carrier's own check-digit rule, so DropTrack's carrier
detection (regex + checksum) sees what it would see in production:

* UPU S10 (China Post ePacket, Royal Mail, ...): 2 letters, 8 digits, check digit, ISO country.
* UPS: ``1Z`` + 15 alphanumerics + a mod-10 check digit.
* USPS IMpb: 22 digits starting ``94``, mod-10 (weights 3,1 from the right) check digit.
* DHL Express: 10 digits, the last is the first nine modulo 7.
* YunExpress ``YT`` + 16 digits, 4PX ``4PX`` + 13 digits + ``CN``, Cainiao ``LP00`` + 12 digits,
  DHL eCommerce ``GM`` + 18 digits: no public check digit.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CARRIERS",
    "Carrier",
    "CarrierCode",
    "VocabularyFamily",
    "carrier",
    "dhl_express_check_digit",
    "mod10_check_digit",
    "new_tracking_number",
    "s10_check_digit",
    "ups_check_digit",
    "usps_check_digit",
]


class CarrierCode(StrEnum):
    CHINA_POST = "china-post"
    YUNEXPRESS = "yunexpress"
    FOUR_PX = "4px"
    CAINIAO = "cainiao"
    UPS = "ups"
    USPS = "usps"
    DHL_EXPRESS = "dhl-express"
    DHL_ECOMMERCE = "dhl-ecommerce"
    ROYAL_MAIL = "royal-mail"
    LA_POSTE = "la-poste"


class VocabularyFamily(StrEnum):
    """Which raw status vocabulary a carrier's events use (see timelines.py)."""

    UPU = "upu"  # postal operators: UPU EMSEVT event codes (EMA ... EMI)
    CONSOLIDATOR = "consolidator"  # YunExpress, 4PX, Cainiao: short codes + English text
    USPS = "usps"
    UPS = "ups"
    DHL = "dhl"  # DHL's unified tracking API status codes


@dataclass(frozen=True)
class Carrier:
    code: CarrierCode
    name: str
    tracking_url_template: str
    family: VocabularyFamily

    def tracking_url(self, tracking_number: str) -> str:
        return self.tracking_url_template.format(number=tracking_number)


CARRIERS: dict[CarrierCode, Carrier] = {
    c.code: c
    for c in (
        Carrier(CarrierCode.CHINA_POST, "China Post (ePacket)",
                "https://t.17track.net/en#nums={number}", VocabularyFamily.UPU),
        Carrier(CarrierCode.YUNEXPRESS, "YunExpress",
                "https://www.yuntrack.com/parcelTracking?id={number}",
                VocabularyFamily.CONSOLIDATOR),
        Carrier(CarrierCode.FOUR_PX, "4PX", "https://track.4px.com/#/result/0/{number}",
                VocabularyFamily.CONSOLIDATOR),
        Carrier(CarrierCode.CAINIAO, "Cainiao",
                "https://global.cainiao.com/newDetail.htm?mailNoList={number}",
                VocabularyFamily.CONSOLIDATOR),
        Carrier(CarrierCode.UPS, "UPS", "https://www.ups.com/track?tracknum={number}",
                VocabularyFamily.UPS),
        Carrier(CarrierCode.USPS, "USPS",
                "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
                VocabularyFamily.USPS),
        Carrier(CarrierCode.DHL_EXPRESS, "DHL Express",
                "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
                VocabularyFamily.DHL),
        Carrier(CarrierCode.DHL_ECOMMERCE, "DHL eCommerce",
                "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
                VocabularyFamily.DHL),
        Carrier(CarrierCode.ROYAL_MAIL, "Royal Mail",
                "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
                VocabularyFamily.UPU),
        Carrier(CarrierCode.LA_POSTE, "La Poste (Colissimo)",
                "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
                VocabularyFamily.UPU),
    )
}


def carrier(code: CarrierCode | str) -> Carrier:
    return CARRIERS[CarrierCode(code)]


# --- check digits ---------------------------------------------------------------------------

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check_digit(serial: str) -> int:
    """UPU S10 check digit of an 8-digit serial: weights 8,6,4,2,3,5,9,7, modulo 11."""
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError(f"an S10 serial is 8 digits, got {serial!r}")
    remainder = sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    if remainder == 0:
        return 5
    if remainder == 1:
        return 0
    return 11 - remainder


def _digit_value(char: str) -> int:
    """Digits count as themselves, letters as (ASCII - 3) mod 10 (UPS's rule)."""
    return int(char) if char.isdigit() else (ord(char) - 3) % 10


def mod10_check_digit(sequence: str, *, odd_multiplier: int = 1, even_multiplier: int = 1,
                      reverse: bool = False) -> int:
    """The weighted mod-10 check digit used by UPS and USPS (0-based positions)."""
    chars = sequence[::-1] if reverse else sequence
    total = 0
    for position, char in enumerate(chars):
        weight = odd_multiplier if position % 2 else even_multiplier
        total += _digit_value(char) * weight
    return (10 - total % 10) % 10


def ups_check_digit(body: str) -> int:
    """Check digit of the 15 characters after ``1Z`` (odd positions doubled)."""
    return mod10_check_digit(body, odd_multiplier=2)


def usps_check_digit(serial: str) -> int:
    """Check digit of an IMpb serial (weights 3,1,3,... from the rightmost digit)."""
    return mod10_check_digit(serial, even_multiplier=3, reverse=True)


def dhl_express_check_digit(serial: str) -> int:
    """DHL Express waybills: the serial modulo 7."""
    return int(serial) % 7


# --- generators -----------------------------------------------------------------------------

def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _s10(prefixes: tuple[str, ...], country: str) -> Callable[[random.Random], str]:
    def generate(rng: random.Random) -> str:
        serial = _digits(rng, 8)
        return f"{rng.choice(prefixes)}{serial}{s10_check_digit(serial)}{country}"

    return generate


def _ups(rng: random.Random) -> str:
    alphanumerics = string.ascii_uppercase + string.digits
    shipper = "".join(rng.choice(alphanumerics) for _ in range(6))
    body = f"{shipper}{rng.choice(('01', '02', '03', '12', '13'))}{_digits(rng, 7)}"
    return f"1Z{body}{ups_check_digit(body)}"


def _usps(rng: random.Random) -> str:
    # 94 (IMpb) + service 001 + 6-digit mailer id (not starting with 9) + 10-digit package id
    serial = f"94001{rng.choice('12345678')}{_digits(rng, 5)}{_digits(rng, 10)}"
    return f"{serial}{usps_check_digit(serial)}"


def _dhl_express(rng: random.Random) -> str:
    serial = f"{rng.choice('123456789')}{_digits(rng, 8)}"
    return f"{serial}{dhl_express_check_digit(serial)}"


_GENERATORS: dict[CarrierCode, Callable[[random.Random], str]] = {
    CarrierCode.CHINA_POST: _s10(("LX", "LY", "LZ", "LT"), "CN"),
    CarrierCode.ROYAL_MAIL: _s10(("RB", "RR", "LA"), "GB"),
    CarrierCode.LA_POSTE: _s10(("CB", "LA", "RK"), "FR"),
    CarrierCode.YUNEXPRESS: lambda rng: f"YT{rng.choice('12')}{_digits(rng, 15)}",
    CarrierCode.FOUR_PX: lambda rng: f"4PX300{_digits(rng, 10)}CN",
    CarrierCode.CAINIAO: lambda rng: f"LP00{_digits(rng, 12)}",
    CarrierCode.UPS: _ups,
    CarrierCode.USPS: _usps,
    CarrierCode.DHL_EXPRESS: _dhl_express,
    CarrierCode.DHL_ECOMMERCE: lambda rng: f"GM{_digits(rng, 18)}",
}


def new_tracking_number(code: CarrierCode, rng: random.Random) -> str:
    """A fresh, well-formed tracking number for ``code`` drawn from ``rng``."""
    return _GENERATORS[code](rng)
