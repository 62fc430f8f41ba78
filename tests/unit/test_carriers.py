"""Carrier detection from tracking numbers: patterns and check digits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.carriers.detect import detect
from connectors.carriers.registry import CARRIERS, by_name
from integration.cli.main import main

VALID = [
    # UPU S10: two letters, 8 digits, mod-11 check digit, issuing country.
    ("LX123456785CN", "china_post"), ("LY876543216CN", "china_post"),
    ("RR012345675CN", "china_post"), ("UA555123453CN", "china_post"),
    ("EA102938478US", "usps"), ("RB246813576GB", "royal_mail"),
    ("CP908172638DE", "deutsche_post"), ("LZ314159268SG", "singapore_post"),
    ("RA271828189JP", "japan_post"), ("LB112233447CA", "canada_post"),
    ("RB123456785CV", "upu_post"), ("lx 1234 5678 5cn", "china_post"),
    # UPS 1Z with mod-10 check digit (letters count as digits).
    ("1Z999AA10123456784", "ups"), ("1Z12345E0205271686", "ups"),
    ("1Z5R89390357567127", "ups"), ("1Z879E930346834440", "ups"),
    # USPS IMpb (with and without the 420+ZIP routing prefix) and 20-digit numbers.
    ("9400111206206406260787", "usps"), ("9400 1112 0108 0805 4830 16", "usps"),
    ("420787459400111206206406260787", "usps"), ("9261292700768711948021", "usps"),
    ("0307 1790 0005 2348 3741", "usps"), ("9101 1234 5678 9000 0000 13", "usps"),
    # FedEx: 12-digit Express, 15-digit Ground, 22-digit "96".
    ("123456789012", "fedex"), ("987654321098", "fedex"), ("986578788855", "fedex"),
    ("0414 4176 0228 964", "fedex"), ("9611020987654312345672", "fedex"),
    # DHL Express air waybill (mod 7) and DHL eCommerce.
    ("1234567891", "dhl_express"), ("9876543213", "dhl_express"),
    ("3318810025", "dhl_express"), ("GM2951173225174494", "dhl_ecommerce"),
    # Chinese cross-border carriers.
    ("YT2229521272164446", "yunexpress"), ("yt2229521272164447", "yunexpress"),
    ("4PX3001234567890CN", "4px"), ("4PX30012345678", "4px"),
    ("LP00123456789012", "cainiao"), ("CNUSUP00012345678", "cainiao"),
    ("TBA123456789012", "amazon"),
]
INVALID = [
    "LX123456786CN",  # wrong S10 check digit
    "EA102938479US", "RB246813577GB", "LB112233448CA",
    "RB123456785XX",  # not a country
    "1Z999AA10123456785",  # wrong UPS check digit
    "1A5R89390357567127",
    "9400111206206406260788",  # wrong USPS check digit
    "0307 1790 0005 2348 3742",
    "123456789013",  # wrong FedEx check digit
    "1234567892",  # wrong DHL check digit
    "YT123456789012345",  # one digit short
    "000000000000", "not a number", "", "12345",
]


@pytest.mark.parametrize(("number", "carrier_id"), VALID)
def test_known_numbers_are_detected(number: str, carrier_id: str) -> None:
    detection = detect(number)
    assert detection.carrier_id == carrier_id
    assert detection.tracking_url.startswith("https://")
    assert detection.number in detection.tracking_url


@pytest.mark.parametrize("number", INVALID)
def test_invalid_numbers_match_no_carrier(number: str) -> None:
    detection = detect(number)
    assert detection.carrier_id == "unknown"
    assert detection.tracking_url == ""


def test_the_table_is_big_enough() -> None:
    assert len(VALID) + len(INVALID) >= 40
    assert {c for _, c in VALID} >= {"china_post", "ups", "usps", "fedex", "dhl_express",
                                      "yunexpress", "4px", "cainiao"}


def test_the_suppliers_carrier_wins_over_detection() -> None:
    detection = detect("123456789012", stated_carrier="China Post")
    assert detection.carrier_id == "china_post"
    assert detect("LX123456785CN", stated_carrier="ePacket").carrier_id == "china_post"
    assert detect("LX123456785CN", stated_carrier="Some Local Courier").carrier_id == "china_post"


def test_shopify_company_names_are_in_shopifys_list(contracts_dir: Path) -> None:
    listed = set(json.loads((contracts_dir / "shopify" / "tracking_companies"
                             / "shopify_tracking_companies.json").read_text())["global"])
    for carrier in CARRIERS.values():
        if carrier.shopify_company is not None:
            assert carrier.shopify_company in listed, carrier.id


SUPPORTED_FORMATS = {
    ("ups", "UPS"): "ups", ("usps", "USPS 20"): "usps", ("usps", "USPS IMpb N"): "usps",
    ("usps", "USPS IMpb C"): "usps", ("usps", "USPS Legacy"): "usps",
    ("fedex", "FedEx Express (12)"): "fedex", ("fedex", "FedEx Ground"): "fedex",
    ("fedex", "FedEx Ground 96 (22)"): "fedex", ("dhl", "DHL Express"): "dhl_express",
    ("yunexpress", "YunExpress"): "yunexpress", ("amazon", "Amazon Logistics"): "amazon",
}


def test_agrees_with_the_public_tracking_number_test_data(contracts_dir: Path) -> None:
    couriers = contracts_dir / "tracking_number_data" / "couriers"
    checked = 0
    for (courier, name), carrier_id in SUPPORTED_FORMATS.items():
        data = json.loads((couriers / f"{courier}.json").read_text())
        [spec] = [t for t in data["tracking_numbers"] if t["name"] == name]
        for number in spec["test_numbers"].get("valid", []):
            assert detect(number).carrier_id == carrier_id, (name, number)
            checked += 1
        for number in spec["test_numbers"].get("invalid", []):
            assert detect(number).carrier_id != carrier_id, (name, number)
            checked += 1
    s10 = json.loads((couriers / "s10.json").read_text())["tracking_numbers"][0]
    for number in s10["test_numbers"]["valid"]:
        assert detect(number).carrier_id != "unknown", number
    for number in s10["test_numbers"]["invalid"]:
        assert detect(number).carrier_id == "unknown", number
    assert checked > 50


def test_carrier_names_from_suppliers_are_matched() -> None:
    assert by_name("USPS") is CARRIERS["usps"]
    assert by_name("yun express") is CARRIERS["yunexpress"]
    assert by_name("DHL") is CARRIERS["dhl_express"]
    assert by_name("") is None and by_name("Pigeon Post") is None


def test_cli_prints_one_tab_separated_line_per_number() -> None:
    result = CliRunner().invoke(main, ["carriers", "detect", "LX123456785CN", "bogus",
                                       "YT2229521272164446"])
    assert result.exit_code == 0
    lines = [line.split("\t") for line in result.output.strip().splitlines()]
    assert lines[0][:3] == ["LX123456785CN", "china_post", "China Post"]
    assert lines[0][3].startswith("https://")
    assert lines[1] == ["bogus", "unknown", "", ""]
    assert lines[2][:3] == ["YT2229521272164446", "yunexpress", "YunExpress"]
