"""What DropTrack calls each status, in words: the customer's labels and notes, the owner's hints.

One module of copy, so every page, e-mail and store note says the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from core.status import Reason, Status, validate_reason

__all__ = [
    "ALERT_TITLES",
    "CUSTOMER_LABELS",
    "OWNER_LABELS",
    "OWNER_REASONS",
    "REASON_HINTS",
    "alert_title",
    "customer_day",
    "customer_label",
    "customer_note",
    "delivery_window",
    "digest_subject",
    "job_state",
    "job_title",
    "message_title",
    "no_shipping_method",
    "owner_alert_subject",
    "owner_label",
    "owner_vocabulary",
    "pay_at_supplier",
    "price_above_limit",
    "reason_hint",
    "reconnect_supplier",
    "supplier_cancelled",
    "supplier_disconnected",
    "supplier_order_label",
    "supplier_refused",
    "unknown_supplier_product",
    "woocommerce_needs_https",
]

# Two vocabularies, each used everywhere its reader looks:
# * the owner's (terminal, orders list, dashboard, order page, owner e-mails, README): a status,
#   and for pending / undelivered / exception the reason that says what it means;
# * the customer's (the store's pages, /track, customer e-mails): CUSTOMER_LABELS and
#   customer_note, which never show the owner's working reasons.

OWNER_LABELS: Mapping[Status, str] = MappingProxyType(
    {
        Status.PENDING: "Pending",
        Status.PROCESSING: "Processing",
        Status.INFO_RECEIVED: "Shipped",
        Status.IN_TRANSIT: "In transit",
        Status.OUT_FOR_DELIVERY: "Out for delivery",
        Status.READY_FOR_PICKUP: "Ready for pick-up",
        Status.DELIVERED: "Delivered",
        Status.UNDELIVERED: "Undelivered",
        Status.EXCEPTION: "Delayed",
        Status.CANCELLED: "Cancelled",
        Status.REFUNDED: "Refunded",
    }
)

OWNER_REASONS: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.PAYMENT_ISSUE: "payment issue",
        Reason.OUT_OF_STOCK: "out of stock",
        Reason.ADDRESS_NEEDS_CONFIRMATION: "address to confirm",
        Reason.UNMAPPED_SKU: "no supplier mapped",
        Reason.PRICE_ABOVE_LIMIT: "supplier price above your limit",
        Reason.NO_SHIPPING_METHOD: "no shipping to the country",
        Reason.AWAITING_SUPPLIER_PAYMENT: "to pay at the supplier",
        Reason.SUPPLIER_CANCELLED: "cancelled by the supplier",
        Reason.SUPPLIER_REFUSED: "refused by the supplier",
        Reason.INVALID_ADDRESS: "address not found",
        Reason.INCOMPLETE_ADDRESS: "address incomplete",
        Reason.RECIPIENT_UNAVAILABLE: "nobody home",
        Reason.REFUSED: "refused",
        Reason.DELAYED: "carrier delay",
        Reason.LOST: "lost",
        Reason.CUSTOMS: "at customs",
        Reason.RETURN_TO_SENDER: "returning to sender",
    }
)


def owner_label(status: Status | str, reason: Reason | str | None = None) -> str:
    """The owner's words for a status (and its reason): "Pending: payment issue", "Shipped"."""
    label = OWNER_LABELS[Status.parse(status) if isinstance(status, str) else status]
    if not reason:
        return label
    try:
        words = OWNER_REASONS[Reason.parse(reason) if isinstance(reason, str) else reason]
    except ValueError:
        words = str(reason).replace("_", " ")
    return f"{label}: {words}"


def owner_vocabulary() -> frozenset[str]:
    """Every label the owner can be shown for a status (what a page check accepts)."""
    labels = set(OWNER_LABELS.values())
    labels.update(f"{OWNER_LABELS[s]}: {OWNER_REASONS[r]}"
                  for s in Status for r in Reason if _allowed(s, r))
    return frozenset(labels)


