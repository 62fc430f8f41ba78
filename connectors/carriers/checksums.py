"""Check-digit algorithms carriers put in their tracking numbers. Pure functions on digits."""

from __future__ import annotations

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
FEDEX_12_WEIGHTS = (3, 1, 7)


def _digit_value(char: str) -> int:
    """Digits are themselves; letters (UPS 1Z numbers) count as (ord - 3) mod 10."""
    return int(char) if char.isdigit() else (ord(char) - 3) % 10


def s10_check_digit(serial: str) -> int:
    """UPU S10 (e.g. LX123456785CN): weights 8,6,4,2,3,5,9,7, 11 - sum mod 11 (10->0, 11->5)."""
    total = sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def mod10_check_digit(sequence: str, odds_multiplier: int = 1, evens_multiplier: int = 1,
                      reverse: bool = False) -> int:
    """The weighted mod-10 used by UPS, USPS and FedEx Ground, positions counted from 0.

    `evens_multiplier` weights positions 0, 2, 4...; `odds_multiplier` positions 1, 3, 5...
    """
    chars = sequence[::-1] if reverse else sequence
    total = 0
    for position, char in enumerate(chars):
        weight = odds_multiplier if position % 2 else evens_multiplier
        total += _digit_value(char) * weight
    return (10 - total % 10) % 10


def mod7_check_digit(sequence: str) -> int:
    """DHL Express air waybills: the serial number mod 7."""
    return int(sequence) % 7


def fedex_12_check_digit(serial: str) -> int:
    """FedEx Express 12-digit: weights 3,1,7 repeating from the left, mod 11, then mod 10."""
    weights = [FEDEX_12_WEIGHTS[i % 3] for i in range(len(serial))]
    total = sum(int(d) * w for d, w in zip(serial, weights, strict=True))
    return total % 11 % 10
