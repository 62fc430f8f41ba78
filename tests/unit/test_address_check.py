"""Address check before forwarding: real-format addresses across countries."""

from __future__ import annotations

import pytest

from core.domain import Address
from integration.engine.address_check import check_address


def addr(country: str, address1: str, city: str, postcode: str, province: str = "",
         address2: str = "", name: str = "Alex Doe") -> Address:
    return Address(name=name, address1=address1, address2=address2, city=city,
                   postcode=postcode, province=province, country=country)


COMPLETE = [
    addr("US", "1600 Amphitheatre Pkwy", "Mountain View", "94043", "CA"),
    addr("US", "350 5th Ave", "New York", "10118-0110", "NY", "Apt 4B"),
    addr("GB", "10 Downing Street", "London", "SW1A 2AA"),
    addr("DE", "Invalidenstraße 116", "Berlin", "10115"),
    addr("FR", "55 Rue du Faubourg Saint-Honoré", "Paris", "75008"),
    addr("CA", "24 Sussex Dr", "Ottawa", "K1M 1M4", "ON"),
    addr("AU", "1 Macquarie St", "Sydney", "2000", "NSW"),
    addr("NL", "Dam 1", "Amsterdam", "1012 JS"),
    addr("ES", "Calle de Alcalá 50", "Madrid", "28014", "M"),
    addr("IT", "Via del Corso 12", "Roma", "00186", "RM"),
]
INCOMPLETE = [
    (addr("US", "1600 Amphitheatre Pkwy", "Mountain View", "", "CA"), "postcode: missing"),
    (addr("US", "1600 Amphitheatre Pkwy", "Mountain View", "9404", "CA"),
     "postcode: not valid for this country"),
    (addr("US", "1600 Amphitheatre Pkwy", "Mountain View", "94043"),
     "state/province: missing"),
    (addr("GB", "10 Downing Street", "London", "XX1"), "postcode: not valid for this country"),
    (addr("DE", "Invalidenstraße 116", "Berlin", "1011"),
     "postcode: not valid for this country"),
    (addr("DE", "Invalidenstraße", "Berlin", "10115"), "street address: no house number"),
    (addr("FR", "55 Rue du Faubourg Saint-Honoré", "Paris", ""), "postcode: missing"),
    (addr("CA", "24 Sussex Dr", "Ottawa", "12345", "ON"), "postcode: not valid for this country"),
    (addr("AU", "1 Macquarie St", "", "2000", "NSW"), "city: missing"),
    (addr("NL", "Dam 1", "Amsterdam", "ABCD"), "postcode: not valid for this country"),
    (addr("US", "350 5th Ave", "New York", "10118", "NY", "Apt"),
     "street address: apartment or unit number missing"),
    (addr("GB", "Flat, 22 Baker Street", "London", "NW1 6XE"),
     "street address: apartment or unit number missing"),
    (addr("US", "", "New York", "10118", "NY"), "street address: missing"),
    (addr("XX", "1 Main St", "Town", "12345"), "country: 'XX' is not a country code"),
    (addr("", "1 Main St", "Town", "12345"), "country: missing"),
    (addr("US", "1 Main St", "Boston", "02108", "MA", name=""), "name: missing"),
]


@pytest.mark.parametrize("address", COMPLETE, ids=lambda a: f"{a.country}-{a.postcode}")
def test_complete_addresses_pass(address: Address) -> None:
    assert check_address(address) == []


@pytest.mark.parametrize(("address", "expected"), INCOMPLETE,
                         ids=[f"{a.country}-{p}" for a, p in INCOMPLETE])
def test_incomplete_addresses_name_the_problem(address: Address, expected: str) -> None:
    assert expected in [str(problem) for problem in check_address(address)]


def test_table_covers_at_least_twenty_addresses_in_eight_countries() -> None:
    addresses = COMPLETE + [a for a, _ in INCOMPLETE]
    assert len(addresses) >= 20
    assert len({a.country for a in addresses if a.country not in ("", "XX")}) >= 8