def _allowed(status: Status, reason: Reason) -> bool:
    try:
        validate_reason(status, reason)
    except ValueError:
        return False
    return True


SUPPLIER_ORDER_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "queued": "waiting to be sent",
        "awaiting_batch": "waiting for the next spreadsheet",
        "batched": "in a spreadsheet, waiting for the supplier",
        "forwarded": "sent to the supplier",
        "accepted": "accepted by the supplier",
        "rejected": "refused by the supplier",
        "shipped": "shipped",
        "cancelled": "cancelled",
    }
)


def supplier_order_label(status: str) -> str:
    """Where an order stands with its supplier, in the owner's words."""
    return SUPPLIER_ORDER_LABELS.get(status) or status.replace("_", " ")


# Background work the order page lists (job kind -> what it does).
JOB_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "store.writeback": "Write-back to the store",
        "supplier.forward": "Send to supplier",
        "supplier.cancel": "Cancel at supplier",
        "supplier.poll": "Ask the supplier for tracking",
        "notify.confirm_address": "E-mail the customer: confirm the address",
        "notify.undelivered": "E-mail the customer: parcel not delivered",
        "notify.owner_alert": "E-mail the owner",
        "notify.owner_digest": "E-mail the owner the daily digest",
    }
)
JOB_STATES: Mapping[str, str] = MappingProxyType(
    {"pending": "waiting", "running": "running", "done": "done", "dead": "gave up"})


def job_title(kind: str) -> str:
    return JOB_TITLES.get(kind) or kind.replace(".", ": ").replace("_", " ").capitalize()


def job_state(state: str) -> str:
    return JOB_STATES.get(state) or state.replace("_", " ")


# Messages DropTrack sends, as the order page's timeline names them (kind -> who and what).
MESSAGE_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "confirm_address": "E-mail to the customer: please confirm your address",
        "undelivered": "E-mail to the customer: we could not deliver your parcel",
        "owner_digest": "E-mail to the owner: in the daily digest",
    }
)


def message_title(kind: str) -> str:
    """A sent message's title for the owner; owner alerts read as "E-mail to the owner"."""
    if kind in MESSAGE_TITLES:
        return MESSAGE_TITLES[kind]
    if kind.startswith("owner_alert:"):
        return f"E-mail to the owner: {alert_title(kind.split(':', 1)[1]).lower()}"
    return f"Message sent: {kind.replace('_', ' ').replace(':', ', ')}"

CUSTOMER_LABELS: Mapping[Status, str] = MappingProxyType(
    {
        Status.PENDING: "Pending",
        Status.PROCESSING: "Processing",
        Status.INFO_RECEIVED: "Shipped",
        Status.IN_TRANSIT: "In transit",
        Status.OUT_FOR_DELIVERY: "Out for delivery",
        Status.READY_FOR_PICKUP: "Ready for pick-up",
        Status.DELIVERED: "Delivered",
        Status.UNDELIVERED: "Action needed",
        Status.EXCEPTION: "Delayed",
        Status.CANCELLED: "Cancelled",
        Status.REFUNDED: "Refunded",
    }
)

