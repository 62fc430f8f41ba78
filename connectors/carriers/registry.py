"""Carriers DropTrack knows: display name, Shopify's company name, public tracking page."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Carrier:
    id: str
    name: str
    # Exactly as Shopify lists it for FulfillmentTrackingInfo.company (capitalisation matters);
    # None when Shopify has no entry, in which case DropTrack sends the URL and its own name.
    shopify_company: str | None
    tracking_url_template: str

    def tracking_url(self, number: str) -> str:
        return self.tracking_url_template.format(number=quote(number, safe=""))


CARRIERS: dict[str, Carrier] = {
    carrier.id: carrier for carrier in (
        Carrier("china_post", "China Post / ePacket", "China Post",
                "https://t.17track.net/en#nums={number}"),
        Carrier("usps", "USPS", "USPS",
                "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
        Carrier("ups", "UPS", "UPS", "https://www.ups.com/track?tracknum={number}"),
        Carrier("fedex", "FedEx", "FedEx",
                "https://www.fedex.com/fedextrack/?trknbr={number}"),
        Carrier("dhl_express", "DHL Express", "DHL Express",
                "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}"),
        Carrier("dhl_ecommerce", "DHL eCommerce", "DHL eCommerce",
                "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}"),
        Carrier("yunexpress", "YunExpress", "YunExpress",
                "https://www.yuntrack.com/parcelTracking?id={number}"),
        Carrier("4px", "4PX", "4PX", "https://track.4px.com/#/result/0/{number}"),
        Carrier("cainiao", "Cainiao", None,
                "https://global.cainiao.com/newDetail.htm?mailNoList={number}"),
        Carrier("amazon", "Amazon Logistics", "Amazon",
                "https://track.amazon.com/tracking/{number}"),
        Carrier("royal_mail", "Royal Mail", "Royal Mail",
                "https://www.royalmail.com/track-your-item#/tracking-results/{number}"),
        Carrier("canada_post", "Canada Post", "Canada Post",
                "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}"),
        Carrier("australia_post", "Australia Post", "Australia Post",
                "https://auspost.com.au/mypost/track/details/{number}"),
        Carrier("deutsche_post", "Deutsche Post", "Deutsche Post",
                "https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode={number}"),
        Carrier("la_poste", "La Poste Colissimo", "La Poste Colissimo",
                "https://www.laposte.fr/outils/suivre-vos-envois?code={number}"),
        Carrier("postnl", "PostNL", "PostNL", "https://jouw.postnl.nl/track-and-trace/{number}"),
        Carrier("japan_post", "Japan Post", "Japan Post (EN)",
                "https://trackings.post.japanpost.jp/services/srv/search/?requestNo1={number}"),
        Carrier("singapore_post", "Singapore Post", "Singapore Post",
                "https://www.singpost.com/track-items?trackingid={number}"),
        # A valid UPU S10 number from a national post not listed above.
        Carrier("upu_post", "Postal service", None, "https://t.17track.net/en#nums={number}"),
    )
}

# S10 numbers end with the issuing post's ISO country code.
POSTAL_OPERATOR_BY_COUNTRY = {
    "CN": "china_post", "US": "usps", "GB": "royal_mail", "CA": "canada_post",
    "AU": "australia_post", "DE": "deutsche_post", "FR": "la_poste", "NL": "postnl",
    "JP": "japan_post", "SG": "singapore_post",
}


def carrier(carrier_id: str) -> Carrier:
    try:
        return CARRIERS[carrier_id]
    except KeyError:
        raise ValueError(f"unknown carrier {carrier_id!r}: one of {', '.join(CARRIERS)}") from None


def by_name(name: str) -> Carrier | None:
    """Match a supplier's free-text carrier name ("china post", "USPS", "yun express")."""
    wanted = "".join(ch for ch in name.lower() if ch.isalnum())
    if not wanted:
        return None
    for item in CARRIERS.values():
        names = {item.id, item.name, item.shopify_company or ""}
        if any(wanted == "".join(ch for ch in n.lower() if ch.isalnum()) for n in names if n):
            return item
    aliases = {"epacket": "china_post", "chinapost": "china_post", "yun": "yunexpress",
               "dhl": "dhl_express", "fedexground": "fedex", "amazonlogistics": "amazon"}
    return CARRIERS.get(aliases.get(wanted, ""))
