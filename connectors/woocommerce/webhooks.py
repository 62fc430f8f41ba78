"""DropTrack's webhooks in a WooCommerce store: create the missing, replace the disabled.

WooCommerce never retries a delivery and disables a webhook once its failure count (kept in
the database, not shown by the REST API) passes the limit. Setting a disabled webhook back to
`active` leaves that count where it was, so a single failure more disables it again; only a
successful delivery resets it. A disabled webhook is therefore deleted and created afresh,
with a count of zero. The health sweep calls `ensure_webhooks` and treats every replaced
webhook as a gap for reconciliation to cover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.parsing import text, timestamp
from connectors.woocommerce.client import WooCommerceClient

ORDER_TOPICS = ("order.created", "order.updated")


@dataclass(frozen=True)
class RemoteWebhook:
    id: str
    topic: str
    status: str
    delivery_url: str
    modified_at: datetime | None


@dataclass
class WebhookReport:
    created: list[str] = field(default_factory=list)  # topics
    reenabled: list[RemoteWebhook] = field(default_factory=list)  # replaced: count reset
    healthy: list[RemoteWebhook] = field(default_factory=list)
    paused: list[RemoteWebhook] = field(default_factory=list)  # the merchant's choice: kept


def parse_webhook(data: Any) -> RemoteWebhook | None:
    if not isinstance(data, dict) or data.get("id") is None:
        return None
    return RemoteWebhook(id=str(data["id"]), topic=text(data.get("topic")),
                         status=text(data.get("status")),
                         delivery_url=text(data.get("delivery_url")),
                         modified_at=timestamp(data.get("date_modified_gmt")))


def list_webhooks(client: WooCommerceClient) -> list[RemoteWebhook]:
    found = []
    for page in client.pages("webhooks", {"status": "all"}, what="listing webhooks"):
        found += [hook for entry in page if (hook := parse_webhook(entry)) is not None]
    return found


def ensure_webhooks(client: WooCommerceClient, delivery_url: str, secret: str, name: str,
                    topics: tuple[str, ...] = ORDER_TOPICS) -> WebhookReport:
    """One active webhook per topic delivering to `delivery_url`, signed with `secret`."""
    report = WebhookReport()
    ours = [hook for hook in list_webhooks(client) if hook.delivery_url == delivery_url]
    for topic in topics:
        matching = [hook for hook in ours if hook.topic == topic]
        active = [hook for hook in matching if hook.status == "active"]
        disabled = [hook for hook in matching if hook.status == "disabled"]
        if active:
            report.healthy.append(active[0])
        elif disabled:
            for hook in disabled:
                client.delete(f"webhooks/{hook.id}", params={"force": "true"},
                              what=f"removing the disabled {topic} webhook")
            _create(client, delivery_url, secret, name, topic)
            report.reenabled.append(disabled[0])
        elif matching:
            report.paused.append(matching[0])
        else:
            _create(client, delivery_url, secret, name, topic)
            report.created.append(topic)
    return report


def _create(client: WooCommerceClient, delivery_url: str, secret: str, name: str,
            topic: str) -> None:
    client.post("webhooks", {"name": f"{name} {topic}", "topic": topic,
                             "delivery_url": delivery_url, "secret": secret, "status": "active"},
                what=f"creating the {topic} webhook")