REASON_HINTS: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.PAYMENT_ISSUE: (
            "Payment is not confirmed: check the payment in your store before ordering "
            "from the supplier."
        ),
        Reason.OUT_OF_STOCK: (
            "Supplier is out of stock: offer the customer a variant or a refund."
        ),
        Reason.ADDRESS_NEEDS_CONFIRMATION: (
            "The shipping address looks incomplete or invalid for its country: the customer "
            "was asked to confirm it; correct it and forward the order again."
        ),
        Reason.UNMAPPED_SKU: (
            "No supplier is mapped for an item in this order: add a SKU mapping, then "
            "forward the order again."
        ),
        Reason.PRICE_ABOVE_LIMIT: (
            "The supplier's price is above the limit you set for this SKU: raise the limit, "
            "switch to the backup supplier, or refund the customer; then forward it again."
        ),
        Reason.NO_SHIPPING_METHOD: (
            "The supplier has no shipping method to the customer's country: switch to the "
            "backup supplier or refund the customer."
        ),
        Reason.AWAITING_SUPPLIER_PAYMENT: (
            "The order is placed at the supplier but not paid: pay it at the supplier (or "
            "allow DropTrack to pay from your supplier balance); it ships once paid."
        ),
        Reason.SUPPLIER_CANCELLED: (
            "The supplier cancelled the order: forward it again, switch to the backup "
            "supplier, or refund the customer."
        ),
        Reason.SUPPLIER_REFUSED: (
            "The supplier refused the order (its account, its rules, or the order is already "
            "there): see the alert for what it said and what to do."
        ),
        Reason.INVALID_ADDRESS: (
            "Carrier could not deliver: ask the customer to confirm the address."
        ),
        Reason.INCOMPLETE_ADDRESS: (
            "Address is missing details (street number, unit or postcode): ask the customer "
            "for the full address and pass it to the carrier."
        ),
        Reason.RECIPIENT_UNAVAILABLE: (
            "Nobody was there to receive the parcel: the carrier usually retries or leaves "
            "a notice; remind the customer to arrange redelivery or pick-up."
        ),
        Reason.REFUSED: (
            "The recipient refused the parcel: contact the customer and decide on a "
            "reshipment or a refund before it is returned."
        ),
        Reason.DELAYED: (
            "Parcel is delayed in the carrier network: no action needed yet, check again "
            "in a few days."
        ),
        Reason.LOST: (
            "Carrier reports the parcel lost: open a claim with the supplier or carrier and "
            "offer the customer a reshipment or a refund."
        ),
        Reason.CUSTOMS: (
            "Parcel is held at customs: check whether duties or documents are needed and "
            "let the customer know."
        ),
        Reason.RETURN_TO_SENDER: (
            "Parcel is being returned to the sender: confirm the address with the customer "
            "and decide whether to reship or refund."
        ),
    }
)


# --- the owner's alerts ------------------------------------------------------------------------

# Alert kinds (integration/jobs/alerts.py and the rooms that raise their own) as the owner reads
# them: the needs-attention list, the terminal and the e-mail subjects.
ALERT_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "out_of_stock": "Out of stock",
        "supplier_rejected": "Supplier problem",
        "payment_issue": "Payment issue",
        "address_needs_confirmation": "Address to confirm",
        "unmapped_sku": "No supplier mapped",
        "no_tracking": "No tracking yet",
        "stuck_in_transit": "Stuck in transit",
        "undelivered": "Undelivered",
        Reason.LOST.value: "Parcel lost",
        Reason.RETURN_TO_SENDER.value: "Returning to sender",
        "job_failed": "Failed job",
        "dead_job": "Failed job",
        "remote_down": "Service not answering",
        "tracking_problem": "Tracking problem",
        "shopify_install_request": "Shop asks to install",
        "customer_data_request": "Customer data request",
        "store_keys_refused": "Store keys refused",
        "shopify_token": "Shopify access",
        "shopify_fulfillment_service": "Shopify fulfillment set-up",
    }
)


def alert_title(kind: str) -> str:
    """The owner's short name for an alert kind; unknown kinds read as words, not keys."""
    return ALERT_TITLES.get(kind) or kind.replace("_", " ").replace(":", " ").capitalize()


def owner_alert_subject(kind: str, order_number: str | None) -> str:
    """A short, whole-sentence subject for one alert e-mail (never a cut message)."""
    title = alert_title(kind).lower()
    if order_number:
        return f"DropTrack: order {order_number} needs attention ({title})."
    return f"DropTrack: {title}."


def digest_subject(count: int) -> str:
    """The owner's daily digest: how many alerts are new."""
    if count == 1:
        return "DropTrack: 1 order needs your attention."
    return f"DropTrack: {count} orders need your attention."


def customer_label(status: Status) -> str:
    """The short customer-facing label for ``status`` (tracking page, emails)."""
    return CUSTOMER_LABELS[status]


def reason_hint(reason: Reason) -> str:
    """A one-line, owner-facing explanation of ``reason`` with the action to take."""
    return REASON_HINTS[reason]


# --- customer notes -----------------------------------------------------------------------------

def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def customer_note(
    status: Status,
    reason: Reason | None,
    carrier: str | None,
    tracking_number: str | None,
) -> str | None:
    """The customer-facing order note for ``(status, reason)``, or None when none is needed.

    No note for pending without a reason or with payment_issue (nothing to tell the customer
    yet) nor for processing (the store's own emails cover it).
    """
    validate_reason(status, reason)
    carrier = _clean(carrier)
    tracking_number = _clean(tracking_number)
    via = f" with {carrier}" if carrier else ""
    tracking = f", tracking number {tracking_number}" if tracking_number else ""

    match status:
        case Status.PENDING:
            if reason is Reason.OUT_OF_STOCK:
                return (
                    "An item in your order is temporarily out of stock. "
                    "We will contact you shortly with options."
                )
            if reason is Reason.ADDRESS_NEEDS_CONFIRMATION:
                return (
                    "We need you to confirm your delivery address before we can ship your "
                    "order. Please check your e-mail."
                )
            return None
        case Status.PROCESSING:
            return None
        case Status.INFO_RECEIVED:
            return (
                f"Your order has shipped{via}{tracking}. "
                "Tracking updates can take a day or two to appear."
            )
        case Status.IN_TRANSIT:
            return f"Your parcel is on its way{via}{tracking}."
        case Status.OUT_FOR_DELIVERY:
            return "Your parcel is out for delivery."
        case Status.READY_FOR_PICKUP:
            note = (
                "Your parcel is ready for pick-up. Check the carrier's notice or tracking page "
                "for the pick-up point and its opening hours."
            )
            if tracking_number:
                note += f" Tracking number: {tracking_number}."
            return note
        case Status.DELIVERED:
            return "Your parcel has been delivered. We hope you enjoy your order!"
        case Status.UNDELIVERED:
            return _UNDELIVERED_NOTES[reason]
        case Status.EXCEPTION:
            return _EXCEPTION_NOTES[reason]
        case Status.CANCELLED:
            return "Your order has been cancelled. Please contact us if you have any questions."
        case Status.REFUNDED:
            return (
                "Your order has been refunded. Depending on your bank, the money can take a "
                "few business days to appear on your statement."
            )


_UNDELIVERED_NOTES: Mapping[Reason | None, str] = MappingProxyType(
    {
        None: (
            "The carrier could not deliver your parcel. "
            "Please contact us so we can arrange delivery."
        ),
        Reason.INVALID_ADDRESS: (
            "The carrier could not deliver your parcel: please confirm your delivery address."
        ),
        Reason.INCOMPLETE_ADDRESS: (
            "The carrier could not deliver your parcel because the address is incomplete: "
            "please send us your full address, including any apartment or unit number."
        ),
        Reason.RECIPIENT_UNAVAILABLE: (
            "The carrier tried to deliver your parcel but nobody was available. They usually "
            "try again or leave a notice with instructions."
        ),
        Reason.REFUSED: (
            "Your parcel was refused at delivery. If this was a mistake, please contact us."
        ),
    }
)

_EXCEPTION_NOTES: Mapping[Reason | None, str] = MappingProxyType(
    {
        None: (
            "Your parcel is delayed. We are keeping an eye on it and will let you know when "
            "it moves again."
        ),
        Reason.DELAYED: (
            "Your parcel is delayed. We are keeping an eye on it and will let you know when "
            "it moves again."
        ),
        Reason.CUSTOMS: (
            "Your parcel is being processed by customs. This can take a few days; we will let "
            "you know when it is released."
        ),
        Reason.LOST: (
            "Unfortunately the carrier reports that your parcel may be lost. We are looking "
            "into it and will contact you about a replacement or a refund."
        ),
        Reason.RETURN_TO_SENDER: (
            "Your parcel is being returned by the carrier. We will contact you to arrange a "
            "new delivery or a refund."
        ),
    }
)


# --- before and while forwarding to a supplier (owner alerts) ---------------------------------


def price_above_limit(order_number: str, details: str) -> str:
    return (f"Order {order_number}: the supplier's price is above your limit ({details}). "
            "Raise the limit, switch to the backup supplier or refund the customer, then "
            "forward it again.")


def no_shipping_method(order_number: str, country: str) -> str:
    return (f"Order {order_number}: the supplier has no shipping method to {country}. Switch "
            "to the backup supplier or refund the customer.")


def unknown_supplier_product(order_number: str, details: str) -> str:
    return (f"Order {order_number}: the supplier does not know {details}. Check the SKU "
            "mapping (the supplier's product or variant id), then forward it again.")


def pay_at_supplier(order_number: str, supplier: str, how: str) -> str:
    return (f"Order {order_number} is placed at {supplier} but not paid: pay at {supplier} "
            f"({how}). It ships once paid; DropTrack follows it from there.")


def supplier_cancelled(order_number: str, supplier: str, note: str) -> str:
    said = f" ({note})" if note else ""
    return (f"Order {order_number}: {supplier} cancelled it{said}. Forward it again, switch "
            "to the backup supplier, or refund the customer.")


def woocommerce_needs_https(public_url: str) -> str:
    """The owner's explanation when a WooCommerce store cannot be connected from here:
    WooCommerce's key request refuses every callback address that is not https (loopback
    included), so the keys could never arrive."""
    return (
        "WooCommerce sends its API keys only to an https address, and DropTrack is reached "
        f"over plain http here ({public_url}), so the store would refuse the request. Serve "
        "DropTrack over https (for example behind nginx or Caddy with a certificate) and set "
        "[app] public_url to that https address; behind a proxy that already serves https, "
        "set [server] trusted_proxies so DropTrack believes its X-Forwarded-Proto header. "
        "Then connect the store again. Or create a Read/Write REST API key in WooCommerce "
        "(Settings > Advanced > REST API) and add the store with "
        "`droptrack stores add-woocommerce`."
    )


def supplier_refused(order_number: str, supplier: str, kind: str, details: str) -> str:
    """The owner's alert when a supplier refuses an order for a reason that is neither
    stock nor address (`kind`: already_placed, supplier_account, supplier_refused)."""
    if kind == "already_placed":
        return (f"Order {order_number} is already placed at {supplier} ({details}). Do not "
                "forward it again; add its tracking number to the order once it ships.")
    if kind == "supplier_account":
        return (f"Order {order_number}: {supplier} refused it because of your account there "
                f"({details}). Fix the account at {supplier} (payment method, currency, "
                "restrictions), then forward it again.")
    return (f"Order {order_number}: {supplier} refused it ({details}). Forward it again "
            "later, switch to the backup supplier, or refund the customer.")


def reconnect_supplier(supplier: str, label: str, problem: str) -> str:
    """The owner's alert when a supplier's token can no longer be renewed."""
    return (f"{supplier}: {label} no longer accepts DropTrack's access ({problem}). Orders "
            f"for {supplier} wait. Open Suppliers, then {supplier}, and connect the {label} "
            "account again; waiting orders go on their own once it is connected.")


def supplier_disconnected(supplier: str) -> str:
    """Kept on a supplier order waiting for its supplier's account to be reconnected."""
    return (f"waiting: {supplier} refused DropTrack's access token; DropTrack is renewing it "
            "(if it cannot, the owner is asked to connect the account again)")


# How the owner connects a Shopify store again, by the way it was connected (the `grant` of its
# credentials: client_credentials, token_exchange, authorization_code; "" = not recorded).
_RECONNECT_SHOPIFY = {
    "client_credentials": (
        "In the Shopify Dev Dashboard, open your app and check its client secret (if it was "
        "rotated, copy the new one) and that the app is still installed on the store (install "
        "it again if not). Then connect the store again on the Stores page with the client id "
        "and secret"),
    "token_exchange": (
        "Open DropTrack from your Shopify admin (Apps → DropTrack); if it is no longer listed, "
        "install it again from the Shopify App Store. Opening it connects the store again"),
    "authorization_code": (
        "Install DropTrack on the store again: on the Stores page, press Connect Shopify and "
        "accept the permissions in your Shopify admin"),
}


def reconnect_shopify_store(domain: str, problem: str, grant: str = "") -> str:
    """The owner's alert when Shopify refuses for good to renew a store's access token (or
    refuses the token itself): one action, the one that fits how the store was connected."""
    action = _RECONNECT_SHOPIFY.get(grant) or (
        "Connect the store again: with your Dev Dashboard app's client id and secret on the "
        "Stores page, or by installing DropTrack again (Connect Shopify)")
    return (f"{domain}: Shopify refused DropTrack's access token ({problem}), so the store is "
            "disconnected. Its webhooks are still received and kept; tracking updates and "
            f"checks for its orders wait; nothing is lost. {action}; everything that waited is "
            "then done on its own, once.")


def shopify_app_not_connected(problem: str) -> str:
    """The Stores page's answer when a Dev Dashboard app's credentials do not connect."""
    return (f"The store was not connected: {problem}. Check the shop's myshopify.com address "
            "(Settings → Domains in the Shopify admin) and, in the Shopify Dev Dashboard, "
            "your app's client id and secret and that the app is installed on the store. "
            "Nothing was saved.")


def shopify_app_connected(domain: str) -> str:
    return (f"{domain} is connected. DropTrack renews its access token itself; updates that "
            "waited while it was disconnected are being sent.")


STORE_DISCONNECTED = "Disconnected: the store refused DropTrack's access"
RECONNECT_STORE_ADVICE = ("Tracking updates for this store wait; nothing is lost. Check your "
                          "app's client secret in the Shopify Dev Dashboard (or reinstall the "
                          "app), then connect it again below with the client id and secret.")


def reconnect_store_advice(grant: str) -> str:
    """The Stores page's advice for a disconnected Shopify store, by how it was connected."""
    if grant in ("token_exchange", "authorization_code"):
        return ("Tracking updates for this store wait; nothing is lost. "
                f"{_RECONNECT_SHOPIFY[grant]}.")
    return RECONNECT_STORE_ADVICE


# --- the embedded admin (inside Shopify admin) -------------------------------------------------
EMBEDDED_SESSION_REFUSED = ("Shopify did not vouch for this request (missing, expired or forged "
                            "session token). Reload DropTrack from your Shopify admin.")
EMBEDDED_SHOP_UNKNOWN = ("This DropTrack is private: {shop} is not one of its owner's shops. "
                         "The owner can connect it from DropTrack's Stores page, signed in.")
EMBEDDED_EXCHANGE_FAILED = ("Shopify did not give DropTrack access to {shop} yet ({problem}). "
                            "Reload the app from your Shopify admin; if it keeps failing, "
                            "reinstall DropTrack.")
EMBEDDED_NOT_FOUND = ("That is not one of {shop}'s orders, alerts or parcels (or it was removed). "
                      "Nothing was changed.")
EMBEDDED_SUPPLIERS_NOTE = ("These are the suppliers {shop}'s SKUs and orders use. Suppliers serve "
                           "every store of this DropTrack, so adding, editing or switching one "
                           "off is done in DropTrack's own dashboard, signed in.")
EMBEDDED_BOUNCE = ("Getting a fresh session from Shopify… If this page stays, open DropTrack "
                   "again from your Shopify admin.")

# The owner's actions (needs attention, an order's page): what was done, in both dashboards.
OWNER_DONE_FORWARD_AGAIN = ("Sent to the supplier again ({result} supplier order(s) queued). The "
                            "alert closes once the supplier accepts.")
OWNER_DONE_RECHECK = "Checked again: {result}."
OWNER_DONE_ADDRESS = "Address saved; the order is on its way again ({result})."
OWNER_DONE_DISMISS = "Marked as resolved."
OWNER_DONE_REPLAY = "Queued to run again."
OWNER_DONE_TRACKING = "Tracking number changed to {result}; the store is being updated."
OWNER_DONE_BACKUP = ("Switched to the backup supplier ({result}); the order is being sent. The "
                     "alert closes once the supplier accepts.")
OWNER_DONE_RESEND = "Queued {result} to the customer again."
OWNER_DONE_OUTCOME = "Noted and marked as resolved."
OWNER_EMAIL_WAITS = (" E-mail is not set up yet ([email] smtp_host in config.toml): the message "
                     "waits until it is.")

# The mappings and settings forms, in both dashboards.
MAPPINGS_CHOOSE_FILE = "Choose a CSV file to import."
MAPPINGS_TOO_LARGE = ("That file is larger than 5 MB. Split it into smaller files and import "
                      "them one after another; each import keeps what the earlier ones saved.")
MAPPINGS_NOT_UTF8 = ("That file is not UTF-8 text. In your spreadsheet choose Save as / "
                     "Download → \"CSV UTF-8\" and import that file.")
MAPPINGS_NO_STORE = "Connect a store first: mappings belong to a store."
MAPPING_NOT_SAVED = "The mapping was not saved: {problem}. {fix}"
MAPPING_SAVED = "Mapping for SKU {sku} saved."
MAPPING_DELETED = ("Mapping for SKU {sku} deleted. New orders with it wait under Needs attention "
                   "until it is mapped again.")
SETTINGS_NOT_CHANGED = "Nothing was changed: {problem}"
WRITE_BACK_SAVED = "Saved for {name}: it applies to the next write-back."


# --- the order status page extension (customer account UI extension) ---------------------------
# What DropTrack answers the extension when it will not say anything about an order; the
# extension then shows nothing of DropTrack's (Shopify's own page stays as it is).
EXTENSION_REFUSED = (
    "Shopify did not vouch for this request (missing, expired or forged session token).")
EXTENSION_SHOP_UNKNOWN = "DropTrack does not serve this shop."
EXTENSION_ORDER_NOT_FOUND = "DropTrack has no news of this order yet."
EXTENSION_BAD_REQUEST = ("Ask with the order's id: ?order=gid://shopify/Order/<id> "
                         "(and &fulfillment=gid://shopify/Fulfillment/<id> for one parcel).")
EXTENSION_TITLE = "Delivery update"
ESTIMATED_DELIVERY = "Estimated delivery"


def customer_day(moment: datetime | None) -> str:
    """A day as customers read it everywhere: `Wed 9 Dec 2026` ('' for none)."""
    return "" if moment is None else f"{moment:%a} {moment.day} {moment:%b %Y}"


def delivery_window(eta_from: datetime | None, eta_to: datetime | None) -> str:
    """`Estimated delivery: Wed 9 Dec 2026 - Thu 17 Dec 2026` (with an en dash; one day when
    both are the same; '' without an estimate)."""
    if eta_from is None or eta_to is None:
        return ""
    if eta_from.date() == eta_to.date():
        return f"{ESTIMATED_DELIVERY}: {customer_day(eta_from)}"
    return f"{ESTIMATED_DELIVERY}: {customer_day(eta_from)} \u2013 {customer_day(eta_to)}"
